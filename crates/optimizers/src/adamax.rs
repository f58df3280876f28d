//! Adamax (`torch.optim.Adamax`): Adam with the infinity norm in place of the second moment.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::adam::check_adam;
use crate::checks;
use crate::common::{direction, ema};
use crate::error::OptimResult;
use crate::fused;
use crate::state::{optimizer_config, record_state};

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

impl Adamax {
    /// The update in one pass over the flex buffers.
    fn step_flex<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamaxState<D>>,
    ) -> (Tensor<D>, Option<AdamaxState<D>>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let (mut m, mut u, step) = match state {
            Some(s) => (
                fused::buffer(s.exp_avg),
                fused::buffer(s.exp_inf),
                s.step + 1,
            ),
            None => (fused::zeros(&p), fused::zeros(&p), 1),
        };
        let sign = if self.maximize { -1.0f32 } else { 1.0 };
        let wd = self.weight_decay as f32;
        let (b1, c1, b2) = (
            self.beta_1 as f32,
            (1.0 - self.beta_1) as f32,
            self.beta_2 as f32,
        );
        let eps = self.eps as f32;
        let clr = (lr / (1.0 - self.beta_1.powi(step as i32))) as f32;
        let finite = fused::run(
            fused::slice_mut(&mut p),
            fused::slice(&g),
            [fused::slice_mut(&mut m), fused::slice_mut(&mut u)],
            |p, g, [m, u]| {
                fused::each!(p, g, [m, u], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    m[i] = m[i] * b1 + gi * c1;
                    u[i] = (u[i] * b2).max(gi.abs() + eps);
                    p[i] -= m[i] / u[i] * clr;
                })
            },
        );
        fused::check(NAME, finite);
        (
            fused::tensor(p),
            Some(AdamaxState {
                exp_avg: fused::tensor(m),
                exp_inf: fused::tensor(u),
                step,
            }),
        )
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
        checks::learning_rate(NAME, lr);
        if fused::eligible(&tensor, &grad) {
            return self.step_flex(lr, tensor, grad, state);
        }
        checks::finite_grad(NAME, &grad, &tensor);
        let g = direction(grad, &tensor, self.maximize, self.weight_decay);
        let (exp_avg, exp_inf, step) = match state {
            Some(s) => (s.exp_avg, s.exp_inf, s.step + 1),
            None => (tensor.zeros_like(), tensor.zeros_like(), 1),
        };
        let exp_avg = ema(exp_avg, g.clone(), self.beta_1);
        let exp_inf = exp_inf
            .mul_scalar(self.beta_2)
            .max_pair(g.abs().add_scalar(self.eps));
        let clr = lr / (1.0 - self.beta_1.powi(step as i32));
        let update = exp_avg.clone() / exp_inf.clone();
        (
            tensor - update.mul_scalar(clr),
            Some(AdamaxState {
                exp_avg,
                exp_inf,
                step,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
