//! The losses whose value and gradient are written once, over [`Num`](descent_kernel::Num)
//! (MSE, BCE-with-logits, sigmoid focal, cross-entropy over class indices), and their two
//! paths.
//!
//! - Fused (flex, ndarray, `f32`, `mean`/`sum`, a target without gradient): one parallel SIMD
//!   pass over the input and target computes the reduced loss, `∂L/∂x` and the input checks,
//!   the formula instantiated for eight AVX lanes, or four SSE lanes without AVX
//!   ([`descent_kernel::pointwise`]).
//! - Generic (every device, every reduction): the same formula instantiated for tensors.
//!
//! Both hand `∂L/∂x` to Burn's autodiff graph through one custom operation
//! ([`descent_kernel::grad`]) whose backward is `upstream · g`: nothing at all for
//! `L.backward()` on the CPU. A target that carries a gradient is differentiated by autodiff
//! through the formula's value instead. When a fused check fails, or the fused result is not
//! finite, the generic path runs and reports the error or the IEEE result, so the two paths
//! agree on what is an error. Like the rest of Burn's autodiff, the losses are first-order.

pub(crate) mod expf;
pub(crate) mod logistic;
pub(crate) mod rows;

use burn::tensor::{Tensor, TensorData};
use descent_kernel::paths::{self, Path};
use descent_kernel::pointwise::{self, PointRule, Seen};
use descent_kernel::team;

use crate::reduction::{nonempty, reduce};
use crate::{LossResult, Reduction};

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// The scale of the reduced loss: `1/n` for `mean`, 1 for `sum`, `None` for the others.
pub(crate) fn scale(reduction: Reduction, n: usize) -> Option<f64> {
    match reduction {
        Reduction::Mean if n > 0 => Some(1.0 / n as f64),
        Reduction::Sum => Some(1.0),
        _ => None,
    }
}

/// A per-element loss of the fused path: its formula ([`PointRule`], on the lanes of
/// [`descent_kernel::pointwise`]) and which inputs it checks.
pub(crate) trait Pointwise: PointRule {
    /// Whether the target must lie in [0, 1] (a checked input).
    const UNIT_TARGET: bool;
}

/// Runs `work` over the `items` in parallel (on descent's team, `descent_kernel::team`), each
/// with its `size`-long chunk of the gradient buffer `g` when there is one, and merges the
/// results in the items' order (the same sum whichever thread ran which item).
pub(crate) fn with_grad<I: Send, R: Send>(
    items: Vec<I>,
    g: Option<&mut [f32]>,
    size: usize,
    work: impl Fn(I, Option<&mut [f32]>) -> R + Sync,
    identity: fn() -> R,
    merge: fn(R, R) -> R,
) -> R {
    let tasks: Vec<(I, Option<&mut [f32]>)> = match g {
        Some(g) => items
            .into_iter()
            .zip(g.chunks_mut(size).map(Some))
            .collect(),
        None => items.into_iter().map(|item| (item, None)).collect(),
    };
    team::map(tasks, |(item, g)| work(item, g))
        .into_iter()
        .fold(identity(), merge)
}

/// Whether `input` (and `target`) can take a fused path: `f32` on flex or ndarray, the
/// same device, and a target that carries no gradient.
pub(crate) fn eligible<const D: usize, const DT: usize>(
    input: &Tensor<D>,
    target: Option<&Tensor<DT>>,
) -> bool {
    descent_kernel::is_cpu_f32(input)
        && target.is_none_or(|t| {
            descent_kernel::is_cpu_f32(t)
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
    checks: bool,
) -> Option<Tensor<1>> {
    let n = input.shape().num_elements();
    let scale = scale(reduction, n)?;
    if !eligible(input, Some(target)) {
        return None;
    }
    let tracked = input.is_tracked();
    let xb = descent_kernel::buffer::buffer(input.clone());
    let yb = descent_kernel::buffer::buffer(target.clone());
    let (x, y) = (
        descent_kernel::buffer::slice(&xb),
        descent_kernel::buffer::slice(&yb),
    );
    let s = scale as f32;
    let mut g = tracked.then(|| descent_kernel::buffer::zeros(&xb));
    let seen = with_grad(
        x.chunks(CHUNK).zip(y.chunks(CHUNK)).collect(),
        g.as_mut().map(descent_kernel::buffer::slice_mut),
        CHUNK,
        |(x, y), g| pointwise::sweep(kernel, x, y, g, s),
        Seen::none,
        Seen::merge,
    );
    let checked = !checks
        || (seen.nonfinite == 0.0 && (!K::UNIT_TARGET || (seen.lo >= 0.0 && seen.hi <= 1.0)));
    let value = seen.loss * scale;
    if !checked || !value.is_finite() {
        return None;
    }
    Some(attach(value, input, g))
}

/// The fused result: the loss `value` as a one-element tensor carrying the gradient buffer `g`
/// (already scaled by the reduction, shaped like `input`; `None` for an untracked input).
pub(crate) fn attach<const D: usize>(
    value: f64,
    input: &Tensor<D>,
    g: Option<descent_kernel::Buffer>,
) -> Tensor<1> {
    paths::record(Path::Fused);
    let value = Tensor::<1>::from_data(
        TensorData::new(vec![value as f32], [1]),
        &input.device().inner(),
    );
    match g {
        Some(g) => {
            descent_kernel::grad::with_grad(input, value, descent_kernel::buffer::tensor::<D>(g))
        }
        None if input.is_autodiff() => value.autodiff(),
        None => value,
    }
}

/// The generic path of a loss written once: `eval(x, y) = (ℓ, ∂ℓ/∂x)`, the tensor
/// instantiation of its formula, computed without autodiff and reduced by `reduction`, the
/// gradient handed to `input`'s graph (scaled like the reduction). `None` keeps `ℓ`
/// per element (flattened by the caller as it needs). A target that carries a gradient is
/// differentiated by autodiff through `ℓ` instead.
pub(crate) fn generic<const D: usize, const DO: usize>(
    input: &Tensor<D>,
    target: &Tensor<D>,
    reduction: Reduction,
    eval: impl FnOnce(Tensor<D>, Tensor<D>) -> LossResult<(Tensor<D>, Tensor<D>)>,
    out: impl FnOnce(Tensor<D>) -> Tensor<DO>,
) -> LossResult<Tensor<DO>> {
    paths::record(Path::Generic);
    if target.is_tracked() {
        let (l, _) = eval(input.clone(), target.clone())?;
        return Ok(out(l));
    }
    let (l, d) = eval(input.clone().inner(), target.clone().inner())?;
    let g = match scale(reduction, input.shape().num_elements()) {
        Some(1.0) | None => d,
        Some(s) => d.mul_scalar(s),
    };
    Ok(descent_kernel::grad::with_grad(input, out(l), g))
}

/// [`generic`] reduced by `reduction` into the loss `name`.
pub(crate) fn generic_reduced<const D: usize>(
    name: &'static str,
    input: &Tensor<D>,
    target: &Tensor<D>,
    reduction: Reduction,
    eval: impl FnOnce(Tensor<D>, Tensor<D>) -> LossResult<(Tensor<D>, Tensor<D>)>,
) -> LossResult<Tensor<1>> {
    nonempty(name, &input.dims(), reduction)?;
    generic(input, target, reduction, eval, |l| reduce(l, reduction))
}
