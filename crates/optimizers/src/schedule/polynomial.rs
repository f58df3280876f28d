//! Polynomial decay to zero: `PolynomialLR`.

use burn::config::Config;

use super::closed_form_schedule;
use crate::checks;
use crate::error::OptimResult;

/// Configuration of [`PolynomialLr`] (`torch.optim.lr_scheduler.PolynomialLR`).
#[derive(Config, Debug)]
pub struct PolynomialLrConfig {
    /// The initial learning rate η₀.
    pub lr: f64,
    /// Steps until the rate reaches 0 (default 5).
    #[config(default = 5)]
    pub total_iters: u64,
    /// Power p of the decay (default 1: linear).
    #[config(default = 1.0)]
    pub power: f64,
}

impl PolynomialLrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<PolynomialLr> {
        checks::non_negative("polynomial_lr", "lr", self.lr)?;
        checks::non_negative("polynomial_lr", "power", self.power)?;
        Ok(PolynomialLr {
            lr: self.lr,
            total_iters: self.total_iters,
            power: self.power,
            step: 0,
        })
    }
}

/// `ηₜ = η₀ (1 − min(t, T) / T)ᵖ`.
#[derive(Clone, Debug)]
pub struct PolynomialLr {
    lr: f64,
    total_iters: u64,
    power: f64,
    step: u64,
}

impl PolynomialLr {
    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        if self.total_iters == 0 {
            return self.lr;
        }
        let progress = t.min(self.total_iters) as f64 / self.total_iters as f64;
        self.lr * (1.0 - progress).powf(self.power)
    }
}

closed_form_schedule!(PolynomialLrConfig => PolynomialLr);
