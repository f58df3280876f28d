//! Replays `kind: "averaged_model"` cases: `AveragedModel` (SWA or EMA) fed the case's model
//! snapshots, its average compared after each `update_parameters`.

use burn::tensor::Device;
use descent::kernel::Options;
use descent::optimizers::{AveragedModel, Averaging};
use serde_json::Value;

use crate::golden::{Case, GoldenTensor};
use crate::optimizers::{Params, check_step};

pub fn replay(case: &Case, device: &Device) -> Result<(), String> {
    let known = [
        "strategy",
        "options",
        "snapshots",
        "expected",
        "rtol",
        "atol",
    ];
    if let Some(k) = case.fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown field {k:?}"));
    }
    let strategy: String = case.field("strategy")?;
    let options: Value = case.optional("options")?.unwrap_or(Value::Null);
    let mut o = Options::new("averaged_model", &options).map_err(|e| e.to_string())?;
    let averaging = match strategy.as_str() {
        "swa" => Averaging::Swa,
        "ema" => Averaging::Ema {
            decay: o.required("decay").map_err(|e| e.to_string())?,
        },
        other => return Err(format!("unknown strategy {other:?}")),
    };
    o.finish().map_err(|e| e.to_string())?;
    let snapshots: Vec<Vec<GoldenTensor>> = case.field("snapshots")?;
    let expected: Vec<Vec<GoldenTensor>> = case.field("expected")?;
    if snapshots.len() != expected.len() || snapshots.is_empty() {
        return Err("snapshots and expected differ in length (or are empty)".into());
    }
    let first = Params::new(&snapshots[0], device)?;
    let mut average = AveragedModel::try_new(&first, averaging).map_err(|e| e.to_string())?;
    for (t, (snapshot, exp)) in snapshots.iter().zip(&expected).enumerate() {
        let model = Params::new(snapshot, device)?;
        average.update_parameters(&model);
        check_step(case, &format!("update {t}"), average.model(), exp)?;
    }
    Ok(())
}
