//! Momentum as an exponential moving average of gradients (the seed notes' form, also
//! TensorFlow's "momentum" in the Andrew Ng course notation).

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::checks;
use crate::common::{direction, ema};
use crate::error::OptimResult;
use crate::fused;
use crate::state::{optimizer_config, record_state};

const NAME: &str = "ema_momentum";

/// Configuration of [`EmaMomentum`].
///
/// Unlike PyTorch's SGD momentum (`b = μb + g`), the velocity is an average, so its size does
/// not grow by 1/(1 − β): the same β and η take steps (1 − β) times as large as `Sgd`'s.
#[derive(Config, Debug)]
pub struct EmaMomentumConfig {
    /// Averaging rate β (default 0.9).
    #[config(default = 0.9)]
    pub beta: f64,
    /// L2 penalty λ added to the gradient (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

impl EmaMomentumConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<EmaMomentum> {
        checks::unit_open(NAME, "beta", self.beta)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        Ok(EmaMomentum {
            beta: self.beta,
            weight_decay: self.weight_decay,
        })
    }
}

optimizer_config!(EmaMomentumConfig => EmaMomentum);

/// Exponential-moving-average momentum, starting from `v = 0` (no bias correction):
///
/// ```text
/// v = β v + (1 − β) g
/// θ ← θ − η v
/// ```
#[derive(Clone, Debug)]
pub struct EmaMomentum {
    beta: f64,
    weight_decay: f64,
}

/// State of [`EmaMomentum`] for one parameter.
#[derive(Clone)]
pub struct EmaMomentumState<const D: usize> {
    /// The velocity `v`.
    pub velocity: Tensor<D>,
}

record_state!(EmaMomentumState {
    tensors: [velocity],
    optional: [],
    counters: [],
    floats: [],
});

impl EmaMomentum {
    /// The update in one pass over the flex buffers.
    fn step_flex<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<EmaMomentumState<D>>,
    ) -> (Tensor<D>, Option<EmaMomentumState<D>>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let mut vel = match state {
            Some(s) => fused::buffer(s.velocity),
            None => fused::zeros(&p),
        };
        let (b, c) = (self.beta as f32, (1.0 - self.beta) as f32);
        let (wd, lr32) = (self.weight_decay as f32, lr as f32);
        let finite = fused::run(
            fused::slice_mut(&mut p),
            fused::slice(&g),
            [fused::slice_mut(&mut vel)],
            |p, g, [v]| {
                fused::each!(p, g, [v], |i| {
                    v[i] = v[i] * b + fused::dir(g[i], p[i], 1.0, wd) * c;
                    p[i] -= v[i] * lr32;
                })
            },
        );
        fused::check(NAME, finite);
        (
            fused::tensor(p),
            Some(EmaMomentumState {
                velocity: fused::tensor(vel),
            }),
        )
    }
}

impl Optimizer for EmaMomentum {
    type State<const D: usize> = EmaMomentumState<D>;

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
        let g = direction(grad, &tensor, false, self.weight_decay);
        let velocity = state.map_or_else(|| tensor.zeros_like(), |s| s.velocity);
        let velocity = ema(velocity, g, self.beta);
        (
            tensor - velocity.clone().mul_scalar(lr),
            Some(EmaMomentumState { velocity }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
