//! RMSProp (`torch.optim.RMSprop`): steps scaled by a moving average of squared gradients,
//! optionally centered and with momentum.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::checks;
use crate::common::{direction, ema};
use crate::error::OptimResult;
use crate::fused;
use crate::state::{optimizer_config, record_state};

const NAME: &str = "rmsprop";

/// Configuration of [`RmsProp`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct RmsPropConfig {
    /// Smoothing constant α of the squared-gradient average (default 0.99).
    #[config(default = 0.99)]
    pub alpha: f64,
    /// Term ε added outside the square root (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// L2 penalty λ added to the gradient (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Momentum factor μ (default 0).
    #[config(default = 0.0)]
    pub momentum: f64,
    /// Normalise by an estimate of the gradient's variance instead of its second moment.
    #[config(default = false)]
    pub centered: bool,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
}

impl RmsPropConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<RmsProp> {
        checks::unit_closed(NAME, "alpha", self.alpha)?;
        checks::non_negative(NAME, "eps", self.eps)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        checks::non_negative(NAME, "momentum", self.momentum)?;
        Ok(RmsProp {
            alpha: self.alpha,
            eps: self.eps,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            centered: self.centered,
            maximize: self.maximize,
        })
    }
}

optimizer_config!(RmsPropConfig => RmsProp);

/// RMSProp (`torch.optim.RMSprop`).
///
/// With `g = ±∇f(θ) + λθ`, all averages starting at 0:
///
/// ```text
/// v = α v + (1 − α) g²
/// m̄ = α m̄ + (1 − α) g                      (centered only)
/// s = √(v − m̄²) + ε  if centered,  √v + ε otherwise
/// b = μ b + g / s;  θ ← θ − η b           (momentum > 0)
/// θ ← θ − η g / s                          (otherwise)
/// ```
#[derive(Clone, Debug)]
pub struct RmsProp {
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
}

/// State of [`RmsProp`] for one parameter.
#[derive(Clone)]
pub struct RmsPropState<const D: usize> {
    /// Moving average of squared gradients `v`.
    pub square_avg: Tensor<D>,
    /// Moving average of gradients `m̄` (centered only).
    pub grad_avg: Option<Tensor<D>>,
    /// Momentum buffer `b` (momentum > 0 only).
    pub momentum_buffer: Option<Tensor<D>>,
}

record_state!(RmsPropState {
    tensors: [square_avg],
    optional: [grad_avg, momentum_buffer],
    counters: [],
    floats: [],
});

impl RmsProp {
    /// The update in one pass over the flex buffers.
    fn step_flex<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<RmsPropState<D>>,
    ) -> (Tensor<D>, Option<RmsPropState<D>>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let (sq, ga, buf) = match state {
            Some(s) => (
                fused::buffer(s.square_avg),
                s.grad_avg.map(fused::buffer),
                s.momentum_buffer.map(fused::buffer),
            ),
            None => (fused::zeros(&p), None, None),
        };
        let mut sq = sq;
        let mut ga = if self.centered {
            Some(ga.unwrap_or_else(|| fused::zeros(&p)))
        } else {
            None
        };
        let mut buf = if self.momentum > 0.0 {
            Some(buf.unwrap_or_else(|| fused::zeros(&p)))
        } else {
            None
        };
        let sign = if self.maximize { -1.0f32 } else { 1.0 };
        let (wd, lr32) = (self.weight_decay as f32, lr as f32);
        let (a, c) = (self.alpha as f32, (1.0 - self.alpha) as f32);
        let (eps, mu) = (self.eps as f32, self.momentum as f32);
        let (ps, gs, vs) = (
            fused::slice_mut(&mut p),
            fused::slice(&g),
            fused::slice_mut(&mut sq),
        );
        // One loop per variant, so that each is a straight-line body the compiler vectorises.
        let finite = match (ga.as_mut(), buf.as_mut()) {
            (None, None) => fused::run(ps, gs, [vs], |p, g, [v]| {
                fused::each!(p, g, [v], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    v[i] = v[i] * a + gi * gi * c;
                    p[i] -= gi / (v[i].sqrt() + eps) * lr32;
                })
            }),
            (Some(ga), None) => fused::run(ps, gs, [vs, fused::slice_mut(ga)], |p, g, [v, m]| {
                fused::each!(p, g, [v, m], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    v[i] = v[i] * a + gi * gi * c;
                    m[i] = m[i] * a + gi * c;
                    p[i] -= gi / ((v[i] - m[i] * m[i]).sqrt() + eps) * lr32;
                })
            }),
            (None, Some(buf)) => fused::run(ps, gs, [vs, fused::slice_mut(buf)], |p, g, [v, b]| {
                fused::each!(p, g, [v, b], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    v[i] = v[i] * a + gi * gi * c;
                    b[i] = b[i] * mu + gi / (v[i].sqrt() + eps);
                    p[i] -= b[i] * lr32;
                })
            }),
            (Some(ga), Some(buf)) => fused::run(
                ps,
                gs,
                [vs, fused::slice_mut(ga), fused::slice_mut(buf)],
                |p, g, [v, m, b]| {
                    fused::each!(p, g, [v, m, b], |i| {
                        let gi = fused::dir(g[i], p[i], sign, wd);
                        v[i] = v[i] * a + gi * gi * c;
                        m[i] = m[i] * a + gi * c;
                        b[i] = b[i] * mu + gi / ((v[i] - m[i] * m[i]).sqrt() + eps);
                        p[i] -= b[i] * lr32;
                    })
                },
            ),
        };
        fused::check(NAME, finite);
        (
            fused::tensor(p),
            Some(RmsPropState {
                square_avg: fused::tensor(sq),
                grad_avg: ga.map(fused::tensor),
                momentum_buffer: buf.map(fused::tensor),
            }),
        )
    }
}

impl Optimizer for RmsProp {
    type State<const D: usize> = RmsPropState<D>;

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
        let (square_avg, grad_avg, momentum_buffer) = match state {
            Some(s) => (s.square_avg, s.grad_avg, s.momentum_buffer),
            None => (tensor.zeros_like(), None, None),
        };
        let square_avg = ema(square_avg, g.clone().square(), self.alpha);
        let (denom, grad_avg) = if self.centered {
            let grad_avg = ema(
                grad_avg.unwrap_or_else(|| tensor.zeros_like()),
                g.clone(),
                self.alpha,
            );
            let var = square_avg.clone() - grad_avg.clone().square();
            (var.sqrt().add_scalar(self.eps), Some(grad_avg))
        } else {
            (square_avg.clone().sqrt().add_scalar(self.eps), None)
        };
        let (update, momentum_buffer) = if self.momentum > 0.0 {
            let buffer = momentum_buffer
                .unwrap_or_else(|| tensor.zeros_like())
                .mul_scalar(self.momentum)
                + g / denom;
            (buffer.clone(), Some(buffer))
        } else {
            (g / denom, None)
        };
        (
            tensor - update.mul_scalar(lr),
            Some(RmsPropState {
                square_avg,
                grad_avg,
                momentum_buffer,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
