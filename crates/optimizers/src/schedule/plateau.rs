//! Reduce the learning rate when a metric stops improving: `ReduceLROnPlateau`.

use burn::config::Config;
use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::LearningRate;

use crate::checks;
use crate::error::{OptimError, OptimResult, or_panic};

const NAME: &str = "reduce_lr_on_plateau";

/// Whether a lower or a higher metric is better.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How the improvement threshold is measured.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ThresholdMode {
    /// Relative: better than `best · (1 ∓ threshold)`.
    Rel,
    /// Absolute: better than `best ∓ threshold`.
    Abs,
}

/// Configuration of [`ReduceLrOnPlateau`] (`torch.optim.lr_scheduler.ReduceLROnPlateau`).
#[derive(Config, Debug)]
pub struct ReduceLrOnPlateauConfig {
    /// The initial learning rate.
    pub lr: f64,
    /// Lower or higher is better (default min).
    #[config(default = "PlateauMode::Min")]
    pub mode: PlateauMode,
    /// Factor by which the rate is reduced, in [0, 1) (default 0.1).
    #[config(default = 0.1)]
    pub factor: f64,
    /// Reports without improvement tolerated before reducing (default 10).
    #[config(default = 10)]
    pub patience: u64,
    /// Smallest change counted as an improvement (default 1e-4).
    #[config(default = 1e-4)]
    pub threshold: f64,
    /// Relative or absolute threshold (default relative).
    #[config(default = "ThresholdMode::Rel")]
    pub threshold_mode: ThresholdMode,
    /// Reports to wait after a reduction before counting again (default 0).
    #[config(default = 0)]
    pub cooldown: u64,
    /// Floor of the rate (default 0).
    #[config(default = 0.0)]
    pub min_lr: f64,
    /// Reductions smaller than this are skipped (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
}

impl ReduceLrOnPlateauConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<ReduceLrOnPlateau> {
        checks::non_negative(NAME, "lr", self.lr)?;
        if !(0.0..1.0).contains(&self.factor) {
            return Err(OptimError::new(
                NAME,
                "factor",
                format!("must be in [0, 1), got {}", self.factor),
            ));
        }
        checks::non_negative(NAME, "threshold", self.threshold)?;
        checks::non_negative(NAME, "min_lr", self.min_lr)?;
        checks::non_negative(NAME, "eps", self.eps)?;
        Ok(ReduceLrOnPlateau {
            lr: self.lr,
            mode: self.mode,
            factor: self.factor,
            patience: self.patience,
            threshold: self.threshold,
            threshold_mode: self.threshold_mode,
            cooldown: self.cooldown,
            min_lr: self.min_lr,
            eps: self.eps,
            best: match self.mode {
                PlateauMode::Min => f64::INFINITY,
                PlateauMode::Max => f64::NEG_INFINITY,
            },
            num_bad_epochs: 0,
            cooldown_counter: 0,
        })
    }

    /// Builds the schedule.
    ///
    /// # Panics
    /// When an argument is invalid, with a message naming it.
    pub fn init(&self) -> ReduceLrOnPlateau {
        or_panic(self.try_init())
    }
}

/// Reduces the rate by `factor` (not below `min_lr`) once the metric given to
/// [`report`](Self::report) has not improved for more than `patience` reports, then waits
/// `cooldown` reports. `step()` returns the rate in force; call `report(metric)` after the
/// step (or epoch) whose metric it is.
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    lr: f64,
    mode: PlateauMode,
    factor: f64,
    patience: u64,
    threshold: f64,
    threshold_mode: ThresholdMode,
    cooldown: u64,
    min_lr: f64,
    eps: f64,
    best: f64,
    num_bad_epochs: u64,
    cooldown_counter: u64,
}

impl ReduceLrOnPlateau {
    /// The rate now in force.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    fn is_better(&self, a: f64) -> bool {
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < self.best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < self.best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > self.best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > self.best + self.threshold,
        }
    }

    /// Reports the metric of the step just taken, possibly reducing the rate.
    ///
    /// # Panics
    /// When the metric is NaN, naming the schedule.
    pub fn report(&mut self, metric: f64) {
        assert!(!metric.is_nan(), "{NAME}: metric must be a number, got NaN");
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.patience {
            let new_lr = (self.lr * self.factor).max(self.min_lr);
            if self.lr - new_lr > self.eps {
                self.lr = new_lr;
            }
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
        }
    }
}

impl LrScheduler for ReduceLrOnPlateau {
    fn step(&mut self) -> LearningRate {
        self.lr
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new()
            .with_scalar("lr", self.lr)
            .with_scalar("best", self.best)
            .with_scalar("num_bad_epochs", self.num_bad_epochs)
            .with_scalar("cooldown_counter", self.cooldown_counter)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(lr) = record.scalar::<f64>("lr") {
            self.lr = lr;
        }
        if let Some(best) = record.scalar::<f64>("best") {
            self.best = best;
        }
        if let Some(n) = record.scalar::<u64>("num_bad_epochs") {
            self.num_bad_epochs = n;
        }
        if let Some(n) = record.scalar::<u64>("cooldown_counter") {
            self.cooldown_counter = n;
        }
    }
}
