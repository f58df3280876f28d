//! Input validation shared by every loss: shapes on the host, values on the device.
//!
//! Value checks (finiteness, target ranges, class indices) each reduce to one number on the
//! device that is 0 when the check passes; the offending element is looked up only when a
//! check fails. Every loss call runs in one [`scope`]: its numbers are gathered and read back
//! in one transfer at the end, so a loss call waits for the device once, not once per check.
//! They are on by default and can be switched off per loss instance
//! ([`LossSettings::checks`](crate::LossSettings::checks)) for hot loops whose inputs are known
//! to be valid. Shape checks are always on.

use std::cell::RefCell;

use burn::tensor::{Int, Tensor, TensorData};

use crate::error::{LossError, LossResult};

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

/// `other` (argument `arg`) must be on `input`'s device (autodiff or not), and, when it is a
/// float tensor, of `input`'s dtype: mixing them would panic inside Burn.
pub(crate) fn same_place<const D: usize, const DO: usize, K: burn::tensor::kind::Basic>(
    loss: &'static str,
    arg: &'static str,
    other: &Tensor<DO, K>,
    input: &Tensor<D>,
) -> LossResult<()> {
    let (device, expected) = (other.device().inner(), input.device().inner());
    if device != expected {
        return Err(LossError::new(
            loss,
            arg,
            format!("must be on the input's device {expected:?}; got {device:?}"),
        ));
    }
    let (dtype, expected) = (other.dtype(), input.dtype());
    if dtype.is_float() && dtype != expected {
        return Err(LossError::new(
            loss,
            arg,
            format!("must have the input's dtype {expected:?}; got {dtype:?}"),
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

/// A check waiting for its read-back: a device number that is 0 when it passes, and the exact
/// host-side test that names the offending element when it does not.
struct Pending {
    value: Tensor<1>,
    exact: Box<dyn FnOnce() -> LossResult<()>>,
}

/// An open [`scope`]: whether its checks are on, and the checks waiting for the read-back.
struct Scope {
    on: bool,
    pending: Vec<Pending>,
}

thread_local! {
    /// The outermost open [`scope`] of this thread, if one is open.
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// Whether value checks are on here: those of the open scope, on outside any scope.
pub(crate) fn enabled() -> bool {
    SCOPE.with_borrow(|s| s.as_ref().is_none_or(|s| s.on))
}

/// Closes the scope even when the loss panics, so later calls are not caught in it.
struct ScopeGuard;

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        SCOPE.with_borrow_mut(|s| *s = None);
    }
}

/// Runs `f` with its value checks on (`on`) or off, gathered and read back together when it
/// returns: one device transfer for all of them. A host-side error of `f` (a shape) is
/// returned as is; otherwise the first failed check, in the order the checks were made, is
/// the error. Nested scopes join the outermost one (and its `on`).
pub(crate) fn scope<T>(on: bool, f: impl FnOnce() -> LossResult<T>) -> LossResult<T> {
    if SCOPE.with_borrow(Option::is_some) {
        return f();
    }
    SCOPE.with_borrow_mut(|s| {
        *s = Some(Scope {
            on,
            pending: Vec::new(),
        })
    });
    let guard = ScopeGuard;
    let result = f();
    let pending = SCOPE
        .with_borrow_mut(Option::take)
        .map(|s| s.pending)
        .unwrap_or_default();
    drop(guard);
    let result = result?;
    verify(pending)?;
    Ok(result)
}

/// Reads the pending numbers back as one sum per device (each number is 0 when its check
/// passes and otherwise positive or NaN, so the sum is 0 exactly when all pass) and, when a
/// sum is not 0, runs the exact tests in the order the checks were made: the first that fails
/// is the error (a number can flag a false alarm, such as an overflowing sum). A sum rather
/// than a concatenation: on wgpu, concatenating one-element tensors costs a kernel each.
fn verify(pending: Vec<Pending>) -> LossResult<()> {
    let mut sums: Vec<Tensor<1>> = Vec::new();
    let mut exact = Vec::with_capacity(pending.len());
    for p in pending {
        let device = p.value.device();
        match sums.iter_mut().find(|s| s.device() == device) {
            Some(sum) => *sum = sum.clone() + p.value,
            None => sums.push(p.value),
        }
        exact.push(p.exact);
    }
    if sums.into_iter().all(|s| s.into_scalar::<f64>() == 0.0) {
        return Ok(());
    }
    exact.into_iter().try_for_each(|exact| exact())
}

/// Reads `value` (0 when the check passes) at once, also inside a scope: for checks whose
/// failure would make the formula itself fail (an out-of-range index in a gather).
fn check_now(value: Tensor<1>, exact: impl FnOnce() -> LossResult<()>) -> LossResult<()> {
    if value.into_scalar::<f64>() != 0.0 {
        exact()
    } else {
        Ok(())
    }
}

/// `Σ x` as a `[1]` tensor: Burn's full reduction (on an H100, wgpu, a `sum_dim` over one
/// long axis was 20–70× slower).
fn total<const D: usize>(x: Tensor<D>) -> Tensor<1> {
    x.sum()
}

/// Queues `value` (0 when the check passes) in the open scope, or reads it at once.
fn check(value: Tensor<1>, exact: impl FnOnce() -> LossResult<()> + 'static) -> LossResult<()> {
    // In f32 whatever the input's dtype, so that the scope's checks add up in one dtype.
    let value = descent_kernel::as_dtype(value.inner(), burn::tensor::DType::F32);
    let queued = SCOPE.with_borrow_mut(|s| match s {
        Some(scope) => {
            scope.pending.push(Pending {
                value: value.clone(),
                exact: Box::new(exact),
            });
            None
        }
        None => Some(exact),
    });
    match queued {
        Some(exact) => check_now(value, exact),
        None => Ok(()),
    }
}

/// Queues the device number `value` (0 when the check passes) in the open scope; when it is
/// not 0, the error names the first element of `data` that is `bad`:
/// `{loss}: {arg} {expected}; got {got}{value} at index [..]`.
fn first_bad_after(
    loss: &'static str,
    arg: &'static str,
    value: Tensor<1>,
    data: impl FnOnce() -> TensorData + 'static,
    bad: impl Fn(f64) -> bool + 'static,
    expected: String,
    got: &'static str,
) -> LossResult<()> {
    check(value, move || match first_bad(data(), bad) {
        None => Ok(()),
        Some((index, value)) => Err(LossError::new(
            loss,
            arg,
            format!("{expected}; got {got}{value} at index {index:?}"),
        )),
    })
}

/// Every element of `x` must be finite. Device number: `Σ 0·x`, 0 or NaN, never an overflow.
pub(crate) fn finite<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    x: &Tensor<D>,
) -> LossResult<()> {
    if !enabled() {
        return Ok(());
    }
    let x = x.clone().inner();
    let value = total(x.clone().mul_scalar(0.0));
    first_bad_after(
        loss,
        arg,
        value,
        move || x.to_data(),
        move |v| !v.is_finite(),
        "must be finite".into(),
        "",
    )
}

/// Every element of `x` must lie in `[lo, hi]`. Device number: `Σ |x - clamp(x, lo, hi)|`.
pub(crate) fn in_range<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    x: &Tensor<D>,
    lo: f64,
    hi: f64,
) -> LossResult<()> {
    if !enabled() {
        return Ok(());
    }
    let x = x.clone().inner();
    let value = total(x.clone().sub(x.clone().clamp(lo, hi)).abs());
    first_bad_after(
        loss,
        arg,
        value,
        move || x.to_data(),
        move |v| !(lo..=hi).contains(&v),
        format!("must lie in [{lo}, {hi}]"),
        "",
    )
}

/// Every element of `x` must be -1 or +1. Device number: `Σ ||x| - 1|`.
pub(crate) fn signs<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    x: &Tensor<D>,
) -> LossResult<()> {
    if !enabled() {
        return Ok(());
    }
    let x = x.clone().inner();
    let value = total(x.clone().abs().sub_scalar(1.0).abs());
    first_bad_after(
        loss,
        arg,
        value,
        move || x.to_data(),
        move |v| v != 1.0 && v != -1.0,
        "must hold -1 or +1".into(),
        "",
    )
}

