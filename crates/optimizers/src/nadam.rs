//! NAdam (`torch.optim.NAdam`): Adam with Nesterov momentum and a momentum-decay schedule.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::adam::check_adam;
use crate::checks;
use crate::common::{decay_decoupled, direction, ema};
use crate::error::OptimResult;
use crate::fused;
use crate::state::{optimizer_config, record_state};

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

impl NAdam {
    /// The update in one pass over the flex buffers.
    fn step_flex<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<NAdamState<D>>,
    ) -> (Tensor<D>, Option<NAdamState<D>>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let (mut m, mut v, step, mu_product) = match state {
            Some(s) => (
                fused::buffer(s.exp_avg),
                fused::buffer(s.exp_avg_sq),
                s.step + 1,
                s.mu_product,
            ),
            None => (fused::zeros(&p), fused::zeros(&p), 1, 1.0),
        };
        let t = step as f64;
        let mu = self.beta_1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = self.beta_1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        let mu_product = mu_product * mu;
        let sign = if self.maximize { -1.0f32 } else { 1.0 };
        let (wd, decay) = if self.decoupled_weight_decay {
            (0.0, (1.0 - lr * self.weight_decay) as f32)
        } else {
            (self.weight_decay as f32, 1.0)
        };
        let (b1, c1) = (self.beta_1 as f32, (1.0 - self.beta_1) as f32);
        let (b2, c2) = (self.beta_2 as f32, (1.0 - self.beta_2) as f32);
        let bias_2 = (1.0 - self.beta_2.powi(step as i32)) as f32;
        let eps = self.eps as f32;
        let grad_coef = (lr * (1.0 - mu) / (1.0 - mu_product)) as f32;
        let avg_coef = (lr * mu_next / (1.0 - mu_product * mu_next)) as f32;
        let finite = fused::run(
            fused::slice_mut(&mut p),
            fused::slice(&g),
            [fused::slice_mut(&mut m), fused::slice_mut(&mut v)],
            |p, g, [m, v]| {
                fused::each!(p, g, [m, v], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    m[i] = m[i] * b1 + gi * c1;
                    v[i] = v[i] * b2 + gi * gi * c2;
                    let denom = (v[i] / bias_2).sqrt() + eps;
                    p[i] = p[i] * decay - (gi * grad_coef + m[i] * avg_coef) / denom;
                })
            },
        );
        fused::check(NAME, finite);
        (
            fused::tensor(p),
            Some(NAdamState {
                exp_avg: fused::tensor(m),
                exp_avg_sq: fused::tensor(v),
                step,
                mu_product,
            }),
        )
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
        checks::learning_rate(NAME, lr);
        if fused::eligible(&tensor, &grad) {
            return self.step_flex(lr, tensor, grad, state);
        }
        checks::finite_grad(NAME, &grad, &tensor);
        let (g, tensor) = if self.decoupled_weight_decay {
            let g = direction(grad, &tensor, self.maximize, 0.0);
            (g, decay_decoupled(tensor, lr, self.weight_decay))
        } else {
            let g = direction(grad, &tensor, self.maximize, self.weight_decay);
            (g, tensor)
        };
        let (exp_avg, exp_avg_sq, step, mu_product) = match state {
            Some(s) => (s.exp_avg, s.exp_avg_sq, s.step + 1, s.mu_product),
            None => (tensor.zeros_like(), tensor.zeros_like(), 1, 1.0),
        };
        let t = step as f64;
        let mu = self.beta_1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = self.beta_1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        let mu_product = mu_product * mu;
        let exp_avg = ema(exp_avg, g.clone(), self.beta_1);
        let exp_avg_sq = ema(exp_avg_sq, g.clone().square(), self.beta_2);
        let bias_2 = 1.0 - self.beta_2.powi(step as i32);
        let denom = exp_avg_sq
            .clone()
            .div_scalar(bias_2)
            .sqrt()
            .add_scalar(self.eps);
        let grad_coef = lr * (1.0 - mu) / (1.0 - mu_product);
        let avg_coef = lr * mu_next / (1.0 - mu_product * mu_next);
        let update = (g.mul_scalar(grad_coef) + exp_avg.clone().mul_scalar(avg_coef)) / denom;
        (
            tensor - update,
            Some(NAdamState {
                exp_avg,
                exp_avg_sq,
                step,
                mu_product,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
