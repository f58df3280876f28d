//! The buffers behind Burn tensors on the CPU devices (`flex` and `ndarray`).
//!
//! descent's fused kernels (the optimizer steps and the losses' forward + backward) run as
//! one loop over these buffers instead of a chain of tensor operations, each a pass over
//! memory with a fresh allocation. Other devices (wgpu) keep the generic tensor path.
//!
//! A [`Buffer`] is reached with [`buffer`], read with [`slice()`], written with [`slice_mut`]
//! and turned back into a tensor with [`tensor`]. Only `f32` tensors are handled.

use burn::tensor::{Bytes, DType, Device, Tensor};
use burn_flex::{Flex, FlexTensor, Layout};
use half::{bf16, f16};

use crate::floats::{Floats, FloatsMut};
#[cfg(feature = "ndarray")]
use burn_ndarray::{NdArray, NdArrayTensor};
#[cfg(feature = "ndarray")]
use ndarray::{ArcArray, IxDyn};

/// Whether `device` is one whose buffers [`buffer`] can reach (`flex` or `ndarray`), autodiff
/// or not.
pub fn is_cpu(device: &Device) -> bool {
    let device = if device.is_autodiff() {
        device.clone().inner()
    } else {
        device.clone()
    };
    #[cfg(feature = "ndarray")]
    if device == Device::ndarray() {
        return true;
    }
    device == Device::flex()
}

/// Whether `t` is a tensor the fused loop can reach in its own dtype: `f32`, `f16` or `bf16`
/// on flex, `f32` on ndarray.
pub fn is_cpu_float<const D: usize>(t: &Tensor<D>) -> bool {
    match t.dtype() {
        DType::F32 => is_cpu(&t.device()),
        DType::F16 | DType::BF16 => {
            let device = t.device();
            let device = if device.is_autodiff() {
                device.inner()
            } else {
                device
            };
            device == Device::flex()
        }
        _ => false,
    }
}

/// Whether `t` is an `f32` tensor on a CPU device (see [`is_cpu`]).
pub fn is_cpu_f32<const D: usize>(t: &Tensor<D>) -> bool {
    t.dtype() == DType::F32 && is_cpu(&t.device())
}

/// A CPU buffer behind a tensor: flex or ndarray.
pub enum Buffer {
    /// A contiguous flex tensor.
    Flex(FlexTensor),
    /// A standard-layout ndarray array.
    #[cfg(feature = "ndarray")]
    Nd(ArcArray<f32, IxDyn>),
}

/// The buffer behind `t` (an `f32` tensor on flex or ndarray), made contiguous. On an
/// autodiff device this is the tensor's value, without its graph.
///
/// # Panics
/// If `t` is not an `f32` tensor on flex or ndarray (check with [`is_cpu_f32`]).
pub fn buffer<const D: usize>(t: Tensor<D>) -> Buffer {
    let t = if t.is_autodiff() { t.inner() } else { t };
    if t.device() == Device::flex() {
        let t = t
            .try_into_primitive::<Flex>()
            .unwrap_or_else(|e| panic!("descent-cpu: expected a flex tensor: {e:?}"));
        Buffer::Flex(if t.is_contiguous() {
            t
        } else {
            t.to_contiguous()
        })
    } else {
        buffer_nd(t)
    }
}

#[cfg(feature = "ndarray")]
fn buffer_nd<const D: usize>(t: Tensor<D>) -> Buffer {
    {
        match t.try_into_primitive::<NdArray>() {
            Ok(NdArrayTensor::F32(storage)) => {
                let a = storage.into_owned();
                Buffer::Nd(if a.is_standard_layout() {
                    a
                } else {
                    a.as_standard_layout().into_owned().into_shared()
                })
            }
            Ok(_) => panic!("descent-cpu: expected an f32 ndarray tensor"),
            Err(e) => panic!("descent-cpu: expected an ndarray tensor: {e:?}"),
        }
    }
}

#[cfg(not(feature = "ndarray"))]
fn buffer_nd<const D: usize>(t: Tensor<D>) -> Buffer {
    panic!(
        "descent-cpu: expected a flex tensor, got one on {:?}",
        t.device()
    )
}

/// A zero buffer shaped like `like`.
pub fn zeros(like: &Buffer) -> Buffer {
    match like {
        // `FlexTensor::zeros` allocates bytes and then, when the allocator's pointer is not
        // aligned to 64 (large blocks usually are not), copies them into an aligned block:
        // twice the fresh memory. A typed fill keeps the one zeroed `f32` allocation.
        Buffer::Flex(t) => Buffer::Flex(FlexTensor::filled_typed(
            t.layout().shape().clone(),
            DType::F32,
            0.0f32,
        )),
        #[cfg(feature = "ndarray")]
        Buffer::Nd(a) => Buffer::Nd(ArcArray::zeros(a.raw_dim())),
    }
}

/// A buffer shaped like `like`, filled with `value`.
pub fn filled(like: &Buffer, value: f32) -> Buffer {
    let mut t = zeros(like);
    if value != 0.0 {
        slice_mut(&mut t).fill(value);
    }
    t
}

