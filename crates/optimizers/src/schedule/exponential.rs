//! Exponential decay: `ExponentialLR`.

use burn::config::Config;

use super::closed_form_schedule;
use crate::checks;
use crate::error::OptimResult;

/// Configuration of [`ExponentialLr`] (`torch.optim.lr_scheduler.ExponentialLR`).
#[derive(Config, Debug)]
pub struct ExponentialLrConfig {
    /// The initial learning rate η₀.
    pub lr: f64,
    /// Decay factor γ per step.
    pub gamma: f64,
}

impl ExponentialLrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<ExponentialLr> {
        checks::non_negative("exponential_lr", "lr", self.lr)?;
        checks::non_negative("exponential_lr", "gamma", self.gamma)?;
        Ok(ExponentialLr {
            lr: self.lr,
            gamma: self.gamma,
            step: 0,
        })
    }
}

/// `ηₜ = η₀ γᵗ`.
#[derive(Clone, Debug)]
pub struct ExponentialLr {
    lr: f64,
    gamma: f64,
    step: u64,
}

impl ExponentialLr {
    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        self.lr * self.gamma.powf(t as f64)
    }
}

closed_form_schedule!(ExponentialLrConfig => ExponentialLr);
