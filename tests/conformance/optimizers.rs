//! Replays `kind: "optimizer"` cases: builds the optimizer from its PyTorch options, feeds it
//! the case's gradients (or those of its objective, by autodiff) through Burn's
//! `ModuleOptimizer`, clipping first when asked, and compares the parameters after each step.

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use descent::optimizers::registry;
use descent::optimizers::*;
use serde::Deserialize;
use serde_json::Value;

use descent::kernel::{OptionError, Options};

use crate::golden::{Case, GoldenTensor, compare};

/// The parameters of a case in their shapes (a scalar as one element), in the case's order.
#[derive(Module, Debug)]
pub struct Params {
    pub p1: Vec<Param<Tensor<1>>>,
    pub p2: Vec<Param<Tensor<2>>>,
    pub p3: Vec<Param<Tensor<3>>>,
    pub p4: Vec<Param<Tensor<4>>>,
    /// `(rank, index)` of each parameter of the case.
    #[module(skip)]
    pub order: Vec<(usize, usize)>,
}

impl Params {
    /// The parameters in the replay's dtype (f32, or `DESCENT_DTYPE`'s half).
    pub fn new(tensors: &[GoldenTensor], device: &Device) -> Result<Self, String> {
        Self::new_in(tensors, device, crate::golden::half_dtype())
    }

    /// The parameters in `dtype` (`None`: f32).
    pub fn new_in(
        tensors: &[GoldenTensor],
        device: &Device,
        dtype: Option<burn::tensor::DType>,
    ) -> Result<Self, String> {
        let mut m = Self {
            p1: Vec::new(),
            p2: Vec::new(),
            p3: Vec::new(),
            p4: Vec::new(),
            order: Vec::new(),
        };
        for t in tensors {
            let flat = tensor_in(&t.data, device, dtype);
            let entry = match t.shape[..] {
                [] | [_] => {
                    m.p1.push(Param::from_tensor(flat));
                    (1, m.p1.len() - 1)
                }
                [a, b] => {
                    m.p2.push(Param::from_tensor(flat.reshape([a, b])));
                    (2, m.p2.len() - 1)
                }
                [a, b, c] => {
                    m.p3.push(Param::from_tensor(flat.reshape([a, b, c])));
                    (3, m.p3.len() - 1)
                }
                [a, b, c, d] => {
                    m.p4.push(Param::from_tensor(flat.reshape([a, b, c, d])));
                    (4, m.p4.len() - 1)
                }
                ref s => return Err(format!("parameter of rank {} (at most 4)", s.len())),
            };
            m.order.push(entry);
        }
        Ok(m)
    }

    /// Each parameter flattened, in the case's order.
    pub fn flats(&self) -> Vec<Tensor<1>> {
        self.order
            .iter()
            .map(|&(rank, i)| match rank {
                1 => self.p1[i].val(),
                2 => self.p2[i].val().flatten(0, 1),
                3 => self.p3[i].val().flatten(0, 2),
                _ => self.p4[i].val().flatten(0, 3),
            })
            .collect()
    }

    /// All parameters concatenated.
    pub fn flat(&self) -> Tensor<1> {
        Tensor::cat(self.flats(), 0)
    }

    /// `values[k]` registered as the gradient of the k-th parameter, in its shape.
    pub fn grads(
        &self,
        values: &[GoldenTensor],
        device: &Device,
    ) -> Result<GradientsParams, String> {
        if values.len() != self.order.len() {
            return Err(format!(
                "{} grads for {} parameters",
                values.len(),
                self.order.len()
            ));
        }
        let mut g = GradientsParams::new();
        for (&(rank, i), v) in self.order.iter().zip(values) {
            let flat = tensor(&v.data, device);
            match rank {
                1 => g.register(self.p1[i].id, flat),
                2 => g.register(self.p2[i].id, flat.reshape(self.p2[i].val().dims())),
                3 => g.register(self.p3[i].id, flat.reshape(self.p3[i].val().dims())),
                _ => g.register(self.p4[i].id, flat.reshape(self.p4[i].val().dims())),
            }
        }
        Ok(g)
    }
}

/// `values` as a tensor on `device`, in the replay's dtype (f32, or `DESCENT_DTYPE`'s half).
pub fn tensor(values: &[f64], device: &Device) -> Tensor<1> {
    tensor_in(values, device, crate::golden::half_dtype())
}

