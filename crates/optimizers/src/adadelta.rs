//! Adadelta (`torch.optim.Adadelta`): step sizes from the ratio of running RMS of updates and
//! of gradients.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::checks;
use crate::common::{direction, ema};
use crate::error::OptimResult;
use crate::fused;
use crate::state::{optimizer_config, record_state};

const NAME: &str = "adadelta";

/// Configuration of [`Adadelta`], with PyTorch's defaults (use it with lr = 1.0).
#[derive(Config, Debug)]
pub struct AdadeltaConfig {
    /// Decay rate ρ of the running averages (default 0.9).
    #[config(default = 0.9)]
    pub rho: f64,
    /// Term ε inside the square roots (default 1e-6).
    #[config(default = 1e-6)]
    pub eps: f64,
    /// L2 penalty λ added to the gradient (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
}

impl AdadeltaConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Adadelta> {
        checks::unit_closed(NAME, "rho", self.rho)?;
        checks::non_negative(NAME, "eps", self.eps)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        Ok(Adadelta {
            rho: self.rho,
            eps: self.eps,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
        })
    }
}

optimizer_config!(AdadeltaConfig => Adadelta);

/// Adadelta (`torch.optim.Adadelta`).
///
/// With `g = ±∇f(θ) + λθ`, averages starting at 0:
///
/// ```text
/// v = ρ v + (1 − ρ) g²
/// Δ = √(u + ε) / √(v + ε) · g
/// u = ρ u + (1 − ρ) Δ²
/// θ ← θ − η Δ
/// ```
#[derive(Clone, Debug)]
pub struct Adadelta {
    rho: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
}

/// State of [`Adadelta`] for one parameter.
#[derive(Clone)]
pub struct AdadeltaState<const D: usize> {
    /// Running average of squared gradients `v`.
    pub square_avg: Tensor<D>,
    /// Running average of squared updates `u`.
    pub acc_delta: Tensor<D>,
}

record_state!(AdadeltaState {
    tensors: [square_avg, acc_delta],
    optional: [],
    counters: [],
    floats: [],
});

impl Adadelta {
    /// The update in one pass over the flex buffers.
    fn step_flex<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdadeltaState<D>>,
    ) -> (Tensor<D>, Option<AdadeltaState<D>>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let (mut v, mut u) = match state {
            Some(s) => (fused::buffer(s.square_avg), fused::buffer(s.acc_delta)),
            None => (fused::zeros(&p), fused::zeros(&p)),
        };
        let sign = if self.maximize { -1.0f32 } else { 1.0 };
        let (wd, lr32) = (self.weight_decay as f32, lr as f32);
        let (rho, c, eps) = (self.rho as f32, (1.0 - self.rho) as f32, self.eps as f32);
        let finite = fused::run(
            fused::slice_mut(&mut p),
            fused::slice(&g),
            [fused::slice_mut(&mut v), fused::slice_mut(&mut u)],
            |p, g, [v, u]| {
                fused::each!(p, g, [v, u], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    v[i] = v[i] * rho + gi * gi * c;
                    let delta = (u[i] + eps).sqrt() / (v[i] + eps).sqrt() * gi;
                    u[i] = u[i] * rho + delta * delta * c;
                    p[i] -= delta * lr32;
                })
            },
        );
        fused::check(NAME, finite);
        (
            fused::tensor(p),
            Some(AdadeltaState {
                square_avg: fused::tensor(v),
                acc_delta: fused::tensor(u),
            }),
        )
    }
}

impl Optimizer for Adadelta {
    type State<const D: usize> = AdadeltaState<D>;

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
        let (square_avg, acc_delta) = match state {
            Some(s) => (s.square_avg, s.acc_delta),
            None => (tensor.zeros_like(), tensor.zeros_like()),
        };
        let square_avg = ema(square_avg, g.clone().square(), self.rho);
        let std = square_avg.clone().add_scalar(self.eps).sqrt();
        let delta = acc_delta.clone().add_scalar(self.eps).sqrt() / std * g;
        let acc_delta = ema(acc_delta, delta.clone().square(), self.rho);
        (
            tensor - delta.mul_scalar(lr),
            Some(AdadeltaState {
                square_avg,
                acc_delta,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
