//! RAdam (`torch.optim.RAdam`): Adam with the variance of the adaptive rate rectified, so that
//! early steps fall back to momentum SGD.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::{Ema, Num};

use crate::adam::check_adam;
use crate::error::OptimResult;
use crate::rule::{Decay, Direction, Rule, bias_correction, weight_decay};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

const NAME: &str = "radam";

/// Configuration of [`RAdam`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct RAdamConfig {
    /// Decay rate β₁ of the first moment (default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate β₂ of the second moment (default 0.999).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Term ε added to the denominator (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Weight decay λ (default 0): L2 on the gradient, or decoupled (RAdamW).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Apply the weight decay to the parameters as AdamW does.
    #[config(default = false)]
    pub decoupled_weight_decay: bool,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl RAdamConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<RAdam> {
        check_adam(NAME, self.beta_1, self.beta_2, self.eps, self.weight_decay)?;
        Ok(RAdam {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            decoupled_weight_decay: self.decoupled_weight_decay,
            maximize: self.maximize,
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }
}

optimizer_config!(RAdamConfig => RAdam);

/// RAdam (`torch.optim.RAdam`).
///
/// With `g = ±∇f(θ) (+ λθ unless decoupled)`, t counting from 1:
///
/// ```text
/// m = β₁ m + (1 − β₁) g,   v = β₂ v + (1 − β₂) g²,   m̂ = m / (1 − β₁ᵗ)
/// ρ∞ = 2 / (1 − β₂) − 1,   ρₜ = ρ∞ − 2t β₂ᵗ / (1 − β₂ᵗ)
/// if ρₜ > 5:  r = √((ρₜ − 4)(ρₜ − 2) ρ∞ / ((ρ∞ − 4)(ρ∞ − 2) ρₜ))
///             θ ← θ − η r m̂ √(1 − β₂ᵗ) / (√v + ε)
/// else:       θ ← θ − η m̂
/// ```
#[derive(Clone, Debug)]
pub struct RAdam {
    beta_1: f64,
    beta_2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool,
    stepper: Stepper,
}

/// State of [`RAdam`] for one parameter.
#[derive(Clone)]
pub struct RAdamState<const D: usize> {
    /// First moment `m`.
    pub exp_avg: Tensor<D>,
    /// Second moment `v`.
    pub exp_avg_sq: Tensor<D>,
    /// Steps taken.
    pub step: u64,
}

record_state!(RAdamState {
    tensors: [exp_avg, exp_avg_sq],
    optional: [],
    counters: [step],
    floats: [],
});

/// RAdam's rule for one step, slots `[m, v]` (see [`RAdam`]).
#[derive(Clone, Copy)]
struct RAdamRule {
    dir: Direction,
    decay: Decay,
    beta_1: Ema,
    beta_2: Ema,
    eps: f32,
    /// Whether the variance is rectified at this step (`ρₜ > 5`).
    rectified: bool,
    /// `η r √(1 − β₂ᵗ) / (1 − β₁ᵗ)` when rectified, `η / (1 − β₁ᵗ)` otherwise.
    coef: f32,
}

impl Rule for RAdamRule {
    fn slots(&self) -> usize {
        2
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let [m, v] = s else {
            unreachable!("radam: two state slots")
        };
        *m = self.beta_1.of(m.clone(), g.clone());
        *v = self.beta_2.of(v.clone(), g.square());
        let update = if self.rectified {
            m.clone() / v.clone().sqrt().shift(self.eps)
        } else {
            m.clone()
        };
        self.decay.of(p) - update.scale(self.coef)
    }
}

impl Optimizer for RAdam {
    type State<const D: usize> = RAdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (slots, step) = match state {
            Some(s) => (vec![Some(s.exp_avg), Some(s.exp_avg_sq)], s.step + 1),
            None => (vec![None, None], 1),
        };
        let bias_1 = bias_correction(self.beta_1, step);
        let bias_2 = bias_correction(self.beta_2, step);
        let rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0;
        let rho_t = rho_inf - 2.0 * step as f64 * self.beta_2.powi(step as i32) / bias_2;
        let rectified = rho_t > 5.0;
        let coef = if rectified {
            let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt();
            lr * rect * bias_2.sqrt() / bias_1
        } else {
            lr / bias_1
        };
        let (dir, decay) = weight_decay(
            self.maximize,
            self.weight_decay,
            self.decoupled_weight_decay,
            lr,
        );
        let rule = RAdamRule {
            dir,
            decay,
            beta_1: Ema::new(self.beta_1),
            beta_2: Ema::new(self.beta_2),
            eps: self.eps as f32,
            rectified,
            coef: coef as f32,
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let Ok([exp_avg, exp_avg_sq]) = <[Tensor<D>; 2]>::try_from(slots) else {
            unreachable!("radam: two state slots")
        };
        let state = RAdamState {
            exp_avg,
            exp_avg_sq,
            step,
        };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
