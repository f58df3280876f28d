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
/// filled with `value` (rounded to the dtype). Where `at` is given its first element lies at
/// address `at` modulo [`ALIAS_WINDOW`] (a view a few elements into a block one page longer,
/// on flex and ndarray, whose whole 2 MiB pages are asked to be huge pages: see
/// [`huge_block`]); [`apart`] chooses `at` for an optimizer's new state.
///
/// # Panics
/// For another dtype, or a half dtype on ndarray.
pub fn filled_at(like: &Buffer, dtype: DType, value: f32, at: Option<usize>) -> Buffer {
    match (like, dtype) {
        (Buffer::Flex(t), DType::F32 | DType::F16 | DType::BF16) => {
            Buffer::Flex(flex_filled(t, dtype, value, at))
        }
        #[cfg(feature = "ndarray")]
        (Buffer::Nd(a), DType::F32) => match at {
            Some(at) => Buffer::Nd(nd_filled_at(a, value, at)),
            None => filled(like, value),
        },
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
    // Half values as their bits: a zero `u16` block is the allocator's zeroed memory.
    let (bytes, size) = match dtype {
        DType::F16 => (
            Bytes::from_elems(huge_block(f16::from_f32(value).to_bits(), n + extra / 2)),
            2,
        ),
        DType::BF16 => (
            Bytes::from_elems(huge_block(bf16::from_f32(value).to_bits(), n + extra / 2)),
            2,
        ),
        _ => (Bytes::from_elems(huge_block(value, n + extra / 4)), 4),
    };
    let start = start_at(bytes.as_ptr(), size, at);
    let strides = Layout::contiguous(shape.clone()).strides().to_vec();
    FlexTensor::new(bytes, Layout::new(shape, strides, start), dtype)
}

/// `len` copies of `value` in a fresh block whose whole
/// 2 MiB pages the kernel is asked to back with transparent huge pages (Linux, THP in `always`
/// or `madvise` mode; `DESCENT_THP=off` leaves the allocator's pages): the advice is given
/// while the zeroed pages are untouched, before `value` is written.
///
/// A state buffer is streamed once per step: with 4 KiB pages a stream crosses a page every
/// 4 KiB, each a TLB miss and a stop for the hardware prefetcher. A/B in one sitting (flex,
/// 10M, 5 rounds): Adam's step 0.90×, momentum 0.93×, AdamW 0.97×, AdaGrad 0.99× the time with
/// the states on 4 KiB pages (SGD, without state, 1.03×).
fn huge_block<T: Element>(value: T, len: usize) -> Vec<T> {
    // A zero of a primitive type: `vec!` asks the allocator for zeroed memory (fresh pages
    // for a large block, not written).
    let mut block = vec![T::ZERO; len];
    if huge_pages_on() {
        advise_huge(&block);
    }
    if !value.is_zero_bits() {
        block.fill(value);
    }
    block
}

/// An element of a [`huge_block`]: `f32`, or a half's bits as `u16`.
trait Element: Copy {
    /// All bits zero.
    const ZERO: Self;
    /// Whether every bit is zero (`-0.0` is not: it is written).
    fn is_zero_bits(self) -> bool;
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    fn is_zero_bits(self) -> bool {
        self.to_bits() == 0
    }
}

impl Element for u16 {
    const ZERO: Self = 0;
    fn is_zero_bits(self) -> bool {
        self == 0
    }
}

/// Whether [`huge_block`] asks for huge pages: unless `DESCENT_THP=off`.
fn huge_pages_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("DESCENT_THP").map_or(true, |v| v != "off"))
}

/// Bytes of a (transparent) huge page.
const HUGE_PAGE: usize = 2 << 20;

