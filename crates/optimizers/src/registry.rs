//! Optimizers and schedules built by name from PyTorch's keyword arguments, as JSON:
//!
//! ```
//! use descent_optimizers::registry;
//! let adamw = registry::optimizer("adamw", &serde_json::json!({"lr": 3e-3, "betas": [0.9, 0.95]}))
//!     .unwrap();
//! assert_eq!(adamw.lr, 3e-3);
//! let cosine = registry::schedule("cosine_annealing_lr", &serde_json::json!({"lr": 0.1, "T_max": 100}))
//!     .unwrap();
//! ```
//!
//! Names are `torch.optim` class names in lower case (`adamw`, `rmsprop`) and
//! `torch.optim.lr_scheduler` names in snake case (`step_lr`, `one_cycle_lr`); options are the
//! constructor's keyword arguments (`betas`, `T_max`). An option left out takes the config's
//! default (PyTorch's); an unknown option, or one of the wrong type, is an error naming it.
//! The conformance suite, the benchmarks and the examples' `--optimizer`/`--schedule` flags
//! build through here.
//!
//! Adding an optimizer: its file, one line in [`OPTIMIZERS`], its reference cases.

use burn::lr_scheduler::LrScheduler;
use burn::optim::ModuleOptimizer;
use descent_kernel::Options;
use serde_json::Value;

use crate::error::{OptimError, OptimResult};
use crate::*;

/// An optimizer built by name, with its learning rate (`lr`, or PyTorch's default).
#[derive(Clone)]
pub struct Configured {
    /// The optimizer for a whole module.
    pub optimizer: ModuleOptimizer,
    /// The learning rate the options gave (the schedules' base rate).
    pub lr: f64,
}

/// One optimizer of the registry: its name, PyTorch's default learning rate and the builder
/// from the remaining options.
pub struct Entry {
    /// The `torch.optim` class in lower case (or descent's name where PyTorch has none).
    pub name: &'static str,
    /// PyTorch's default learning rate.
    pub default_lr: f64,
    build: fn(&mut Options) -> OptimResult<ModuleOptimizer>,
}

/// Sets each listed field of `$c` from the option of the same name.
macro_rules! set {
    ($o:ident, $c:ident, $($field:ident),+) => {
        $( $o.set(stringify!($field), &mut $c.$field)?; )+
    };
}

/// The registry's table: one line per optimizer, `name => Config, default lr, [options]`
/// (`betas` reads PyTorch's pair into `beta_1` and `beta_2`; `settings` is always read).
macro_rules! optimizers {
    ($($name:literal => $config:ident, $lr:expr, $(betas $betas:tt)? [$($field:ident),*];)+) => {
        /// Every first-order optimizer, by name.
        pub const OPTIMIZERS: &[Entry] = &[$(
            Entry {
                name: $name,
                default_lr: $lr,
                build: |o| {
                    let mut c = $config::new();
                    $( let _ = stringify!($betas); o.betas(&mut c.beta_1, &mut c.beta_2)?; )?
                    set!(o, c, $($field,)* settings);
                    c.try_init()
                },
            },
        )+];
    };
}

#[rustfmt::skip]
optimizers! {
    "sgd" => SgdConfig, 1e-3, [momentum, dampening, nesterov, weight_decay, maximize];
    "adagrad" => AdagradConfig, 1e-2, [lr_decay, weight_decay, initial_accumulator_value, eps, maximize];
    "rmsprop" => RmsPropConfig, 1e-2, [alpha, eps, weight_decay, momentum, centered, maximize];
    "adam" => AdamConfig, 1e-3, betas() [eps, weight_decay, amsgrad, maximize];
    "adamw" => AdamWConfig, 1e-3, betas() [eps, weight_decay, amsgrad, maximize];
    "adamax" => AdamaxConfig, 2e-3, betas() [eps, weight_decay, maximize];
    "nadam" => NAdamConfig, 2e-3, betas() [eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize];
    "radam" => RAdamConfig, 1e-3, betas() [eps, weight_decay, decoupled_weight_decay, maximize];
    "adadelta" => AdadeltaConfig, 1.0, [rho, eps, weight_decay, maximize];
    "lion" => LionConfig, 1e-4, betas() [weight_decay, maximize];
    "ema_momentum" => EmaMomentumConfig, 1e-2, [beta, weight_decay];
    "asgd" => AsgdConfig, 1e-2, [lambd, alpha, t0, weight_decay, maximize];
    "rprop" => RpropConfig, 1e-2, [etas, step_sizes, maximize];
    "adafactor" => AdafactorConfig, 1e-2, [beta2_decay, eps, d, weight_decay, maximize];
    "adamw_schedule_free" => AdamWScheduleFreeConfig, 2.5e-3, betas() [eps, weight_decay, warmup_steps, r, weight_lr_power];
    "sgd_schedule_free" => SgdScheduleFreeConfig, 1.0, [momentum, weight_decay, warmup_steps, r, weight_lr_power];
    "adopt" => AdoptConfig, 1e-3, betas() [eps, weight_decay, weight_decouple, fixed_decay, maximize];
    "ademamix" => AdEMAMixConfig, 1e-3, [betas, alpha, t_alpha_beta3, eps, weight_decay, weight_decouple, fixed_decay, maximize];
    "muon" => MuonConfig, 1e-3, [weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn, use_addmm, ns_precision];
}

