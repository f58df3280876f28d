//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay
//! (`torch.optim.SGD`).

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::checks;
use crate::common::direction;
use crate::error::{OptimError, OptimResult};
use crate::fused;
use crate::state::{optimizer_config, record_state};

const NAME: &str = "sgd";

/// Configuration of [`Sgd`], with PyTorch's defaults.
///
/// Full-batch gradient descent and mini-batch SGD are the same optimizer fed different
/// batches. The learning rate is passed at each step (Burn's convention), so a schedule can
/// drive it.
#[derive(Config, Debug)]
pub struct SgdConfig {
    /// Momentum factor μ (default 0: plain SGD).
    #[config(default = 0.0)]
    pub momentum: f64,
    /// Dampening τ applied to the gradient in the momentum buffer (default 0).
    #[config(default = 0.0)]
    pub dampening: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    #[config(default = false)]
    pub nesterov: bool,
    /// L2 penalty λ added to the gradient (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
}

impl SgdConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Sgd> {
        checks::non_negative(NAME, "momentum", self.momentum)?;
        checks::non_negative(NAME, "dampening", self.dampening)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(OptimError::new(
                NAME,
                "nesterov",
                format!(
                    "requires momentum > 0 and dampening = 0, got momentum {} and dampening {}",
                    self.momentum, self.dampening
                ),
            ));
        }
        Ok(Sgd {
            momentum: self.momentum,
            dampening: self.dampening,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
        })
    }
}

optimizer_config!(SgdConfig => Sgd);

/// Stochastic gradient descent (`torch.optim.SGD`).
///
/// With `g = ±∇f(θ) + λθ` (the sign is − when maximizing):
///
/// ```text
/// b₁ = g                          (first step)
/// bₜ = μ bₜ₋₁ + (1 − τ) g          (later steps)
/// d  = g + μ bₜ  if nesterov,  bₜ if momentum > 0,  g otherwise
/// θ ← θ − η d
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
    maximize: bool,
}

/// State of [`Sgd`] for one parameter: the momentum buffer `b`.
#[derive(Clone)]
pub struct SgdState<const D: usize> {
    /// The momentum buffer.
    pub momentum_buffer: Tensor<D>,
}

record_state!(SgdState {
    tensors: [momentum_buffer],
    optional: [],
    counters: [],
    floats: [],
});

impl Sgd {
    /// The update in one pass over the flex buffers.
    fn step_flex<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<SgdState<D>>,
    ) -> (Tensor<D>, Option<SgdState<D>>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let sign = if self.maximize { -1.0f32 } else { 1.0 };
        let (wd, lr32) = (self.weight_decay as f32, lr as f32);
        if self.momentum == 0.0 {
            let finite = fused::run(
                fused::slice_mut(&mut p),
                fused::slice(&g),
                [],
                |p, g, []| {
                    fused::each!(p, g, [], |i| {
                        p[i] -= lr32 * fused::dir(g[i], p[i], sign, wd);
                    })
                },
            );
            fused::check(NAME, finite);
            return (fused::tensor(p), None);
        }
        let first = state.is_none();
        let mut buf = match state {
            Some(s) => fused::buffer(s.momentum_buffer),
            None => fused::zeros(&p),
        };
        let (mu, damp) = (self.momentum as f32, (1.0 - self.dampening) as f32);
        let (ps, gs, bs) = (
            fused::slice_mut(&mut p),
            fused::slice(&g),
            fused::slice_mut(&mut buf),
        );
        // One loop per case (first step or not, Nesterov or not), each branch-free.
        let nesterov = self.nesterov;
        let finite = if first {
            fused::run(ps, gs, [bs], |p, g, [b]| {
                fused::each!(p, g, [b], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    b[i] = gi;
                    let d = if nesterov { gi + b[i] * mu } else { b[i] };
                    p[i] -= d * lr32;
                })
            })
        } else if self.nesterov {
            fused::run(ps, gs, [bs], |p, g, [b]| {
                fused::each!(p, g, [b], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    b[i] = b[i] * mu + gi * damp;
                    p[i] -= (gi + b[i] * mu) * lr32;
                })
            })
        } else {
            fused::run(ps, gs, [bs], |p, g, [b]| {
                fused::each!(p, g, [b], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    b[i] = b[i] * mu + gi * damp;
                    p[i] -= b[i] * lr32;
                })
            })
        };
        fused::check(NAME, finite);
        (
            fused::tensor(p),
            Some(SgdState {
                momentum_buffer: fused::tensor(buf),
            }),
        )
    }
}

impl Optimizer for Sgd {
    type State<const D: usize> = SgdState<D>;

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
        if self.momentum == 0.0 {
            return (tensor - g.mul_scalar(lr), None);
        }
        let buffer = match state {
            None => g.clone(),
            Some(s) => {
                s.momentum_buffer.mul_scalar(self.momentum)
                    + g.clone().mul_scalar(1.0 - self.dampening)
            }
        };
        let d = if self.nesterov {
            g + buffer.clone().mul_scalar(self.momentum)
        } else {
            buffer.clone()
        };
        (
            tensor - d.mul_scalar(lr),
            Some(SgdState {
                momentum_buffer: buffer,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
