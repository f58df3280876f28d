//! Hyperparameter and gradient checks shared by every optimizer and schedule.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Tensor;

use crate::error::{OptimError, OptimResult};

static FINITE_CHECKS: AtomicBool = AtomicBool::new(true);

/// Turns the per-step check that every gradient is finite on or off (on by default).
///
/// On the CPU devices the check is folded into the fused step and costs nothing measurable.
/// Elsewhere (wgpu) it costs one fused reduction per parameter tensor and one read-back per
/// [`DEFERRED_CHECKS`] tensors, and reports a non-finite gradient that many updates late at
/// most ([`check_pending_grads`] reads it at once). Turn it off only where the gradients are
/// known to be finite, e.g. behind a [`GradScaler`](crate::GradScaler), which already skips
/// steps with inf/NaN gradients.
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

/// Panics (naming the optimizer) when `grad` holds a NaN or an infinity and the checks are on.
///
/// On the CPU devices (the generic path, when the fused steps are off) the check is immediate.
/// Elsewhere (wgpu) a read-back per tensor would stall the device queue at every parameter,
/// so the check is deferred: each gradient adds one fused reduction, `Σ 0·g` (0 when every
/// element is finite, NaN otherwise, never an overflow), to a queue that is read back in one
/// transfer every [`DEFERRED_CHECKS`] tensors and by [`check_pending_grads`]. A non-finite
/// gradient then stops training at most that many parameter updates late, naming the
/// optimizer.
pub(crate) fn finite_grad<const D: usize>(opt: &'static str, grad: &Tensor<D>) {
    if !finite_checks() {
        return;
    }
    // A full `sum`: on an H100 (wgpu) a `sum_dim` over one long axis took 70 ms at 10M.
    let zeros = grad.clone().mul_scalar(0.0).sum();
    if descent_cpu::is_cpu(&grad.device()) {
        if !zeros.into_scalar::<f64>().is_finite() {
            panic!("{}", non_finite(opt));
        }
        return;
    }
    let full = PENDING.with_borrow_mut(|pending| {
        pending.push((opt, zeros.inner()));
        pending.len() >= DEFERRED_CHECKS
    });
    if full {
        check_pending_grads();
    }
}

/// Parameter tensors whose deferred finite checks are read back together (see
/// [`check_pending_grads`]).
pub const DEFERRED_CHECKS: usize = 64;

thread_local! {
    /// Deferred finite checks of this thread: the optimizer and `Σ 0·g` of each gradient.
    static PENDING: std::cell::RefCell<Vec<(&'static str, Tensor<1>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn non_finite(opt: &str) -> String {
    format!(
        "{opt}: grad must be finite, found NaN or inf (a GradScaler skips such steps; \
         otherwise check the loss)"
    )
}

/// Reads back the deferred finite-gradient checks of this thread (off the CPU devices they
/// are read every [`DEFERRED_CHECKS`] parameter tensors) and panics, naming the optimizer,
/// if a gradient held a NaN or an infinity. Call it after `step` where a non-finite gradient
/// must stop training at once; it costs one small device read-back.
pub fn check_pending_grads() {
    let pending = PENDING.with_borrow_mut(std::mem::take);
    if pending.is_empty() {
        return;
    }
    let (names, sums): (Vec<&str>, Vec<Tensor<1>>) = pending.into_iter().unzip();
    let values = Tensor::cat(sums, 0).into_data();
    let bad = values
        .iter::<f64>()
        .zip(names)
        .find(|(v, _)| !v.is_finite());
    if let Some((_, opt)) = bad {
        panic!("{}", non_finite(opt));
    }
}
