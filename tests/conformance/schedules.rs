//! Replays `kind: "schedule"` cases: builds the schedule from its PyTorch (or Optax) options,
//! calls Burn's `LrScheduler::step` once per step and compares each rate.

use burn::lr_scheduler::LrScheduler;
use descent::optimizers::*;

use crate::golden::{Case, Options};

fn required(o: &mut Options, key: &str) -> Result<f64, String> {
    o.f64(key, f64::NAN).and_then(|v| {
        if v.is_nan() {
            Err(format!("option {key} is required"))
        } else {
            Ok(v)
        }
    })
}

fn required_u64(o: &mut Options, key: &str) -> Result<u64, String> {
    if o.get(key).is_none() {
        return Err(format!("option {key} is required"));
    }
    o.u64(key, 0)
}

fn build(name: &str, o: &mut Options) -> Result<Box<dyn LrScheduler>, String> {
    let e = |err: OptimError| err.to_string();
    // `lr` is the optimizer's base rate; OneCycleLR and CyclicLR set their own.
    let lr = o.f64("lr", 1e-3)?;
    Ok(match name {
        "step_lr" => Box::new(
            StepLrConfig::new(lr, required_u64(o, "step_size")?)
                .with_gamma(o.f64("gamma", 0.1)?)
                .try_init()
                .map_err(e)?,
        ),
        "multi_step_lr" => {
            let milestones = o
                .vec("milestones")?
                .ok_or("option milestones is required")?
                .into_iter()
                .map(|m| m as u64)
                .collect();
            Box::new(
                MultiStepLrConfig::new(lr, milestones)
                    .with_gamma(o.f64("gamma", 0.1)?)
                    .try_init()
                    .map_err(e)?,
            )
        }
        "exponential_lr" => Box::new(
            ExponentialLrConfig::new(lr, required(o, "gamma")?)
                .try_init()
                .map_err(e)?,
        ),
        "cosine_annealing_lr" => Box::new(
            CosineAnnealingLrConfig::new(lr, required_u64(o, "T_max")?)
                .with_eta_min(o.f64("eta_min", 0.0)?)
                .try_init()
                .map_err(e)?,
        ),
        "cosine_annealing_warm_restarts" => Box::new(
            CosineAnnealingWarmRestartsConfig::new(lr, required_u64(o, "T_0")?)
                .with_t_mult(o.u64("T_mult", 1)?)
                .with_eta_min(o.f64("eta_min", 0.0)?)
                .try_init()
                .map_err(e)?,
        ),
        "linear_lr" => Box::new(
            LinearLrConfig::new(lr)
                .with_start_factor(o.f64("start_factor", 1.0 / 3.0)?)
                .with_end_factor(o.f64("end_factor", 1.0)?)
                .with_total_iters(o.u64("total_iters", 5)?)
                .try_init()
                .map_err(e)?,
        ),
        "constant_lr" => Box::new(
            ConstantLrConfig::new(lr)
                .with_factor(o.f64("factor", 1.0 / 3.0)?)
                .with_total_iters(o.u64("total_iters", 5)?)
                .try_init()
                .map_err(e)?,
        ),
        "polynomial_lr" => Box::new(
            PolynomialLrConfig::new(lr)
                .with_total_iters(o.u64("total_iters", 5)?)
                .with_power(o.f64("power", 1.0)?)
                .try_init()
                .map_err(e)?,
        ),
        "one_cycle_lr" => {
            let total = match o.get("total_steps") {
                Some(_) => o.u64("total_steps", 0)?,
                None => required_u64(o, "epochs")? * required_u64(o, "steps_per_epoch")?,
            };
            let strategy = match o.str("anneal_strategy")?.as_deref() {
                None | Some("cos") => AnnealStrategy::Cos,
                Some("linear") => AnnealStrategy::Linear,
                Some(other) => return Err(format!("unknown anneal_strategy {other:?}")),
            };
            // Momentum cycling changes the optimizer's momentum, not the rate.
            o.bool("cycle_momentum", true)?;
            o.f64("base_momentum", 0.85)?;
            o.f64("max_momentum", 0.95)?;
            Box::new(
                OneCycleLrConfig::new(required(o, "max_lr")?, total)
                    .with_pct_start(o.f64("pct_start", 0.3)?)
                    .with_anneal_strategy(strategy)
                    .with_div_factor(o.f64("div_factor", 25.0)?)
                    .with_final_div_factor(o.f64("final_div_factor", 1e4)?)
                    .with_three_phase(o.bool("three_phase", false)?)
                    .try_init()
                    .map_err(e)?,
            )
        }
        "cyclic_lr" => {
            let gamma = o.f64("gamma", 1.0)?;
            let mode = match o.str("mode")?.as_deref() {
                None | Some("triangular") => CyclicMode::Triangular,
                Some("triangular2") => CyclicMode::Triangular2,
                Some("exp_range") => CyclicMode::ExpRange { gamma },
                Some(other) => return Err(format!("unknown mode {other:?}")),
            };
            if let Some(scale) = o.str("scale_mode")? {
                let default = if matches!(mode, CyclicMode::ExpRange { .. }) {
                    "iterations"
                } else {
                    "cycle"
                };
                if scale != default {
                    return Err(format!("scale_mode {scale:?} without a scale_fn"));
                }
            }
            o.bool("cycle_momentum", true)?;
            o.f64("base_momentum", 0.8)?;
            o.f64("max_momentum", 0.9)?;
            let down = match o.get("step_size_down") {
                None => None,
                Some(_) => Some(o.u64("step_size_down", 0)?),
            };
            Box::new(
                CyclicLrConfig::new(required(o, "base_lr")?, required(o, "max_lr")?)
                    .with_step_size_up(o.u64("step_size_up", 2000)?)
                    .with_step_size_down(down)
                    .with_mode(mode)
                    .try_init()
                    .map_err(e)?,
            )
        }
        "warmup_cosine" => Box::new(
            WarmupCosineConfig::new(
                required(o, "init_value")?,
                required(o, "peak_value")?,
                required_u64(o, "warmup_steps")?,
                required_u64(o, "decay_steps")?,
            )
            .with_end_value(o.f64("end_value", 0.0)?)
            .with_exponent(o.f64("exponent", 1.0)?)
            .try_init()
            .map_err(e)?,
        ),
        other => return Err(format!("unknown schedule {other:?}")),
    })
}

