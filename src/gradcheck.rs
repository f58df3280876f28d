//! Gradient checking: the gradient Burn's autodiff computes for a function, against central
//! finite differences (`torch.autograd.gradcheck`'s question, for one input). Run it on your own
//! losses and custom backward operations; descent's tests run it on descent's.

use std::fmt;

use burn::tensor::{Tensor, TensorData};

/// Tolerances and step of [`gradcheck`]. The defaults suit `f32` on a function of order-1
/// values; for `f64` inputs use `eps = 1e-6`, `atol = 1e-5`, `rtol = 1e-3` (PyTorch's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheck {
    /// The finite-difference step `h` (default 1e-2 for `f32`: the truncation error `O(h²)`
    /// against the rounding error `O(ε_f32 / h)`).
    pub eps: f64,
    /// Absolute tolerance (default 1e-3).
    pub atol: f64,
    /// Relative tolerance (default 1e-2).
    pub rtol: f64,
}

impl Default for GradCheck {
    fn default() -> Self {
        Self {
            eps: 1e-2,
            atol: 1e-3,
            rtol: 1e-2,
        }
    }
}

/// What [`gradcheck`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckReport {
    /// The autodiff gradient of `⟨v, f(x)⟩`, flattened.
    pub analytical: Vec<f64>,
    /// Its central-difference estimate, flattened.
    pub numerical: Vec<f64>,
    /// The largest `|analytical − numerical|`.
    pub max_abs_error: f64,
}

/// A gradient that disagrees with its finite differences.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckError {
    /// The first input element (flat index) out of tolerance.
    pub index: usize,
    /// The autodiff value there.
    pub analytical: f64,
    /// The finite-difference value there.
    pub numerical: f64,
    /// The tolerances used.
    pub check: GradCheck,
    /// Everything measured.
    pub report: GradCheckReport,
}

impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck: the gradient at input element {} is {} by autodiff and {} by central \
             differences (h = {}), beyond atol {} + rtol {} · |numerical|",
            self.index,
            self.analytical,
            self.numerical,
            self.check.eps,
            self.check.atol,
            self.check.rtol
        )
    }
}

impl std::error::Error for GradCheckError {}

/// Checks the gradient of `f` at `x` (on an autodiff device): with a fixed pseudo-random
/// cotangent `v` of `f(x)`'s shape (so that every output takes part), the autodiff gradient
/// `∇ₓ⟨v, f(x)⟩` against the central differences
///
/// ```text
/// (⟨v, f(x + h eᵢ)⟩ − ⟨v, f(x − h eᵢ)⟩) / 2h        for every element i of x
/// ```
///
/// passing where `|analytical − numerical| ≤ atol + rtol · |numerical|` for every i. Costs one
/// backward pass and `2 · numel(x)` evaluations of `f`: check on small inputs. A function with
/// a kink (ReLU at 0, a hinge at its margin) fails near the kink, as it should.
pub fn gradcheck<const D: usize, const K: usize>(
    f: impl Fn(Tensor<D>) -> Tensor<K>,
    x: Tensor<D>,
    check: GradCheck,
) -> Result<GradCheckReport, GradCheckError> {
    let device = x.device();
    let dims = x.dims();
    let dtype = x.dtype();
    let base: Vec<f64> = x.to_data().convert::<f64>().iter::<f64>().collect();
    let input = |values: &[f64]| {
        Tensor::<D>::from_data(TensorData::new(values.to_vec(), dims), &device).cast(dtype)
    };
    let out_dims = f(input(&base)).dims();
    let n_out: usize = out_dims.iter().product();
    // A fixed cotangent in [0.5, 1.5) with alternating signs: no output cancels another.
    let v: Vec<f64> = (0..n_out)
        .map(|i| {
            let u =
                ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f64 / (1u64 << 24) as f64;
            (0.5 + u) * if i % 2 == 0 { 1.0 } else { -1.0 }
        })
        .collect();
    let cotangent =
        Tensor::<K>::from_data(TensorData::new(v.clone(), out_dims), &device).cast(dtype);
    let project = |y: Tensor<K>| (y * cotangent.clone()).sum();

    let leaf = input(&base).require_grad();
    let grads = project(f(leaf.clone())).backward();
    let analytical: Vec<f64> = match leaf.grad(&grads) {
        Some(g) => g.to_data().convert::<f64>().iter::<f64>().collect(),
        None => vec![0.0; base.len()],
    };
    let value = |values: &[f64]| project(f(input(values))).into_scalar::<f64>();
    let mut numerical = Vec::with_capacity(base.len());
    let mut shifted = base.clone();
    for i in 0..base.len() {
        shifted[i] = base[i] + check.eps;
        let up = value(&shifted);
        shifted[i] = base[i] - check.eps;
        let down = value(&shifted);
        shifted[i] = base[i];
        numerical.push((up - down) / (2.0 * check.eps));
    }
    let max_abs_error = analytical
        .iter()
        .zip(&numerical)
        .map(|(a, n)| (a - n).abs())
        .fold(0.0, f64::max);
    let report = GradCheckReport {
        analytical,
        numerical,
        max_abs_error,
    };
    let bad = report
        .analytical
        .iter()
        .zip(&report.numerical)
        .position(|(a, n)| {
            let within = (a - n).abs() <= check.atol + check.rtol * n.abs();
            !within
        });
    match bad {
        None => Ok(report),
        Some(index) => Err(GradCheckError {
            index,
            analytical: report.analytical[index],
            numerical: report.numerical[index],
            check,
            report,
        }),
    }
}