/// Wrappers of another optimizer, by name: `lookahead_adam` is `Lookahead(Adam(..), k, alpha)`
/// (`k` and `alpha` are Lookahead's, the rest Adam's, as `pytorch-optimizer` names them).
pub const WRAPPERS: &[Entry] = &[Entry {
    name: "lookahead_adam",
    default_lr: 1e-3,
    build: lookahead_adam,
}];

fn lookahead_adam(o: &mut Options) -> OptimResult<ModuleOptimizer> {
    let mut lookahead = LookaheadConfig::new();
    set!(o, lookahead, k, alpha);
    if let Some(mode) = o.optional::<String>("pullback_momentum")?
        && mode != "none"
    {
        return Err(OptimError::new(
            "lookahead",
            "pullback_momentum",
            format!("{mode:?} acts on SGD's momentum buffer, which Adam has not: only \"none\""),
        ));
    }
    let mut c = AdamConfig::new();
    o.betas(&mut c.beta_1, &mut c.beta_2)?;
    set!(o, c, eps, weight_decay, amsgrad, maximize, settings);
    Ok(lookahead.try_wrap(c.try_build()?)?.into())
}

/// Every optimizer [`optimizer`] builds: [`OPTIMIZERS`] and [`WRAPPERS`].
fn entries() -> impl Iterator<Item = &'static Entry> {
    OPTIMIZERS.iter().chain(WRAPPERS)
}

/// The names [`optimizer`] knows, L-BFGS aside ([`lbfgs`]).
pub fn optimizer_names() -> impl Iterator<Item = &'static str> {
    entries().map(|e| e.name)
}

/// The optimizer `name` configured by PyTorch's keyword arguments `options` (a JSON object;
/// `lr` sets [`Configured::lr`], whose default is PyTorch's). Per-instance settings go in
/// `settings` (`{"kernel": "Generic", "checks": true, "check_interval": 64}`).
pub fn optimizer(name: &str, options: &Value) -> OptimResult<Configured> {
    let entry = entries().find(|e| e.name == name).ok_or_else(|| {
        OptimError::new(
            "registry",
            "optimizer",
            format!(
                "{name:?} is unknown; known: {:?}",
                optimizer_names().collect::<Vec<_>>()
            ),
        )
    })?;
    let mut o = Options::new(entry.name, options)?;
    let mut lr = entry.default_lr;
    o.set("lr", &mut lr)?;
    o.implementation_flags()?;
    let optimizer = (entry.build)(&mut o)?;
    o.finish()?;
    Ok(Configured { optimizer, lr })
}

/// L-BFGS (`torch.optim.LBFGS`) configured by its keyword arguments, with its `lr` (default 1).
pub fn lbfgs(options: &Value) -> OptimResult<(Lbfgs, f64)> {
    let mut o = Options::new("lbfgs", options)?;
    let mut lr = 1.0;
    o.set("lr", &mut lr)?;
    let mut c = LbfgsConfig::new();
    set!(
        o,
        c,
        max_iter,
        tolerance_grad,
        tolerance_change,
        history_size,
        checks
    );
    c.max_eval = o.optional("max_eval")?;
    c.line_search = match o.optional::<String>("line_search_fn")?.as_deref() {
        None => LineSearch::None,
        Some("strong_wolfe") => LineSearch::StrongWolfe,
        Some(other) => {
            return Err(OptimError::new(
                "lbfgs",
                "line_search_fn",
                format!("must be null or \"strong_wolfe\", got {other:?}"),
            ));
        }
    };
    o.finish()?;
    Ok((c.try_init()?, lr))
}

