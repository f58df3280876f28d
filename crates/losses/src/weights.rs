//! Turning a weight vector from a config into a tensor that broadcasts over an input.

use burn::tensor::{DType, Device, Tensor, TensorData};

use descent_kernel::as_dtype;

use crate::error::{LossError, LossResult};

/// Broadcasts `w` (as `dtype`, the input's) to `dims`: one value for all, one per element of
/// the last dimension, or one per element (row-major), as PyTorch broadcasts a `weight` or
/// `pos_weight` tensor.
pub(crate) fn broadcast<const D: usize>(
    loss: &'static str,
    arg: &'static str,
    w: &[f64],
    dims: [usize; D],
    device: &Device,
    dtype: DType,
) -> LossResult<Tensor<D>> {
    if let Some(v) = w.iter().find(|v| !v.is_finite()) {
        return Err(LossError::new(
            loss,
            arg,
            format!("must be finite; got {v}"),
        ));
    }
    let numel: usize = dims.iter().product();
    let last = if D == 0 { 1 } else { dims[D - 1] };
    let shape: [usize; D] = if w.len() == numel {
        dims
    } else if w.len() == last || w.len() == 1 {
        core::array::from_fn(|i| if i + 1 == D { w.len() } else { 1 })
    } else {
        return Err(LossError::new(
            loss,
            arg,
            format!(
                "must hold 1, {last} (last dimension) or {numel} (every element) values for input {dims:?}; got {}",
                w.len()
            ),
        ));
    };
    let data = TensorData::new(w.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape);
    Ok(as_dtype(Tensor::<D>::from_data(data, device), dtype).expand(dims))
}

/// A per-class weight vector `[C]` on `device`, of `dtype` (the input's: weights from a config
/// meet f16/bf16 inputs in their dtype).
pub(crate) fn class_vector(w: &[f64], device: &Device, dtype: DType) -> Tensor<1> {
    as_dtype(
        Tensor::<1>::from_data(
            TensorData::new(w.iter().map(|&v| v as f32).collect::<Vec<_>>(), [w.len()]),
            device,
        ),
        dtype,
    )
}