/// `values` as a tensor on `device` in `dtype` (`None`: f32).
pub fn tensor_in(values: &[f64], device: &Device, dtype: Option<burn::tensor::DType>) -> Tensor<1> {
    let values: Vec<f32> = values.iter().map(|v| *v as f32).collect();
    let n = values.len();
    let t: Tensor<1> = Tensor::from_data(TensorData::new(values, [n]), device);
    match dtype {
        Some(dtype) => t.cast(dtype),
        None => t,
    }
}

/// The objective of a case: `f(x)` over all parameters concatenated.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum Objective {
    /// `½ Σ aᵢ xᵢ²`.
    Quadratic { diag: Vec<f64> },
    /// `Σ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²`.
    Rosenbrock,
}

impl Objective {
    /// `f(x)`, computed in f32 whatever `x`'s dtype (half-precision parameters, an f32 loss:
    /// mixed precision).
    pub fn value(&self, x: Tensor<1>) -> Result<Tensor<1>, String> {
        let x = descent::kernel::as_dtype(x, burn::tensor::DType::F32);
        let n = x.dims()[0];
        Ok(match self {
            Objective::Quadratic { diag } => {
                if diag.len() != n {
                    return Err(format!(
                        "quadratic: {} diagonal entries, {n} parameters",
                        diag.len()
                    ));
                }
                (tensor_in(diag, &x.device(), None) * x.square())
                    .sum()
                    .mul_scalar(0.5)
            }
            Objective::Rosenbrock => {
                if n < 2 {
                    return Err("rosenbrock needs at least 2 parameters".into());
                }
                let head = x.clone().slice(0..n - 1);
                let tail = x.slice(1..n);
                let a = (tail - head.clone().square()).square().mul_scalar(100.0);
                let b = head.neg().add_scalar(1.0).square();
                (a + b).sum()
            }
        })
    }

    /// The loss and the gradients at `module`'s parameters.
    pub fn eval(&self, module: &Params) -> Result<(f64, GradientsParams), String> {
        let loss = self.value(module.flat())?;
        let value = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), module);
        Ok((value, grads))
    }
}

/// `clip`: `{"max_norm", "norm_type"}` or `{"clip_value"}`.
fn clip(
    spec: &BTreeMap<String, Value>,
    module: &Params,
    grads: &mut GradientsParams,
) -> Result<(), String> {
    let spec = Value::Object(spec.clone().into_iter().collect());
    let mut o = Options::new("clip", &spec).map_err(|e| e.to_string())?;
    let e = |e: OptionError| e.to_string();
    // Implementation switches of torch.nn.utils.clip_grad_*: they do not change the numbers
    // of a finite case.
    o.optional::<bool>("foreach").map_err(e)?;
    o.optional::<bool>("error_if_nonfinite").map_err(e)?;
    if let Some(v) = o.optional::<f64>("clip_value").map_err(e)? {
        clip_grad_value(module, grads, v);
    } else {
        let max_norm: f64 = o.required("max_norm").map_err(e)?;
        let norm_type = match o.get("norm_type").cloned() {
            None => NormType::L2,
            Some(Value::String(s)) if s == "inf" => NormType::Inf,
            Some(v) => NormType::P(
                v.as_f64()
                    .ok_or_else(|| format!("norm_type {v} is not a number or \"inf\""))?,
            ),
        };
        clip_grad_norm(module, grads, max_norm, norm_type);
    }
    o.finish().map_err(e)
}

pub fn check_step(
    case: &Case,
    what: &str,
    module: &Params,
    expected: &[GoldenTensor],
) -> Result<(), String> {
    let flats = module.flats();
    if expected.len() != flats.len() {
        return Err(format!(
            "{what}: {} expected tensors for {} parameters",
            expected.len(),
            flats.len()
        ));
    }
    let half = crate::golden::half_dtype();
    let (rtol, atol) =
        crate::golden::half_tolerance(&case.name, half, case.field("rtol")?, case.field("atol")?);
    for (i, (p, e)) in flats.into_iter().zip(expected).enumerate() {
        if let Some(dtype) = half
            && p.dtype() != dtype
        {
            return Err(format!(
                "{what} param {i}: dtype {:?} for {dtype:?} parameters",
                p.dtype()
            ));
        }
        let data = p.to_data();
        let values: Vec<f64> = data.iter::<f64>().collect();
        let shape = if e.shape.is_empty() {
            vec![1]
        } else {
            e.shape.clone()
        };
        compare(&format!("{what} param {i}"), (values, shape), e, rtol, atol)?;
    }
    Ok(())
}

