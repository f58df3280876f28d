//! The choice of implementation, per optimizer or loss instance.

use burn::config::Config;
use burn::tensor::{DType, Tensor};

/// Which implementation of a rule an optimizer or a loss runs (a config field, per instance).
///
/// Both are instantiations of the same definition (see [`crate::Num`]): `Auto` is the fast
/// one where the device allows it, `Generic` the reference that every device runs.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// One fused pass over the buffers on flex and ndarray; one CubeCL kernel per optimizer
    /// update on wgpu and the other CubeCL devices (`f32`); tensor operations elsewhere (the
    /// default).
    Auto,
    /// Tensor operations on every device, the CPU ones included.
    Generic,
}

/// `t` in `dtype`: `t` itself when it already is (no operation is recorded, on any device), a
/// cast otherwise.
pub fn as_dtype<const D: usize>(t: Tensor<D>, dtype: DType) -> Tensor<D> {
    if t.dtype() == dtype { t } else { t.cast(dtype) }
}

/// The dtype of `t` when it is a half-precision float (`f16`, `bf16`): descent's rules and
/// losses compute such tensors in `f32` (ε = 1e-8 and β₂ = 0.999 are not representable in
/// `f16`, and a softmax in half precision loses too much) and return them in their dtype.
pub fn half<const D: usize>(t: &Tensor<D>) -> Option<DType> {
    let dtype = t.dtype();
    matches!(dtype, DType::F16 | DType::BF16).then_some(dtype)
}
