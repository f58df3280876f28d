//! Reading the golden cases (format: `../shared/golden/README.md`) and comparing results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use descent::losses::registry::AnyTensor;
use serde::Deserialize;
use serde_json::Value;

/// A tensor as the golden files write it.
#[derive(Debug, Clone, Deserialize)]
pub struct GoldenTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
    #[serde(default = "float_dtype")]
    pub dtype: String,
}

fn float_dtype() -> String {
    "float".into()
}

/// One case of any kind; the fields of each kind are read by its replayer.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub kind: String,
    pub name: String,
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
}

impl Case {
    pub fn field<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, String> {
        let value = self
            .fields
            .get(key)
            .ok_or_else(|| format!("missing field {key:?}"))?;
        serde_json::from_value(value.clone()).map_err(|e| format!("field {key:?}: {e}"))
    }

    pub fn optional<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, String> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.field(key).map(Some),
        }
    }
}

/// The project's copies (`tests/golden/*.json`) and every `*.json` under `$DESCENT_GOLDEN_DIR`.
pub fn case_files() -> Vec<PathBuf> {
    let mut files = json_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden"));
    if let Ok(dir) = std::env::var("DESCENT_GOLDEN_DIR") {
        let extra = json_files(Path::new(&dir));
        assert!(
            !extra.is_empty(),
            "DESCENT_GOLDEN_DIR={dir} holds no *.json case file"
        );
        files.extend(extra);
    }
    files
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read case directory {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

pub fn load(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a case array: {e}", path.display()))
}

/// A golden tensor on `device` as the rank it has (a scalar as `[1]`), a leaf that requires
/// its gradient when asked.
pub fn tensor_of(
    t: &GoldenTensor,
    device: &Device,
    require_grad: bool,
) -> Result<AnyTensor, String> {
    let shape = if t.shape.is_empty() {
        vec![1]
    } else {
        t.shape.clone()
    };
    if t.dtype == "int" {
        let values: Vec<i64> = t.data.iter().map(|v| *v as i64).collect();
        let data = TensorData::new(values, shape.clone());
        return Ok(match shape.len() {
            1 => AnyTensor::I1(Tensor::from_data(data, device)),
            2 => AnyTensor::I2(Tensor::from_data(data, device)),
            3 => AnyTensor::I3(Tensor::from_data(data, device)),
            r => return Err(format!("int tensors of rank {r} are not supported")),
        });
    }
    if t.dtype != "float" {
        return Err(format!("unknown dtype {:?}", t.dtype));
    }
    let values: Vec<f32> = t.data.iter().map(|v| *v as f32).collect();
    let data = TensorData::new(values, shape.clone());
    fn leaf<const D: usize>(data: TensorData, device: &Device, grad: bool) -> Tensor<D> {
        let t = Tensor::<D>::from_data(data, device);
        let t = match half_dtype() {
            Some(dtype) => t.cast(dtype),
            None => t,
        };
        if grad { t.require_grad() } else { t }
    }
    Ok(match shape.len() {
        1 => AnyTensor::F1(leaf(data, device, require_grad)),
        2 => AnyTensor::F2(leaf(data, device, require_grad)),
        3 => AnyTensor::F3(leaf(data, device, require_grad)),
        4 => AnyTensor::F4(leaf(data, device, require_grad)),
        r => return Err(format!("float tensors of rank {r} are not supported")),
    })
}

/// Values and shape of a float tensor, read back to the host.
pub fn read(t: &AnyTensor) -> Result<(Vec<f64>, Vec<usize>), String> {
    fn read<const D: usize>(t: &Tensor<D>) -> (Vec<f64>, Vec<usize>) {
        let data = t.to_data();
        (data.iter::<f64>().collect(), data.shape().to_vec())
    }
    Ok(match t {
        AnyTensor::F1(t) => read(t),
        AnyTensor::F2(t) => read(t),
        AnyTensor::F3(t) => read(t),
        AnyTensor::F4(t) => read(t),
        _ => return Err("an integer tensor where a float one was expected".into()),
    })
}

/// `Σ t`, for the backward pass.
pub fn sum(t: &AnyTensor) -> Result<Tensor<1>, String> {
    Ok(match t {
        AnyTensor::F1(t) => t.clone().sum(),
        AnyTensor::F2(t) => t.clone().sum(),
        AnyTensor::F3(t) => t.clone().sum(),
        AnyTensor::F4(t) => t.clone().sum(),
        _ => return Err("an integer output".into()),
    })
}

/// The gradient of the leaf `t` in `grads`.
pub fn grad(t: &AnyTensor, grads: &burn::tensor::Gradients) -> Option<AnyTensor> {
    Some(match t {
        AnyTensor::F1(t) => AnyTensor::F1(t.grad(grads)?),
        AnyTensor::F2(t) => AnyTensor::F2(t.grad(grads)?),
        AnyTensor::F3(t) => AnyTensor::F3(t.grad(grads)?),
        AnyTensor::F4(t) => AnyTensor::F4(t.grad(grads)?),
        _ => return None,
    })
}

/// `|actual - expected| <= atol + rtol·|expected|`, written so that a NaN on either side
/// fails and equal infinities pass.
pub fn close(actual: f64, expected: f64, rtol: f64, atol: f64) -> bool {
    actual == expected || (actual - expected).abs() <= atol + rtol * expected.abs()
}

/// `|actual - expected| <= atol + rtol·|expected|` element-wise, shapes equal (`[]` ≡ `[1]`).
pub fn compare(
    what: &str,
    actual: (Vec<f64>, Vec<usize>),
    expected: &GoldenTensor,
    rtol: f64,
    atol: f64,
) -> Result<(), String> {
    let (values, shape) = actual;
    let expected_shape = if expected.shape.is_empty() {
        vec![1]
    } else {
        expected.shape.clone()
    };
    if shape != expected_shape {
        return Err(format!(
            "{what}: shape {shape:?}, expected {:?}",
            expected.shape
        ));
    }
    for (i, (a, e)) in values.iter().zip(&expected.data).enumerate() {
        if !close(*a, *e, rtol, atol) {
            return Err(format!(
                "{what}[{i}] = {a}, expected {e} (rtol {rtol}, atol {atol})"
            ));
        }
    }
    Ok(())
}

/// The half dtype the loss and optimizer cases' float inputs (and parameters and gradients)
/// are cast to (`DESCENT_DTYPE=f16` or `bf16`), if any (see [`half_tolerance`]).
pub fn half_dtype() -> Option<burn::tensor::DType> {
    match std::env::var("DESCENT_DTYPE")
        .ok()?
        .to_ascii_lowercase()
        .as_str()
    {
        "f16" => Some(burn::tensor::DType::F16),
        "bf16" => Some(burn::tensor::DType::BF16),
        "f32" | "" => None,
        other => panic!("DESCENT_DTYPE: expected f16, bf16 or f32, got {other:?}"),
    }
}

/// The tolerance of case `name` replayed in `half` precision: 4× PyTorch's own largest
/// relative error on the case in that dtype (tests/half/tolerances.json, written by
/// tests/half/generate.py) plus one unit of the dtype (2⁻¹⁰ for f16, 2⁻⁷ for bf16), where
/// PyTorch computes the case in half precision; otherwise the case's own tolerance widened to
/// 10⁻² (f16) or 5·10⁻² (bf16). In f32 (`half` is `None`), the case's own.
pub fn half_tolerance(
    name: &str,
    half: Option<burn::tensor::DType>,
    rtol: f64,
    atol: f64,
) -> (f64, f64) {
    let Some(dtype) = half else {
        return (rtol, atol);
    };
    static TABLE: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/half/tolerances.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    });
    let (key, unit) = match dtype {
        burn::tensor::DType::BF16 => ("bf16", 2f64.powi(-7)),
        _ => ("f16", 2f64.powi(-10)),
    };
    match table
        .get(name)
        .and_then(|c| c.get(key)?.get("rel")?.as_f64())
    {
        Some(rel) => (4.0 * rel + unit, 4.0 * rel + unit),
        None => half_floor(half, rtol, atol),
    }
}

/// A case's own tolerance widened to 10⁻² in f16 and 5·10⁻² in bf16 (as it is when `half` is
/// `None`): what a case PyTorch cannot run in half precision is held to.
pub fn half_floor(half: Option<burn::tensor::DType>, rtol: f64, atol: f64) -> (f64, f64) {
    let floor = match half {
        None => return (rtol, atol),
        Some(burn::tensor::DType::BF16) => 5e-2,
        Some(_) => 1e-2,
    };
    (rtol.max(floor), atol.max(floor))
}
