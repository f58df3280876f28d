//! Schedule-free AdamW and SGD (Defazio et al. 2024, "The Road Less Scheduled"; the
//! `schedulefree` package 1.4.1, `AdamWScheduleFree` and `SGDScheduleFree`): no learning-rate
//! schedule, an average of the iterates instead. Training steps and gradients are taken at
//! `y`, an interpolation between the averaged point `x` (the one to evaluate) and the base
//! iterate `z`. [`schedule_free_eval`] gives the model at `x`.

use burn::config::Config;
use burn::module::{Module, ModuleMapper, Param};
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use descent_kernel::Num;

use crate::checks;
use crate::error::{OptimError, OptimResult};
use crate::rule::{Rule, bias_correction, lerp};
use crate::state::{optimizer_config, record_state};
use crate::step::{StepSettings, Stepper};

/// Configuration of [`AdamWScheduleFree`], with the package's defaults.
#[derive(Config, Debug)]
pub struct AdamWScheduleFreeConfig {
    /// `β₁`: the interpolation `y = (1 − β₁) z + β₁ x` (default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// `β₂`: the decay of the second moment (default 0.999).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Term ε added to the denominator (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Weight decay λ, taken at `y` (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Steps of a linear warm-up of the rate (default 0).
    #[config(default = 0)]
    pub warmup_steps: u64,
    /// Polynomial weighting power `r` of the average (default 0).
    #[config(default = 0.0)]
    pub r: f64,
    /// The average's weights are the largest rate so far to this power (default 2).
    #[config(default = 2.0)]
    pub weight_lr_power: f64,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

/// Configuration of [`SgdScheduleFree`], with the package's defaults.
#[derive(Config, Debug)]
pub struct SgdScheduleFreeConfig {
    /// Momentum `β`: the interpolation `y = (1 − β) z + β x` (default 0.9; in (0, 1)).
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Weight decay λ, taken at `y` (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Steps of a linear warm-up of the rate (default 0).
    #[config(default = 0)]
    pub warmup_steps: u64,
    /// Polynomial weighting power `r` of the average (default 0).
    #[config(default = 0.0)]
    pub r: f64,
    /// The average's weights are the largest rate so far to this power (default 2).
    #[config(default = 2.0)]
    pub weight_lr_power: f64,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

/// What the two share: the averaging weights and the interpolation.
#[derive(Clone, Debug)]
struct Averaging {
    beta: f64,
    weight_decay: f64,
    warmup_steps: u64,
    r: f64,
    weight_lr_power: f64,
}

impl Averaging {
    fn check(&self, name: &'static str, beta: &'static str) -> OptimResult<()> {
        if !(self.beta > 0.0 && self.beta < 1.0) {
            return Err(OptimError::new(
                name,
                beta,
                format!("must be in (0, 1), got {}", self.beta),
            ));
        }
        checks::non_negative(name, "weight_decay", self.weight_decay)?;
        checks::non_negative(name, "r", self.r)?;
        checks::non_negative(name, "weight_lr_power", self.weight_lr_power)
    }

    /// The step's scheduled rate `η_k` and averaging weight `c_{k+1}`, from the state before
    /// the step (`k` steps taken, `Σw`, the largest rate so far), and the state after it.
    fn weights(&self, lr: f64, s: &Shared) -> (f64, f64, Shared) {
        let k = s.step;
        let sched = if k < self.warmup_steps {
            (k + 1) as f64 / self.warmup_steps as f64
        } else {
            1.0
        };
        let lr = lr * sched;
        let lr_max = s.lr_max.max(lr);
        let weight = ((k + 1) as f64).powf(self.r) * lr_max.powf(self.weight_lr_power);
        let weight_sum = s.weight_sum + weight;
        let ckp1 = if weight_sum != 0.0 {
            weight / weight_sum
        } else {
            0.0
        };
        let next = Shared {
            step: k + 1,
            weight_sum,
            lr_max,
        };
        (lr, ckp1, next)
    }
}

/// The averaging state (the same for every parameter of an optimizer).
#[derive(Clone, Copy, Debug)]
struct Shared {
    step: u64,
    weight_sum: f64,
    lr_max: f64,
}

impl Shared {
    const START: Shared = Shared {
        step: 0,
        weight_sum: 0.0,
        lr_max: -1.0,
    };
}

/// State of a schedule-free optimizer for one parameter. The parameter itself holds `y`.
#[derive(Clone)]
pub struct ScheduleFreeState<const D: usize> {
    /// The base iterate `z`.
    pub z: Tensor<D>,
    /// The second moment `v` (AdamW only).
    pub exp_avg_sq: Option<Tensor<D>>,
    /// Steps taken.
    pub step: u64,
    /// `Σ` of the averaging weights so far.
    pub weight_sum: f64,
    /// The largest scheduled rate so far.
    pub lr_max: f64,
    /// `β₁` (AdamW) or the momentum (SGD): what [`schedule_free_eval`] needs to find `x`.
    pub beta: f64,
}

record_state!(ScheduleFreeState {
    tensors: [z],
    optional: [exp_avg_sq],
    counters: [step],
    floats: [weight_sum, lr_max, beta],
});

/// One schedule-free step from the normalised gradient `u`, slots `[z, ..]`:
///
/// ```text
/// u ← u + λ y;   y ← lerp(y, z, c);   y ← y + η (β (1 − c) − 1) u;   z ← z − η u
/// ```
#[inline(always)]
fn interpolate<T: Num>(y: T, u: T, z: &mut T, k: &Constants) -> T {
    let u = if k.decay != 0.0 {
        u + y.clone().scale(k.decay)
    } else {
        u
    };
    let y = lerp(y, z.clone(), k.ckp1) + u.clone().scale(k.y_step);
    *z = z.clone() - u.scale(k.lr);
    y
}

/// The constants of one step.
#[derive(Clone, Copy)]
struct Constants {
    decay: f32,
    ckp1: f32,
    y_step: f32,
    lr: f32,
}

impl Constants {
    fn new(lr: f64, ckp1: f64, beta: f64, decay: f64) -> Self {
        Self {
            decay: decay as f32,
            ckp1: ckp1 as f32,
            y_step: (lr * (beta * (1.0 - ckp1) - 1.0)) as f32,
            lr: lr as f32,
        }
    }
}

/// Schedule-free AdamW's rule, slots `[z, v]`:
///
/// ```text
/// v = β₂ v + (1 − β₂) g²;   u = g / (√(v / (1 − β₂ᵏ⁺¹)) + ε);   then `interpolate`
/// ```
#[derive(Clone, Copy)]
struct AdamWRule {
    beta_2: f32,
    rest_2: f32,
    bias_2: f32,
    eps: f32,
    k: Constants,
}

impl Rule for AdamWRule {
    fn slots(&self) -> usize {
        2
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        let [z, v] = s else {
            unreachable!("adamw_schedule_free: two state slots")
        };
        *v = v.clone().scale(self.beta_2) + (g.clone() * g.clone()).scale(self.rest_2);
        let denom = v.clone().div_k(self.bias_2).sqrt().shift(self.eps);
        interpolate(p, g / denom, z, &self.k)
    }
}

/// Schedule-free SGD's rule, slots `[z]`: `u = g`, then `interpolate`.
#[derive(Clone, Copy)]
struct SgdRule {
    k: Constants,
}

impl Rule for SgdRule {
    fn slots(&self) -> usize {
        1
    }

    #[inline(always)]
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T {
        interpolate(p, g, &mut s[0], &self.k)
    }
}

/// Schedule-free AdamW (`schedulefree.AdamWScheduleFree`).
///
/// With `k` steps taken, the rate `η = lr · min(1, (k + 1)/warmup)`, the weight
/// `w = (k + 1)^r · max(η so far)^p` and `c = w / Σw`:
///
/// ```text
/// v = β₂ v + (1 − β₂) g²,   u = g / (√(v / (1 − β₂ᵏ⁺¹)) + ε) + λ y
/// y ← lerp(y, z, c) + η (β₁ (1 − c) − 1) u,   z ← z − η u          (z starts at θ)
/// x = y + (1 − 1/β₁)(z − y)                                          (the point to evaluate)
/// ```
///
/// The parameters hold `y` throughout training; evaluate and export
/// [`schedule_free_eval`]`(&optim, model)`, which returns the model at `x` and changes nothing.
/// Checkpoint the training model with the optimizer's record, as for any optimizer.
#[derive(Clone, Debug)]
pub struct AdamWScheduleFree {
    avg: Averaging,
    beta_2: f64,
    eps: f64,
    stepper: Stepper,
}

/// Schedule-free SGD (`schedulefree.SGDScheduleFree`): [`AdamWScheduleFree`] with `u = g + λy`
/// and the momentum as `β₁`.
#[derive(Clone, Debug)]
pub struct SgdScheduleFree {
    avg: Averaging,
    stepper: Stepper,
}

const ADAMW: &str = "adamw_schedule_free";
const SGD: &str = "sgd_schedule_free";

impl AdamWScheduleFreeConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<AdamWScheduleFree> {
        let avg = Averaging {
            beta: self.beta_1,
            weight_decay: self.weight_decay,
            warmup_steps: self.warmup_steps,
            r: self.r,
            weight_lr_power: self.weight_lr_power,
        };
        avg.check(ADAMW, "beta_1")?;
        checks::unit_open(ADAMW, "beta_2", self.beta_2)?;
        checks::non_negative(ADAMW, "eps", self.eps)?;
        Ok(AdamWScheduleFree {
            avg,
            beta_2: self.beta_2,
            eps: self.eps,
            stepper: Stepper::new(ADAMW, &self.settings)?,
        })
    }
}

impl SgdScheduleFreeConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<SgdScheduleFree> {
        let avg = Averaging {
            beta: self.momentum,
            weight_decay: self.weight_decay,
            warmup_steps: self.warmup_steps,
            r: self.r,
            weight_lr_power: self.weight_lr_power,
        };
        avg.check(SGD, "momentum")?;
        Ok(SgdScheduleFree {
            avg,
            stepper: Stepper::new(SGD, &self.settings)?,
        })
    }
}

optimizer_config!(AdamWScheduleFreeConfig => AdamWScheduleFree);
optimizer_config!(SgdScheduleFreeConfig => SgdScheduleFree);

/// The shared part of both steps: the state in, the rule's constants, the state out.
fn step<const D: usize, R: Rule>(
    (avg, stepper): (&Averaging, &Stepper),
    lr: f64,
    tensor: Tensor<D>,
    grad: Tensor<D>,
    state: Option<ScheduleFreeState<D>>,
    second_moment: bool,
    rule: impl FnOnce(Constants, u64) -> R,
) -> (Tensor<D>, Option<ScheduleFreeState<D>>) {
    let (shared, slots) = match state {
        Some(s) => (
            Shared {
                step: s.step,
                weight_sum: s.weight_sum,
                lr_max: s.lr_max,
            },
            vec![Some(s.z), s.exp_avg_sq],
        ),
        // z starts at the parameter (a copy: the step writes both in place).
        None => (
            Shared::START,
            vec![Some(tensor.clone().mul_scalar(1.0)), None],
        ),
    };
    let mut slots = slots;
    slots.truncate(if second_moment { 2 } else { 1 });
    let (scheduled, ckp1, next) = avg.weights(lr, &shared);
    let k = Constants::new(scheduled, ckp1, avg.beta, avg.weight_decay);
    let rule = rule(k, next.step);
    let (tensor, slots) = stepper.run(lr, &rule, tensor, grad, slots);
    let mut slots = slots.into_iter();
    let z = slots.next().expect("schedule-free: the z slot");
    let state = ScheduleFreeState {
        z,
        exp_avg_sq: slots.next(),
        step: next.step,
        weight_sum: next.weight_sum,
        lr_max: next.lr_max,
        beta: avg.beta,
    };
    (tensor, Some(state))
}

impl Optimizer for AdamWScheduleFree {
    type State<const D: usize> = ScheduleFreeState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (beta_2, eps) = (self.beta_2, self.eps);
        step(
            (&self.avg, &self.stepper),
            lr,
            tensor,
            grad,
            state,
            true,
            |k, t| AdamWRule {
                beta_2: beta_2 as f32,
                rest_2: (1.0 - beta_2) as f32,
                bias_2: bias_correction(beta_2, t) as f32,
                eps: eps as f32,
                k,
            },
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}

impl Optimizer for SgdScheduleFree {
    type State<const D: usize> = ScheduleFreeState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        step(
            (&self.avg, &self.stepper),
            lr,
            tensor,
            grad,
            state,
            false,
            |k, _| SgdRule { k },
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}

/// The model to evaluate, export or deploy after schedule-free training: `module` (which holds
/// `y`) with each parameter replaced by the averaged point
///
/// ```text
/// x = y + (1 − 1/β)(z − y)
/// ```
///
/// from `optimizer`'s state (a [`ModuleOptimizer`] stepping `module` with
/// [`AdamWScheduleFree`] or [`SgdScheduleFree`]). Nothing is switched: the training model and
/// the optimizer are untouched, so there is no `train()`/`eval()` mode to forget to switch back,
/// and a checkpoint of the training model and the optimizer resumes exactly. A parameter the
/// optimizer has not stepped is returned as it is.
pub fn schedule_free_eval<M: Module>(optimizer: &ModuleOptimizer, module: M) -> M {
    let (tensors, scalars) = crate::state::state_tensors(optimizer, "z");
    let points = tensors
        .into_iter()
        .filter_map(|(id, z)| {
            let beta = scalars.get(&format!("{id}.beta"))?;
            Some((id, (z, f64::try_from(*beta).ok()?)))
        })
        .collect();
    module.map(&mut Evaluate { points })
}

struct Evaluate {
    points: std::collections::HashMap<u64, (TensorData, f64)>,
}

impl ModuleMapper for Evaluate {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some((z, beta)) = self.points.remove(&param.id.val()) else {
            return param;
        };
        let (id, y, mapper) = param.consume();
        let z = Tensor::<D>::from_data(z, &y.device()).cast(y.dtype());
        let x = lerp(y, z, (1.0 - 1.0 / beta) as f32);
        Param::from_mapped_value(id, x, mapper)
    }
}
