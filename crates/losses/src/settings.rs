//! Per-instance settings of a loss, and the builders every loss config shares.

use burn::config::Config;
use descent_kernel::Kernel;

/// Per-instance settings of a loss: a config field of each
/// (`MseLossConfig::new().with_checks(false)`, `.with_kernel(Kernel::Generic)`).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub struct LossSettings {
    /// Which implementation runs (default [`Kernel::Auto`]). MSE, BCE-with-logits, sigmoid
    /// focal and cross-entropy over class indices are written once and fused on flex and
    /// ndarray; `Generic` runs their tensor instantiation everywhere. Other losses have one
    /// implementation.
    #[config(default = "Kernel::Auto")]
    pub kernel: Kernel,
    /// Value checks: NaN/inf inputs, targets outside the loss's domain, class indices out of
    /// range (default on), read back from the device once per loss call. Off, bad input gives
    /// IEEE results (NaN); a class index out of range is still an error on the CPU devices
    /// (their gather would panic) and gives whatever the gather returns on wgpu. Shapes,
    /// devices, dtypes and empty means are checked either way (on the host, for free).
    #[config(default = true)]
    pub checks: bool,
}

/// Implements `init` (panicking with the error's message, Burn's convention) from a loss
/// config's `try_init`, and the shortcuts to its [`LossSettings`].
macro_rules! loss_config {
    ($config:ident => $loss:ident) => {
        impl $config {
            /// Builds the loss.
            ///
            /// # Panics
            /// When a hyperparameter is invalid, with the message of `try_init`.
            #[track_caller]
            pub fn init(&self) -> $loss {
                $crate::error::or_panic(self.try_init())
            }

            /// Which implementation runs (see [`LossSettings::kernel`](crate::LossSettings)).
            pub fn with_kernel(mut self, kernel: descent_kernel::Kernel) -> Self {
                self.settings.kernel = kernel;
                self
            }

            /// Turns the value checks on or off (see
            /// [`LossSettings::checks`](crate::LossSettings)).
            pub fn with_checks(mut self, checks: bool) -> Self {
                self.settings.checks = checks;
                self
            }
        }
    };
}

pub(crate) use loss_config;
