//! The learning rate of stochastic weight averaging: `torch.optim.swa_utils.SWALR`.

use std::f64::consts::PI;

use burn::config::Config;
use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::LearningRate;

use super::AnnealStrategy;
use crate::checks;
use crate::error::OptimResult;

/// Configuration of [`Swalr`].
#[derive(Config, Debug)]
pub struct SwalrConfig {
    /// The optimizer's rate when the schedule starts.
    pub lr: f64,
    /// The rate SWA runs at, reached after `anneal_epochs`.
    pub swa_lr: f64,
    /// Steps of the anneal from `lr` to `swa_lr` (default 10).
    #[config(default = 10)]
    pub anneal_epochs: u64,
    /// The shape of the anneal (default cosine).
    #[config(default = "AnnealStrategy::Cos")]
    pub anneal_strategy: AnnealStrategy,
}

impl SwalrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<Swalr> {
        checks::non_negative("swalr", "lr", self.lr)?;
        checks::non_negative("swalr", "swa_lr", self.swa_lr)?;
        Ok(Swalr {
            swa_lr: self.swa_lr,
            anneal_epochs: self.anneal_epochs,
            strategy: self.anneal_strategy,
            lr: self.lr,
            current: self.lr,
            step: 0,
        })
    }

    /// Builds the schedule.
    ///
    /// # Panics
    /// When an argument is invalid, with a message naming it.
    pub fn init(&self) -> Swalr {
        crate::error::or_panic(self.try_init())
    }
}

/// Anneals the rate to `swa_lr` over `anneal_epochs` steps, then holds it (`SWALR`): with
/// `a(t) = t` (linear) or `(1 − cos πt)/2` (cosine) of the anneal's progress
/// `p(k) = clamp(k / anneal_epochs, 0, 1)`, PyTorch's recursive form on the rate in force:
///
/// ```text
/// η′ = (ηₖ₋₁ − a(p(k−1)) η_swa) / (1 − a(p(k−1)))      (η_swa when a(p(k−1)) = 1)
/// ηₖ = a(p(k)) η_swa + (1 − a(p(k))) η′
/// ```
#[derive(Clone, Debug)]
pub struct Swalr {
    swa_lr: f64,
    anneal_epochs: u64,
    strategy: AnnealStrategy,
    lr: f64,
    current: f64,
    step: u64,
}

impl Swalr {
    fn anneal(&self, t: f64) -> f64 {
        match self.strategy {
            AnnealStrategy::Cos => (1.0 - (PI * t).cos()) / 2.0,
            AnnealStrategy::Linear => t,
        }
    }
}

impl LrScheduler for Swalr {
    fn step(&mut self) -> LearningRate {
        let mut k = self.step as f64;
        if self.anneal_epochs == 0 {
            k = k.max(1.0);
        }
        let span = self.anneal_epochs.max(1) as f64;
        let prev_alpha = self.anneal(((k - 1.0) / span).clamp(0.0, 1.0));
        let start = if prev_alpha == 1.0 {
            self.swa_lr
        } else {
            (self.current - prev_alpha * self.swa_lr) / (1.0 - prev_alpha)
        };
        let alpha = self.anneal((k / span).clamp(0.0, 1.0));
        self.current = self.swa_lr * alpha + start * (1.0 - alpha);
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
        let _ = self.lr;
    }
}
