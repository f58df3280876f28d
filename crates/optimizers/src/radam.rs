//! RAdam (`torch.optim.RAdam`): Adam with the variance of the adaptive rate rectified, so that
//! early steps fall back to momentum SGD.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::adam::check_adam;
use crate::checks;
use crate::common::{decay_decoupled, direction, ema};
use crate::error::OptimResult;
use crate::fused;
use crate::state::{optimizer_config, record_state};

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

impl RAdam {
    /// The update in one pass over the flex buffers.
    fn step_flex<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<RAdamState<D>>,
    ) -> (Tensor<D>, Option<RAdamState<D>>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let (mut m, mut v, step) = match state {
            Some(s) => (
                fused::buffer(s.exp_avg),
                fused::buffer(s.exp_avg_sq),
                s.step + 1,
            ),
            None => (fused::zeros(&p), fused::zeros(&p), 1),
        };
        let sign = if self.maximize { -1.0f32 } else { 1.0 };
        let (wd, decay) = if self.decoupled_weight_decay {
            (0.0, (1.0 - lr * self.weight_decay) as f32)
        } else {
            (self.weight_decay as f32, 1.0)
        };
        let t = step as i32;
        let bias_1 = 1.0 - self.beta_1.powi(t);
        let bias_2 = 1.0 - self.beta_2.powi(t);
        let rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0;
        let rho_t = rho_inf - 2.0 * step as f64 * self.beta_2.powi(t) / bias_2;
        let rectified = rho_t > 5.0;
        let coef = if rectified {
            let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt();
            (lr * rect * bias_2.sqrt() / bias_1) as f32
        } else {
            (lr / bias_1) as f32
        };
        let (b1, c1) = (self.beta_1 as f32, (1.0 - self.beta_1) as f32);
        let (b2, c2) = (self.beta_2 as f32, (1.0 - self.beta_2) as f32);
        let eps = self.eps as f32;
        let (ps, gs) = (fused::slice_mut(&mut p), fused::slice(&g));
        let states = [fused::slice_mut(&mut m), fused::slice_mut(&mut v)];
        // Two loops, so that the branch is not taken per element.
        let finite = if rectified {
            fused::run(ps, gs, states, |p, g, [m, v]| {
                fused::each!(p, g, [m, v], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    m[i] = m[i] * b1 + gi * c1;
                    v[i] = v[i] * b2 + gi * gi * c2;
                    p[i] = p[i] * decay - m[i] / (v[i].sqrt() + eps) * coef;
                })
            })
        } else {
            fused::run(ps, gs, states, |p, g, [m, v]| {
                fused::each!(p, g, [m, v], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    m[i] = m[i] * b1 + gi * c1;
                    v[i] = v[i] * b2 + gi * gi * c2;
                    p[i] = p[i] * decay - m[i] * coef;
                })
            })
        };
        fused::check(NAME, finite);
        (
            fused::tensor(p),
            Some(RAdamState {
                exp_avg: fused::tensor(m),
                exp_avg_sq: fused::tensor(v),
                step,
            }),
        )
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
        let (exp_avg, exp_avg_sq, step) = match state {
            Some(s) => (s.exp_avg, s.exp_avg_sq, s.step + 1),
            None => (tensor.zeros_like(), tensor.zeros_like(), 1),
        };
        let exp_avg = ema(exp_avg, g.clone(), self.beta_1);
        let exp_avg_sq = ema(exp_avg_sq, g.square(), self.beta_2);
        let t = step as i32;
        let bias_1 = 1.0 - self.beta_1.powi(t);
        let bias_2 = 1.0 - self.beta_2.powi(t);
        let rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0;
        let rho_t = rho_inf - 2.0 * step as f64 * self.beta_2.powi(t) / bias_2;
        let update = if rho_t > 5.0 {
            let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt();
            let denom = exp_avg_sq.clone().sqrt().add_scalar(self.eps);
            (exp_avg.clone() / denom).mul_scalar(lr * rect * bias_2.sqrt() / bias_1)
        } else {
            exp_avg.clone().mul_scalar(lr / bias_1)
        };
        (
            tensor - update,
            Some(RAdamState {
                exp_avg,
                exp_avg_sq,
                step,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
