//! Hyperparameter and gradient checks shared by every optimizer and schedule.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Tensor;

use crate::error::{OptimError, OptimResult};

static FINITE_CHECKS: AtomicBool = AtomicBool::new(true);

/// Turns the per-step check that every gradient is finite on or off (on by default).
///
/// The check costs one pass over each gradient and one read-back of a bool per parameter
/// tensor. Turn it off only where the gradients are known to be finite, e.g. behind a
/// [`GradScaler`](crate::GradScaler), which already skips steps with inf/NaN gradients, or in
/// benchmarks.
pub fn set_finite_checks(enabled: bool) {
    FINITE_CHECKS.store(enabled, Ordering::Relaxed);
}

/// Whether the per-step finite-gradient check is on.
pub fn finite_checks() -> bool {
    FINITE_CHECKS.load(Ordering::Relaxed)
}

/// `value >= 0` (and finite).
pub(crate) fn non_negative(opt: &'static str, arg: &'static str, value: f64) -> OptimResult<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(OptimError::new(
            opt,
            arg,
            format!("must be a finite number >= 0, got {value}"),
        ))
    }
}

/// `value > 0` (and finite).
pub(crate) fn positive(opt: &'static str, arg: &'static str, value: f64) -> OptimResult<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(OptimError::new(
            opt,
            arg,
            format!("must be a finite number > 0, got {value}"),
        ))
    }
}

/// `0 <= value < 1`, the range of a decay rate such as Adam's betas.
pub(crate) fn unit_open(opt: &'static str, arg: &'static str, value: f64) -> OptimResult<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(OptimError::new(
            opt,
            arg,
            format!("must be in [0, 1), got {value}"),
        ))
    }
}

/// `0 <= value <= 1`.
pub(crate) fn unit_closed(opt: &'static str, arg: &'static str, value: f64) -> OptimResult<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(OptimError::new(
            opt,
            arg,
            format!("must be in [0, 1], got {value}"),
        ))
    }
}

/// The learning rate handed to a step: finite and `>= 0`. Panics otherwise, naming the
/// optimizer (Burn passes the learning rate at each step, so this is where it is seen).
pub(crate) fn learning_rate(opt: &'static str, lr: f64) {
    if let Err(e) = non_negative(opt, "lr", lr) {
        panic!("{e}");
    }
}

/// Every element of the gradient is finite, else a panic naming the optimizer.
pub(crate) fn finite_grad<const D: usize>(opt: &'static str, grad: &Tensor<D>) {
    if !finite_checks() {
        return;
    }
    // One reduction and one read-back: a NaN or an infinity makes the sum non-finite. Only a
    // non-finite sum of finite values (overflow) needs the exact element test.
    let sum = grad.clone().sum().into_scalar::<f64>();
    let bad = !sum.is_finite()
        && grad
            .clone()
            .is_finite()
            .bool_not()
            .any()
            .into_scalar::<bool>();
    if bad {
        panic!(
            "{opt}: grad must be finite, found NaN or inf (a GradScaler skips such steps; \
             otherwise check the loss)"
        );
    }
}
