//! Fused forward + backward of the hot losses on Burn's CPU devices (`flex`, `ndarray`).
//!
//! The generic path of a loss is a chain of tensor operations, each a pass over memory with
//! a fresh allocation, and its backward another chain. On the CPU devices the tensors'
//! buffers are reachable ([`descent_cpu`]), so the losses benchmarked against PyTorch (MSE,
//! BCE-with-logits, sigmoid focal, cross-entropy over class indices) compute, in one parallel
//! SIMD pass over the input and target, the reduced loss, `∂L/∂x` and the input checks.
//! The gradient is saved in Burn's autodiff graph by a custom operation ([`attach`]), whose
//! backward is `upstream · g`: nothing at all for `L.backward()`.
//!
//! The fused path is taken for `mean` and `sum` reductions of `f32` tensors on flex or
//! ndarray whose target carries no gradient; everything else (other devices, `none`, weights
//! per element, a tracked target) takes the generic path. When a check fails, or the result
//! is not finite, the generic path runs instead and reports the error or the IEEE result, so
//! the two paths agree on what is an error. Like the rest of Burn's autodiff, the fused
//! losses are first-order.

pub(crate) mod attach;
pub(crate) mod expf;
pub(crate) mod rows;
pub(crate) mod simd;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use burn::tensor::Tensor;
use rayon::prelude::*;
use wide::f32x8;

pub(crate) use attach::attach;

use crate::Reduction;
use crate::checks::value_checks;

static FUSED: AtomicBool = AtomicBool::new(true);
static CALLS: AtomicU64 = AtomicU64::new(0);

/// Turns the fused forward + backward of the CPU devices on or off (on by default). Off,
/// every device takes the generic path of tensor operations (same numbers within rounding,
/// slower).
pub fn set_fused_losses(enabled: bool) {
    FUSED.store(enabled, Ordering::Relaxed);
}

/// Whether the fused losses are on (see [`set_fused_losses`]).
pub fn fused_losses() -> bool {
    FUSED.load(Ordering::Relaxed)
}

/// How many loss calls the fused path has served in this process (all threads): for tests
/// and profiling, to see that a call took it.
pub fn fused_loss_calls() -> u64 {
    CALLS.load(Ordering::Relaxed)
}

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;
/// Vectors summed in `f32` before the partial sum is added in `f64`.
const BLOCK: usize = 64;

/// The scale of the reduced loss: `1/n` for `mean`, 1 for `sum`, `None` for the others.
pub(crate) fn scale(reduction: Reduction, n: usize) -> Option<f64> {
    match reduction {
        Reduction::Mean if n > 0 => Some(1.0 / n as f64),
        Reduction::Sum => Some(1.0),
        _ => None,
    }
}

/// A per-element loss `ℓ(x, y)` with its derivative in `x`, eight lanes at a time.
pub(crate) trait Pointwise: Sync {
    /// Whether the target must lie in [0, 1] (a checked input).
    const UNIT_TARGET: bool;
    /// `(ℓ, ∂ℓ/∂x)` for each lane.
    fn eval(&self, x: f32x8, y: f32x8) -> (f32x8, f32x8);
}

/// What one pass saw: the loss sum and the input checks.
struct Seen {
    loss: f64,
    /// NaN when an input or target element was not finite.
    nonfinite: f32,
    lo: f32,
    hi: f32,
}

impl Seen {
    fn none() -> Self {
        Self {
            loss: 0.0,
            nonfinite: 0.0,
            lo: f32::INFINITY,
            hi: f32::NEG_INFINITY,
        }
    }

    fn merge(a: Self, b: Self) -> Self {
        Self {
            loss: a.loss + b.loss,
            nonfinite: a.nonfinite + b.nonfinite,
            lo: a.lo.min(b.lo),
            hi: a.hi.max(b.hi),
        }
    }
}

fn load(s: &[f32]) -> f32x8 {
    f32x8::from(<[f32; 8]>::try_from(s).expect("eight lanes"))
}