/// Every class index in `target` must lie in `[0, classes)` or equal `ignore_index`. Device
/// number: the count of other indices. On the CPU devices it is read at once (a bad index
/// would make the gather that follows panic); elsewhere it joins the open scope, whose
/// read-back discards the loss before it is returned.
pub(crate) fn class_indices<const D: usize>(
    loss: &'static str,
    target: &Tensor<D, Int>,
    classes: usize,
    ignore_index: Option<i64>,
) -> LossResult<()> {
    class_indices_of(loss, "target", target, classes, ignore_index)
}

/// [`class_indices`] of the argument `arg` (Optax's `labels`).
pub(crate) fn class_indices_of<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    target: &Tensor<D, Int>,
    classes: usize,
    ignore_index: Option<i64>,
) -> LossResult<()> {
    // On the CPU devices the check runs even with the checks off: a bad index would make the
    // gather that follows panic inside Burn. Elsewhere, off, a bad index gives whatever the
    // device's gather returns (a number, silently): what turning the checks off gives up.
    let on_cpu = descent_kernel::is_cpu(&target.device());
    if !enabled() && !on_cpu {
        return Ok(());
    }
    let target = target.clone().inner();
    let mut outside = target
        .clone()
        .lower_elem(0)
        .bool_or(target.clone().greater_equal_elem(classes as i64));
    if let Some(ignore) = ignore_index {
        outside = outside.bool_and(target.clone().not_equal_elem(ignore));
    }
    let value = total(outside.float());
    let exact = move || {
        let found = first_bad(target.to_data(), |v| {
            (v < 0.0 || v >= classes as f64) && Some(v as i64) != ignore_index
        });
        let Some((index, value)) = found else {
            return Ok(());
        };
        let allowed = match ignore_index {
            Some(i) => format!("class indices in [0, {classes}) or ignore_index {i}"),
            None => format!("class indices in [0, {classes})"),
        };
        Err(LossError::new(
            loss,
            arg,
            format!("must hold {allowed}; got {value} at index {index:?}"),
        ))
    };
    if on_cpu {
        check_now(value, exact)
    } else {
        check(value, exact)
    }
}

