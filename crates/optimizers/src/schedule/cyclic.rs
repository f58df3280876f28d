//! Cyclical learning rates: `CyclicLR` (Smith, 2017).

use burn::config::Config;

use super::closed_form_schedule;
use crate::checks;
use crate::error::{OptimError, OptimResult};

/// The amplitude policy of [`CyclicLr`].
#[derive(Config, Debug, Copy, PartialEq)]
pub enum CyclicMode {
    /// Constant amplitude.
    Triangular,
    /// Amplitude halved every cycle: scale `1 / 2^(cycle − 1)`.
    Triangular2,
    /// Amplitude scaled by `γᵗ` at step t.
    ExpRange {
        /// The per-step factor γ.
        gamma: f64,
    },
}

/// Configuration of [`CyclicLr`] (`torch.optim.lr_scheduler.CyclicLR`).
#[derive(Config, Debug)]
pub struct CyclicLrConfig {
    /// Lower bound of the cycle.
    pub base_lr: f64,
    /// Upper bound of the cycle.
    pub max_lr: f64,
    /// Steps in the rising half (default 2000).
    #[config(default = 2000)]
    pub step_size_up: u64,
    /// Steps in the falling half (default: `step_size_up`).
    #[config(default = "None")]
    pub step_size_down: Option<u64>,
    /// Amplitude policy (default triangular).
    #[config(default = "CyclicMode::Triangular")]
    pub mode: CyclicMode,
}

impl CyclicLrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<CyclicLr> {
        const NAME: &str = "cyclic_lr";
        checks::non_negative(NAME, "base_lr", self.base_lr)?;
        checks::non_negative(NAME, "max_lr", self.max_lr)?;
        let up = self.step_size_up as f64;
        let down = self.step_size_down.unwrap_or(self.step_size_up) as f64;
        if up + down <= 0.0 {
            return Err(OptimError::new(
                NAME,
                "step_size_up",
                "and step_size_down must not both be 0 (the cycle has no length)",
            ));
        }
        if let CyclicMode::ExpRange { gamma } = self.mode {
            checks::positive(NAME, "gamma", gamma)?;
        }
        Ok(CyclicLr {
            base_lr: self.base_lr,
            max_lr: self.max_lr,
            total_size: up + down,
            step_ratio: up / (up + down),
            mode: self.mode,
            step: 0,
        })
    }
}

/// A triangular wave between `base_lr` and `max_lr`:
///
/// ```text
/// cycle = ⌊1 + t / (up + down)⌋,  x = 1 + t / (up + down) − cycle
/// h = x / r if x ≤ r else (x − 1) / (r − 1),   r = up / (up + down)
/// ηₜ = base_lr + (max_lr − base_lr) h · scale
/// ```
/// with `scale` 1 (triangular), `1/2^(cycle−1)` (triangular2) or `γᵗ` (exp_range).
#[derive(Clone, Debug)]
pub struct CyclicLr {
    base_lr: f64,
    max_lr: f64,
    total_size: f64,
    step_ratio: f64,
    mode: CyclicMode,
    step: u64,
}

impl CyclicLr {
    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        let tf = t as f64;
        let cycle = (1.0 + tf / self.total_size).floor();
        let x = 1.0 + tf / self.total_size - cycle;
        let scale_factor = if x <= self.step_ratio {
            x / self.step_ratio
        } else {
            (x - 1.0) / (self.step_ratio - 1.0)
        };
        let scale = match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
            CyclicMode::ExpRange { gamma } => gamma.powf(tf),
        };
        self.base_lr + (self.max_lr - self.base_lr) * scale_factor * scale
    }
}

closed_form_schedule!(CyclicLrConfig => CyclicLr);
