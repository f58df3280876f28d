//! PyTorch's class-dimension layout: input `[N, C, d1, ..., dk]`, target `[N, d1, ..., dk]`.
//!
//! Class losses are written on rows: the class dimension is moved last and the rest flattened,
//! giving logits `[M, C]` and targets `[M]` with `M = N·d1···dk`.

use burn::tensor::{Int, Tensor};

use crate::error::{LossError, LossResult};

/// Checks `input` `[N, C, ...]` against an integer `target` `[N, ...]` on its device, and
/// returns `C`.
pub(crate) fn check_int_target<const D: usize, const DT: usize>(
    loss: &'static str,
    input: &Tensor<D>,
    target: &Tensor<DT, Int>,
) -> LossResult<usize> {
    let (dims, target_dims) = (input.dims(), target.dims());
    if D < 2 {
        return Err(LossError::new(
            loss,
            "input",
            format!("must be [N, C] or [N, C, d1, ...]; got {dims:?}"),
        ));
    }
    let expected: Vec<usize> = dims
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, d)| *d)
        .collect();
    if dims[1] == 0 {
        return Err(LossError::new(
            loss,
            "input",
            format!("must have at least one class (dimension 1 of {dims:?} is 0)"),
        ));
    }
    if DT + 1 != D || target_dims[..] != expected[..] {
        return Err(LossError::new(
            loss,
            "target",
            format!(
                "must have shape {expected:?} (input {dims:?} without its class dimension); got {target_dims:?}"
            ),
        ));
    }
    crate::checks::same_place(loss, "target", target, input)?;
    Ok(dims[1])
}

/// `[N, C, d1, ..., dk]` → `[N·d1···dk, C]`.
pub(crate) fn rows<const D: usize>(x: Tensor<D>) -> Tensor<2> {
    let dims = x.dims();
    let classes = dims[1];
    let m = dims.iter().product::<usize>() / classes.max(1);
    if D == 2 {
        return x.reshape([m, classes]);
    }
    let axes: [usize; D] = core::array::from_fn(|i| match i {
        0 => 0,
        i if i + 1 == D => 1,
        i => i + 1,
    });
    x.permute(axes).reshape([m, classes])
}

/// Flattens an integer target to `[M]`.
pub(crate) fn flat_int<const DT: usize>(t: Tensor<DT, Int>) -> Tensor<1, Int> {
    let m = t.shape().num_elements();
    t.reshape([m])
}

/// Per-row losses `[M]` back to the target's shape.
pub(crate) fn unflatten<const DT: usize>(x: Tensor<1>, dims: [usize; DT]) -> Tensor<DT> {
    x.reshape(dims)
}

/// The shape of `[N, C, d1, ...]` without its class dimension, as an array of rank `DT`.
pub(crate) fn without_class<const D: usize, const DT: usize>(
    loss: &'static str,
    dims: [usize; D],
) -> LossResult<[usize; DT]> {
    if D < 2 || DT + 1 != D {
        return Err(LossError::new(
            loss,
            "output",
            format!(
                "rank must be {} for input {dims:?}; got rank {DT}",
                D.saturating_sub(1)
            ),
        ));
    }
    Ok(core::array::from_fn(|i| {
        if i == 0 { dims[0] } else { dims[i + 1] }
    }))
}
