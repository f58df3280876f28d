//! Averaged SGD (`torch.optim.ASGD`, Polyak and Juditsky 1992): SGD with a decaying step size
//! `η` and a running average `ax` of the iterates, which [`asgd_average`] reads out as a model.

use burn::config::Config;
use burn::module::{Module, ModuleMapper, Param};
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use descent_kernel::Num;

use crate::checks;
use crate::error::OptimResult;
use crate::rule::{Direction, Rule};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

const NAME: &str = "asgd";

/// Configuration of [`Asgd`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct AsgdConfig {
    /// Decay term λ of the step size and of the parameters (default 1e-4).
    #[config(default = 1e-4)]
    pub lambd: f64,
    /// Power α of the step size's decay (default 0.75).
    #[config(default = 0.75)]
    pub alpha: f64,
    /// The step after which averaging starts (default 1e6).
    #[config(default = 1e6)]
    pub t0: f64,
    /// L2 penalty added to the gradient (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl AsgdConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Asgd> {
        checks::non_negative(NAME, "lambd", self.lambd)?;
        checks::non_negative(NAME, "alpha", self.alpha)?;
        checks::non_negative(NAME, "t0", self.t0)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        Ok(Asgd {
            lambd: self.lambd,
            alpha: self.alpha,
            t0: self.t0,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }
}

optimizer_config!(AsgdConfig => Asgd);

/// ASGD, as `torch.optim.ASGD`.
///
/// With `g = ±∇f(θ) + λ_wd θ`, `η` starting at the first step's learning rate, `μ` at 1, `ax`
/// at 0 and t counting from 1:
///
/// ```text
/// θ ← θ (1 − λη) − η g
/// ax ← ax + μ (θ − ax)            (ax ← θ while μ = 1)
/// η = lr / (1 + λ lr t)^α;   μ = 1 / max(1, t − t₀)
/// ```
///
/// The averaged parameters `ax` are the model ASGD offers at the end: [`asgd_average`].
#[derive(Clone, Debug)]
pub struct Asgd {
    lambd: f64,
    alpha: f64,
    t0: f64,
    weight_decay: f64,
    maximize: bool,
    stepper: Stepper,
}

/// State of [`Asgd`] for one parameter.
#[derive(Clone)]
pub struct AsgdState<const D: usize> {
    /// The averaged parameter `ax`.
    pub ax: Tensor<D>,
    /// The step size `η` of the next step.
    pub eta: f64,
    /// The averaging rate `μ` of the next step.
    pub mu: f64,
    /// Steps taken.
    pub step: u64,
}

record_state!(AsgdState {
    tensors: [ax],
    optional: [],
    counters: [step],
    floats: [eta, mu],
});

/// ASGD's rule for one step, slots `[ax]` (see [`Asgd`]).
#[derive(Clone, Copy)]
struct AsgdRule {
    dir: Direction,
    eta: f32,
    shrink: f32,
    /// `μ`, or `None` for `μ = 1` (a copy, as PyTorch).
    mu: Option<f32>,
}

impl Rule for AsgdRule {
    fn slots(&self) -> usize {
        1
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let p = p.scale(self.shrink) - g.scale(self.eta);
        let ax = &mut s[0];
        *ax = match self.mu {
            Some(mu) => ax.clone() + (p.clone() - ax.clone()).scale(mu),
            None => p.clone(),
        };
        p
    }
}

impl Optimizer for Asgd {
    type State<const D: usize> = AsgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (ax, eta, mu, t) = match state {
            Some(s) => (Some(s.ax), s.eta, s.mu, s.step + 1),
            None => (None, lr, 1.0, 1),
        };
        let rule = AsgdRule {
            dir: Direction::new(self.maximize, self.weight_decay),
            eta: eta as f32,
            shrink: (1.0 - self.lambd * eta) as f32,
            mu: (mu != 1.0).then_some(mu as f32),
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, vec![ax]);
        let ax = slots.into_iter().next().expect("asgd: one state slot");
        let t_f = t as f64;
        let state = AsgdState {
            ax,
            eta: lr / (1.0 + self.lambd * lr * t_f).powf(self.alpha),
            mu: 1.0 / (t_f - self.t0).max(1.0),
            step: t,
        };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}

/// The model ASGD has averaged: `module` with each parameter replaced by its `ax` in
/// `optimizer`'s state (a parameter not stepped yet keeps its value). `optimizer` is the
/// [`ModuleOptimizer`] that has been stepping `module` with [`Asgd`].
///
/// ```ignore
/// let averaged = descent::optimizers::asgd_average(&optim, model.clone());
/// ```
pub fn asgd_average<M: Module>(optimizer: &ModuleOptimizer, module: M) -> M {
    module.map(&mut Averages {
        averages: crate::state::state_tensors(optimizer, "ax")
            .0
            .into_iter()
            .collect(),
    })
}

struct Averages {
    averages: std::collections::HashMap<u64, TensorData>,
}

impl ModuleMapper for Averages {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(data) = self.averages.remove(&param.id.val()) else {
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let ax = Tensor::<D>::from_data(data, &tensor.device()).cast(tensor.dtype());
        Param::from_mapped_value(id, ax, mapper)
    }
}
