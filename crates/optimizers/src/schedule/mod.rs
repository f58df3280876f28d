//! Learning-rate schedules with `torch.optim.lr_scheduler` semantics, as Burn
//! [`LrScheduler`](burn::lr_scheduler::LrScheduler)s.
//!
//! Each schedule's `step()` returns the learning rate for the next optimizer step: the t-th
//! call (from 0) returns the rate PyTorch has in force during step t. Each also offers
//! `lr_at(t)` to read the rate of any step without advancing, and a record holding its step
//! counter, so training resumes where it stopped.

mod chained;
mod cosine;
mod cyclic;
mod exponential;
mod lambda;
mod linear;
mod one_cycle;
mod plateau;
mod polynomial;
mod sequential;
mod step;
mod swalr;
mod warmup_cosine;

pub use chained::*;
pub use cosine::*;
pub use cyclic::*;
pub use exponential::*;
pub use lambda::*;
pub use linear::*;
pub use one_cycle::*;
pub use plateau::*;
pub use polynomial::*;
pub use sequential::*;
pub use step::*;
pub use swalr::*;
pub use warmup_cosine::*;

/// Implements `LrScheduler` for a schedule with a closed form `lr_at(t)` and a `step: u64`
/// counter, plus `try_init`/`init` on its config.
macro_rules! closed_form_schedule {
    ($config:ident => $schedule:ident) => {
        impl burn::lr_scheduler::LrScheduler for $schedule {
            fn step(&mut self) -> burn::optim::LearningRate {
                let lr = self.lr_at(self.step);
                self.step += 1;
                lr
            }

            fn to_record(&self) -> burn::lr_scheduler::LrSchedulerRecord {
                burn::lr_scheduler::LrSchedulerRecord::new().with_scalar("step", self.step)
            }

            fn load_record(&mut self, record: burn::lr_scheduler::LrSchedulerRecord) {
                if let Some(step) = record.scalar::<u64>("step") {
                    self.step = step;
                }
            }
        }

        impl $config {
            /// Builds the schedule.
            ///
            /// # Panics
            /// When an argument is invalid, with a message naming it.
            pub fn init(&self) -> $schedule {
                crate::error::or_panic(self.try_init())
            }
        }
    };
}

pub(crate) use closed_form_schedule;
