//! AdEMAMix (Pagliardini et al. 2024, "The AdEMAMix Optimizer: Better, Faster, Older"), as
//! `pytorch-optimizer`'s `AdEMAMix`: Adam plus a slow momentum (β₃ close to 1) mixed in with
//! weight α, both optionally warmed up over `t_alpha_beta3` steps.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use descent_kernel::{Ema, Num};

use crate::checks;
use crate::error::{OptimError, OptimResult};
use crate::rule::{Decay, Direction, Rule, bias_correction};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

const NAME: &str = "ademamix";

/// Configuration of [`AdEMAMix`], with `pytorch-optimizer`'s defaults.
#[derive(Config, Debug)]
pub struct AdEMAMixConfig {
    /// `(β₁, β₂, β₃)`: the fast momentum, the second moment, the slow momentum (default
    /// (0.9, 0.999, 0.9999)).
    #[config(default = "(0.9, 0.999, 0.9999)")]
    pub betas: (f64, f64, f64),
    /// Weight α of the slow momentum (default 5).
    #[config(default = 5.0)]
    pub alpha: f64,
    /// Warm-up steps of α (linear) and β₃ (from β₁) (default none).
    #[config(default = "None")]
    pub t_alpha_beta3: Option<f64>,
    /// Term ε added to the denominator (default 1e-8).
    #[config(default = 1e-8)]
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
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl AdEMAMixConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<AdEMAMix> {
        let (b1, b2, b3) = self.betas;
        for b in [b1, b2, b3] {
            checks::unit_open(NAME, "betas", b)?;
        }
        checks::non_negative(NAME, "alpha", self.alpha)?;
        checks::non_negative(NAME, "eps", self.eps)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        if let Some(t) = self.t_alpha_beta3
            && !(t.is_finite() && t > 0.0)
        {
            return Err(OptimError::new(
                NAME,
                "t_alpha_beta3",
                format!("must be a number of steps > 0, got {t}"),
            ));
        }
        Ok(AdEMAMix {
            config: self.clone_settings(),
            stepper: Stepper::new(NAME, &self.settings)?,
        })
    }

    fn clone_settings(&self) -> Settings {
        Settings {
            betas: self.betas,
            alpha: self.alpha,
            t_alpha_beta3: self.t_alpha_beta3,
            eps: self.eps,
            weight_decay: self.weight_decay,
            weight_decouple: self.weight_decouple,
            fixed_decay: self.fixed_decay,
            maximize: self.maximize,
        }
    }
}

optimizer_config!(AdEMAMixConfig => AdEMAMix);

#[derive(Clone, Debug)]
struct Settings {
    betas: (f64, f64, f64),
    alpha: f64,
    t_alpha_beta3: Option<f64>,
    eps: f64,
    weight_decay: f64,
    weight_decouple: bool,
    fixed_decay: bool,
    maximize: bool,
}

impl Settings {
    /// `αₜ = min(t α / T, α)`.
    fn alpha(&self, t: f64) -> f64 {
        match self.t_alpha_beta3 {
            None => self.alpha,
            Some(warm) => (t * self.alpha / warm).min(self.alpha),
        }
    }

    /// `β₃ₜ = min(exp(ln β₁ ln β₃ / ((1 − t/T) ln β₃ + (t/T) ln β₁)), β₃)`.
    fn beta_3(&self, t: f64) -> f64 {
        let (b1, _, b3) = self.betas;
        match self.t_alpha_beta3 {
            None => b3,
            Some(warm) => {
                let (l1, l3) = (b1.ln(), b3.ln());
                let f = t / warm;
                ((l1 * l3 / ((1.0 - f) * l3 + f * l1)).exp()).min(b3)
            }
        }
    }
}

