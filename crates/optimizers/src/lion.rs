//! Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"), with Optax's
//! `optax.lion` semantics: the sign of an interpolated momentum, decoupled weight decay.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::checks;
use crate::common::{direction, ema};
use crate::error::OptimResult;
use crate::fused;
use crate::state::{optimizer_config, record_state};

const NAME: &str = "lion";

/// Configuration of [`Lion`], with Optax's defaults. Lion's updates have unit size per
/// coordinate, so it wants a learning rate 3–10× smaller than AdamW's.
#[derive(Config, Debug)]
pub struct LionConfig {
    /// Interpolation rate β₁ between momentum and gradient for the update (default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate β₂ of the momentum (default 0.99).
    #[config(default = 0.99)]
    pub beta_2: f64,
    /// Decoupled weight decay λ (default 1e-3).
    #[config(default = 1e-3)]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
}

impl LionConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Lion> {
        checks::unit_closed(NAME, "beta_1", self.beta_1)?;
        checks::unit_closed(NAME, "beta_2", self.beta_2)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        Ok(Lion {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
        })
    }
}

optimizer_config!(LionConfig => Lion);

/// Lion, as `optax.lion`.
///
/// With `g = ±∇f(θ)` and `m` starting at 0:
///
/// ```text
/// u = sign(β₁ m + (1 − β₁) g)
/// m = β₂ m + (1 − β₂) g
/// θ ← θ − η (u + λθ)
/// ```
#[derive(Clone, Debug)]
pub struct Lion {
    beta_1: f64,
    beta_2: f64,
    weight_decay: f64,
    maximize: bool,
}

/// State of [`Lion`] for one parameter.
#[derive(Clone)]
pub struct LionState<const D: usize> {
    /// Momentum `m`.
    pub exp_avg: Tensor<D>,
}

record_state!(LionState {
    tensors: [exp_avg],
    optional: [],
    counters: [],
    floats: [],
});

impl Lion {
    /// The update in one pass over the flex buffers.
    fn step_flex<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<LionState<D>>,
    ) -> (Tensor<D>, Option<LionState<D>>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let mut m = match state {
            Some(s) => fused::buffer(s.exp_avg),
            None => fused::zeros(&p),
        };
        let sign = if self.maximize { -1.0f32 } else { 1.0 };
        let (b1, c1) = (self.beta_1 as f32, (1.0 - self.beta_1) as f32);
        let (b2, c2) = (self.beta_2 as f32, (1.0 - self.beta_2) as f32);
        let (wd, lr32) = (self.weight_decay as f32, lr as f32);
        let finite = fused::run(
            fused::slice_mut(&mut p),
            fused::slice(&g),
            [fused::slice_mut(&mut m)],
            |p, g, [m]| {
                fused::each!(p, g, [m], |i| {
                    let gi = sign * g[i];
                    let c = m[i] * b1 + gi * c1;
                    // sign(0) = 0, as Burn's `sign` and jnp.sign.
                    let u = if c > 0.0 {
                        1.0
                    } else if c < 0.0 {
                        -1.0
                    } else {
                        0.0
                    };
                    m[i] = m[i] * b2 + gi * c2;
                    p[i] -= (u + p[i] * wd) * lr32;
                })
            },
        );
        fused::check(NAME, finite);
        (
            fused::tensor(p),
            Some(LionState {
                exp_avg: fused::tensor(m),
            }),
        )
    }
}

impl Optimizer for Lion {
    type State<const D: usize> = LionState<D>;

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
        let g = direction(grad, &tensor, self.maximize, 0.0);
        let exp_avg = state.map_or_else(|| tensor.zeros_like(), |s| s.exp_avg);
        let update = ema(exp_avg.clone(), g.clone(), self.beta_1).sign();
        let exp_avg = ema(exp_avg, g, self.beta_2);
        let update = if self.weight_decay != 0.0 {
            update + tensor.clone().mul_scalar(self.weight_decay)
        } else {
            update
        };
        // The update is a sign, finite even where the momentum is not: `0·m` keeps a
        // non-finite momentum visible in the parameter for the deferred finite check.
        let tensor = if checks::finite_checks() && !descent_cpu::is_cpu(&tensor.device()) {
            tensor + exp_avg.clone().mul_scalar(0.0)
        } else {
            tensor
        };
        (tensor - update.mul_scalar(lr), Some(LionState { exp_avg }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
