//! The choice of implementation, per optimizer or loss instance.

use burn::config::Config;

/// Which implementation of a rule an optimizer or a loss runs (a config field, per instance).
///
/// Both are instantiations of the same definition (see [`crate::Num`]): `Auto` is the fast
/// one where the device allows it, `Generic` the reference that every device runs.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// One fused pass over the buffers on flex and ndarray (`f32`); tensor operations on other
    /// devices (the default).
    Auto,
    /// Tensor operations on every device, the CPU ones included.
    Generic,
}
