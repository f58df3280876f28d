//! Fused softmax cross-entropy over class indices: one parallel pass over the rows of `[N, C]`
//! logits computes the loss, `∂L/∂x` and the input checks (see [`super`]).

use burn::tensor::{Int, Tensor};
use rayon::prelude::*;

use super::expf::{avx2_fma, exp};
use super::{attach, eligible, scale, with_grad};
use crate::Reduction;
use crate::checks::value_checks;

/// Rows per parallel task.
const ROWS: usize = 16;

/// Cross-entropy of `input` `[N, C]` against class indices `target` `[N]`, with
/// `ignore_index` and label smoothing `ε`, no class weights:
///
/// ```text
/// lse_i = log Σ_c exp(x_ic),  ℓ_i = (1 - ε)(lse_i - x_{i,y_i}) + ε(lse_i - Σ_c x_ic / C)
/// ∂ℓ_i/∂x_ic = softmax(x_i)_c - (1 - ε)[c = y_i] - ε/C
/// ```
///
/// The mean divides by the number of targets that are not `ignore_index`. `None` sends the
/// call to the generic path: not eligible, a class index out of range, NaN/inf logits, a
/// mean over no target, or a non-finite result.
pub(crate) fn cross_entropy<const D: usize, const DT: usize>(
    input: &Tensor<D>,
    target: &Tensor<DT, Int>,
    ignore_index: i64,
    eps: f64,
    reduction: Reduction,
) -> Option<Tensor<1>> {
    if D != 2 || DT != 1 || !eligible::<D, 1>(input, None) {
        return None;
    }
    let (n, c) = (input.dims()[0], input.dims()[1]);
    if c == 0 || target.dims()[0] != n {
        return None;
    }
    let classes: Vec<i64> = target.to_data().iter::<i64>().collect();
    let counted = classes.iter().filter(|&&t| t != ignore_index).count();
    if classes
        .iter()
        .any(|&t| t != ignore_index && !(0..c as i64).contains(&t))
    {
        return None;
    }
    let scale = scale(reduction, counted)?;
    let tracked = input.is_tracked();
    let xb = descent_cpu::buffer(input.clone());
    let x = descent_cpu::slice(&xb);
    let (s, eps) = (scale as f32, eps as f32);
    let mut g = tracked.then(|| descent_cpu::zeros(&xb));
    let avx2 = avx2_fma();
    let work = |(rows, classes): (&[f32], &[i64]), mut g: Option<&mut [f32]>| -> (f64, f64) {
        let (mut loss, mut check) = (0.0f64, 0.0f64);
        for (i, (&t, xr)) in classes.iter().zip(rows.chunks_exact(c)).enumerate() {
            let gr = g.as_deref_mut().map(|g| &mut g[i * c..(i + 1) * c]);
            if t == ignore_index {
                continue; // zero loss and zero gradient
            }
            let (l, sum_x) = row(xr, t as usize, eps, gr, s, avx2);
            loss += l;
            check += sum_x;
        }
        (loss, check)
    };
    let (loss, check) = with_grad(
        x.par_chunks(ROWS * c).zip(classes.par_chunks(ROWS)),
        g.as_mut().map(descent_cpu::slice_mut),
        ROWS * c,
        work,
        || (0.0, 0.0),
        |a, b| (a.0 + b.0, a.1 + b.1),
    );
    let value = loss * scale;
    if (value_checks() && !check.is_finite()) || !value.is_finite() {
        return None;
    }
    attach(value, input, g)
}

/// One row: returns `(ℓ, Σ_c x_c)` and writes `s · ∂ℓ/∂x` into `g` when given. Runs a copy
/// compiled for AVX2 and FMA where the CPU has them.
fn row(x: &[f32], t: usize, eps: f32, g: Option<&mut [f32]>, s: f32, avx2: bool) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is `expf::avx2_fma()`: the CPU has AVX2 and FMA.
        return unsafe { row_avx2(x, t, eps, g, s) };
    }
    let _ = avx2;
    row_body(x, t, eps, g, s)
}

/// [`row_body`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn row_avx2(x: &[f32], t: usize, eps: f32, g: Option<&mut [f32]>, s: f32) -> (f64, f64) {
    row_body(x, t, eps, g, s)
}

/// The row's softmax in three loops over slices, each of which the compiler vectorises: the
/// max and `Σ x`, the exponentials (into `g` when given) and their sum, and the scaling.
#[inline(always)]
fn row_body(x: &[f32], t: usize, eps: f32, g: Option<&mut [f32]>, s: f32) -> (f64, f64) {
    let c = x.len();
    let (max, sum_x) = max_and_sum(x);
    match g {
        Some(g) => {
            for (g, &x) in g.iter_mut().zip(x) {
                *g = exp(x - max);
            }
            let total = lanes_sum(g, |v| v);
            let (inv, shift) = (s / total, eps * s / c as f32);
            for g in g.iter_mut() {
                *g = *g * inv - shift;
            }
            g[t] -= (1.0 - eps) * s;
            (loss(max, total, x[t], sum_x, eps, c), sum_x)
        }
        None => {
            let total = lanes_sum(x, |v| exp(v - max));
            (loss(max, total, x[t], sum_x, eps, c), sum_x)
        }
    }
}

/// `(max x, Σ x)`, eight lanes at a time (the sum's lanes are added in `f64`).
#[inline(always)]
fn max_and_sum(x: &[f32]) -> (f32, f64) {
    let (mut m, mut a) = ([f32::NEG_INFINITY; 8], [0.0f32; 8]);
    let chunks = x.chunks_exact(8);
    let (mut max, mut sum) = (f32::NEG_INFINITY, 0.0f64);
    for &v in chunks.remainder() {
        max = max.max(v);
        sum += v as f64;
    }
    for ch in chunks {
        for ((m, a), &v) in m.iter_mut().zip(a.iter_mut()).zip(ch) {
            *m = if v > *m { v } else { *m };
            *a += v;
        }
    }
    let max = m.iter().fold(max, |acc, &v| acc.max(v));
    (max, sum + a.iter().map(|&v| v as f64).sum::<f64>())
}

/// `Σ f(v)`, eight lanes at a time.
#[inline(always)]
fn lanes_sum(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut a = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for ch in chunks {
        for (a, &v) in a.iter_mut().zip(ch) {
            *a += f(v);
        }
    }
    a.iter().sum::<f32>() + tail
}

/// `(1 - ε)(lse - x_t) + ε(lse - Σx / C)` with `lse = max + ln Σ exp(x - max)`.
fn loss(max: f32, total: f32, x_t: f32, sum_x: f64, eps: f32, c: usize) -> f64 {
    let lse = max as f64 + (total as f64).ln();
    let eps = eps as f64;
    (1.0 - eps) * (lse - x_t as f64) + eps * (lse - sum_x / c as f64)
}
