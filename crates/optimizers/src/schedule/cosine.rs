//! Cosine annealing: `CosineAnnealingLR` and `CosineAnnealingWarmRestarts` (SGDR).

use std::f64::consts::PI;

use burn::config::Config;

use super::closed_form_schedule;
use crate::checks;
use crate::error::{OptimError, OptimResult};

/// `η_min + (η₀ − η_min)(1 + cos(π c / T)) / 2`.
fn cosine(lr: f64, eta_min: f64, c: f64, period: f64) -> f64 {
    eta_min + (lr - eta_min) * (1.0 + (PI * c / period).cos()) / 2.0
}

/// Configuration of [`CosineAnnealingLr`] (`torch.optim.lr_scheduler.CosineAnnealingLR`).
#[derive(Config, Debug)]
pub struct CosineAnnealingLrConfig {
    /// The initial learning rate η₀.
    pub lr: f64,
    /// Half-period T_max in steps (> 0).
    pub t_max: u64,
    /// Smallest rate η_min (default 0).
    #[config(default = 0.0)]
    pub eta_min: f64,
}

impl CosineAnnealingLrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<CosineAnnealingLr> {
        const NAME: &str = "cosine_annealing_lr";
        checks::non_negative(NAME, "lr", self.lr)?;
        checks::non_negative(NAME, "eta_min", self.eta_min)?;
        if self.t_max == 0 {
            return Err(OptimError::new(NAME, "t_max", "must be >= 1, got 0"));
        }
        Ok(CosineAnnealingLr {
            lr: self.lr,
            t_max: self.t_max,
            eta_min: self.eta_min,
            step: 0,
        })
    }
}

/// `ηₜ = η_min + (η₀ − η_min)(1 + cos(π t / T_max)) / 2`; past `T_max` the cosine goes on, as
/// in PyTorch.
#[derive(Clone, Debug)]
pub struct CosineAnnealingLr {
    lr: f64,
    t_max: u64,
    eta_min: f64,
    step: u64,
}

impl CosineAnnealingLr {
    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        cosine(self.lr, self.eta_min, t as f64, self.t_max as f64)
    }
}

closed_form_schedule!(CosineAnnealingLrConfig => CosineAnnealingLr);

/// Configuration of [`CosineAnnealingWarmRestarts`]
/// (`torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`).
#[derive(Config, Debug)]
pub struct CosineAnnealingWarmRestartsConfig {
    /// The initial learning rate η₀.
    pub lr: f64,
    /// Length T₀ of the first period in steps (> 0).
    pub t_0: u64,
    /// Growth factor of the period after each restart (>= 1, default 1).
    #[config(default = 1)]
    pub t_mult: u64,
    /// Smallest rate η_min (default 0).
    #[config(default = 0.0)]
    pub eta_min: f64,
}

impl CosineAnnealingWarmRestartsConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<CosineAnnealingWarmRestarts> {
        const NAME: &str = "cosine_annealing_warm_restarts";
        checks::non_negative(NAME, "lr", self.lr)?;
        checks::non_negative(NAME, "eta_min", self.eta_min)?;
        if self.t_0 == 0 {
            return Err(OptimError::new(NAME, "t_0", "must be >= 1, got 0"));
        }
        if self.t_mult == 0 {
            return Err(OptimError::new(NAME, "t_mult", "must be >= 1, got 0"));
        }
        Ok(CosineAnnealingWarmRestarts {
            lr: self.lr,
            t_0: self.t_0,
            t_mult: self.t_mult,
            eta_min: self.eta_min,
            step: 0,
        })
    }
}

/// SGDR: cosine annealing over periods `T₀, T₀ m, T₀ m², …` restarting at η₀:
/// `ηₜ = η_min + (η₀ − η_min)(1 + cos(π T_cur / T_i)) / 2`, with `T_cur` the steps since the
/// last restart and `T_i` the current period.
#[derive(Clone, Debug)]
pub struct CosineAnnealingWarmRestarts {
    lr: f64,
    t_0: u64,
    t_mult: u64,
    eta_min: f64,
    step: u64,
}

impl CosineAnnealingWarmRestarts {
    /// The learning rate of step `t`.
    ///
    /// With `T_mult = 1` the periods repeat: `t_cur = t mod T₀`. Otherwise the restart before
    /// `t` is found in closed form, as PyTorch does, from
    /// `n = ⌊log(t (T_mult − 1) / T₀ + 1) / log T_mult⌋`, then corrected by at most one period
    /// for the rounding of the logarithm.
    pub fn lr_at(&self, t: u64) -> f64 {
        let (t_cur, t_i) = if self.t_mult == 1 {
            (t % self.t_0, self.t_0)
        } else {
            self.period_of(t)
        };
        cosine(self.lr, self.eta_min, t_cur as f64, t_i as f64)
    }

    /// `(t − start of its period, its period)` for `T_mult > 1`: periods `T₀ T_mult^k` start at
    /// `T₀ (T_mult^k − 1) / (T_mult − 1)`.
    fn period_of(&self, t: u64) -> (u64, u64) {
        let (t0, m) = (self.t_0 as f64, self.t_mult as f64);
        let start = |k: u32| -> Option<u64> {
            let mk = self.t_mult.checked_pow(k)?;
            self.t_0.checked_mul((mk - 1) / (self.t_mult - 1))
        };
        let mut k = ((t as f64 * (m - 1.0) / t0 + 1.0).log(m)).floor().max(0.0) as u32;
        // The logarithm may round either way: step to the period that holds `t`.
        while k > 0 && start(k).is_none_or(|s| s > t) {
            k -= 1;
        }
        while start(k + 1).is_some_and(|s| s <= t) {
            k += 1;
        }
        let begin = start(k).unwrap_or(0);
        let period = self.t_0.saturating_mul(self.t_mult.saturating_pow(k));
        (t - begin, period)
    }
}

closed_form_schedule!(CosineAnnealingWarmRestartsConfig => CosineAnnealingWarmRestarts);
