//! Adadelta (`torch.optim.Adadelta`): step sizes from the ratio of running RMS of updates and
//! of gradients.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::{Ema, Num};

use crate::checks;
use crate::error::OptimResult;
use crate::rule::{Direction, Rule};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

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
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
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
            stepper: Stepper::new(NAME, &self.settings)?,
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
    stepper: Stepper,
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

/// Adadelta's rule for one step, slots `[v, u]` (see [`Adadelta`]).
#[derive(Clone, Copy)]
struct AdadeltaRule {
    dir: Direction,
    lr: f32,
    rho: Ema,
    eps: f32,
}

impl Rule for AdadeltaRule {
    fn slots(&self) -> usize {
        2
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let [v, u] = s else {
            unreachable!("adadelta: two state slots")
        };
        *v = self.rho.of(v.clone(), g.clone().square());
        let delta = u.clone().shift(self.eps).sqrt() / v.clone().shift(self.eps).sqrt() * g;
        *u = self.rho.of(u.clone(), delta.clone().square());
        p - delta.scale(self.lr)
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
        let slots = match state {
            Some(s) => vec![Some(s.square_avg), Some(s.acc_delta)],
            None => vec![None, None],
        };
        let rule = AdadeltaRule {
            dir: Direction::new(self.maximize, self.weight_decay),
            lr: lr as f32,
            rho: Ema::new(self.rho),
            eps: self.eps as f32,
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let Ok([square_avg, acc_delta]) = <[Tensor<D>; 2]>::try_from(slots) else {
            unreachable!("adadelta: two state slots")
        };
        let state = AdadeltaState {
            square_avg,
            acc_delta,
        };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
