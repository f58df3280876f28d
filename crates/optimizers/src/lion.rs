//! Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"), with Optax's
//! `optax.lion` semantics: the sign of an interpolated momentum, decoupled weight decay.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::{Ema, Num};

use crate::checks;
use crate::error::OptimResult;
use crate::rule::{Direction, Rule};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

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
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
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
            stepper: Stepper::new(NAME, &self.settings)?,
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
    stepper: Stepper,
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

/// Lion's rule for one step, slots `[m]` (see [`Lion`]).
#[derive(Clone, Copy)]
struct LionRule {
    dir: Direction,
    lr: f32,
    beta_1: Ema,
    beta_2: Ema,
    weight_decay: f32,
}

impl Rule for LionRule {
    fn slots(&self) -> usize {
        1
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let m = &mut s[0];
        let u = self.beta_1.of(m.clone(), g.clone()).signum();
        *m = self.beta_2.of(m.clone(), g);
        p.clone() - (u + p.scale(self.weight_decay)).scale(self.lr)
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
        let rule = LionRule {
            dir: Direction::new(self.maximize, 0.0),
            lr: lr as f32,
            beta_1: Ema::new(self.beta_1),
            beta_2: Ema::new(self.beta_2),
            weight_decay: self.weight_decay as f32,
        };
        let slots = vec![state.map(|s| s.exp_avg)];
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let exp_avg = slots.into_iter().next().expect("lion: one state slot");
        (tensor, Some(LionState { exp_avg }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
