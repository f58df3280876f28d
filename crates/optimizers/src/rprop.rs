//! Rprop (`torch.optim.Rprop`, Riedmiller and Braun 1993): a step size per element that grows
//! while the gradient keeps its sign and shrinks when it flips; only the sign of the gradient
//! moves the parameter.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::Num;

use crate::checks;
use crate::error::{OptimError, OptimResult};
use crate::rule::{Direction, Rule};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

const NAME: &str = "rprop";

/// Configuration of [`Rprop`], with PyTorch's defaults. The learning rate of the first step
/// is every element's initial step size.
#[derive(Config, Debug)]
pub struct RpropConfig {
    /// `(η₋, η₊)`: the factors the step size is multiplied by when the gradient's sign flips
    /// and when it stays (default (0.5, 1.2); `0 < η₋ < 1 < η₊`).
    #[config(default = "(0.5, 1.2)")]
    pub etas: (f64, f64),
    /// `(Δmin, Δmax)`: the bounds of the step sizes (default (1e-6, 50)).
    #[config(default = "(1e-6, 50.0)")]
    pub step_sizes: (f64, f64),
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl RpropConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Rprop> {
        let (minus, plus) = self.etas;
        if !(0.0 < minus && minus < 1.0 && 1.0 < plus && plus.is_finite()) {
            return Err(OptimError::new(
                NAME,
                "etas",
                format!("must satisfy 0 < etaminus < 1 < etaplus, got ({minus}, {plus})"),
            ));
        }
        let (lo, hi) = self.step_sizes;
        checks::non_negative(NAME, "step_sizes", lo)?;
        if !(hi.is_finite() && hi >= lo) {
            return Err(OptimError::new(
                NAME,
                "step_sizes",
                format!("must be (min, max) with 0 <= min <= max, got ({lo}, {hi})"),
            ));
        }
        Ok(Rprop {
            etas: self.etas,
            step_sizes: self.step_sizes,
            maximize: self.maximize,
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }
}

optimizer_config!(RpropConfig => Rprop);

/// Rprop, as `torch.optim.Rprop`.
///
/// With `g = ±∇f(θ)`, the previous (masked) gradient `g′` starting at 0 and every step size
/// `Δ` starting at the first step's learning rate:
///
/// ```text
/// f = η₊ if g·g′ > 0,  η₋ if g·g′ < 0,  1 otherwise
/// Δ = clamp(Δ f, Δmin, Δmax)
/// g = 0 where f = η₋              (no move, and no flip next time, after a sign change)
/// θ ← θ − sign(g) Δ;   g′ = g
/// ```
#[derive(Clone, Debug)]
pub struct Rprop {
    etas: (f64, f64),
    step_sizes: (f64, f64),
    maximize: bool,
    stepper: Stepper,
}

/// State of [`Rprop`] for one parameter.
#[derive(Clone)]
pub struct RpropState<const D: usize> {
    /// The previous step's gradient, 0 where its sign had flipped.
    pub prev: Tensor<D>,
    /// Each element's step size `Δ`.
    pub step_size: Tensor<D>,
    /// Steps taken.
    pub step: u64,
}

record_state!(RpropState {
    tensors: [prev, step_size],
    optional: [],
    counters: [step],
    floats: [],
});

/// Rprop's rule for one step, slots `[g′, Δ]` (see [`Rprop`]).
#[derive(Clone, Copy)]
struct RpropRule {
    dir: Direction,
    lr: f32,
    minus: f32,
    plus: f32,
    min: f32,
    max: f32,
}

impl Rule for RpropRule {
    fn slots(&self) -> usize {
        2
    }

    fn initial(&self, slot: usize) -> f32 {
        if slot == 1 { self.lr } else { 0.0 }
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let [prev, size] = s else {
            unreachable!("rprop: two state slots")
        };
        let product = g.clone() * prev.clone();
        let one = g.zeros_like().shift(1.0);
        let factor = T::select(
            product.gt_k(0.0),
            one.clone().scale(self.plus),
            T::select(product.eq_k(0.0), one.clone(), one.scale(self.minus)),
        );
        let grown = (size.clone() * factor.clone()).max_k(self.min);
        let ceiling = grown.zeros_like().shift(self.max);
        *size = T::select(grown.gt_k(self.max), ceiling, grown);
        let g = T::select(factor.eq_k(self.minus), g.zeros_like(), g);
        let p = p - g.clone().signum() * size.clone();
        *prev = g;
        p
    }
}

impl Optimizer for Rprop {
    type State<const D: usize> = RpropState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let rule = RpropRule {
            dir: Direction::new(self.maximize, 0.0),
            lr: lr as f32,
            minus: self.etas.0 as f32,
            plus: self.etas.1 as f32,
            min: self.step_sizes.0 as f32,
            max: self.step_sizes.1 as f32,
        };
        let (slots, step) = match state {
            Some(s) => (vec![Some(s.prev), Some(s.step_size)], s.step + 1),
            None => (vec![None, None], 1),
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let [prev, step_size]: [Tensor<D>; 2] = slots
            .try_into()
            .unwrap_or_else(|_| unreachable!("rprop: two state slots"));
        (
            tensor,
            Some(RpropState {
                prev,
                step_size,
                step,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
