//! The one error type of the optimizers crate.

use core::fmt;

/// An invalid hyperparameter or input of an optimizer, schedule or training utility.
///
/// The message names the optimizer (by its `torch.optim` name, lower-case), the argument and
/// what was expected, for example `adam: beta_1 must be in [0, 1), got 1.5`.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimError {
    /// The optimizer or schedule, e.g. `adam` or `step_lr`.
    pub optimizer: &'static str,
    /// The argument at fault, e.g. `lr` or `momentum`.
    pub argument: &'static str,
    /// What was expected and what was found.
    pub message: String,
}

impl OptimError {
    /// Builds an error for `optimizer`'s `argument`.
    pub fn new(
        optimizer: &'static str,
        argument: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            optimizer,
            argument,
            message: message.into(),
        }
    }
}

impl fmt::Display for OptimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.optimizer, self.argument, self.message)
    }
}

impl std::error::Error for OptimError {}

impl From<descent_kernel::OptionError> for OptimError {
    fn from(e: descent_kernel::OptionError) -> Self {
        Self::new(e.owner, e.argument, e.message)
    }
}

/// Result of building an optimizer or schedule.
pub type OptimResult<T> = Result<T, OptimError>;

/// Unwraps a result, panicking with the error's message (Burn's convention for `init`).
#[track_caller]
pub(crate) fn or_panic<T>(result: OptimResult<T>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
