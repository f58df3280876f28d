//! ADOPT (Taniguchi et al. 2024, "ADOPT: Modified Adam Can Converge with Any β₂"), as
//! `pytorch-optimizer`'s `ADOPT`: the gradient normalised by the *previous* second moment,
//! clipped, then averaged.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::{Ema, Num};

use crate::adam::AdamState;
use crate::checks;
use crate::error::OptimResult;
use crate::rule::{Decay, Direction, Rule};
use crate::state::optimizer_config;
use crate::step::{StepSettings, Stepper};

const NAME: &str = "adopt";

/// Configuration of [`Adopt`], with `pytorch-optimizer`'s defaults.
#[derive(Config, Debug)]
pub struct AdoptConfig {
    /// Decay rate β₁ of the averaged normalised gradient (default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate β₂ of the second moment (default 0.9999).
    #[config(default = 0.9999)]
    pub beta_2: f64,
    /// Floor ε of `√v` (default 1e-6).
    #[config(default = 1e-6)]
    pub eps: f64,
    /// Weight decay λ (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Decoupled decay `θ (1 − ηλ)` instead of `g + λθ` (default false).
    #[config(default = false)]
    pub weight_decouple: bool,
    /// Decoupled decay without the rate: `θ (1 − λ)` (default false).
    #[config(default = false)]
    pub fixed_decay: bool,
    /// Clip the normalised gradient to `±t^¼` (the package's default `clip_lambda`; default
    /// true).
    #[config(default = true)]
    pub clip: bool,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl AdoptConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Adopt> {
        checks::unit_open(NAME, "beta_1", self.beta_1)?;
        checks::unit_open(NAME, "beta_2", self.beta_2)?;
        checks::non_negative(NAME, "eps", self.eps)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        Ok(Adopt {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            weight_decouple: self.weight_decouple,
            fixed_decay: self.fixed_decay,
            clip: self.clip,
            maximize: self.maximize,
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }
}

optimizer_config!(AdoptConfig => Adopt);

/// ADOPT, as `pytorch_optimizer.ADOPT`.
///
/// With `g = ±∇f(θ) (+ λθ)`, `θ ← θ (1 − ηλ)` when decoupled, and t counting from 1:
///
/// ```text
/// t = 1:  v = g²                                   (no move)
/// t > 1:  u = clamp(g / max(√v, ε), −t^¼, t^¼)
///         m = m + (1 − β₁)(u − m);   θ ← θ − η m
///         v = β₂ v + (1 − β₂) g²
/// ```
#[derive(Clone, Debug)]
pub struct Adopt {
    beta_1: f64,
    beta_2: f64,
    eps: f64,
    weight_decay: f64,
    weight_decouple: bool,
    fixed_decay: bool,
    clip: bool,
    maximize: bool,
    stepper: Stepper,
}

/// ADOPT's rule for one step, slots `[m, v]` (see [`Adopt`]).
#[derive(Clone, Copy)]
struct AdoptRule {
    dir: Direction,
    decay: Decay,
    first: bool,
    lr: f32,
    rest_1: f32,
    beta_2: Ema,
    eps: f32,
    /// `t^¼`, or `None` without clipping.
    clip: Option<f32>,
}

impl Rule for AdoptRule {
    fn slots(&self) -> usize {
        2
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let p = self.decay.of(p);
        let [m, v] = s else {
            unreachable!("adopt: two state slots")
        };
        if self.first {
            *v = v.clone() + g.square();
            return p;
        }
        let mut u = g.clone() / v.clone().sqrt().max_k(self.eps);
        if let Some(c) = self.clip {
            // clamp(u, −c, c) = −max(−max(u, −c), −c)
            u = -(-(u.max_k(-c))).max_k(-c);
        }
        *m = m.clone() + (u - m.clone()).scale(self.rest_1);
        *v = self.beta_2.of(v.clone(), g.square());
        p - m.clone().scale(self.lr)
    }
}

impl Optimizer for Adopt {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (slots, t) = AdamState::into_slots(state, false);
        let coupled = if self.weight_decouple {
            0.0
        } else {
            self.weight_decay
        };
        let rate = if self.fixed_decay { 1.0 } else { lr };
        let rule = AdoptRule {
            dir: Direction::new(self.maximize, coupled),
            decay: Decay::new(self.weight_decouple, rate, self.weight_decay),
            first: t == 1,
            lr: lr as f32,
            rest_1: (1.0 - self.beta_1) as f32,
            beta_2: Ema::new(self.beta_2),
            eps: self.eps as f32,
            clip: self.clip.then(|| (t as f64).powf(0.25) as f32),
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        (tensor, Some(AdamState::from_slots(slots, t)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