/// `value` must not be 0 (a denominator such as the total weight of a mean); `what` says what
/// is expected. Device number: `[value = 0]`.
pub(crate) fn nonzero(
    loss: &'static str,
    arg: &'static str,
    value: &Tensor<1>,
    what: &'static str,
) -> LossResult<()> {
    if !enabled() {
        return Ok(());
    }
    let flag = value.clone().inner().equal_elem(0.0).float().sum();
    check(flag, move || Err(LossError::new(loss, arg, what)))
}

/// No element of `x` may be 0; `what` says what is expected. Device number: the count of
/// zeros.
pub(crate) fn no_zeros<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    x: &Tensor<D>,
    what: &'static str,
) -> LossResult<()> {
    if !enabled() {
        return Ok(());
    }
    let count = total(x.clone().inner().equal_elem(0.0).float());
    check(count, move || Err(LossError::new(loss, arg, what)))
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

/// Every element of the integer tensor `x` (argument `arg`) must lie in `[lo, hi)`; `what`
/// names what it holds (`"class indices or -1"`). Device number: the count of other elements.
pub(crate) fn int_range<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    x: &Tensor<D, Int>,
    lo: i64,
    hi: i64,
    what: &'static str,
) -> LossResult<()> {
    if !enabled() {
        return Ok(());
    }
    let x = x.clone().inner();
    let outside = x
        .clone()
        .lower_elem(lo)
        .bool_or(x.clone().greater_equal_elem(hi));
    let value = total(outside.float());
    first_bad_after(
        loss,
        arg,
        value,
        move || x.to_data(),
        move |v| v < lo as f64 || v >= hi as f64,
        format!("must hold {what} in [{lo}, {hi})"),
        "",
    )
}

/// Every element of `x` must be 0 or 1. Device number: `Σ |x (1 - x)|`, 0 exactly for 0 and 1.
pub(crate) fn zero_one<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    x: &Tensor<D>,
) -> LossResult<()> {
    if !enabled() {
        return Ok(());
    }
    let x = x.clone().inner();
    let value = total(x.clone().mul(x.clone().neg().add_scalar(1.0)).abs());
    first_bad_after(
        loss,
        arg,
        value,
        move || x.to_data(),
        move |v| v != 0.0 && v != 1.0,
        "must hold 0 or 1".into(),
        "",
    )
}

/// Every element of `sums` (sums of probabilities over the class dimension) must be 1 within
/// `tol`; `what` says what is expected (`must hold probabilities summing to 1 ...`). Device
/// number: `Σ max(|s - 1| - tol, 0)`.
pub(crate) fn sums_to_one<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    sums: &Tensor<D>,
    tol: f64,
    what: &'static str,
) -> LossResult<()> {
    if !enabled() {
        return Ok(());
    }
    let s = sums.clone().inner();
    let value = total(
        s.clone()
            .sub_scalar(1.0)
            .abs()
            .sub_scalar(tol)
            .clamp_min(0.0),
    );
    first_bad_after(
        loss,
        arg,
        value,
        move || s.to_data(),
        move |v| (v - 1.0).abs() > tol,
        format!("{what} (within {tol})"),
        "a sum of ",
    )
}
