//! Replays `kind: "loss"` cases: builds the loss by name from its options (the library's
//! registry), runs it on the device with the case's inputs, and compares the output and the
//! gradient of `sum(output)` with the references. A case field beyond the common ones must be
//! one of the loss's other outputs (`DynLoss::forward_outputs`, such as `log_prob` and
//! `predict` of `adaptive_log_softmax_with_loss`), compared like the output.

use std::collections::BTreeMap;

use burn::tensor::Device;
use descent::losses::registry::{self, AnyTensor, Extras, Inputs};
use serde_json::Value;

use crate::golden::{Case, GoldenTensor, compare, grad, read, sum, tensor_of};

/// The fields every loss case may have.
const COMMON: [&str; 7] = [
    "loss", "options", "inputs", "output", "grad", "rtol", "atol",
];

/// Compares the case's fields beyond [`COMMON`] with the loss's other outputs `extras`: each
/// must be one of them (float ones within the tolerances, integer ones exactly).
fn compare_extras(case: &Case, extras: &Extras, rtol: f64, atol: f64) -> Result<(), String> {
    for key in case.fields.keys().filter(|k| !COMMON.contains(&k.as_str())) {
        let Some(actual) = extras.get(key.as_str()) else {
            return Err(format!("unknown case field {key:?}"));
        };
        let expected: GoldenTensor = case.field(key)?;
        let (actual, rtol, atol) = match actual {
            AnyTensor::I1(t) => (ints(t.to_data()), 0.0, 0.0),
            AnyTensor::I2(t) => (ints(t.to_data()), 0.0, 0.0),
            AnyTensor::I3(t) => (ints(t.to_data()), 0.0, 0.0),
            float => (read(float)?, rtol, atol),
        };
        compare(key, actual, &expected, rtol, atol)?;
    }
    Ok(())
}

/// Values and shape of an integer tensor's data.
fn ints(data: burn::tensor::TensorData) -> (Vec<f64>, Vec<usize>) {
    (data.iter::<f64>().collect(), data.shape().to_vec())
}

/// Replays one loss case on `device` (an autodiff device).
pub fn replay(case: &Case, device: &Device) -> Result<(), String> {
    let name: String = case.field("loss")?;
    let options: Value = case.optional("options")?.unwrap_or(Value::Null);
    let inputs: BTreeMap<String, GoldenTensor> = case.field("inputs")?;
    let output: GoldenTensor = case.field("output")?;
    let grads: BTreeMap<String, GoldenTensor> = case.optional("grad")?.unwrap_or_default();
    let rtol: f64 = case.field("rtol")?;
    let atol: f64 = case.field("atol")?;
    // Half-precision inputs (exploratory, `DESCENT_DTYPE`): the loss must return their dtype,
    // within a tolerance of a few units of the dtype's precision.
    let half = crate::golden::half_dtype();
    let (out_rtol, out_atol) = crate::golden::half_tolerance(&case.name, half, rtol, atol);
    let (rtol, atol) = crate::golden::half_floor(half, rtol, atol);
    if let Some(name) = grads.keys().find(|n| !inputs.contains_key(*n)) {
        return Err(format!("grad for {name:?}, which is no input"));
    }
    let mut leaves = BTreeMap::new();
    for (input, t) in &inputs {
        leaves.insert(
            input.as_str(),
            tensor_of(t, device, grads.contains_key(input))?,
        );
    }
    let loss = registry::loss(&name, &options).map_err(|e| e.to_string())?;
    let mut named = Inputs::new(leaves.iter().map(|(k, v)| (*k, v.clone())));
    let (result, extras) = loss
        .forward_outputs(&mut named)
        .map_err(|e| e.to_string())?;
    named
        .finish(
            registry::loss_names()
                .find(|n| *n == name)
                .unwrap_or("loss"),
        )
        .map_err(|e| e.to_string())?;
    if let Some(dtype) = half {
        let got = match &result {
            AnyTensor::F1(t) => t.dtype(),
            AnyTensor::F2(t) => t.dtype(),
            AnyTensor::F3(t) => t.dtype(),
            AnyTensor::F4(t) => t.dtype(),
            _ => return Err("an integer output".into()),
        };
        if got != dtype {
            return Err(format!("output dtype {got:?} for {dtype:?} inputs"));
        }
    }
    compare("output", read(&result)?, &output, out_rtol, out_atol)?;
    compare_extras(case, &extras, rtol, atol)?;
    if grads.is_empty() {
        return Ok(());
    }
    let gradients = sum(&result)?.backward();
    for (input, expected) in &grads {
        let Some(g) = grad(&leaves[input.as_str()], &gradients) else {
            // A weight of no element (a zero-width projection) has no gradient to reach it.
            if expected.data.is_empty() {
                continue;
            }
            return Err(format!("no gradient reached input {input:?}"));
        };
        compare(&format!("grad[{input}]"), read(&g)?, expected, rtol, atol)?;
    }
    Ok(())
}
