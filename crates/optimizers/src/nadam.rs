//! NAdam (`torch.optim.NAdam`): Adam with Nesterov momentum and a momentum-decay schedule.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::{Ema, Num};

use crate::adam::check_adam;
use crate::checks;
use crate::error::OptimResult;
use crate::rule::{Decay, Direction, Rule, bias_correction, weight_decay};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

const NAME: &str = "nadam";

/// Configuration of [`NAdam`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct NAdamConfig {
    /// Decay rate β₁ of the first moment (default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate β₂ of the second moment (default 0.999).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Term ε added to the denominator (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Weight decay λ (default 0): L2 on the gradient, or decoupled (NAdamW).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Momentum decay ψ (default 4e-3).
    #[config(default = 4e-3)]
    pub momentum_decay: f64,
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

impl NAdamConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<NAdam> {
        check_adam(NAME, self.beta_1, self.beta_2, self.eps, self.weight_decay)?;
        checks::non_negative(NAME, "momentum_decay", self.momentum_decay)?;
        Ok(NAdam {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            momentum_decay: self.momentum_decay,
            decoupled_weight_decay: self.decoupled_weight_decay,
            maximize: self.maximize,
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }
}

optimizer_config!(NAdamConfig => NAdam);

/// NAdam (`torch.optim.NAdam`).
///
/// With `g = ±∇f(θ) (+ λθ unless decoupled)`, t counting from 1:
///
/// ```text
/// μₜ = β₁ (1 − ½ · 0.96^(t ψ)),   Πₜ = μ₁ ⋯ μₜ
/// m = β₁ m + (1 − β₁) g,   v = β₂ v + (1 − β₂) g²
/// s = √(v / (1 − β₂ᵗ)) + ε
/// θ ← θ (1 − ηλ)                                   (decoupled only)
/// θ ← θ − η (1 − μₜ) / (1 − Πₜ) · g / s − η μₜ₊₁ / (1 − Πₜ μₜ₊₁) · m / s
/// ```
#[derive(Clone, Debug)]
pub struct NAdam {
    beta_1: f64,
    beta_2: f64,
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool,
    stepper: Stepper,
}

/// State of [`NAdam`] for one parameter.
#[derive(Clone)]
pub struct NAdamState<const D: usize> {
    /// First moment `m`.
    pub exp_avg: Tensor<D>,
    /// Second moment `v`.
    pub exp_avg_sq: Tensor<D>,
    /// Steps taken.
    pub step: u64,
    /// Product of the momentum coefficients `Πₜ`.
    pub mu_product: f64,
}

record_state!(NAdamState {
    tensors: [exp_avg, exp_avg_sq],
    optional: [],
    counters: [step],
    floats: [mu_product],
});

/// NAdam's rule for one step, slots `[m, v]` (see [`NAdam`]).
#[derive(Clone, Copy)]
struct NAdamRule {
    dir: Direction,
    decay: Decay,
    beta_1: Ema,
    beta_2: Ema,
    /// `1 − β₂ᵗ`.
    bias_2: f32,
    eps: f32,
    /// `η (1 − μₜ) / (1 − Πₜ)`.
    grad_coef: f32,
    /// `η μₜ₊₁ / (1 − Πₜ μₜ₊₁)`.
    avg_coef: f32,
}

impl Rule for NAdamRule {
    fn slots(&self) -> usize {
        2
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let [m, v] = s else {
            unreachable!("nadam: two state slots")
        };
        *m = self.beta_1.of(m.clone(), g.clone());
        *v = self.beta_2.of(v.clone(), g.clone().square());
        let denom = v.clone().div_k(self.bias_2).sqrt().shift(self.eps);
        self.decay.of(p) - (g.scale(self.grad_coef) + m.clone().scale(self.avg_coef)) / denom
    }
}

impl Optimizer for NAdam {
    type State<const D: usize> = NAdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (slots, step, mu_product) = match state {
            Some(s) => (
                vec![Some(s.exp_avg), Some(s.exp_avg_sq)],
                s.step + 1,
                s.mu_product,
            ),
            None => (vec![None, None], 1, 1.0),
        };
        let t = step as f64;
        let mu = self.beta_1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = self.beta_1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        let mu_product = mu_product * mu;
        let (dir, decay) = weight_decay(
            self.maximize,
            self.weight_decay,
            self.decoupled_weight_decay,
            lr,
        );
        let rule = NAdamRule {
            dir,
            decay,
            beta_1: Ema::new(self.beta_1),
            beta_2: Ema::new(self.beta_2),
            bias_2: bias_correction(self.beta_2, step) as f32,
            eps: self.eps as f32,
            grad_coef: (lr * (1.0 - mu) / (1.0 - mu_product)) as f32,
            avg_coef: (lr * mu_next / (1.0 - mu_product * mu_next)) as f32,
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let Ok([exp_avg, exp_avg_sq]) = <[Tensor<D>; 2]>::try_from(slots) else {
            unreachable!("nadam: two state slots")
        };
        let state = NAdamState {
            exp_avg,
            exp_avg_sq,
            step,
            mu_product,
        };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
