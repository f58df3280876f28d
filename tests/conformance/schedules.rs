//! Replays `kind: "schedule"` cases: builds the schedule from its PyTorch (or Optax) options,
//! calls Burn's `LrScheduler::step` once per step and compares each rate. `lambda_lr` and
//! `multiplicative_lr` take a closure: the case describes it (`lr_lambda`) and [`lambda`] maps
//! the description to one; a `chained_scheduler` may hold them too.

use descent::kernel::Options;
use descent::optimizers::registry::{self, Schedule};
use descent::optimizers::{ChainedScheduler, LambdaLr, MultiplicativeLr};
use serde::Deserialize;
use serde_json::Value;

use crate::golden::Case;

fn close(what: &str, actual: f64, expected: f64, rtol: f64, atol: f64) -> Result<(), String> {
    if crate::golden::close(actual, expected, rtol, atol) {
        Ok(())
    } else {
        Err(format!(
            "{what} = {actual}, expected {expected} (rtol {rtol}, atol {atol})"
        ))
    }
}

/// A described `lr_lambda` of the epoch `e`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Lambda {
    /// `bᵉ`.
    Power { base: f64 },
    /// `min(1, (e + 1) / w)`.
    WarmupLinear { warmup_steps: f64 },
    /// `f`.
    Constant { factor: f64 },
}

/// The closure a description stands for.
fn lambda(description: Lambda) -> impl Fn(u64) -> f64 + Send + Sync + 'static {
    move |e| match description {
        Lambda::Power { base } => base.powf(e as f64),
        Lambda::WarmupLinear { warmup_steps } => ((e as f64 + 1.0) / warmup_steps).min(1.0),
        Lambda::Constant { factor } => factor,
    }
}

/// The schedule `name` with `options`: the closure schedules and chains built here, the others
/// through the library's registry.
fn build(name: &str, options: &Value) -> Result<Box<dyn Schedule>, String> {
    if !["lambda_lr", "multiplicative_lr", "chained_scheduler"].contains(&name) {
        return registry::schedule(name, options).map_err(|e| e.to_string());
    }
    let owner = match name {
        "lambda_lr" => "lambda_lr",
        "multiplicative_lr" => "multiplicative_lr",
        _ => "chained_scheduler",
    };
    let e = |e: descent::kernel::OptionError| e.to_string();
    let mut o = Options::new(owner, options).map_err(e)?;
    let lr: f64 = o.optional("lr").map_err(e)?.unwrap_or(1e-3);
    let schedule: Box<dyn Schedule> = match name {
        "chained_scheduler" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Part {
                schedule: String,
                #[serde(default)]
                options: Value,
            }
            let parts: Vec<Part> = o.required("schedulers").map_err(e)?;
            let mut schedules = Vec::new();
            for p in parts {
                let mut options = p.options.as_object().cloned().unwrap_or_default();
                options.entry("lr").or_insert(lr.into());
                schedules.push(build(&p.schedule, &Value::Object(options))?);
            }
            Box::new(ChainedScheduler::try_new(schedules, lr).map_err(|e| e.to_string())?)
        }
        _ => {
            let f = lambda(o.required("lr_lambda").map_err(e)?);
            if name == "lambda_lr" {
                Box::new(LambdaLr::try_new(lr, f).map_err(|e| e.to_string())?)
            } else {
                Box::new(MultiplicativeLr::try_new(lr, f).map_err(|e| e.to_string())?)
            }
        }
    };
    o.finish().map_err(e)?;
    Ok(schedule)
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
    let options: serde_json::Value = case.field("options")?;
    let mut s = build(&name, &options)?;
    let metrics: Option<Vec<f64>> = case.optional("metrics")?;
    match (&metrics, name.as_str()) {
        (None, "reduce_lr_on_plateau") => return Err("reduce_lr_on_plateau needs metrics".into()),
        (Some(m), _) if m.len() < expected.len().saturating_sub(1) => {
            return Err(format!("{} metrics for {} steps", m.len(), expected.len()));
        }
        (Some(_), n) if n != "reduce_lr_on_plateau" => {
            return Err(format!("{name} takes no metrics"));
        }
        _ => {}
    }
    for (t, e) in expected.iter().enumerate() {
        close(&format!("lr[{t}]"), s.step(), *e, rtol, atol)?;
        if let Some(m) = metrics.as_ref().and_then(|m| m.get(t)) {
            s.report(*m);
        }
    }
    Ok(())
}
