//! Adam and AMSGrad (`torch.optim.Adam`): bias-corrected first and second moment estimates,
//! with coupled (L2) weight decay. The Adam rule here is AdamW's too.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::{Ema, Num};

use crate::checks;
use crate::error::OptimResult;
use crate::rule::{Decay, Direction, Rule, bias_correction};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

const NAME: &str = "adam";

/// Configuration of [`Adam`], with PyTorch's defaults (ε = 1e-8, not Burn's 1e-5).
#[derive(Config, Debug)]
pub struct AdamConfig {
    /// Decay rate β₁ of the first moment (default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate β₂ of the second moment (default 0.999).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Term ε added to the denominator (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// L2 penalty λ added to the gradient (default 0); see [`AdamWConfig`](crate::AdamWConfig)
    /// for decoupled decay.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    #[config(default = false)]
    pub amsgrad: bool,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

/// Checks the hyperparameters Adam-family optimizers share.
pub(crate) fn check_adam(
    name: &'static str,
    beta_1: f64,
    beta_2: f64,
    eps: f64,
    weight_decay: f64,
) -> OptimResult<()> {
    checks::unit_open(name, "beta_1", beta_1)?;
    checks::unit_open(name, "beta_2", beta_2)?;
    checks::non_negative(name, "eps", eps)?;
    checks::non_negative(name, "weight_decay", weight_decay)
}

impl AdamConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Adam> {
        check_adam(NAME, self.beta_1, self.beta_2, self.eps, self.weight_decay)?;
        Ok(Adam {
            moments: Moments {
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                eps: self.eps,
                amsgrad: self.amsgrad,
            },
            weight_decay: self.weight_decay,
            maximize: self.maximize,
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }
}

optimizer_config!(AdamConfig => Adam);

/// Adam (`torch.optim.Adam`), AMSGrad when configured.
///
/// With `g = ±∇f(θ) + λθ`, moments starting at 0 and t counting from 1:
///
/// ```text
/// m = β₁ m + (1 − β₁) g
/// v = β₂ v + (1 − β₂) g²
/// v̂ = max(v̂, v) if amsgrad, v otherwise
/// θ ← θ − η / (1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    moments: Moments,
    weight_decay: f64,
    maximize: bool,
    stepper: Stepper,
}

/// State of the Adam family for one parameter.
#[derive(Clone)]
pub struct AdamState<const D: usize> {
    /// First moment `m`.
    pub exp_avg: Tensor<D>,
    /// Second moment `v`.
    pub exp_avg_sq: Tensor<D>,
    /// Running maximum of `v` (AMSGrad only).
    pub max_exp_avg_sq: Option<Tensor<D>>,
    /// Steps taken.
    pub step: u64,
}

record_state!(AdamState {
    tensors: [exp_avg, exp_avg_sq],
    optional: [max_exp_avg_sq],
    counters: [step],
    floats: [],
});

impl<const D: usize> AdamState<D> {
    /// The state as the rule's slots `[m, v, v̂?]`, and the number of the coming step.
    pub(crate) fn into_slots(state: Option<Self>, amsgrad: bool) -> (Vec<Option<Tensor<D>>>, u64) {
        let (mut slots, step) = match state {
            Some(s) => (
                vec![Some(s.exp_avg), Some(s.exp_avg_sq), s.max_exp_avg_sq],
                s.step + 1,
            ),
            None => (vec![None, None, None], 1),
        };
        slots.truncate(if amsgrad { 3 } else { 2 });
        (slots, step)
    }

    /// The state after a step, from the rule's slots.
    pub(crate) fn from_slots(slots: Vec<Tensor<D>>, step: u64) -> Self {
        let mut slots = slots.into_iter();
        let mut next = || slots.next().expect("adam: two or three state slots");
        let (exp_avg, exp_avg_sq) = (next(), next());
        Self {
            exp_avg,
            exp_avg_sq,
            max_exp_avg_sq: slots.next(),
            step,
        }
    }
}

/// The hyperparameters of the moments shared by Adam and AdamW.
#[derive(Clone, Debug)]
pub(crate) struct Moments {
    pub beta_1: f64,
    pub beta_2: f64,
    pub eps: f64,
    pub amsgrad: bool,
}

impl Moments {
    /// The rule of step `t` (from 1) at learning rate `lr`, along `dir`, after `decay`.
    pub fn rule(&self, lr: f64, t: u64, dir: Direction, decay: Decay) -> AdamRule {
        AdamRule {
            dir,
            decay,
            beta_1: Ema::new(self.beta_1),
            beta_2: Ema::new(self.beta_2),
            inv_bias_2_sqrt: (1.0 / bias_correction(self.beta_2, t).sqrt()) as f32,
            step_size: (lr / bias_correction(self.beta_1, t)) as f32,
            eps: self.eps as f32,
            amsgrad: self.amsgrad,
        }
    }

    /// One Adam (or AdamW) step of `tensor` through `stepper`.
    pub fn step<const D: usize>(
        &self,
        stepper: &Stepper,
        lr: f64,
        (dir, decay): (Direction, Decay),
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        let (slots, t) = AdamState::into_slots(state, self.amsgrad);
        let rule = self.rule(lr, t, dir, decay);
        let (tensor, slots) = stepper.run(lr, &rule, tensor, grad, slots);
        (tensor, Some(AdamState::from_slots(slots, t)))
    }
}

/// Adam's rule for one step, slots `[m, v]` (`[m, v, v̂]` with AMSGrad):
///
/// ```text
/// g ← ±g + λθ;   θ ← θ (1 − ηλ_decoupled)
/// m = β₁ m + (1 − β₁) g,   v = β₂ v + (1 − β₂) g²,   v̂ = max(v̂, v)
/// θ ← θ − η / (1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
/// ```
#[derive(Clone, Copy)]
pub(crate) struct AdamRule {
    dir: Direction,
    decay: Decay,
    beta_1: Ema,
    beta_2: Ema,
    /// `1 / √(1 − β₂ᵗ)`: multiplying by it, rather than dividing by its inverse as PyTorch
    /// does, leaves one division per element (with the square root, what bounds the CPU loop).
    inv_bias_2_sqrt: f32,
    step_size: f32,
    eps: f32,
    amsgrad: bool,
}

impl Rule for AdamRule {
    fn slots(&self) -> usize {
        if self.amsgrad { 3 } else { 2 }
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let [m, v, max @ ..] = s else {
            unreachable!("adam: two or three state slots")
        };
        *m = self.beta_1.of(m.clone(), g.clone());
        *v = self.beta_2.of(v.clone(), g.square());
        let second = match max.first_mut() {
            Some(max) => {
                *max = max.clone().max(v.clone());
                max.clone()
            }
            None => v.clone(),
        };
        let denom = second.sqrt().scale(self.inv_bias_2_sqrt).shift(self.eps);
        self.decay.of(p) - (m.clone() / denom).scale(self.step_size)
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let wd = (
            Direction::new(self.maximize, self.weight_decay),
            Decay::NONE,
        );
        self.moments
            .step(&self.stepper, lr, wd, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