/// `madvise(MADV_HUGEPAGE)` over the whole huge pages inside `block`.
#[cfg(target_os = "linux")]
fn advise_huge<T>(block: &[T]) {
    let start = block.as_ptr() as usize;
    let end = start + std::mem::size_of_val(block);
    let (first, last) = (
        start.next_multiple_of(HUGE_PAGE),
        end / HUGE_PAGE * HUGE_PAGE,
    );
    if last > first {
        // SAFETY: advice on whole pages inside `block`'s allocation; it changes neither the
        // contents nor the validity of the mapping. A refusal (THP off) leaves 4 KiB pages.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge<T>(_: &[T]) {}

/// Where a view of `size`-byte elements into `block` starts (in elements) for its first
/// element to lie at `at` modulo [`ALIAS_WINDOW`]; 0 where `at` is not a whole number of
/// elements from the block's start. The block has [`ALIAS_WINDOW`] bytes to spare.
fn start_at(block: *const u8, size: usize, at: usize) -> usize {
    let gap = (at + ALIAS_WINDOW - block as usize % ALIAS_WINDOW) % ALIAS_WINDOW;
    if gap.is_multiple_of(size) {
        gap / size
    } else {
        0
    }
}

/// An ndarray array shaped like `like`, filled with `value`, its first element at `at` modulo
/// [`ALIAS_WINDOW`]: a standard-layout view into a block one page longer (the array keeps the
/// block alive; ndarray writes it in place while no other array shares it).
#[cfg(feature = "ndarray")]
fn nd_filled_at(like: &ArcArray<f32, IxDyn>, value: f32, at: usize) -> ArcArray<f32, IxDyn> {
    let n = like.len();
    let block = huge_block(value, n + ALIAS_WINDOW / 4);
    let start = start_at(block.as_ptr().cast(), 4, at);
    ArcArray::from_vec(block)
        .slice_move(ndarray::s![start..start + n])
        .into_shape_with_order(like.raw_dim())
        .expect("descent-cpu: a contiguous view has the array's shape")
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

    /// The huge pages backing `bytes` bytes from `address`, in KiB: the `AnonHugePages` of
    /// every mapping that overlaps them in Linux's `/proc/self/smaps` (the advice splits the
    /// allocation's mapping at the huge pages' bounds).
    #[cfg(target_os = "linux")]
    fn huge_kib(address: usize, bytes: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("/proc/self/smaps");
        let (mut overlaps, mut total) = (false, 0);
        for line in smaps.lines() {
            let range = line
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('-'));
            if let Some((lo, hi)) = range
                && let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                overlaps = lo < address + bytes && address < hi;
            } else if overlaps && let Some(kib) = line.strip_prefix("AnonHugePages:") {
                let kib = kib.trim().trim_end_matches("kB").trim();
                total += kib.parse::<usize>().expect("a size in kB");
            }
        }
        total
    }

    /// A placed state buffer of 10M elements is backed by huge pages once written, where the
    /// kernel has transparent huge pages on (`always` or `madvise`; `madvise` alone needs the
    /// advice), on flex (f32, bf16) and ndarray.
    #[cfg(target_os = "linux")]
    #[test]
    fn placed_buffers_get_huge_pages() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !(mode.contains("[always]") || mode.contains("[madvise]")) || !huge_pages_on() {
            eprintln!(
                "transparent huge pages are off here ({mode:?}, or DESCENT_THP=off): nothing \
                 to measure"
            );
            return;
        }
        #[cfg_attr(not(feature = "ndarray"), allow(unused_mut))]
        let mut devices = vec![(Device::flex(), DType::F32), (Device::flex(), DType::BF16)];
        #[cfg(feature = "ndarray")]
        devices.push((Device::ndarray(), DType::F32));
        for (device, dtype) in devices {
            let like = buffer(Tensor::<1>::zeros([10_000_000], &device));
            let b = filled_at(&like, dtype, 0.25, Some(1024));
            let address = match &b {
                Buffer::Flex(f) => f.bytes().as_ptr() as usize,
                #[cfg(feature = "ndarray")]
                Buffer::Nd(a) => a.as_ptr() as usize,
            };
            let huge = huge_kib(address, 10_000_000 * dtype.size());
            // 40 MB of f32 (20 MB of bf16) hold at least 18 (8) whole huge pages; the kernel
            // may fall back to small pages where it finds no free 2 MiB block, so at least one
            // (without the advice, in `madvise` mode: none).
            assert!(
                huge >= HUGE_PAGE / 1024,
                "{device:?} {dtype:?}: {huge} KiB of huge pages, expected at least {} (one page)",
                HUGE_PAGE / 1024
            );
            let t = tensor::<1>(b).cast(DType::F32);
            assert_eq!(t.clone().min().into_scalar::<f32>(), 0.25);
            assert_eq!(t.max().into_scalar::<f32>(), 0.25);
        }
    }

    /// A buffer asked for at an offset starts there, holds its value, reads as a contiguous
    /// tensor of the asked shape, and is written in place (flex and ndarray).
    #[test]
    fn filled_at_places_the_first_element() {
        #[cfg_attr(not(feature = "ndarray"), allow(unused_mut))]
        let mut devices = vec![(Device::flex(), vec![DType::F32, DType::BF16])];
        #[cfg(feature = "ndarray")]
        devices.push((Device::ndarray(), vec![DType::F32]));
        for (device, dtypes) in devices {
            let like = buffer(Tensor::<2>::zeros([300, 7], &device));
            for at in [0, 16, 1040, 4080] {
                for &dtype in &dtypes {
                    let mut b = filled_at(&like, dtype, 0.5, Some(at));
                    assert_eq!(window_offset(&b), at, "{device:?} {dtype:?}");
                    if dtype == DType::F32 {
                        slice_mut(&mut b)[2099] = 2.0;
                        assert_eq!(window_offset(&b), at, "{device:?}: written in place");
                    }
                    let t = tensor::<2>(b);
                    assert_eq!(t.dims(), [300, 7]);
                    let values: Vec<f32> = t.cast(DType::F32).into_data().iter::<f32>().collect();
                    assert_eq!(values.len(), 2100);
                    let last = if dtype == DType::F32 { 2.0 } else { 0.5 };
                    assert!(values[..2099].iter().all(|&v| v == 0.5) && values[2099] == last);
                }
            }
            // A negative zero is written, not left as the allocator's +0.
            let b = filled_at(&like, DType::F32, -0.0, Some(16));
            assert!(slice(&b).iter().all(|v| v.to_bits() == (-0.0f32).to_bits()));
        }
    }
}
