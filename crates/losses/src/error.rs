//! The one error type of the losses crate.

use core::fmt;

/// An invalid hyperparameter or input of a loss.
///
/// The message names the loss (by its PyTorch name where PyTorch has it), the argument and
/// what was expected, for example `huber_loss: delta must be > 0, got -1`.
#[derive(Debug, Clone, PartialEq)]
pub struct LossError {
    /// The loss, e.g. `cross_entropy`.
    pub loss: &'static str,
    /// The argument at fault, e.g. `target` or `label_smoothing`.
    pub argument: &'static str,
    /// What was expected and what was found.
    pub message: String,
}

impl LossError {
    /// Builds an error for `loss`'s `argument`.
    pub fn new(loss: &'static str, argument: &'static str, message: impl Into<String>) -> Self {
        Self {
            loss,
            argument,
            message: message.into(),
        }
    }
}

impl fmt::Display for LossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.loss, self.argument, self.message)
    }
}

impl std::error::Error for LossError {}

impl From<descent_kernel::OptionError> for LossError {
    fn from(e: descent_kernel::OptionError) -> Self {
        Self::new(e.owner, e.argument, e.message)
    }
}

/// Result of a loss computation.
pub type LossResult<T> = Result<T, LossError>;

/// Unwraps a loss result, panicking with the error's message (Burn's convention for `forward`).
#[track_caller]
pub(crate) fn or_panic<T>(result: LossResult<T>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
