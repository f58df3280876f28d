//! Hyperparameter checks shared by every optimizer and schedule (the gradient's finite check
//! is the stepper's, [`crate::step`]).

use crate::error::{OptimError, OptimResult};

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
