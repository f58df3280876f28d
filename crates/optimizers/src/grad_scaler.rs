//! Dynamic loss scaling for mixed-precision training (`torch.amp.GradScaler`).

use burn::config::Config;
use burn::module::Module;
use burn::optim::{GradientsParams, LearningRate, ModuleOptimizer};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::checks;
use crate::error::{OptimError, OptimResult, or_panic};
use crate::grads;

const NAME: &str = "grad_scaler";

/// Configuration of [`GradScaler`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct GradScalerConfig {
    /// Starting scale S₀ (default 2¹⁶).
    #[config(default = 65536.0)]
    pub init_scale: f64,
    /// Factor applied after `growth_interval` good steps in a row (> 1, default 2).
    #[config(default = 2.0)]
    pub growth_factor: f64,
    /// Factor applied after a step with inf/NaN gradients (in (0, 1), default 0.5).
    #[config(default = 0.5)]
    pub backoff_factor: f64,
    /// Good steps in a row before growing (>= 1, default 2000).
    #[config(default = 2000)]
    pub growth_interval: u64,
    /// Off, the scaler does nothing: scale 1, no check, no skipped step (PyTorch's
    /// `enabled=False`, for running the same loop in full precision).
    #[config(default = true)]
    pub enabled: bool,
}

impl GradScalerConfig {
    /// Checks the arguments and builds the scaler.
    pub fn try_init(&self) -> OptimResult<GradScaler> {
        checks::positive(NAME, "init_scale", self.init_scale)?;
        if !(self.growth_factor > 1.0 && self.growth_factor.is_finite()) {
            return Err(OptimError::new(
                NAME,
                "growth_factor",
                format!("must be > 1, got {}", self.growth_factor),
            ));
        }
        if !(self.backoff_factor > 0.0 && self.backoff_factor < 1.0) {
            return Err(OptimError::new(
                NAME,
                "backoff_factor",
                format!("must be in (0, 1), got {}", self.backoff_factor),
            ));
        }
        if self.growth_interval == 0 {
            return Err(OptimError::new(
                NAME,
                "growth_interval",
                "must be >= 1, got 0",
            ));
        }
        Ok(GradScaler {
            enabled: self.enabled,
            growth_factor: self.growth_factor,
            backoff_factor: self.backoff_factor,
            growth_interval: self.growth_interval,
            state: GradScalerState {
                scale: self.init_scale,
                growth_tracker: 0,
            },
        })
    }

    /// Builds the scaler.
    ///
    /// # Panics
    /// When an argument is invalid, with a message naming it.
    pub fn init(&self) -> GradScaler {
        or_panic(self.try_init())
    }
}

/// The state of a [`GradScaler`] (serde-serializable, so training can resume).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradScalerState {
    /// The current scale S.
    pub scale: f64,
    /// Good steps in a row since the last change of scale.
    pub growth_tracker: u64,
}

/// Gradients divided by the scale, and whether any of them held an inf or NaN.
pub struct Unscaled {
    /// The gradients, divided by the scale.
    pub grads: GradientsParams,
    /// Whether any gradient held an inf or NaN (the step will be skipped).
    pub found_inf: bool,
}

/// Dynamic loss scaling with `torch.amp.GradScaler` semantics.
///
/// The loss is multiplied by S before `backward()` so that small gradients survive low
/// precision; the gradients are divided by S before the step. A step whose gradients hold an
/// inf or NaN is skipped and S is multiplied by `backoff_factor`; after `growth_interval` good
/// steps in a row, S is multiplied by `growth_factor`.
///
/// ```ignore
/// let loss = scaler.scale_loss(loss_fn(&model, batch));
/// let grads = GradientsParams::from_grads(loss.backward(), &model);
/// let mut unscaled = scaler.unscale(&model, grads);
/// clip_grad_norm(&model, &mut unscaled.grads, 1.0, NormType::L2); // optional
/// let (model, stepped) = scaler.step(&mut optim, lr, model, unscaled);
/// ```
#[derive(Clone, Debug)]
pub struct GradScaler {
    enabled: bool,
    growth_factor: f64,
    backoff_factor: f64,
    growth_interval: u64,
    state: GradScalerState,
}

impl GradScaler {
    /// The scale S in use for the current step (1 when disabled).
    pub fn scale(&self) -> f64 {
        if self.enabled { self.state.scale } else { 1.0 }
    }

    /// The state (save it to resume training).
    pub fn state(&self) -> GradScalerState {
        self.state
    }

    /// Replaces the state (to resume from a saved one).
    ///
    /// # Panics
    /// When the state's scale is not a finite number > 0 (a corrupt or foreign state).
    #[track_caller]
    pub fn with_state(self, state: GradScalerState) -> Self {
        or_panic(self.try_with_state(state))
    }

    /// Replaces the state, or says why the saved one is unusable.
    pub fn try_with_state(mut self, state: GradScalerState) -> OptimResult<Self> {
        checks::positive(NAME, "state.scale", state.scale)?;
        self.state = state;
        Ok(self)
    }

    /// `S · loss`, to call `backward()` on.
    pub fn scale_loss<const D: usize>(&self, loss: Tensor<D>) -> Tensor<D> {
        if !self.enabled {
            return loss;
        }
        loss.mul_scalar(self.state.scale)
    }

    /// Divides every gradient of `module` by S and checks them for inf/NaN.
    pub fn unscale<M: Module>(&self, module: &M, mut grads: GradientsParams) -> Unscaled {
        if !self.enabled {
            return Unscaled {
                grads,
                found_inf: false,
            };
        }
        grads::scale(module, &mut grads, 1.0 / self.state.scale);
        let found_inf = grads::has_non_finite(module, &grads);
        Unscaled { grads, found_inf }
    }

    /// Steps `optim` with the unscaled gradients unless they held an inf or NaN, then updates
    /// the scale. Returns the module and whether the step was taken.
    pub fn step<M: Module>(
        &mut self,
        optim: &mut ModuleOptimizer,
        lr: LearningRate,
        module: M,
        unscaled: Unscaled,
    ) -> (M, bool) {
        let stepped = !unscaled.found_inf;
        let module = if stepped {
            optim.step(lr, module, unscaled.grads)
        } else {
            module
        };
        self.update(unscaled.found_inf);
        (module, stepped)
    }

    /// Updates the scale after a step: back off when `found_inf`, grow after
    /// `growth_interval` good steps in a row.
    ///
    /// # Panics
    /// When backing off has taken the scale to 0: every step would be skipped from then on.
    #[track_caller]
    pub fn update(&mut self, found_inf: bool) {
        if !self.enabled {
            return;
        }
        let s = &mut self.state;
        if found_inf {
            s.scale *= self.backoff_factor;
            s.growth_tracker = 0;
            if s.scale == 0.0 {
                panic!(
                    "{NAME}: scale reached {} after backing off at every step: the gradients \
                     hold inf or NaN at any scale, so no step can be taken (check the loss and \
                     the model for non-finite values)",
                    s.scale
                );
            }
        } else {
            s.growth_tracker += 1;
            if s.growth_tracker == self.growth_interval {
                s.scale *= self.growth_factor;
                s.growth_tracker = 0;
            }
        }
    }
}
