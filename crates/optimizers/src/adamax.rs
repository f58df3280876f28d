//! Adamax (`torch.optim.Adamax`): Adam with the infinity norm in place of the second moment.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::{Ema, Num};

use crate::adam::check_adam;
use crate::error::OptimResult;
use crate::rule::{Direction, Rule, bias_correction};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

const NAME: &str = "adamax";

/// Configuration of [`Adamax`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct AdamaxConfig {
    /// Decay rate β₁ of the first moment (default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate β₂ of the infinity norm (default 0.999).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Term ε added to |g| (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// L2 penalty λ added to the gradient (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl AdamaxConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Adamax> {
        check_adam(NAME, self.beta_1, self.beta_2, self.eps, self.weight_decay)?;
        Ok(Adamax {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }
}

optimizer_config!(AdamaxConfig => Adamax);

/// Adamax (`torch.optim.Adamax`).
///
/// With `g = ±∇f(θ) + λθ`, `m` and `u` starting at 0:
///
/// ```text
/// m = β₁ m + (1 − β₁) g
/// u = max(β₂ u, |g| + ε)
/// θ ← θ − η / (1 − β₁ᵗ) · m / u
/// ```
#[derive(Clone, Debug)]
pub struct Adamax {
    beta_1: f64,
    beta_2: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
    stepper: Stepper,
}

/// State of [`Adamax`] for one parameter.
#[derive(Clone)]
pub struct AdamaxState<const D: usize> {
    /// First moment `m`.
    pub exp_avg: Tensor<D>,
    /// Exponentially weighted infinity norm `u`.
    pub exp_inf: Tensor<D>,
    /// Steps taken.
    pub step: u64,
}

record_state!(AdamaxState {
    tensors: [exp_avg, exp_inf],
    optional: [],
    counters: [step],
    floats: [],
});

/// Adamax's rule for one step, slots `[m, u]` (see [`Adamax`]).
#[derive(Clone, Copy)]
struct AdamaxRule {
    dir: Direction,
    beta_1: Ema,
    beta_2: f32,
    eps: f32,
    /// `η / (1 − β₁ᵗ)`.
    clr: f32,
}

impl Rule for AdamaxRule {
    fn slots(&self) -> usize {
        2
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let [m, u] = s else {
            unreachable!("adamax: two state slots")
        };
        *m = self.beta_1.of(m.clone(), g.clone());
        *u = u.clone().scale(self.beta_2).max(g.abs().shift(self.eps));
        p - (m.clone() / u.clone()).scale(self.clr)
    }
}

impl Optimizer for Adamax {
    type State<const D: usize> = AdamaxState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (slots, step) = match state {
            Some(s) => (vec![Some(s.exp_avg), Some(s.exp_inf)], s.step + 1),
            None => (vec![None, None], 1),
        };
        let rule = AdamaxRule {
            dir: Direction::new(self.maximize, self.weight_decay),
            beta_1: Ema::new(self.beta_1),
            beta_2: self.beta_2 as f32,
            eps: self.eps as f32,
            clr: (lr / bias_correction(self.beta_1, step)) as f32,
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let Ok([exp_avg, exp_inf]) = <[Tensor<D>; 2]>::try_from(slots) else {
            unreachable!("adamax: two state slots")
        };
        let state = AdamaxState {
            exp_avg,
            exp_inf,
            step,
        };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