/// Back to a Burn tensor (on the buffer's device, without autodiff).
pub fn tensor<const D: usize>(t: Buffer) -> Tensor<D> {
    match t {
        Buffer::Flex(t) => Tensor::from_primitive::<Flex>(t),
        #[cfg(feature = "ndarray")]
        Buffer::Nd(a) => Tensor::from_primitive::<NdArray>(NdArrayTensor::F32(a.into())),
    }
}

/// The number of elements of a buffer.
pub fn slice_len(t: &Buffer) -> usize {
    match t {
        Buffer::Flex(f) => f.layout().num_elements(),
        #[cfg(feature = "ndarray")]
        Buffer::Nd(a) => a.len(),
    }
}

/// The elements of a buffer, in row-major order.
pub fn slice(t: &Buffer) -> &[f32] {
    match t {
        Buffer::Flex(t) => t
            .as_slice::<f32>()
            .expect("descent-cpu: a contiguous f32 buffer"),
        #[cfg(feature = "ndarray")]
        Buffer::Nd(a) => a.as_slice().expect("descent-cpu: a standard-layout array"),
    }
}

/// The elements of a buffer, writable (copied first if the buffer is shared).
pub fn slice_mut(t: &mut Buffer) -> &mut [f32] {
    match t {
        Buffer::Flex(t) => {
            let (start, end) = t
                .layout()
                .contiguous_offsets()
                .expect("descent-cpu: a contiguous buffer");
            &mut t.storage_mut::<f32>()[start..end]
        }
        #[cfg(feature = "ndarray")]
        Buffer::Nd(a) => a
            .as_slice_mut()
            .expect("descent-cpu: a standard-layout array"),
    }
}

/// The elements of a buffer in their dtype (`f32`, `f16` or `bf16`), in row-major order.
///
/// # Panics
/// For another dtype.
pub fn floats(t: &Buffer) -> Floats<'_> {
    match t {
        Buffer::Flex(f) => match f.dtype() {
            DType::F16 => Floats::F16(f.as_slice::<f16>().expect("descent-cpu: contiguous f16")),
            DType::BF16 => {
                Floats::Bf16(f.as_slice::<bf16>().expect("descent-cpu: contiguous bf16"))
            }
            _ => Floats::F32(slice(t)),
        },
        #[cfg(feature = "ndarray")]
        Buffer::Nd(_) => Floats::F32(slice(t)),
    }
}

/// The elements of a buffer in their dtype, writable (copied first if the buffer is shared).
///
/// # Panics
/// For another dtype than `f32`, `f16` or `bf16`.
pub fn floats_mut(t: &mut Buffer) -> FloatsMut<'_> {
    let dtype = match t {
        Buffer::Flex(f) => f.dtype(),
        #[cfg(feature = "ndarray")]
        Buffer::Nd(_) => DType::F32,
    };
    match (dtype, t) {
        (DType::F16, Buffer::Flex(f)) => {
            let (start, end) = f
                .layout()
                .contiguous_offsets()
                .expect("descent-cpu: a contiguous buffer");
            FloatsMut::F16(&mut f.storage_mut::<f16>()[start..end])
        }
        (DType::BF16, Buffer::Flex(f)) => {
            let (start, end) = f
                .layout()
                .contiguous_offsets()
                .expect("descent-cpu: a contiguous buffer");
            FloatsMut::Bf16(&mut f.storage_mut::<bf16>()[start..end])
        }
        (_, t) => FloatsMut::F32(slice_mut(t)),
    }
}

/// A buffer shaped like `like`, of `dtype` (`f32`, `f16` or `bf16`; ndarray: `f32` only),
/// filled with `value` (rounded to the dtype).
///
/// # Panics
/// For another dtype, or a half dtype on ndarray.
pub fn filled_as(like: &Buffer, dtype: DType, value: f32) -> Buffer {
    filled_at(like, dtype, value, None)
}

/// [`filled_as`] whose first element lies at address `at` modulo [`ALIAS_WINDOW`] where `at`
/// is given and the buffer is flex's (a view a few elements into a block one page longer).
/// [`apart`] chooses `at` for an optimizer's new state.
///
/// # Panics
/// For another dtype, or a half dtype on ndarray.
pub fn filled_at(like: &Buffer, dtype: DType, value: f32, at: Option<usize>) -> Buffer {
    match (like, dtype) {
        (Buffer::Flex(t), DType::F32 | DType::F16 | DType::BF16) => {
            Buffer::Flex(flex_filled(t, dtype, value, at))
        }
        #[cfg(feature = "ndarray")]
        (Buffer::Nd(_), DType::F32) => filled(like, value),
        (_, other) => panic!("descent-cpu: no {other:?} buffer here"),
    }
}

/// Bytes in the window of addresses the processor compares a load with the older stores
/// still in flight ("4K aliasing": the low 12 bits).
pub const ALIAS_WINDOW: usize = 4096;

