//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay
//! (`torch.optim.SGD`).

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::Num;

use crate::checks;
use crate::error::{OptimError, OptimResult};
use crate::rule::{Direction, Rule};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

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
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
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
            stepper: Stepper::new(NAME, &self.settings)?,
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
    stepper: Stepper,
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

/// SGD's rule for one step, slots `[b]` with momentum, none without (see [`Sgd`]).
#[derive(Clone, Copy)]
struct SgdRule {
    dir: Direction,
    lr: f32,
    /// `μ`, when there is momentum.
    momentum: Option<f32>,
    /// `1 − τ`.
    damp: f32,
    nesterov: bool,
    /// The first step, where `b = g`.
    first: bool,
}

impl Rule for SgdRule {
    fn slots(&self) -> usize {
        usize::from(self.momentum.is_some())
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let d = match (self.momentum, s.first_mut()) {
            (Some(mu), Some(b)) => {
                *b = if self.first {
                    g.clone()
                } else {
                    b.clone().scale(mu) + g.clone().scale(self.damp)
                };
                if self.nesterov {
                    g + b.clone().scale(mu)
                } else {
                    b.clone()
                }
            }
            _ => g,
        };
        p - d.scale(self.lr)
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
        let momentum = (self.momentum != 0.0).then_some(self.momentum as f32);
        let rule = SgdRule {
            dir: Direction::new(self.maximize, self.weight_decay),
            lr: lr as f32,
            momentum,
            damp: (1.0 - self.dampening) as f32,
            nesterov: self.nesterov,
            first: state.is_none(),
        };
        let slots = match momentum {
            Some(_) => vec![state.map(|s| s.momentum_buffer)],
            None => vec![],
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let state = slots
            .into_iter()
            .next()
            .map(|b| SgdState { momentum_buffer: b });
        (tensor, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