/// Prodigy (`prodigyopt.Prodigy`) configured by its keyword arguments, with its `lr`
/// (default 1).
pub fn prodigy(options: &Value) -> OptimResult<(Prodigy, f64)> {
    let mut o = Options::new("prodigy", options)?;
    let mut lr = 1.0;
    o.set("lr", &mut lr)?;
    let mut c = ProdigyConfig::new();
    o.betas(&mut c.beta_1, &mut c.beta_2)?;
    c.beta3 = o.optional("beta3")?;
    set!(
        o,
        c,
        eps,
        weight_decay,
        decouple,
        use_bias_correction,
        safeguard_warmup,
        d0,
        d_coef,
        growth_rate
    );
    if let Some(n) = o.optional::<u64>("slice_p")?
        && n != 1
    {
        return Err(OptimError::new(
            "prodigy",
            "slice_p",
            format!("must be 1 (descent keeps the whole of s), got {n}"),
        ));
    }
    o.optional::<bool>("fsdp_in_use")?;
    o.finish()?;
    Ok((c.try_init()?, lr))
}

/// A learning-rate schedule: Burn's [`LrScheduler`], its name, and the metric a plateau
/// schedule watches ([`ReduceLrOnPlateau`]; the others ignore it).
pub trait Schedule: LrScheduler + ScheduleClone {
    /// The schedule's name in the registry (PyTorch's, in snake case): what a checkpoint
    /// records, so that it is not resumed into another schedule.
    fn name(&self) -> &'static str;

    /// Reports the metric measured after the last step (validation loss, say).
    fn report(&mut self, _metric: f64) {}

    /// Whether, in a [`ChainedScheduler`], this schedule sets the rate outright rather than
    /// multiplying it by its own change (PyTorch's closed-form schedules, such as `LambdaLR`).
    fn sets_rate(&self) -> bool {
        false
    }
}

/// Clones a boxed [`Schedule`] (implemented for every `Schedule + Clone`).
pub trait ScheduleClone {
    /// A boxed copy.
    fn clone_schedule(&self) -> Box<dyn Schedule>;
}

impl<T: Schedule + Clone + 'static> ScheduleClone for T {
    fn clone_schedule(&self) -> Box<dyn Schedule> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Schedule> {
    fn clone(&self) -> Self {
        self.clone_schedule()
    }
}

macro_rules! plain_schedules {
    ($($s:ty => $name:literal),+ $(,)?) => {
        $( impl Schedule for $s {
            fn name(&self) -> &'static str {
                $name
            }
        } )+
    };
}

plain_schedules!(
    StepLr => "step_lr",
    MultiStepLr => "multi_step_lr",
    ExponentialLr => "exponential_lr",
    CosineAnnealingLr => "cosine_annealing_lr",
    CosineAnnealingWarmRestarts => "cosine_annealing_warm_restarts",
    LinearLr => "linear_lr",
    ConstantLr => "constant_lr",
    PolynomialLr => "polynomial_lr",
    OneCycleLr => "one_cycle_lr",
    CyclicLr => "cyclic_lr",
    WarmupCosine => "warmup_cosine",
    SequentialLr => "sequential_lr",
    MultiplicativeLr => "multiplicative_lr",
    ChainedScheduler => "chained_scheduler",
    Swalr => "swalr",
);

impl Schedule for LambdaLr {
    fn name(&self) -> &'static str {
        "lambda_lr"
    }

    fn sets_rate(&self) -> bool {
        true
    }
}

impl Schedule for ReduceLrOnPlateau {
    fn name(&self) -> &'static str {
        "reduce_lr_on_plateau"
    }

    fn report(&mut self, metric: f64) {
        ReduceLrOnPlateau::report(self, metric);
    }
}

/// A string option that must be one of `choices` (the first is the default).
fn choice(o: &mut Options, key: &'static str, choices: &[&'static str]) -> OptimResult<usize> {
    Ok(o.choice(key, choices)?)
}

