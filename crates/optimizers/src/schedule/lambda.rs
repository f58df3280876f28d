//! Schedules given by a Rust closure of the epoch: `LambdaLR` and `MultiplicativeLR`.

use std::fmt;
use std::sync::Arc;

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::LearningRate;

use crate::checks;
use crate::error::{OptimResult, or_panic};

/// A factor as a function of the step (epoch) `t`, shared by clones of the schedule.
pub type LrLambda = Arc<dyn Fn(u64) -> f64 + Send + Sync>;

/// `ηₜ = η₀ f(t)` (`torch.optim.lr_scheduler.LambdaLR`), for example a linear warm-up
/// `f(t) = min(1, (t + 1) / w)`.
///
/// In a [`ChainedScheduler`](crate::ChainedScheduler) it sets the rate outright, as PyTorch's
/// `LambdaLR` does there.
#[derive(Clone)]
pub struct LambdaLr {
    lr: f64,
    lambda: LrLambda,
    step: u64,
}

impl LambdaLr {
    /// The schedule `η₀ f(t)`; `lr` (η₀) must be finite and `>= 0`.
    pub fn try_new(
        lr: f64,
        lambda: impl Fn(u64) -> f64 + Send + Sync + 'static,
    ) -> OptimResult<Self> {
        checks::non_negative("lambda_lr", "lr", lr)?;
        Ok(Self {
            lr,
            lambda: Arc::new(lambda),
            step: 0,
        })
    }

    /// The schedule `η₀ f(t)`.
    ///
    /// # Panics
    /// When `lr` is negative or not finite.
    pub fn new(lr: f64, lambda: impl Fn(u64) -> f64 + Send + Sync + 'static) -> Self {
        or_panic(Self::try_new(lr, lambda))
    }

    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        self.lr * (self.lambda)(t)
    }
}

impl fmt::Debug for LambdaLr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaLr")
            .field("lr", &self.lr)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl LrScheduler for LambdaLr {
    fn step(&mut self) -> LearningRate {
        let lr = self.lr_at(self.step);
        self.step += 1;
        lr
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar("step", self.step)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step;
        }
    }
}

/// `η₀` at step 0, then `ηₜ = ηₜ₋₁ f(t)` (`torch.optim.lr_scheduler.MultiplicativeLR`).
#[derive(Clone)]
pub struct MultiplicativeLr {
    lr: f64,
    lambda: LrLambda,
    current: f64,
    step: u64,
}

impl MultiplicativeLr {
    /// The schedule from `lr` (η₀, finite and `>= 0`) by the factors `f(t)`.
    pub fn try_new(
        lr: f64,
        lambda: impl Fn(u64) -> f64 + Send + Sync + 'static,
    ) -> OptimResult<Self> {
        checks::non_negative("multiplicative_lr", "lr", lr)?;
        Ok(Self {
            lr,
            lambda: Arc::new(lambda),
            current: lr,
            step: 0,
        })
    }

    /// The schedule from `lr` by the factors `f(t)`.
    ///
    /// # Panics
    /// When `lr` is negative or not finite.
    pub fn new(lr: f64, lambda: impl Fn(u64) -> f64 + Send + Sync + 'static) -> Self {
        or_panic(Self::try_new(lr, lambda))
    }
}

impl fmt::Debug for MultiplicativeLr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiplicativeLr")
            .field("lr", &self.lr)
            .field("current", &self.current)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl LrScheduler for MultiplicativeLr {
    fn step(&mut self) -> LearningRate {
        if self.step > 0 {
            self.current *= (self.lambda)(self.step);
        }
        self.step += 1;
        self.current
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new()
            .with_scalar("step", self.step)
            .with_scalar("current", self.current)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let (Some(step), Some(current)) = (
            record.scalar::<u64>("step"),
            record.scalar::<f64>("current"),
        ) {
            self.step = step;
            self.current = current;
        }
    }
}
