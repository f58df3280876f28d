//! Input validation shared by every loss: shapes on the host, values on the device.
//!
//! Value checks (finiteness, target ranges, class indices) reduce to one boolean on the device
//! and read back only that; the offending element is looked up only when a check fails. They
//! are on by default and can be switched off process-wide with [`set_value_checks`] for hot
//! loops whose inputs are known to be valid. Shape checks are always on.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::{Bool, Int, Tensor, TensorData};

use crate::error::{LossError, LossResult};

static VALUE_CHECKS: AtomicBool = AtomicBool::new(true);

/// Turns the device-side value checks (NaN/inf inputs, target ranges, class indices) on or off
/// for the whole process. They cost one small device read-back per check; on by default.
pub fn set_value_checks(enabled: bool) {
    VALUE_CHECKS.store(enabled, Ordering::Relaxed);
}

/// Whether value checks are on (see [`set_value_checks`]).
pub fn value_checks() -> bool {
    VALUE_CHECKS.load(Ordering::Relaxed)
}

/// `a` and `b` must have the same shape.
pub(crate) fn same_shape(
    loss: &'static str,
    arg: &'static str,
    dims: &[usize],
    other_arg: &'static str,
    other: &[usize],
) -> LossResult<()> {
    if dims != other {
        return Err(LossError::new(
            loss,
            arg,
            format!("must have the shape of {other_arg} {other:?}; got {dims:?}"),
        ));
    }
    Ok(())
}

/// A scalar hyperparameter must satisfy `ok`; `range` describes the allowed values.
pub(crate) fn param(
    loss: &'static str,
    arg: &'static str,
    value: f64,
    ok: bool,
    range: &str,
) -> LossResult<()> {
    if !ok || value.is_nan() {
        return Err(LossError::new(
            loss,
            arg,
            format!("must be {range}; got {value}"),
        ));
    }
    Ok(())
}

/// Position and value of the first element of `data` for which `bad` holds.
fn first_bad(data: TensorData, bad: impl Fn(f64) -> bool) -> Option<(Vec<usize>, f64)> {
    let dims = data.shape().to_vec();
    let (flat, value) = data.iter::<f64>().enumerate().find(|(_, v)| bad(*v))?;
    let mut index = vec![0; dims.len()];
    let mut rest = flat;
    for (slot, size) in index.iter_mut().zip(&dims).rev() {
        *slot = rest % size;
        rest /= size;
    }
    Some((index, value))
}

fn any(mask: Tensor<1, Bool>) -> bool {
    mask.into_scalar::<bool>()
}

/// Every element of `x` must be finite.
pub(crate) fn finite<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    x: &Tensor<D>,
) -> LossResult<()> {
    if !value_checks() {
        return Ok(());
    }
    // Fast path: one reduction, no mask. A NaN or an infinity makes the sum non-finite; a
    // non-finite sum of finite values (overflow) is sorted out by the exact scan below.
    let sum = x.clone().inner().sum().into_scalar::<f64>();
    if sum.is_finite() {
        return Ok(());
    }
    match first_bad(x.to_data(), |v| !v.is_finite()) {
        None => Ok(()),
        Some((index, value)) => Err(LossError::new(
            loss,
            arg,
            format!("must be finite; got {value} at index {index:?}"),
        )),
    }
}

/// Every element of `x` must lie in `[lo, hi]`.
pub(crate) fn in_range<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    x: &Tensor<D>,
    lo: f64,
    hi: f64,
) -> LossResult<()> {
    if !value_checks() {
        return Ok(());
    }
    let outside = x
        .clone()
        .lower_elem(lo)
        .bool_or(x.clone().greater_elem(hi))
        .bool_or(x.clone().is_nan());
    if !any(outside.any()) {
        return Ok(());
    }
    let (index, value) = first_bad(x.to_data(), |v| !(lo..=hi).contains(&v)).unwrap_or_default();
    Err(LossError::new(
        loss,
        arg,
        format!("must lie in [{lo}, {hi}]; got {value} at index {index:?}"),
    ))
}

/// Every element of `x` must be -1 or +1.
pub(crate) fn signs<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    x: &Tensor<D>,
) -> LossResult<()> {
    if !value_checks() {
        return Ok(());
    }
    let other = x
        .clone()
        .equal_elem(1.0)
        .bool_or(x.clone().equal_elem(-1.0))
        .bool_not();
    if !any(other.any()) {
        return Ok(());
    }
    let (index, value) = first_bad(x.to_data(), |v| v != 1.0 && v != -1.0).unwrap_or_default();
    Err(LossError::new(
        loss,
        arg,
        format!("must hold -1 or +1; got {value} at index {index:?}"),
    ))
}

/// Every class index in `target` must lie in `[0, classes)` or equal `ignore_index`.
pub(crate) fn class_indices<const D: usize>(
    loss: &'static str,
    target: &Tensor<D, Int>,
    classes: usize,
    ignore_index: Option<i64>,
) -> LossResult<()> {
    if !value_checks() {
        return Ok(());
    }
    let mut outside = target
        .clone()
        .lower_elem(0)
        .bool_or(target.clone().greater_equal_elem(classes as i64));
    if let Some(ignore) = ignore_index {
        outside = outside.bool_and(target.clone().not_equal_elem(ignore));
    }
    if !any(outside.any()) {
        return Ok(());
    }
    let ignore = ignore_index;
    let (index, value) = first_bad(target.to_data(), |v| {
        (v < 0.0 || v >= classes as f64) && Some(v as i64) != ignore
    })
    .unwrap_or_default();
    let allowed = match ignore_index {
        Some(i) => format!("class indices in [0, {classes}) or ignore_index {i}"),
        None => format!("class indices in [0, {classes})"),
    };
    Err(LossError::new(
        loss,
        "target",
        format!("must hold {allowed}; got {value} at index {index:?}"),
    ))
}

/// `weight`, when given, must hold one finite value per class.
pub(crate) fn class_weights(
    loss: &'static str,
    arg: &'static str,
    weight: Option<&[f64]>,
    classes: usize,
) -> LossResult<()> {
    let Some(w) = weight else { return Ok(()) };
    if w.len() != classes {
        return Err(LossError::new(
            loss,
            arg,
            format!("must hold one value per class ({classes}); got {}", w.len()),
        ));
    }
    if let Some(v) = w.iter().find(|v| !v.is_finite()) {
        return Err(LossError::new(
            loss,
            arg,
            format!("must be finite; got {v}"),
        ));
    }
    Ok(())
}