fn step_lr(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = StepLrConfig::new(lr, o.required("step_size")?);
    set!(o, c, gamma);
    Ok(Box::new(c.try_init()?))
}

fn multi_step_lr(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = MultiStepLrConfig::new(lr, o.required("milestones")?);
    set!(o, c, gamma);
    Ok(Box::new(c.try_init()?))
}

fn exponential_lr(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    Ok(Box::new(
        ExponentialLrConfig::new(lr, o.required("gamma")?).try_init()?,
    ))
}

fn cosine_annealing_lr(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = CosineAnnealingLrConfig::new(lr, o.required("T_max")?);
    set!(o, c, eta_min);
    Ok(Box::new(c.try_init()?))
}

fn cosine_annealing_warm_restarts(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = CosineAnnealingWarmRestartsConfig::new(lr, o.required("T_0")?);
    o.set("T_mult", &mut c.t_mult)?;
    set!(o, c, eta_min);
    Ok(Box::new(c.try_init()?))
}

fn linear_lr(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = LinearLrConfig::new(lr);
    set!(o, c, start_factor, end_factor, total_iters);
    Ok(Box::new(c.try_init()?))
}

fn constant_lr(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = ConstantLrConfig::new(lr);
    set!(o, c, factor, total_iters);
    Ok(Box::new(c.try_init()?))
}

fn polynomial_lr(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = PolynomialLrConfig::new(lr);
    set!(o, c, total_iters, power);
    Ok(Box::new(c.try_init()?))
}

fn one_cycle_lr(o: &mut Options, _lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let total = match o.optional::<u64>("total_steps")? {
        Some(t) => t,
        None => o.required::<u64>("epochs")? * o.required::<u64>("steps_per_epoch")?,
    };
    let mut c = OneCycleLrConfig::new(o.required("max_lr")?, total);
    c.anneal_strategy = [AnnealStrategy::Cos, AnnealStrategy::Linear]
        [choice(o, "anneal_strategy", &["cos", "linear"])?];
    set!(o, c, pct_start, div_factor, final_div_factor, three_phase);
    // Momentum cycling changes the optimizer's momentum, not the rate.
    for key in ["base_momentum", "max_momentum"] {
        o.optional::<f64>(key)?;
    }
    o.optional::<bool>("cycle_momentum")?;
    Ok(Box::new(c.try_init()?))
}

fn cyclic_lr(o: &mut Options, _lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = CyclicLrConfig::new(o.required("base_lr")?, o.required("max_lr")?);
    let gamma = o.optional("gamma")?.unwrap_or(1.0);
    let modes = ["triangular", "triangular2", "exp_range"];
    c.mode = match choice(o, "mode", &modes)? {
        0 => CyclicMode::Triangular,
        1 => CyclicMode::Triangular2,
        _ => CyclicMode::ExpRange { gamma },
    };
    let exp_range = matches!(c.mode, CyclicMode::ExpRange { .. });
    if let Some(scale) = o.optional::<String>("scale_mode")?
        && scale != if exp_range { "iterations" } else { "cycle" }
    {
        return Err(OptimError::new(
            "cyclic_lr",
            "scale_mode",
            format!("{scale:?} needs a scale_fn, which descent does not take"),
        ));
    }
    set!(o, c, step_size_up);
    c.step_size_down = o.optional("step_size_down")?;
    for key in ["base_momentum", "max_momentum"] {
        o.optional::<f64>(key)?;
    }
    o.optional::<bool>("cycle_momentum")?;
    Ok(Box::new(c.try_init()?))
}

fn warmup_cosine(o: &mut Options, _lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = WarmupCosineConfig::new(
        o.required("init_value")?,
        o.required("peak_value")?,
        o.required("warmup_steps")?,
        o.required("decay_steps")?,
    );
    set!(o, c, end_value, exponent);
    Ok(Box::new(c.try_init()?))
}