pub fn replay(case: &Case, device: &Device) -> Result<(), String> {
    let known = [
        "optimizer",
        "options",
        "params",
        "grads",
        "clip",
        "objective",
        "expected",
        "expected_average",
        "expected_eval",
        "rtol",
        "atol",
    ];
    if let Some(k) = case.fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown field {k:?}"));
    }
    let name: String = case.field("optimizer")?;
    let options: Value = case.optional("options")?.unwrap_or(Value::Null);
    let params: Vec<GoldenTensor> = case.field("params")?;
    let expected: Vec<Vec<GoldenTensor>> = case.field("expected")?;
    let grads: Option<Vec<Vec<GoldenTensor>>> = case.optional("grads")?;
    let objective: Option<Objective> = case.optional("objective")?;
    let clip_spec: Option<BTreeMap<String, Value>> = case.optional("clip")?;
    let mut module = Params::new(&params, device)?;
    let averages: Option<Vec<Vec<GoldenTensor>>> = case.optional("expected_average")?;
    let evals: Option<Vec<Vec<GoldenTensor>>> = case.optional("expected_eval")?;
    if evals.is_some() != name.ends_with("_schedule_free") {
        return Err("expected_eval belongs to schedule-free cases (and they need it)".into());
    }
    if averages.is_some() != (name == "asgd") {
        return Err("expected_average belongs to asgd cases (and they need it)".into());
    }

    if name == "lbfgs" {
        let (mut lbfgs, lr) = registry::lbfgs(&options).map_err(|e| e.to_string())?;
        let objective = objective.ok_or("lbfgs cases need an objective")?;
        if grads.is_some() || clip_spec.is_some() {
            return Err("lbfgs cases take an objective, not grads or clip".into());
        }
        for (t, exp) in expected.iter().enumerate() {
            let mut failure = None;
            let (next, _) = lbfgs.step(lr, module, |m: Params| match objective.eval(&m) {
                Ok(r) => r,
                Err(e) => {
                    failure = Some(e);
                    (f64::NAN, GradientsParams::new())
                }
            });
            if let Some(e) = failure {
                return Err(e);
            }
            module = next;
            check_step(case, &format!("step {t}"), &module, exp)?;
        }
        return Ok(());
    }

    if name == "prodigy" {
        let (mut prodigy, lr) = registry::prodigy(&options).map_err(|e| e.to_string())?;
        let grads = grads.ok_or("prodigy cases take grads")?;
        if objective.is_some() || clip_spec.is_some() {
            return Err("prodigy cases take grads, not an objective or clip".into());
        }
        for (t, exp) in expected.iter().enumerate() {
            let step = grads
                .get(t)
                .ok_or_else(|| format!("no grads for step {t}"))?;
            let g = module
                .grads(step, &device.clone().inner())
                .map_err(|e| format!("step {t}: {e}"))?;
            module = prodigy.step(lr, module, g);
            check_step(case, &format!("step {t}"), &module, exp)?;
        }
        return Ok(());
    }

    let registry::Configured {
        optimizer: mut optim,
        lr,
    } = registry::optimizer(&name, &options).map_err(|e| e.to_string())?;
    for (t, exp) in expected.iter().enumerate() {
        let mut g = match (&grads, &objective) {
            (Some(grads), None) => {
                let step = grads
                    .get(t)
                    .ok_or_else(|| format!("no grads for step {t}"))?;
                module
                    .grads(step, &device.clone().inner())
                    .map_err(|e| format!("step {t}: {e}"))?
            }
            (None, Some(objective)) => objective.eval(&module)?.1,
            _ => return Err("a case needs exactly one of grads and objective".into()),
        };
        if let Some(spec) = &clip_spec {
            clip(spec, &module, &mut g)?;
        }
        module = optim.step(lr, module, g);
        check_step(case, &format!("step {t}"), &module, exp)?;
        if let Some(averages) = &averages {
            let expected = averages
                .get(t)
                .ok_or_else(|| format!("no expected_average for step {t}"))?;
            let averaged = asgd_average(&optim, module.clone());
            check_step(
                case,
                &format!("average after step {t}"),
                &averaged,
                expected,
            )?;
        }
    }
    Ok(())
}