/// The address of `t`'s first element modulo [`ALIAS_WINDOW`].
pub fn window_offset(t: &Buffer) -> usize {
    let address = match t {
        Buffer::Flex(f) => {
            f.bytes().as_ptr() as usize + f.layout().start_offset() * f.dtype().size()
        }
        #[cfg(feature = "ndarray")]
        Buffer::Nd(a) => a.as_ptr() as usize,
    };
    address % ALIAS_WINDOW
}

/// Offsets (modulo [`ALIAS_WINDOW`]) for `n` new buffers streamed beside buffers at offsets
/// `taken`: each in turn at the middle of the widest free arc of the window, so every stream
/// of the fused loop starts far from the others.
///
/// The fused step reads `θ`, `g` and each state at index `i` and writes `θ` and the states
/// back. Streams whose addresses agree in their low 12 bits, or nearly, make the processor
/// take loads of one for stores in flight of another ("4K aliasing"), and wait. Measured with
/// AdamW at 10M on flex: 8–11 ms a step where glibc had placed a tensor's buffers 16 bytes
/// apart modulo 4096 (and 8.0–9.9 ms with the states at the parameter's offset), 6.5–6.8 ms
/// with the states half a window away (the step's other groups: 6.0–7.1 ms).
pub fn apart(taken: &[usize], n: usize) -> Vec<usize> {
    let mut taken: Vec<usize> = taken.iter().map(|t| t % ALIAS_WINDOW).collect();
    let mut chosen = Vec::with_capacity(n);
    for _ in 0..n {
        taken.sort_unstable();
        taken.dedup();
        let k = taken.len();
        // Each arc from one taken offset to the next (a lone offset: the whole window).
        let at = (0..k)
            .map(|i| {
                let (a, b) = (taken[i], taken[(i + 1) % k]);
                let gap = (b + ALIAS_WINDOW - a - 1) % ALIAS_WINDOW + 1;
                (gap, (a + gap / 2) % ALIAS_WINDOW)
            })
            .max()
            .map_or(0, |(_, middle)| middle);
        // Element addresses are multiples of 16 bytes on every allocation here.
        let at = at / 16 * 16;
        taken.push(at);
        chosen.push(at);
    }
    chosen
}

/// A contiguous flex tensor shaped like `like`, of `dtype` (`f32`, `f16`, `bf16`), filled with
/// `value`, its first element at `at` modulo [`ALIAS_WINDOW`] when given.
fn flex_filled(like: &FlexTensor, dtype: DType, value: f32, at: Option<usize>) -> FlexTensor {
    let shape = like.layout().shape().clone();
    let n = shape.num_elements();
    let Some(at) = at else {
        return match dtype {
            DType::F16 => FlexTensor::filled_typed(shape, dtype, f16::from_f32(value)),
            DType::BF16 => FlexTensor::filled_typed(shape, dtype, bf16::from_f32(value)),
            // `FlexTensor::zeros` would allocate bytes and then, when the allocator's pointer
            // is not aligned to 64 (large blocks usually are not), copy them into an aligned
            // block: twice the fresh memory. A typed fill keeps one allocation.
            _ => FlexTensor::filled_typed(shape, DType::F32, value),
        };
    };
    let extra = ALIAS_WINDOW;
    let (bytes, size) = match dtype {
        DType::F16 => (
            Bytes::from_elems(vec![f16::from_f32(value); n + extra / 2]),
            2,
        ),
        DType::BF16 => (
            Bytes::from_elems(vec![bf16::from_f32(value); n + extra / 2]),
            2,
        ),
        _ => (Bytes::from_elems(vec![value; n + extra / 4]), 4),
    };
    let gap = (at + ALIAS_WINDOW - bytes.as_ptr() as usize % ALIAS_WINDOW) % ALIAS_WINDOW;
    let start = if gap.is_multiple_of(size) {
        gap / size
    } else {
        0
    };
    let strides = Layout::contiguous(shape.clone()).strides().to_vec();
    FlexTensor::new(bytes, Layout::new(shape, strides, start), dtype)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each new offset lands in the middle of the widest free arc, 16-byte aligned.
    #[test]
    fn apart_spreads_the_new_buffers_over_the_window() {
        assert_eq!(apart(&[16, 16], 2), vec![2064, 3088]);
        assert_eq!(apart(&[2976, 2080], 1), vec![480]);
        assert_eq!(apart(&[0, 1024], 3), vec![2560, 3328, 1792]);
        assert_eq!(apart(&[], 1), vec![0]);
    }

    /// A buffer asked for at an offset starts there, holds its value, and reads as a contiguous
    /// tensor of the asked shape.
    #[test]
    fn filled_at_places_the_first_element() {
        let like = buffer(Tensor::<2>::zeros([300, 7], &Device::flex()));
        for at in [0, 16, 1040, 4080] {
            for dtype in [DType::F32, DType::BF16] {
                let b = filled_at(&like, dtype, 0.5, Some(at));
                assert_eq!(window_offset(&b), at, "{dtype:?}");
                let t = tensor::<2>(b);
                assert_eq!(t.dims(), [300, 7]);
                let values: Vec<f32> = t.cast(DType::F32).into_data().iter::<f32>().collect();
                assert!(values.len() == 2100 && values.iter().all(|&v| v == 0.5));
            }
        }
    }
}
