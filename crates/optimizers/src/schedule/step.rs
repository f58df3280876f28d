//! Step decays: `StepLR` and `MultiStepLR`.

use burn::config::Config;

use super::closed_form_schedule;
use crate::checks;
use crate::error::{OptimError, OptimResult};

/// Configuration of [`StepLr`] (`torch.optim.lr_scheduler.StepLR`).
#[derive(Config, Debug)]
pub struct StepLrConfig {
    /// The initial learning rate η₀.
    pub lr: f64,
    /// Steps between decays (> 0).
    pub step_size: u64,
    /// Decay factor γ (default 0.1).
    #[config(default = 0.1)]
    pub gamma: f64,
}

impl StepLrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<StepLr> {
        checks::non_negative("step_lr", "lr", self.lr)?;
        checks::non_negative("step_lr", "gamma", self.gamma)?;
        if self.step_size == 0 {
            return Err(OptimError::new(
                "step_lr",
                "step_size",
                "must be >= 1, got 0",
            ));
        }
        Ok(StepLr {
            lr: self.lr,
            step_size: self.step_size,
            gamma: self.gamma,
            step: 0,
        })
    }
}

/// `ηₜ = η₀ γ^⌊t / step_size⌋`: decay by γ every `step_size` steps.
#[derive(Clone, Debug)]
pub struct StepLr {
    lr: f64,
    step_size: u64,
    gamma: f64,
    step: u64,
}

impl StepLr {
    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        self.lr * self.gamma.powi((t / self.step_size) as i32)
    }
}

closed_form_schedule!(StepLrConfig => StepLr);

/// Configuration of [`MultiStepLr`] (`torch.optim.lr_scheduler.MultiStepLR`).
#[derive(Config, Debug)]
pub struct MultiStepLrConfig {
    /// The initial learning rate η₀.
    pub lr: f64,
    /// Steps at which the rate decays (a milestone listed k times decays by γᵏ).
    pub milestones: Vec<u64>,
    /// Decay factor γ (default 0.1).
    #[config(default = 0.1)]
    pub gamma: f64,
}

impl MultiStepLrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<MultiStepLr> {
        checks::non_negative("multi_step_lr", "lr", self.lr)?;
        checks::non_negative("multi_step_lr", "gamma", self.gamma)?;
        let mut milestones = self.milestones.clone();
        milestones.sort_unstable();
        Ok(MultiStepLr {
            lr: self.lr,
            milestones,
            gamma: self.gamma,
            step: 0,
        })
    }
}

/// `ηₜ = η₀ γ^(number of milestones ≤ t)`.
#[derive(Clone, Debug)]
pub struct MultiStepLr {
    lr: f64,
    milestones: Vec<u64>,
    gamma: f64,
    step: u64,
}

impl MultiStepLr {
    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        let passed = self.milestones.partition_point(|m| *m <= t);
        self.lr * self.gamma.powi(passed as i32)
    }
}

closed_form_schedule!(MultiStepLrConfig => MultiStepLr);
