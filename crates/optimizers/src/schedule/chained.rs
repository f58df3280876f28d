//! Several schedules applied together: `ChainedScheduler`.

use burn::lr_scheduler::LrSchedulerRecord;
use burn::optim::LearningRate;

use crate::error::{OptimError, OptimResult, or_panic};
use crate::registry::Schedule;

/// Applies every schedule at each step (`torch.optim.lr_scheduler.ChainedScheduler`): each
/// multiplies the rate by its own change since its previous step, so that, for example, a
/// [`ConstantLr`](crate::ConstantLr) warm-up factor and an
/// [`ExponentialLr`](crate::ExponentialLr) decay compose:
///
/// ```text
/// η₀ = η · Πᵢ sᵢ(0)/η;   ηₜ = ηₜ₋₁ · Πᵢ sᵢ(t)/sᵢ(t−1)
/// ```
///
/// where `sᵢ(t)` is schedule i's own rate and `η` the base rate all of them start from. This
/// is PyTorch's chained form for the schedules whose steps are multiplicative (step,
/// multi-step, exponential, constant, linear, polynomial, multiplicative, cosine with
/// `eta_min = 0`); a schedule that sets the rate outright ([`LambdaLr`](crate::LambdaLr))
/// overrides what came before it, as in PyTorch.
#[derive(Clone)]
pub struct ChainedScheduler {
    schedules: Vec<Box<dyn Schedule>>,
    previous: Vec<f64>,
    lr: f64,
    current: f64,
    step: u64,
}

impl ChainedScheduler {
    /// Chains `schedules`, each built with the base rate `lr`.
    pub fn try_new(schedules: Vec<Box<dyn Schedule>>, lr: f64) -> OptimResult<Self> {
        if schedules.is_empty() {
            return Err(OptimError::new(
                "chained_scheduler",
                "schedulers",
                "must not be empty",
            ));
        }
        if let Some(s) = schedules
            .iter()
            .find(|s| s.name() == "reduce_lr_on_plateau")
        {
            return Err(OptimError::new(
                "chained_scheduler",
                "schedulers",
                format!("cannot hold {} (it needs a metric)", s.name()),
            ));
        }
        crate::checks::non_negative("chained_scheduler", "lr", lr)?;
        Ok(Self {
            previous: vec![lr; schedules.len()],
            schedules,
            lr,
            current: lr,
            step: 0,
        })
    }

    /// Chains `schedules`, each built with the base rate `lr`.
    ///
    /// # Panics
    /// When there is no schedule, or one needs a metric.
    pub fn new(schedules: Vec<Box<dyn Schedule>>, lr: f64) -> Self {
        or_panic(Self::try_new(schedules, lr))
    }
}

impl burn::lr_scheduler::LrScheduler for ChainedScheduler {
    fn step(&mut self) -> LearningRate {
        for (s, previous) in self.schedules.iter_mut().zip(&mut self.previous) {
            let next = s.step();
            self.current = if s.sets_rate() {
                next
            } else if *previous != 0.0 {
                self.current * (next / *previous)
            } else {
                self.current
            };
            *previous = next;
        }
        self.step += 1;
        self.current
    }

    fn to_record(&self) -> LrSchedulerRecord {
        let record = LrSchedulerRecord::new()
            .with_scalar("step", self.step)
            .with_scalar("current", self.current);
        self.schedules.iter().zip(&self.previous).enumerate().fold(
            record,
            |record, (i, (s, previous))| {
                record
                    .with_record(&format!("schedule{i}"), s.to_record())
                    .with_scalar(&format!("previous{i}"), *previous)
            },
        )
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step;
        }
        self.current = record.scalar::<f64>("current").unwrap_or(self.lr);
        for (i, (s, previous)) in self
            .schedules
            .iter_mut()
            .zip(&mut self.previous)
            .enumerate()
        {
            s.load_record(record.record(&format!("schedule{i}")));
            if let Some(p) = record.scalar::<f64>(&format!("previous{i}")) {
                *previous = p;
            }
        }
    }
}
