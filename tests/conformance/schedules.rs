//! Replays `kind: "schedule"` cases: builds the schedule from its PyTorch (or Optax) options,
//! calls Burn's `LrScheduler::step` once per step and compares each rate.

use descent::optimizers::registry;

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
    let mut s = registry::schedule(&name, &options).map_err(|e| e.to_string())?;
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
