//! Momentum as an exponential moving average of gradients (the seed notes' form, also
//! TensorFlow's "momentum" in the Andrew Ng course notation).

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::{Ema, Num};

use crate::checks;
use crate::error::OptimResult;
use crate::rule::{Direction, Rule};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

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
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl EmaMomentumConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<EmaMomentum> {
        checks::unit_open(NAME, "beta", self.beta)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        Ok(EmaMomentum {
            beta: self.beta,
            weight_decay: self.weight_decay,
            stepper: Stepper::new(NAME, &self.settings)?,
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
    stepper: Stepper,
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

/// The EMA-momentum rule for one step, slots `[v]` (see [`EmaMomentum`]).
#[derive(Clone, Copy)]
struct EmaMomentumRule {
    dir: Direction,
    lr: f32,
    beta: Ema,
}

impl Rule for EmaMomentumRule {
    fn slots(&self) -> usize {
        1
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let v = &mut s[0];
        *v = self.beta.of(v.clone(), g);
        p - v.clone().scale(self.lr)
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
        let rule = EmaMomentumRule {
            dir: Direction::new(false, self.weight_decay),
            lr: lr as f32,
            beta: Ema::new(self.beta),
        };
        let slots = vec![state.map(|s| s.velocity)];
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let velocity = slots
            .into_iter()
            .next()
            .expect("ema_momentum: one state slot");
        (tensor, Some(EmaMomentumState { velocity }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