/// AdEMAMix, as `pytorch_optimizer.AdEMAMix`.
///
/// With `g = ±∇f(θ) (+ λθ)`, `θ ← θ (1 − ηλ)` when decoupled, and t from 1:
///
/// ```text
/// m₁ = β₁ m₁ + (1 − β₁) g,   v = β₂ v + (1 − β₂) g²,   m₂ = β₃ₜ m₂ + (1 − β₃ₜ) g
/// θ ← θ − η (m₁ / (1 − β₁ᵗ) + αₜ m₂) / (√v / √(1 − β₂ᵗ) + ε)    (m₂ not bias-corrected)
/// αₜ = min(tα/T, α),   β₃ₜ = min(exp(ln β₁ ln β₃ / ((1 − t/T) ln β₃ + (t/T) ln β₁)), β₃)
/// ```
/// (`αₜ = α`, `β₃ₜ = β₃` without `t_alpha_beta3`).
#[derive(Clone, Debug)]
pub struct AdEMAMix {
    config: Settings,
    stepper: Stepper,
}

/// State of [`AdEMAMix`] for one parameter.
#[derive(Clone)]
pub struct AdEMAMixState<const D: usize> {
    /// Fast momentum `m₁`.
    pub exp_avg: Tensor<D>,
    /// Second moment `v`.
    pub exp_avg_sq: Tensor<D>,
    /// Slow momentum `m₂`.
    pub exp_avg_slow: Tensor<D>,
    /// Steps taken.
    pub step: u64,
}

record_state!(AdEMAMixState {
    tensors: [exp_avg, exp_avg_sq, exp_avg_slow],
    optional: [],
    counters: [step],
    floats: [],
});

/// AdEMAMix's rule for one step, slots `[m₁, v, m₂]`.
#[derive(Clone, Copy)]
struct AdEMAMixRule {
    dir: Direction,
    decay: Decay,
    beta_1: Ema,
    beta_2: Ema,
    beta_3: Ema,
    /// `η αₜ`.
    alpha: f32,
    bias_2_sqrt: f32,
    eps: f32,
    /// `η / (1 − β₁ᵗ)`.
    step_size: f32,
}

impl Rule for AdEMAMixRule {
    fn slots(&self) -> usize {
        3
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let g = self.dir.of(g, &p);
        let p = self.decay.of(p);
        let [m, v, slow] = s else {
            unreachable!("ademamix: three state slots")
        };
        *m = self.beta_1.of(m.clone(), g.clone());
        *v = self.beta_2.of(v.clone(), g.clone().square());
        *slow = self.beta_3.of(slow.clone(), g);
        let denom = v.clone().sqrt().div_k(self.bias_2_sqrt).shift(self.eps);
        let update = (m.clone().scale(self.step_size) + slow.clone().scale(self.alpha)) / denom;
        p - update
    }
}

impl Optimizer for AdEMAMix {
    type State<const D: usize> = AdEMAMixState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let (slots, t) = match state {
            Some(s) => (
                vec![Some(s.exp_avg), Some(s.exp_avg_sq), Some(s.exp_avg_slow)],
                s.step + 1,
            ),
            None => (vec![None, None, None], 1),
        };
        let (b1, b2, _) = c.betas;
        let coupled = if c.weight_decouple {
            0.0
        } else {
            c.weight_decay
        };
        let rate = if c.fixed_decay { 1.0 } else { lr };
        let tf = t as f64;
        let rule = AdEMAMixRule {
            dir: Direction::new(c.maximize, coupled),
            decay: Decay::new(c.weight_decouple, rate, c.weight_decay),
            beta_1: Ema::new(b1),
            beta_2: Ema::new(b2),
            beta_3: Ema::new(c.beta_3(tf)),
            alpha: (lr * c.alpha(tf)) as f32,
            bias_2_sqrt: bias_correction(b2, t).sqrt() as f32,
            eps: c.eps as f32,
            step_size: (lr / bias_correction(b1, t)) as f32,
        };
        let (tensor, slots) = self.stepper.run(lr, &rule, tensor, grad, slots);
        let [exp_avg, exp_avg_sq, exp_avg_slow]: [Tensor<D>; 3] = slots
            .try_into()
            .unwrap_or_else(|_| unreachable!("ademamix: three state slots"));
        let state = AdEMAMixState {
            exp_avg,
            exp_avg_sq,
            exp_avg_slow,
            step: t,
        };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
