//! Softmax cross-entropy over class indices, written once ([`row_loss`], [`row_grad`]): one
//! parallel pass over the rows of `[N, C]` logits on the CPU (the loss, `∂L/∂x` and the input
//! checks; see [`super`]), or the same formula on whole tensors on any device ([`generic`]).

use burn::tensor::{IndexingUpdateOp, Int, Tensor};
use descent_kernel::Num;
use descent_kernel::paths::{self, Path};

use super::expf::{avx2_fma, exp};
use super::{attach, eligible, scale, with_grad};
use crate::Reduction;

/// The loss of a row (or of every row, as a column) from its log-sum-exp pieces: the maximum
/// `m`, `Σ_c exp(x_c − m)`, the target's logit `x_t` and `Σ_c x_c`, with label smoothing `ε`:
///
/// ```text
/// lse = m + ln Σ_c exp(x_c − m),   ℓ = (1 − ε)(lse − x_t) + ε(lse − Σ_c x_c / C)
/// ```
#[inline(always)]
pub(crate) fn row_loss<T: Num>(max: T, total: T, x_t: T, sum_x: T, eps: f32, classes: usize) -> T {
    let lse = max + total.ln();
    (lse.clone() - x_t).scale(1.0 - eps) + (lse - sum_x.div_k(classes as f32)).scale(eps)
}

/// `s · ∂ℓ/∂x_c` of a class other than the target, from `e_c = exp(x_c − m)` and
/// `inv = s / Σ_c e_c`; the target's entry is this minus `(1 − ε) s` ([`target_grad`]):
///
/// ```text
/// s · ∂ℓ/∂x_c = s · softmax(x)_c − s ε / C − s (1 − ε) [c = t]
/// ```
#[inline(always)]
pub(crate) fn row_grad<T: Num>(e: T, inv: T, s: f32, eps: f32, classes: usize) -> T {
    (e * inv).shift(-(eps * s / classes as f32))
}

/// The target's extra term of [`row_grad`]: `−(1 − ε) s`.
#[inline(always)]
pub(crate) fn target_grad<T: Num>(g: T, s: f32, eps: f32) -> T {
    g.shift(-((1.0 - eps) * s))
}

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
    checks: bool,
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
    let xb = descent_kernel::buffer::buffer(input.clone());
    let x = descent_kernel::buffer::slice(&xb);
    let (s, eps) = (scale as f32, eps as f32);
    let mut g = tracked.then(|| descent_kernel::buffer::zeros(&xb));
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
        x.chunks(ROWS * c).zip(classes.chunks(ROWS)).collect(),
        g.as_mut().map(descent_kernel::buffer::slice_mut),
        ROWS * c,
        work,
        || (0.0, 0.0),
        |a, b| (a.0 + b.0, a.1 + b.1),
    );
    let value = loss * scale;
    if (checks && !check.is_finite()) || !value.is_finite() {
        return None;
    }
    Some(attach(value, input, g))
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
            let inv = s / total;
            for g in g.iter_mut() {
                *g = row_grad(*g, inv, s, eps, c);
            }
            g[t] = target_grad(g[t], s, eps);
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

/// [`row_loss`] of one row, in `f64`.
fn loss(max: f32, total: f32, x_t: f32, sum_x: f64, eps: f32, c: usize) -> f64 {
    row_loss(max as f64, total as f64, x_t as f64, sum_x, eps, c)
}

/// The generic path of the same loss, on any device: logits `[M, C]` and class indices `[M]`
/// (checked by the caller), label smoothing `eps`, `ignore_index`; every piece the tensor
/// instantiation of [`row_loss`] and [`row_grad`]. Returns the per-row losses `[M]` (0 where
/// ignored), `∂(Σ ℓ)/∂x` `[M, C]` (0 rows where ignored) and the rows counted `[M]` (0/1).
pub(crate) fn generic(
    x: Tensor<2>,
    target: Tensor<1, Int>,
    ignore_index: i64,
    eps: f64,
) -> (Tensor<1>, Tensor<2>, Tensor<1>) {
    paths::record(Path::Generic);
    let [m, c] = x.dims();
    let eps = eps as f32;
    let ignored = target.clone().equal_elem(ignore_index);
    let safe = target.mask_fill(ignored.clone(), 0).reshape([m, 1]);
    let counted = ignored.bool_not().float().reshape([m, 1]);
    let max = x.clone().max_dim(1);
    let e = (x.clone() - max.clone()).exp();
    let total = e.clone().sum_dim(1);
    let x_t = x.clone().gather(1, safe.clone());
    let sum_x = x.clone().sum_dim(1);
    let per_row = row_loss(max, total.clone(), x_t, sum_x, eps, c) * counted.clone();
    let onehot = x
        .zeros_like()
        .scatter(1, safe, counted.clone(), IndexingUpdateOp::Add);
    let grad = row_grad(e, total.recip(), 1.0, eps, c) * counted.clone() - onehot.scale(1.0 - eps);
    (per_row.reshape([m]), grad, counted.reshape([m]))
}
