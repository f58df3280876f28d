//! Replays `kind: "loss"` cases: builds the loss by name from its options (the library's
//! registry), runs it on the device with the case's inputs, and compares the output and the
//! gradient of `sum(output)` with the references.

use std::collections::BTreeMap;

use burn::tensor::Device;
use descent::losses::registry::{self, Inputs};
use serde_json::Value;

use crate::golden::{Case, GoldenTensor, compare, grad, read, sum, tensor_of};

/// Replays one loss case on `device` (an autodiff device).
pub fn replay(case: &Case, device: &Device) -> Result<(), String> {
    for key in case.fields.keys() {
        if ![
            "loss", "options", "inputs", "output", "grad", "rtol", "atol",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("unknown case field {key:?}"));
        }
    }
    let name: String = case.field("loss")?;
    let options: Value = case.optional("options")?.unwrap_or(Value::Null);
    let inputs: BTreeMap<String, GoldenTensor> = case.field("inputs")?;
    let output: GoldenTensor = case.field("output")?;
    let grads: BTreeMap<String, GoldenTensor> = case.optional("grad")?.unwrap_or_default();
    let rtol: f64 = case.field("rtol")?;
    let atol: f64 = case.field("atol")?;
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
    let result = loss.forward(&mut named).map_err(|e| e.to_string())?;
    named
        .finish(
            registry::loss_names()
                .find(|n| *n == name)
                .unwrap_or("loss"),
        )
        .map_err(|e| e.to_string())?;
    compare("output", read(&result)?, &output, rtol, atol)?;
    if grads.is_empty() {
        return Ok(());
    }
    let gradients = sum(&result)?.backward();
    for (input, expected) in &grads {
        let g = grad(&leaves[input.as_str()], &gradients)
            .ok_or_else(|| format!("no gradient reached input {input:?}"))?;
        compare(&format!("grad[{input}]"), read(&g)?, expected, rtol, atol)?;
    }
    Ok(())
}