fn reduce_lr_on_plateau(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = ReduceLrOnPlateauConfig::new(lr);
    c.mode = [PlateauMode::Min, PlateauMode::Max][choice(o, "mode", &["min", "max"])?];
    c.threshold_mode =
        [ThresholdMode::Rel, ThresholdMode::Abs][choice(o, "threshold_mode", &["rel", "abs"])?];
    set!(o, c, factor, patience, threshold, cooldown, eps);
    c.min_lr = match o.get("min_lr").cloned() {
        None => c.min_lr,
        Some(Value::Array(v)) if v.len() == 1 => v[0].as_f64().unwrap_or(f64::NAN),
        Some(Value::Array(_)) => {
            return Err(OptimError::new(
                "reduce_lr_on_plateau",
                "min_lr",
                "takes one value (one parameter group)",
            ));
        }
        Some(v) => v.as_f64().unwrap_or(f64::NAN),
    };
    Ok(Box::new(c.try_init()?))
}

fn swalr(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    let mut c = SwalrConfig::new(lr, o.required("swa_lr")?);
    set!(o, c, anneal_epochs);
    c.anneal_strategy = [AnnealStrategy::Cos, AnnealStrategy::Linear]
        [choice(o, "anneal_strategy", &["cos", "linear"])?];
    Ok(Box::new(c.try_init()?))
}

/// `schedulers`: a list of `{"schedule": name, "options": {..}}`, each built at the base rate
/// `lr` (the chain's own options cannot hold closures: build a chain with `LambdaLr` parts
/// with [`ChainedScheduler::new`]).
fn chained_scheduler(o: &mut Options, lr: f64) -> OptimResult<Box<dyn Schedule>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Part {
        schedule: String,
        #[serde(default)]
        options: Value,
    }
    let parts: Vec<Part> = o.required("schedulers")?;
    let schedules = parts
        .into_iter()
        .map(|p| {
            let mut options = match p.options {
                Value::Null => serde_json::Map::new(),
                Value::Object(m) => m,
                other => {
                    return Err(OptimError::new(
                        "chained_scheduler",
                        "schedulers",
                        format!("options of {:?} must be an object, got {other}", p.schedule),
                    ));
                }
            };
            options.entry("lr").or_insert(lr.into());
            schedule(&p.schedule, &Value::Object(options))
        })
        .collect::<OptimResult<Vec<_>>>()?;
    Ok(Box::new(ChainedScheduler::try_new(schedules, lr)?))
}

/// One schedule of the registry: its name and builder from the options and the base rate.
type ScheduleBuilder = fn(&mut Options, f64) -> OptimResult<Box<dyn Schedule>>;

/// Every schedule, by name.
pub const SCHEDULES: &[(&str, ScheduleBuilder)] = &[
    ("step_lr", step_lr),
    ("multi_step_lr", multi_step_lr),
    ("exponential_lr", exponential_lr),
    ("cosine_annealing_lr", cosine_annealing_lr),
    (
        "cosine_annealing_warm_restarts",
        cosine_annealing_warm_restarts,
    ),
    ("linear_lr", linear_lr),
    ("constant_lr", constant_lr),
    ("polynomial_lr", polynomial_lr),
    ("one_cycle_lr", one_cycle_lr),
    ("cyclic_lr", cyclic_lr),
    ("warmup_cosine", warmup_cosine),
    ("reduce_lr_on_plateau", reduce_lr_on_plateau),
    ("swalr", swalr),
    ("chained_scheduler", chained_scheduler),
];

/// The schedule `name` configured by its keyword arguments `options`; `lr` is the optimizer's
/// base rate (default 1e-3; OneCycleLR, CyclicLR and Optax's warmup-cosine set their own).
/// `last_epoch`, when given, must be -1 (a fresh schedule; resume through records instead).
pub fn schedule(name: &str, options: &Value) -> OptimResult<Box<dyn Schedule>> {
    let (owner, build) = SCHEDULES
        .iter()
        .find(|(n, _)| *n == name)
        .copied()
        .ok_or_else(|| {
            let known: Vec<&str> = SCHEDULES.iter().map(|(n, _)| *n).collect();
            OptimError::new(
                "registry",
                "schedule",
                format!("{name:?} is unknown; known: {known:?}"),
            )
        })?;
    let mut o = Options::new(owner, options)?;
    let mut lr = 1e-3;
    o.set("lr", &mut lr)?;
    if let Some(e) = o.optional::<i64>("last_epoch")?
        && e != -1
    {
        return Err(OptimError::new(
            owner,
            "last_epoch",
            format!("must be -1 (a fresh schedule; resume through its record), got {e}"),
        ));
    }
    let schedule = build(&mut o, lr)?;
    o.finish()?;
    Ok(schedule)
}
