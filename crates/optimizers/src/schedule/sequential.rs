//! Run schedules one after another: `SequentialLR`.

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::LearningRate;

use crate::error::{OptimError, OptimResult, or_panic};

/// Runs `schedules[0]` until `milestones[0]`, then `schedules[1]` (from its own step 0) until
/// `milestones[1]`, and so on (`torch.optim.lr_scheduler.SequentialLR`); for example a
/// [`LinearLr`](crate::LinearLr) warm-up followed by a
/// [`CosineAnnealingLr`](crate::CosineAnnealingLr).
///
/// Any Burn [`LrScheduler`] can be a part, Burn's own included.
#[derive(Clone)]
pub struct SequentialLr {
    schedules: Vec<Box<dyn LrScheduler>>,
    milestones: Vec<u64>,
    step: u64,
}

impl SequentialLr {
    /// Chains `schedules`, switching at the increasing `milestones` (one fewer than schedules).
    pub fn try_new(
        schedules: Vec<Box<dyn LrScheduler>>,
        milestones: Vec<u64>,
    ) -> OptimResult<Self> {
        const NAME: &str = "sequential_lr";
        if schedules.is_empty() {
            return Err(OptimError::new(NAME, "schedules", "must not be empty"));
        }
        if milestones.len() + 1 != schedules.len() {
            return Err(OptimError::new(
                NAME,
                "milestones",
                format!(
                    "must number one fewer than the schedules ({}), got {}",
                    schedules.len(),
                    milestones.len()
                ),
            ));
        }
        if milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(OptimError::new(
                NAME,
                "milestones",
                format!("must be strictly increasing, got {milestones:?}"),
            ));
        }
        Ok(Self {
            schedules,
            milestones,
            step: 0,
        })
    }

    /// Chains `schedules` at `milestones`.
    ///
    /// # Panics
    /// When the milestones do not fit the schedules (see [`try_new`](Self::try_new)).
    pub fn new(schedules: Vec<Box<dyn LrScheduler>>, milestones: Vec<u64>) -> Self {
        or_panic(Self::try_new(schedules, milestones))
    }
}

impl LrScheduler for SequentialLr {
    fn step(&mut self) -> LearningRate {
        let active = self.milestones.partition_point(|m| *m <= self.step);
        self.step += 1;
        self.schedules[active].step()
    }

    fn to_record(&self) -> LrSchedulerRecord {
        self.schedules.iter().enumerate().fold(
            LrSchedulerRecord::new().with_scalar("step", self.step),
            |record, (i, s)| record.with_record(&format!("schedule{i}"), s.to_record()),
        )
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step;
        }
        for (i, s) in self.schedules.iter_mut().enumerate() {
            s.load_record(record.record(&format!("schedule{i}")));
        }
    }
}
