//! AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::adam::{AdamState, Moments, check_adam};
use crate::error::OptimResult;
use crate::rule::weight_decay;
use crate::state::optimizer_config;
use crate::step::{StepSettings, Stepper};

const NAME: &str = "adamw";

/// Configuration of [`AdamW`], with PyTorch's defaults (weight decay 1e-2, ε = 1e-8).
#[derive(Config, Debug)]
pub struct AdamWConfig {
    /// Decay rate β₁ of the first moment (default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate β₂ of the second moment (default 0.999).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Term ε added to the denominator (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Decoupled weight decay λ (default 1e-2).
    #[config(default = 1e-2)]
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    #[config(default = false)]
    pub amsgrad: bool,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl AdamWConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<AdamW> {
        check_adam(NAME, self.beta_1, self.beta_2, self.eps, self.weight_decay)?;
        Ok(AdamW {
            moments: Moments {
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                eps: self.eps,
                amsgrad: self.amsgrad,
            },
            weight_decay: self.weight_decay,
            maximize: self.maximize,
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }
}

optimizer_config!(AdamWConfig => AdamW);

/// AdamW (`torch.optim.AdamW`): the decay shrinks the parameters, not the gradient.
///
/// ```text
/// θ ← θ (1 − ηλ)
/// then the Adam step of `Adam` with g = ±∇f(θ) and no L2 term
/// ```
#[derive(Clone, Debug)]
pub struct AdamW {
    moments: Moments,
    weight_decay: f64,
    maximize: bool,
    stepper: Stepper,
}

impl Optimizer for AdamW {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let wd = weight_decay(self.maximize, self.weight_decay, true, lr);
        self.moments
            .step(&self.stepper, lr, wd, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