/// One chunk: the loss, the scaled gradient (when `g` is given) and the checks.
fn chunk<K: Pointwise>(k: &K, x: &[f32], y: &[f32], mut g: Option<&mut [f32]>, s: f32) -> Seen {
    let zero = f32x8::ZERO;
    let mut loss = 0.0f64;
    let (mut nonfinite, mut lo, mut hi) = (
        zero,
        f32x8::splat(f32::INFINITY),
        f32x8::splat(f32::NEG_INFINITY),
    );
    let full = x.len() / 8 * 8;
    let sv = f32x8::splat(s);
    let mut start = 0;
    while start < full {
        let end = (start + 8 * BLOCK).min(full);
        let mut l_acc = zero;
        for i in (start..end).step_by(8) {
            let (xv, yv) = (load(&x[i..i + 8]), load(&y[i..i + 8]));
            let (l, d) = k.eval(xv, yv);
            l_acc += l;
            nonfinite += xv * zero + yv * zero;
            lo = lo.fast_min(yv);
            hi = hi.fast_max(yv);
            if let Some(g) = g.as_deref_mut() {
                g[i..i + 8].copy_from_slice(&(d * sv).to_array());
            }
        }
        loss += l_acc.to_array().iter().map(|&v| v as f64).sum::<f64>();
        start = end;
    }
    let mut seen = Seen {
        loss,
        nonfinite: nonfinite.reduce_add(),
        lo: lo.to_array().into_iter().fold(f32::INFINITY, f32::min),
        hi: hi.to_array().into_iter().fold(f32::NEG_INFINITY, f32::max),
    };
    // The last few elements, one lane each (padding lanes are never read).
    for i in full..x.len() {
        let (l, d) = k.eval(f32x8::splat(x[i]), f32x8::splat(y[i]));
        let (l, d) = (l.to_array()[0], d.to_array()[0] * s);
        seen.loss += l as f64;
        seen.nonfinite += x[i] * 0.0 + y[i] * 0.0;
        seen.lo = seen.lo.min(y[i]);
        seen.hi = seen.hi.max(y[i]);
        if let Some(g) = g.as_deref_mut() {
            g[i] = d;
        }
    }
    seen
}

/// Runs `work` over the parallel `items`, each with its `size`-long chunk of the gradient
/// buffer `g` when there is one, and merges the results.
pub(crate) fn with_grad<I, R>(
    items: I,
    g: Option<&mut [f32]>,
    size: usize,
    work: impl Fn(I::Item, Option<&mut [f32]>) -> R + Sync + Send,
    identity: fn() -> R,
    merge: fn(R, R) -> R,
) -> R
where
    I: IndexedParallelIterator,
    R: Send,
{
    match g {
        Some(g) => items
            .zip(g.par_chunks_mut(size))
            .map(|(item, g)| work(item, Some(g)))
            .reduce(identity, merge),
        None => items.map(|item| work(item, None)).reduce(identity, merge),
    }
}

/// Whether `input` (and `target`) can take a fused path: `f32` on flex or ndarray, the
/// same device, and a target that carries no gradient.
pub(crate) fn eligible<const D: usize, const DT: usize>(
    input: &Tensor<D>,
    target: Option<&Tensor<DT>>,
) -> bool {
    fused_losses()
        && descent_cpu::is_cpu_f32(input)
        && target.is_none_or(|t| {
            descent_cpu::is_cpu_f32(t)
                && !t.is_tracked()
                && t.device().inner() == input.device().inner()
        })
}

/// The reduced loss `scale · Σ ℓ(x_i, y_i)` of `kernel`, with its gradient attached to
/// `input`, or `None` where the generic path must run (see the module documentation).
pub(crate) fn pointwise<const D: usize, K: Pointwise>(
    kernel: &K,
    input: &Tensor<D>,
    target: &Tensor<D>,
    reduction: Reduction,
) -> Option<Tensor<1>> {
    let n = input.shape().num_elements();
    let scale = scale(reduction, n)?;
    if !eligible(input, Some(target)) {
        return None;
    }
    let tracked = input.is_tracked();
    let xb = descent_cpu::buffer(input.clone());
    let yb = descent_cpu::buffer(target.clone());
    let (x, y) = (descent_cpu::slice(&xb), descent_cpu::slice(&yb));
    let s = scale as f32;
    let mut g = tracked.then(|| descent_cpu::zeros(&xb));
    let seen = with_grad(
        x.par_chunks(CHUNK).zip(y.par_chunks(CHUNK)),
        g.as_mut().map(descent_cpu::slice_mut),
        CHUNK,
        |(x, y), g| chunk(kernel, x, y, g, s),
        Seen::none,
        Seen::merge,
    );
    let checked = !value_checks()
        || (seen.nonfinite == 0.0 && (!K::UNIT_TARGET || (seen.lo >= 0.0 && seen.hi <= 1.0)));
    let value = seen.loss * scale;
    if !checked || !value.is_finite() {
        return None;
    }
    attach(value, input, g)
}
