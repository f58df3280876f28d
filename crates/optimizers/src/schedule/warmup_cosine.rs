//! Linear warm-up then cosine decay, as Optax's `warmup_cosine_decay_schedule`.

use std::f64::consts::PI;

use burn::config::Config;

use super::closed_form_schedule;
use crate::checks;
use crate::error::{OptimError, OptimResult};

/// Configuration of [`WarmupCosine`].
#[derive(Config, Debug)]
pub struct WarmupCosineConfig {
    /// Rate at step 0.
    pub init_value: f64,
    /// Rate at the end of the warm-up.
    pub peak_value: f64,
    /// Steps of linear warm-up.
    pub warmup_steps: u64,
    /// Total steps, warm-up included (> `warmup_steps`).
    pub decay_steps: u64,
    /// Rate from `decay_steps` on (default 0).
    #[config(default = 0.0)]
    pub end_value: f64,
    /// Exponent of the cosine factor (default 1).
    #[config(default = 1.0)]
    pub exponent: f64,
}

impl WarmupCosineConfig {
    /// Checks the arguments and builds the schedule.
    pub fn try_init(&self) -> OptimResult<WarmupCosine> {
        const NAME: &str = "warmup_cosine";
        checks::non_negative(NAME, "init_value", self.init_value)?;
        checks::non_negative(NAME, "peak_value", self.peak_value)?;
        checks::non_negative(NAME, "end_value", self.end_value)?;
        checks::positive(NAME, "exponent", self.exponent)?;
        if self.decay_steps <= self.warmup_steps {
            return Err(OptimError::new(
                NAME,
                "decay_steps",
                format!(
                    "must be > warmup_steps ({}), got {}",
                    self.warmup_steps, self.decay_steps
                ),
            ));
        }
        Ok(WarmupCosine {
            init_value: self.init_value,
            peak_value: self.peak_value,
            warmup_steps: self.warmup_steps,
            decay_steps: self.decay_steps,
            end_value: self.end_value,
            exponent: self.exponent,
            step: 0,
        })
    }
}

/// Linear warm-up from `init_value` to `peak_value` over `warmup_steps` (W), then cosine
/// decay to `end_value` at `decay_steps` (T), constant after:
///
/// ```text
/// t < W:  ηₜ = init + (peak − init) t / W
/// t ≥ W:  ηₜ = end + (peak − end) ((1 + cos(π min(t − W, T − W) / (T − W))) / 2)^exponent
/// ```
#[derive(Clone, Debug)]
pub struct WarmupCosine {
    init_value: f64,
    peak_value: f64,
    warmup_steps: u64,
    decay_steps: u64,
    end_value: f64,
    exponent: f64,
    step: u64,
}

impl WarmupCosine {
    /// The learning rate of step `t`.
    pub fn lr_at(&self, t: u64) -> f64 {
        if t < self.warmup_steps {
            let frac = t as f64 / self.warmup_steps as f64;
            return self.init_value + (self.peak_value - self.init_value) * frac;
        }
        let span = (self.decay_steps - self.warmup_steps) as f64;
        let count = ((t - self.warmup_steps) as f64).min(span);
        let cosine = (0.5 * (1.0 + (PI * count / span).cos())).powf(self.exponent);
        self.end_value + (self.peak_value - self.end_value) * cosine
    }
}

closed_form_schedule!(WarmupCosineConfig => WarmupCosine);
