//! Fused softmax cross-entropy over class indices: one parallel pass over the rows of `[N, C]`
//! logits computes the loss, `∂L/∂x` and the input checks (see [`super`]).

use burn::tensor::{Int, Tensor};
use rayon::prelude::*;
use wide::f32x8;

use super::{attach, eligible, load, scale, with_grad};
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
    let work = |(rows, classes): (&[f32], &[i64]), mut g: Option<&mut [f32]>| -> (f64, f64) {
        let (mut loss, mut check) = (0.0f64, 0.0f64);
        for (i, (&t, xr)) in classes.iter().zip(rows.chunks_exact(c)).enumerate() {
            let gr = g.as_deref_mut().map(|g| &mut g[i * c..(i + 1) * c]);
            if t == ignore_index {
                continue; // zero loss and zero gradient
            }
            let (l, sum_x) = row(xr, t as usize, eps, gr, s);
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

/// One row: returns `(ℓ, Σ_c x_c)` and writes `s · ∂ℓ/∂x` into `g` when given.
fn row(x: &[f32], t: usize, eps: f32, g: Option<&mut [f32]>, s: f32) -> (f64, f64) {
    let c = x.len();
    let full = c / 8 * 8;
    let (mut mv, mut sv) = (f32x8::splat(f32::NEG_INFINITY), f32x8::ZERO);
    for i in (0..full).step_by(8) {
        let v = load(&x[i..i + 8]);
        mv = mv.fast_max(v);
        sv += v;
    }
    let mut max = mv.to_array().into_iter().fold(f32::NEG_INFINITY, f32::max);
    let mut sum_x = sv.reduce_add() as f64;
    for &v in &x[full..] {
        max = max.max(v);
        sum_x += v as f64;
    }
    let mv = f32x8::splat(max);
    let mut ev = f32x8::ZERO;
    let mut tail = 0.0f32;
    match g {
        Some(g) => {
            for i in (0..full).step_by(8) {
                let e = (load(&x[i..i + 8]) - mv).exp();
                ev += e;
                g[i..i + 8].copy_from_slice(&e.to_array());
            }
            for i in full..c {
                g[i] = (x[i] - max).exp();
                tail += g[i];
            }
            let total = ev.reduce_add() + tail;
            let (inv, shift) = (f32x8::splat(s / total), f32x8::splat(eps * s / c as f32));
            for i in (0..full).step_by(8) {
                let v = load(&g[i..i + 8]) * inv - shift;
                g[i..i + 8].copy_from_slice(&v.to_array());
            }
            for v in &mut g[full..] {
                *v = *v * (s / total) - eps * s / c as f32;
            }
            g[t] -= (1.0 - eps) * s;
            (loss(max, total, x[t], sum_x, eps, c), sum_x)
        }
        None => {
            for i in (0..full).step_by(8) {
                ev += (load(&x[i..i + 8]) - mv).exp();
            }
            for &v in &x[full..] {
                tail += (v - max).exp();
            }
            let total = ev.reduce_add() + tail;
            (loss(max, total, x[t], sum_x, eps, c), sum_x)
        }
    }
}

/// `(1 - ε)(lse - x_t) + ε(lse - Σx / C)` with `lse = max + ln Σ exp(x - max)`.
fn loss(max: f32, total: f32, x_t: f32, sum_x: f64, eps: f32, c: usize) -> f64 {
    let lse = max as f64 + (total as f64).ln();
    let eps = eps as f64;
    (1.0 - eps) * (lse - x_t as f64) + eps * (lse - sum_x / c as f64)
}
