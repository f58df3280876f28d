//! Replays `kind: "loss_scaler"` cases: runs a `GradScaler` over real gradients on the device
//! (finite ones, or holding an inf where the case says so) and checks the scale in use at each
//! step and whether the optimizer step was skipped.

use burn::optim::GradientsParams;
use burn::tensor::Device;
use descent::optimizers::*;

use descent::kernel::{OptionError, Options};

use crate::golden::{Case, GoldenTensor};
use crate::optimizers::{Params, tensor_in};

pub fn replay(case: &Case, device: &Device) -> Result<(), String> {
    let known = ["options", "found_inf", "expected_scale", "expected_skipped"];
    if let Some(k) = case.fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown field {k:?}"));
    }
    let options: serde_json::Value = case.field("options")?;
    let e = |e: OptionError| e.to_string();
    let mut o = Options::new("grad_scaler", &options).map_err(e)?;
    let mut config = GradScalerConfig::new();
    o.set("init_scale", &mut config.init_scale).map_err(e)?;
    o.set("growth_factor", &mut config.growth_factor)
        .map_err(e)?;
    o.set("backoff_factor", &mut config.backoff_factor)
        .map_err(e)?;
    o.set("growth_interval", &mut config.growth_interval)
        .map_err(e)?;
    o.set("enabled", &mut config.enabled).map_err(e)?;
    o.finish().map_err(e)?;
    let enabled = config.enabled;
    let mut scaler = config.try_init().map_err(|e| e.to_string())?;
    let found_inf: Vec<bool> = case.field("found_inf")?;
    let scales: Vec<f64> = case.field("expected_scale")?;
    let skipped: Vec<bool> = case.field("expected_skipped")?;
    if scales.len() != found_inf.len() || skipped.len() != found_inf.len() {
        return Err("found_inf, expected_scale and expected_skipped differ in length".into());
    }
    let start = GoldenTensor {
        shape: vec![2],
        data: vec![1.0, -1.0],
        dtype: "float".into(),
    };
    // In f32 whatever `DESCENT_DTYPE` says: a loss scaler's gradients are what overflows in
    // f16 (as mixed precision keeps them, in f32 master copies, they do not here).
    let mut module = Params::new_in(std::slice::from_ref(&start), device, None)?;
    let mut optim = SgdConfig::new().init();
    for (t, inf) in found_inf.iter().enumerate() {
        if scaler.scale() != scales[t] {
            return Err(format!(
                "step {t}: scale {}, expected {}",
                scaler.scale(),
                scales[t]
            ));
        }
        // A gradient of 0.5 per element, scaled as backward() of a scaled loss gives it. A
        // disabled scaler checks nothing (PyTorch steps regardless); its cases are replayed
        // with finite gradients, since an optimizer here stops on a non-finite one.
        let g = if *inf && enabled {
            vec![f64::INFINITY, 0.5]
        } else {
            vec![0.5, 0.5]
        };
        let scaled: Vec<f64> = g.iter().map(|v| v * scaler.scale()).collect();
        let mut grads = GradientsParams::new();
        grads.register(
            module.p1[0].id,
            tensor_in(&scaled, &device.clone().inner(), None),
        );
        let before = module.flat().into_data().iter::<f64>().collect::<Vec<_>>();
        let unscaled = scaler.unscale(&module, grads);
        let (next, stepped) = scaler.step(&mut optim, 0.1, module, unscaled);
        module = next;
        let after = module.flat().into_data().iter::<f64>().collect::<Vec<_>>();
        if stepped == skipped[t] {
            return Err(format!(
                "step {t}: skipped = {}, expected {}",
                !stepped, skipped[t]
            ));
        }
        let moved = (after[0] - before[0]).abs();
        let expected_move = if stepped { 0.05 } else { 0.0 };
        let tolerance = 1e-6;
        if (moved - expected_move).abs() > tolerance {
            return Err(format!(
                "step {t}: parameter moved {moved}, expected {expected_move}"
            ));
        }
    }
    Ok(())
}
