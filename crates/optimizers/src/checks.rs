//! Hyperparameter and gradient checks shared by every optimizer and schedule.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use burn::tensor::Tensor;

use crate::error::{OptimError, OptimResult};

static FINITE_CHECKS: AtomicBool = AtomicBool::new(true);

/// Turns the per-step check that every gradient is finite on or off (on by default).
///
/// On the CPU devices the check is folded into the fused step and costs nothing measurable.
/// Elsewhere (wgpu) it is deferred and sampled ([`set_finite_check_interval`]): one
/// reduction per [`FINITE_CHECK_INTERVAL`] parameter updates and one read-back per
/// [`DEFERRED_CHECKS`] updates. Turn it off only where the gradients are
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

/// The finite check of one update, called with the gradient and the parameter as they enter
/// the step. Panics (naming the optimizer) when a non-finite value is found and the checks
/// are on.
///
/// - On the CPU devices (the generic path, when the fused steps are off) `grad` is checked at
///   once, before the update.
/// - Elsewhere (wgpu) a read-back per tensor would stall the device queue at every parameter,
///   so the check is deferred: `Σ 0·t` (0 when every element of `t` is finite, NaN otherwise,
///   never an overflow) is added to one device number per thread, read back once
///   [`DEFERRED_CHECKS`] updates have passed, and by [`check_pending_grads`].
///   - With an interval of 1 ([`set_finite_check_interval`]) `t` is the gradient of every
///     update.
///   - With an interval `k > 1` (the default, [`FINITE_CHECK_INTERVAL`]) `t` is the
///     parameter entering the step, about one update in `k`, drawn pseudo-randomly so that
///     every tensor of a model is drawn whatever the model's size. A non-finite gradient
///     leaves a non-finite parameter behind (every update adds a multiple of it, and Lion,
///     whose update is a sign, adds `0·m` of its momentum), so it is found about `k`
///     updates of that tensor later, plus the read-back delay.
pub(crate) fn finite_grad<const D: usize>(opt: &'static str, grad: &Tensor<D>, param: &Tensor<D>) {
    if !finite_checks() {
        return;
    }
    if descent_cpu::is_cpu(&grad.device()) {
        if !zeros(grad).into_scalar::<f64>().is_finite() {
            panic!("{}", non_finite(opt, "grad"));
        }
        return;
    }
    let interval = finite_check_interval();
    let check = if interval <= 1 {
        Some(("grad", zeros(grad)))
    } else {
        drawn(interval).then(|| ("parameter", zeros(param)))
    };
    if let Some((what, zeros)) = check {
        let zeros = zeros.inner();
        let other_device = PENDING.with_borrow(|pending| {
            pending
                .sum
                .as_ref()
                .is_some_and(|sum| sum.device() != zeros.device())
        });
        if other_device {
            check_pending_grads();
        }
        PENDING.with_borrow_mut(|pending| {
            pending.sum = Some(match pending.sum.take() {
                Some(sum) => sum + zeros,
                None => zeros,
            });
            if !pending.names.contains(&(opt, what)) {
                pending.names.push((opt, what));
            }
        });
    }
    let due = PENDING.with_borrow_mut(|pending| {
        pending.updates += 1;
        pending.updates >= DEFERRED_CHECKS
    });
    if due {
        check_pending_grads();
    }
}

/// `Σ 0·t`: 0 when every element of `t` is finite, NaN otherwise.
fn zeros<const D: usize>(t: &Tensor<D>) -> Tensor<1> {
    // A full `sum`: on an H100 (wgpu) a `sum_dim` over one long axis took 70 ms at 10M.
    t.clone().mul_scalar(0.0).sum()
}

/// Whether this update is one of the `1/interval` that are checked: a hash of a per-thread
/// counter, so the draws do not lock onto a period of the model's tensors.
fn drawn(interval: u32) -> bool {
    let n = PENDING.with_borrow_mut(|pending| {
        pending.draws = pending.draws.wrapping_add(1);
        pending.draws
    });
    // SplitMix64's finaliser.
    let mut z = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z.is_multiple_of(u64::from(interval))
}

/// Parameter updates after which the deferred finite checks are read back together (see
/// [`check_pending_grads`]).
pub const DEFERRED_CHECKS: usize = 256;

/// The default interval of the deferred finite check (see [`set_finite_check_interval`]).
pub const FINITE_CHECK_INTERVAL: u32 = 64;

static INTERVAL: AtomicU32 = AtomicU32::new(FINITE_CHECK_INTERVAL);

/// Off the CPU devices, how the finite check samples the updates: `1` checks the gradient of
/// every update (one reduction per parameter tensor per step); `k > 1` (default
/// [`FINITE_CHECK_INTERVAL`]) checks the parameter entering about one update in `k`, which a
/// non-finite gradient leaves non-finite, at `1/k` of the cost and about `k` updates of the
/// tensor later. On the CPU devices every gradient is checked, at no measurable cost.
///
/// # Panics
/// If `interval` is 0.
pub fn set_finite_check_interval(interval: u32) {
    assert!(
        interval >= 1,
        "set_finite_check_interval: interval must be >= 1, got 0"
    );
    INTERVAL.store(interval, Ordering::Relaxed);
}

/// The interval of the deferred finite check (see [`set_finite_check_interval`]).
pub fn finite_check_interval() -> u32 {
    INTERVAL.load(Ordering::Relaxed)
}

/// The deferred finite checks of one thread.
#[derive(Default)]
struct Pending {
    /// The sum of the checked `Σ 0·t` since the last read-back: one device number, so that
    /// a read-back is one small transfer (on wgpu, concatenating many one-element tensors
    /// for one transfer cost milliseconds per tensor).
    sum: Option<Tensor<1>>,
    /// The optimizers and what they checked since the last read-back, each once.
    names: Vec<(&'static str, &'static str)>,
    /// Updates since the last read-back.
    updates: usize,
    /// Draws so far (see [`drawn`]).
    draws: u64,
}

thread_local! {
    static PENDING: std::cell::RefCell<Pending> = std::cell::RefCell::new(Pending::default());
}

fn non_finite(opt: &str, what: &str) -> String {
    let cause = if what == "grad" {
        ""
    } else {
        ": a gradient since its last check held NaN or inf, or the steps diverged"
    };
    format!(
        "{opt}: {what} must be finite, found NaN or inf{cause} (a GradScaler skips steps \
         with non-finite gradients; otherwise check the loss)"
    )
}

/// Reads back the deferred finite checks of this thread (off the CPU devices they are read
/// once [`DEFERRED_CHECKS`] parameter updates have passed) and panics, naming the optimizer,
/// if a checked gradient or parameter held a NaN or an infinity. It costs one small device
/// read-back. With [`set_finite_check_interval`]`(1)`, calling it after `step` stops training
/// at the first non-finite gradient.
pub fn check_pending_grads() {
    let (sum, names) = PENDING.with_borrow_mut(|pending| {
        pending.updates = 0;
        (pending.sum.take(), std::mem::take(&mut pending.names))
    });
    let Some(sum) = sum else { return };
    if !sum.into_scalar::<f64>().is_finite() {
        let opts: Vec<&str> = names.iter().map(|(opt, _)| *opt).collect();
        let what = if names.iter().any(|(_, what)| *what == "grad") {
            "grad"
        } else {
            "parameter"
        };
        panic!("{}", non_finite(&opts.join(" or "), what));
    }
}