fn plateau(o: &mut Options) -> Result<ReduceLrOnPlateau, String> {
    let mode = match o.str("mode")?.as_deref() {
        None | Some("min") => PlateauMode::Min,
        Some("max") => PlateauMode::Max,
        Some(other) => return Err(format!("unknown mode {other:?}")),
    };
    let threshold_mode = match o.str("threshold_mode")?.as_deref() {
        None | Some("rel") => ThresholdMode::Rel,
        Some("abs") => ThresholdMode::Abs,
        Some(other) => return Err(format!("unknown threshold_mode {other:?}")),
    };
    let min_lr = match o.vec("min_lr")? {
        None => 0.0,
        Some(v) if v.len() == 1 => v[0],
        Some(v) => return Err(format!("min_lr {v:?}: one parameter group only")),
    };
    ReduceLrOnPlateauConfig::new(o.f64("lr", 1e-3)?)
        .with_mode(mode)
        .with_factor(o.f64("factor", 0.1)?)
        .with_patience(o.u64("patience", 10)?)
        .with_threshold(o.f64("threshold", 1e-4)?)
        .with_threshold_mode(threshold_mode)
        .with_cooldown(o.u64("cooldown", 0)?)
        .with_min_lr(min_lr)
        .with_eps(o.f64("eps", 1e-8)?)
        .try_init()
        .map_err(|e| e.to_string())
}

fn close(what: &str, actual: f64, expected: f64, rtol: f64, atol: f64) -> Result<(), String> {
    if crate::golden::close(actual, expected, rtol, atol) {
        Ok(())
    } else {
        Err(format!(
            "{what} = {actual}, expected {expected} (rtol {rtol}, atol {atol})"
        ))
    }
}

pub fn replay(case: &Case) -> Result<(), String> {
    let known = ["schedule", "options", "expected", "metrics", "rtol", "atol"];
    if let Some(k) = case.fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown field {k:?}"));
    }
    let name: String = case.field("schedule")?;
    let expected: Vec<f64> = case.field("expected")?;
    let rtol: f64 = case.field("rtol")?;
    let atol: f64 = case.field("atol")?;
    let mut o = Options::new(&name, case.field("options")?);
    // PyTorch's `last_epoch` resumes a schedule; the cases start them fresh.
    if o.i64("last_epoch", -1)? != -1 {
        return Err("last_epoch other than -1 is not a fresh schedule".into());
    }
    if name == "reduce_lr_on_plateau" {
        let mut s = plateau(&mut o)?;
        o.finish()?;
        let metrics: Vec<f64> = case.field("metrics")?;
        if metrics.len() < expected.len().saturating_sub(1) {
            return Err(format!(
                "{} metrics for {} steps",
                metrics.len(),
                expected.len()
            ));
        }
        for (t, e) in expected.iter().enumerate() {
            close(
                &format!("lr[{t}]"),
                LrScheduler::step(&mut s),
                *e,
                rtol,
                atol,
            )?;
            if let Some(m) = metrics.get(t) {
                s.report(*m);
            }
        }
        return Ok(());
    }
    if case.fields.contains_key("metrics") {
        return Err(format!("{name} takes no metrics"));
    }
    let mut s = build(&name, &mut o)?;
    o.finish()?;
    for (t, e) in expected.iter().enumerate() {
        close(&format!("lr[{t}]"), s.step(), *e, rtol, atol)?;
    }
    Ok(())
}
