//! The one-cycle policy: `OneCycleLR` (Smith & Topin, "Super-Convergence").

use std::f64::consts::PI;

use burn::config::Config;

use super::closed_form_schedule;
use crate::checks;
use crate::error::{OptimError, OptimResult};

/// How [`OneCycleLr`] moves between its phase end points.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum AnnealStrategy {
    /// Half a cosine: `end + (start − end)(1 + cos(π p)) / 2`.
    Cos,
    /// A straight line: `start + (end − start) p`.
    Linear,
}

impl AnnealStrategy {
    fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Self::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            Self::Linear => (end - start) * pct + start,
        }
    }
}

/// Configuration of [`OneCycleLr`] (`torch.optim.lr_scheduler.OneCycleLR`).
#[derive(Config, Debug)]
pub struct OneCycleLrConfig {
    /// The peak learning rate.
    pub max_lr: f64,
    /// Steps in the cycle (> 0); stepping past it is an error, as in PyTorch.
    pub total_steps: u64,
    /// Fraction of the cycle spent increasing the rate (default 0.3).
    #[config(default = 0.3)]
    pub pct_start: f64,
    /// The annealing shape (default cosine).
    #[config(default = "AnnealStrategy::Cos")]
    pub anneal_strategy: AnnealStrategy,
    /// `initial_lr = max_lr / div_factor` (default 25).
    #[config(default = 25.0)]
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (default 1e4).
    #[config(default = 1e4)]
    pub final_div_factor: f64,
    /// Use three phases (up, back down to `initial_lr`, then to `min_lr`), as fast.ai.
    #[config(default = false)]
    pub three_phase: bool,
}

impl OneCycleLrConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<OneCycleLr> {
        const NAME: &str = "one_cycle_lr";
        checks::non_negative(NAME, "max_lr", self.max_lr)?;
        checks::positive(NAME, "div_factor", self.div_factor)?;
        checks::positive(NAME, "final_div_factor", self.final_div_factor)?;
        if self.total_steps == 0 {
            return Err(OptimError::new(NAME, "total_steps", "must be >= 1, got 0"));
        }
        checks::unit_closed(NAME, "pct_start", self.pct_start)?;
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        let total = self.total_steps as f64;
        let up_end = self.pct_start * total - 1.0;
        let phases = if self.three_phase {
            vec![
                (up_end, initial, self.max_lr),
                (2.0 * self.pct_start * total - 2.0, self.max_lr, initial),
                (total - 1.0, initial, min),
            ]
        } else {
            vec![
                (up_end, initial, self.max_lr),
                (total - 1.0, self.max_lr, min),
            ]
        };
        Ok(OneCycleLr {
            phases,
            total_steps: self.total_steps,
            strategy: self.anneal_strategy,
            step: 0,
        })
    }
}

/// One cycle: from `max_lr / div_factor` up to `max_lr` over the first `pct_start` of the
/// steps, then down to `max_lr / (div_factor · final_div_factor)`, each phase annealed by the
/// strategy with `p` the fraction of the phase done (PyTorch's phase boundaries, which end at
/// `pct_start · total − 1` and `total − 1`).
#[derive(Clone, Debug)]
pub struct OneCycleLr {
    /// (end step, start lr, end lr) per phase.
    phases: Vec<(f64, f64, f64)>,
    total_steps: u64,
    strategy: AnnealStrategy,
    step: u64,
}

impl OneCycleLr {
    /// The learning rate of step `t`.
    ///
    /// # Panics
    /// When `t >= total_steps`, as PyTorch raises.
    pub fn lr_at(&self, t: u64) -> f64 {
        assert!(
            t < self.total_steps,
            "one_cycle_lr: step {t} is past total_steps {}; the cycle is over",
            self.total_steps
        );
        let t = t as f64;
        let mut start_step = 0.0;
        let last = self.phases.len() - 1;
        for (i, &(end_step, start, end)) in self.phases.iter().enumerate() {
            if t <= end_step || i == last {
                let pct = (t - start_step) / (end_step - start_step);
                return self.strategy.anneal(start, end, pct);
            }
            start_step = end_step;
        }
        unreachable!("the last phase always matches")
    }
}

closed_form_schedule!(OneCycleLrConfig => OneCycleLr);
