//! Multiplicative warm-up factors: `LinearLR` and `ConstantLR`.

use burn::config::Config;

use super::closed_form_schedule;
use crate::checks;
use crate::error::{OptimError, OptimResult};

/// Configuration of [`LinearLr`] (`torch.optim.lr_scheduler.LinearLR`), the usual linear
/// warm-up.
#[derive(Config, Debug)]
pub struct LinearLrConfig {
    /// The base learning rate η₀.
    pub lr: f64,
    /// Factor at step 0, in (0, 1] (default 1/3).
    #[config(default = "1.0 / 3.0")]
    pub start_factor: f64,
    /// Factor from `total_iters` on, in [0, 1] (default 1).
    #[config(default = 1.0)]
    pub end_factor: f64,
    /// Steps over which the factor moves (default 5).
    #[config(default = 5)]
    pub total_iters: u64,
}

impl LinearLrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<LinearLr> {
        const NAME: &str = "linear_lr";
        checks::non_negative(NAME, "lr", self.lr)?;
        if !(self.start_factor > 0.0 && self.start_factor <= 1.0) {
            return Err(OptimError::new(
                NAME,
                "start_factor",
                format!("must be in (0, 1], got {}", self.start_factor),
            ));
        }
        checks::unit_closed(NAME, "end_factor", self.end_factor)?;
        Ok(LinearLr {
            lr: self.lr,
            start_factor: self.start_factor,
            end_factor: self.end_factor,
            total_iters: self.total_iters,
            step: 0,
        })
    }
}

/// `ηₜ = η₀ (s + (e − s) min(t, T) / T)`: the factor moves linearly from s to e over T steps.
#[derive(Clone, Debug)]
pub struct LinearLr {
    lr: f64,
    start_factor: f64,
    end_factor: f64,
    total_iters: u64,
    step: u64,
}

impl LinearLr {
    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        let progress = if self.total_iters == 0 {
            1.0
        } else {
            t.min(self.total_iters) as f64 / self.total_iters as f64
        };
        self.lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)
    }
}

closed_form_schedule!(LinearLrConfig => LinearLr);

/// Configuration of [`ConstantLr`] (`torch.optim.lr_scheduler.ConstantLR`).
#[derive(Config, Debug)]
pub struct ConstantLrConfig {
    /// The base learning rate η₀.
    pub lr: f64,
    /// Factor for the first `total_iters` steps, in [0, 1] (default 1/3).
    #[config(default = "1.0 / 3.0")]
    pub factor: f64,
    /// Steps at the reduced rate (default 5).
    #[config(default = 5)]
    pub total_iters: u64,
}

impl ConstantLrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<ConstantLr> {
        checks::non_negative("constant_lr", "lr", self.lr)?;
        checks::unit_closed("constant_lr", "factor", self.factor)?;
        Ok(ConstantLr {
            lr: self.lr,
            factor: self.factor,
            total_iters: self.total_iters,
            step: 0,
        })
    }
}

/// `ηₜ = η₀ f` for `t < total_iters`, `η₀` after.
#[derive(Clone, Debug)]
pub struct ConstantLr {
    lr: f64,
    factor: f64,
    total_iters: u64,
    step: u64,
}

impl ConstantLr {
    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        if t < self.total_iters {
            self.lr * self.factor
        } else {
            self.lr
        }
    }
}

closed_form_schedule!(ConstantLrConfig => ConstantLr);
