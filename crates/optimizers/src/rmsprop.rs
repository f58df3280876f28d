//! RMSProp (`torch.optim.RMSprop`): steps scaled by a moving average of squared gradients,
//! optionally centered and with momentum.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use descent_kernel::{Ema, Num};

use crate::checks;
use crate::error::OptimResult;
use crate::rule::{Direction, Rule};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

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
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
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
            stepper: Stepper::new(NAME, &self.settings)?,
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
    stepper: Stepper,
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

/// RMSProp's rule for one step, slots `[v, m̄?, b?]`: `m̄` when centered, `b` with momentum
/// (see [`RmsProp`]).
#[derive(Clone, Copy)]
struct RmsPropRule {
    dir: Direction,
    lr: f32,
    alpha: Ema,
    eps: f32,
    centered: bool,
    /// `μ`, when there is momentum.
    momentum: Option<f32>,
}

impl Rule for RmsPropRule {
    fn slots(&self) -> usize {
        1 + usize::from(self.centered) + usize::from(self.momentum.is_some())
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let (v, rest) = s.split_first_mut().expect("rmsprop: a state slot");
        *v = self.alpha.of(v.clone(), g.clone().square());
        let (avg, rest) = rest.split_at_mut(usize::from(self.centered));
        let denom = match avg.first_mut() {
            Some(m) => {
                *m = self.alpha.of(m.clone(), g.clone());
                (v.clone() - m.clone().square()).sqrt().shift(self.eps)
            }
            None => v.clone().sqrt().shift(self.eps),
        };
        match (self.momentum, rest.first_mut()) {
            (Some(mu), Some(b)) => {
                *b = b.clone().scale(mu) + g / denom;
                p - b.clone().scale(self.lr)
            }
            _ => p - (g / denom).scale(self.lr),
        }
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
        let rule = RmsPropRule {
            dir: Direction::new(self.maximize, self.weight_decay),
            lr: lr as f32,
            alpha: Ema::new(self.alpha),
            eps: self.eps as f32,
            centered: self.centered,
            momentum: (self.momentum > 0.0).then_some(self.momentum as f32),
        };
        let (v, m, b) = match state {
            Some(s) => (Some(s.square_avg), s.grad_avg, s.momentum_buffer),
            None => (None, None, None),
        };
        let mut slots = vec![v];
        if rule.centered {
            slots.push(m);
        }
        if rule.momentum.is_some() {
            slots.push(b);
        }
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let mut slots = slots.into_iter();
        let square_avg = slots.next().expect("rmsprop: a state slot");
        let grad_avg = if rule.centered { slots.next() } else { None };
        let state = RmsPropState {
            square_avg,
            grad_avg,
            momentum_buffer: slots.next(),
        };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
