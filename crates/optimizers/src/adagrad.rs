//! AdaGrad (`torch.optim.Adagrad`): per-coordinate step sizes from the sum of squared
//! gradients.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use descent_kernel::Num;

use crate::checks;
use crate::error::OptimResult;
use crate::rule::{Direction, Rule};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

const NAME: &str = "adagrad";

/// Configuration of [`Adagrad`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct AdagradConfig {
    /// Learning-rate decay κ: step t uses `η / (1 + (t − 1) κ)` (default 0).
    #[config(default = 0.0)]
    pub lr_decay: f64,
    /// L2 penalty λ added to the gradient (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Starting value of the sum of squares (default 0).
    #[config(default = 0.0)]
    pub initial_accumulator_value: f64,
    /// Term ε added to the denominator (default 1e-10).
    #[config(default = 1e-10)]
    pub eps: f64,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl AdagradConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Adagrad> {
        checks::non_negative(NAME, "lr_decay", self.lr_decay)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        checks::non_negative(
            NAME,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        checks::non_negative(NAME, "eps", self.eps)?;
        Ok(Adagrad {
            lr_decay: self.lr_decay,
            weight_decay: self.weight_decay,
            initial_accumulator_value: self.initial_accumulator_value,
            eps: self.eps,
            maximize: self.maximize,
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }
}

optimizer_config!(AdagradConfig => Adagrad);

/// AdaGrad (`torch.optim.Adagrad`).
///
/// With `g = ±∇f(θ) + λθ` and `S₀ = initial_accumulator_value`:
///
/// ```text
/// Sₜ = Sₜ₋₁ + g²
/// θ ← θ − η / (1 + (t − 1) κ) · g / (√Sₜ + ε)
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad {
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    eps: f64,
    maximize: bool,
    stepper: Stepper,
}

/// State of [`Adagrad`] for one parameter.
#[derive(Clone)]
pub struct AdagradState<const D: usize> {
    /// The sum of squared gradients `S`.
    pub sum: Tensor<D>,
    /// Steps taken.
    pub step: u64,
}

record_state!(AdagradState {
    tensors: [sum],
    optional: [],
    counters: [step],
    floats: [],
});

/// AdaGrad's rule for one step, slots `[S]` (see [`Adagrad`]).
#[derive(Clone, Copy)]
struct AdagradRule {
    dir: Direction,
    /// `η / (1 + (t − 1) κ)`.
    clr: f32,
    eps: f32,
    initial: f32,
}

impl Rule for AdagradRule {
    fn slots(&self) -> usize {
        1
    }

    fn initial(&self, _slot: usize) -> f32 {
        self.initial
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let sum = &mut s[0];
        *sum = sum.clone() + g.clone().square();
        p - (g / sum.clone().sqrt().shift(self.eps)).scale(self.clr)
    }
}

impl Optimizer for Adagrad {
    type State<const D: usize> = AdagradState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (sum, step) = match state {
            Some(s) => (Some(s.sum), s.step + 1),
            None => (None, 1),
        };
        let rule = AdagradRule {
            dir: Direction::new(self.maximize, self.weight_decay),
            clr: (lr / (1.0 + (step - 1) as f64 * self.lr_decay)) as f32,
            eps: self.eps as f32,
            initial: self.initial_accumulator_value as f32,
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, vec![sum]);
        let sum = slots.into_iter().next().expect("adagrad: one state slot");
        (tensor, Some(AdagradState { sum, step }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
