//! Reading the golden cases (format: `../shared/golden/README.md`) and comparing results.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
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

/// A tensor of the rank the file gives, created on a device.
#[derive(Clone, Debug)]
pub enum Dyn {
    F1(Tensor<1>),
    F2(Tensor<2>),
    F3(Tensor<3>),
    F4(Tensor<4>),
    I1(Tensor<1, Int>),
    I2(Tensor<2, Int>),
    I3(Tensor<3, Int>),
}

impl Dyn {
    pub fn new(t: &GoldenTensor, device: &Device, require_grad: bool) -> Result<Dyn, String> {
        let shape = if t.shape.is_empty() {
            vec![1]
        } else {
            t.shape.clone()
        };
        if t.dtype == "int" {
            let values: Vec<i64> = t.data.iter().map(|v| *v as i64).collect();
            let data = TensorData::new(values, shape.clone());
            return Ok(match shape.len() {
                1 => Dyn::I1(Tensor::from_data(data, device)),
                2 => Dyn::I2(Tensor::from_data(data, device)),
                3 => Dyn::I3(Tensor::from_data(data, device)),
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
            if grad { t.require_grad() } else { t }
        }
        Ok(match shape.len() {
            1 => Dyn::F1(leaf(data, device, require_grad)),
            2 => Dyn::F2(leaf(data, device, require_grad)),
            3 => Dyn::F3(leaf(data, device, require_grad)),
            4 => Dyn::F4(leaf(data, device, require_grad)),
            r => return Err(format!("float tensors of rank {r} are not supported")),
        })
    }

    pub fn rank(&self) -> usize {
        match self {
            Dyn::F1(_) | Dyn::I1(_) => 1,
            Dyn::F2(_) | Dyn::I2(_) => 2,
            Dyn::F3(_) | Dyn::I3(_) => 3,
            Dyn::F4(_) => 4,
        }
    }

    /// Values and shape, read back to the host.
    pub fn read(&self) -> (Vec<f64>, Vec<usize>) {
        fn read<const D: usize>(t: &Tensor<D>) -> (Vec<f64>, Vec<usize>) {
            let data = t.to_data();
            (data.iter::<f64>().collect(), data.shape().to_vec())
        }
        match self {
            Dyn::F1(t) => read(t),
            Dyn::F2(t) => read(t),
            Dyn::F3(t) => read(t),
            Dyn::F4(t) => read(t),
            _ => panic!("read() of an int tensor"),
        }
    }

    /// `Σ self`, for the backward pass.
    pub fn sum(&self) -> Tensor<1> {
        match self {
            Dyn::F1(t) => t.clone().sum(),
            Dyn::F2(t) => t.clone().sum(),
            Dyn::F3(t) => t.clone().sum(),
            Dyn::F4(t) => t.clone().sum(),
            _ => panic!("sum() of an int tensor"),
        }
    }

    /// The gradient of this leaf in `grads`.
    pub fn grad(&self, grads: &burn::tensor::Gradients) -> Option<Dyn> {
        Some(match self {
            Dyn::F1(t) => Dyn::F1(t.grad(grads)?),
            Dyn::F2(t) => Dyn::F2(t.grad(grads)?),
            Dyn::F3(t) => Dyn::F3(t.grad(grads)?),
            Dyn::F4(t) => Dyn::F4(t.grad(grads)?),
            _ => return None,
        })
    }
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

/// The options of a case; every key must be read, so an unknown option fails the case.
pub struct Options {
    pub owner: String,
    pub map: BTreeMap<String, Value>,
    pub read: BTreeSet<String>,
}

impl Options {
    pub fn new(owner: &str, map: BTreeMap<String, Value>) -> Self {
        Self {
            owner: owner.to_string(),
            map,
            read: BTreeSet::new(),
        }
    }
    /// A string option.
    pub fn str(&mut self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| format!("option {key} = {v} is not a string")),
        }
    }
    /// A non-negative integer option.
    pub fn u64(&mut self, key: &str, default: u64) -> Result<u64, String> {
        let v = self.i64(key, default as i64)?;
        u64::try_from(v).map_err(|_| format!("option {key} = {v} is negative"))
    }
    /// Marks PyTorch keyword arguments that select an implementation, not a result
    /// (`foreach`, `fused`, `capturable`, `differentiable`), as read.
    pub fn implementation_flags(&mut self) -> Result<(), String> {
        for key in ["foreach", "fused", "capturable", "differentiable"] {
            if let Some(v) = self.get(key)
                && !v.is_boolean()
            {
                return Err(format!("option {key} = {v} is not a bool"));
            }
        }
        Ok(())
    }

    pub fn get(&mut self, key: &str) -> Option<&Value> {
        self.read.insert(key.to_string());
        self.map.get(key).filter(|v| !v.is_null())
    }
    pub fn f64(&mut self, key: &str, default: f64) -> Result<f64, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| format!("option {key} = {v} is not a number")),
        }
    }
    pub fn bool(&mut self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("option {key} = {v} is not a bool")),
        }
    }
    pub fn i64(&mut self, key: &str, default: i64) -> Result<i64, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .ok_or_else(|| format!("option {key} = {v} is not an integer")),
        }
    }
    pub fn vec(&mut self, key: &str) -> Result<Option<Vec<f64>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_f64().ok_or_else(|| format!("option {key} holds {v}")))
                .collect::<Result<_, _>>()
                .map(Some),
            Some(v) => v
                .as_f64()
                .map(|x| Some(vec![x]))
                .ok_or_else(|| format!("option {key} = {v} is not a list of numbers")),
        }
    }
    pub fn reduction(&mut self) -> Result<descent::losses::Reduction, String> {
        let name = match self.get("reduction") {
            None => "mean".to_string(),
            Some(v) => v.as_str().ok_or("reduction is not a string")?.to_string(),
        };
        descent::losses::Reduction::parse("conformance", &name).map_err(|e| e.to_string())
    }
    pub fn finish(&self) -> Result<(), String> {
        let unknown: Vec<_> = self
            .map
            .keys()
            .filter(|k| !self.read.contains(*k))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: unknown option(s) {unknown:?}", self.owner))
        }
    }
}
