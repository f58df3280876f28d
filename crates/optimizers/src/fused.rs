//! Fused optimizer steps for Burn's CPU devices (`flex` and `ndarray`): one pass over the
//! parameter, its gradient and its state, updated in place, in parallel.
//!
//! The generic path of each optimizer is a chain of tensor operations, each a pass over
//! memory with a fresh allocation; an Adam step over n parameters then moves many times the
//! 28 n bytes it needs (read θ, g, m, v; write θ, m, v). On the CPU devices the tensors'
//! buffers are reachable, so each optimizer's update runs as one loop over the buffers
//! instead. The loop computes the same f32 expressions as the generic path; other devices
//! (wgpu) keep the generic path.

use burn::tensor::{DType, Device, Tensor};
use burn_flex::{Flex, FlexTensor};
use burn_ndarray::{NdArray, NdArrayTensor};
use ndarray::{ArcArray, IxDyn};
use rayon::prelude::*;

/// Elements per parallel task: large enough that task overhead is negligible.
const CHUNK: usize = 1 << 15;

static FUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns the fused one-pass steps on the CPU devices on or off (on by default). Off, every
/// device takes the generic path of tensor operations (same numbers, slower).
pub fn set_fused_steps(enabled: bool) {
    FUSED.store(enabled, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the fused steps are on.
pub fn fused_steps() -> bool {
    FUSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The ndarray device (deprecated upstream; supported here on purpose).
#[allow(deprecated)]
fn ndarray_device() -> Device {
    Device::ndarray()
}

/// Whether the step of `tensor` along `grad` can take the fused path.
pub(crate) fn eligible<const D: usize>(tensor: &Tensor<D>, grad: &Tensor<D>) -> bool {
    let device = tensor.device();
    fused_steps()
        && tensor.dtype() == DType::F32
        && grad.dtype() == DType::F32
        && grad.device() == device
        && (device == Device::flex() || device == ndarray_device())
}

/// A CPU buffer behind a tensor: flex or ndarray.
pub(crate) enum Buffer {
    /// A contiguous flex tensor.
    Flex(FlexTensor),
    /// A standard-layout ndarray array.
    Nd(ArcArray<f32, IxDyn>),
}

/// The buffer behind `t` (which must be on flex or ndarray), contiguous.
pub(crate) fn buffer<const D: usize>(t: Tensor<D>) -> Buffer {
    // A tensor made on an autodiff device keeps its autodiff association; the update is
    // not differentiated, so drop it.
    let t = if t.is_autodiff() { t.inner() } else { t };
    if t.device() == Device::flex() {
        let t = t
            .try_into_primitive::<Flex>()
            .unwrap_or_else(|e| panic!("fused step: expected a flex tensor: {e:?}"));
        Buffer::Flex(if t.is_contiguous() {
            t
        } else {
            t.to_contiguous()
        })
    } else {
        match t.try_into_primitive::<NdArray>() {
            Ok(NdArrayTensor::F32(storage)) => {
                let a = storage.into_owned();
                Buffer::Nd(if a.is_standard_layout() {
                    a
                } else {
                    a.as_standard_layout().into_owned().into_shared()
                })
            }
            Ok(_) => panic!("fused step: expected an f32 ndarray tensor"),
            Err(e) => panic!("fused step: expected an ndarray tensor: {e:?}"),
        }
    }
}

/// A zero buffer shaped like `like`.
pub(crate) fn zeros(like: &Buffer) -> Buffer {
    match like {
        Buffer::Flex(t) => Buffer::Flex(FlexTensor::zeros(t.layout().shape().clone(), DType::F32)),
        Buffer::Nd(a) => Buffer::Nd(ArcArray::zeros(a.raw_dim())),
    }
}

/// A buffer shaped like `like`, filled with `value`.
pub(crate) fn filled(like: &Buffer, value: f32) -> Buffer {
    let mut t = zeros(like);
    slice_mut(&mut t).fill(value);
    t
}

/// Back to a Burn tensor.
pub(crate) fn tensor<const D: usize>(t: Buffer) -> Tensor<D> {
    match t {
        Buffer::Flex(t) => Tensor::from_primitive::<Flex>(t),
        Buffer::Nd(a) => Tensor::from_primitive::<NdArray>(NdArrayTensor::F32(a.into())),
    }
}

/// The elements of a buffer.
pub(crate) fn slice(t: &Buffer) -> &[f32] {
    match t {
        Buffer::Flex(t) => t
            .as_slice::<f32>()
            .expect("fused step: a contiguous f32 buffer"),
        Buffer::Nd(a) => a.as_slice().expect("fused step: a standard-layout array"),
    }
}

/// The elements of a buffer, writable (copied first if the buffer is shared).
pub(crate) fn slice_mut(t: &mut Buffer) -> &mut [f32] {
    match t {
        Buffer::Flex(t) => {
            let (start, end) = t
                .layout()
                .contiguous_offsets()
                .expect("fused step: a contiguous buffer");
            &mut t.storage_mut::<f32>()[start..end]
        }
        Buffer::Nd(a) => a
            .as_slice_mut()
            .expect("fused step: a standard-layout array"),
    }
}

/// Runs `kernel(θ, g, states)` over matching chunks of the parameter, the gradient and `N`
/// state buffers, in parallel; `kernel` returns whether its gradient chunk was finite.
/// Returns whether the whole gradient was finite.
pub(crate) fn run<const N: usize, F>(
    p: &mut [f32],
    g: &[f32],
    states: [&mut [f32]; N],
    kernel: F,
) -> bool
where
    F: Fn(&mut [f32], &[f32], [&mut [f32]; N]) -> bool + Sync,
{
    assert_eq!(
        p.len(),
        g.len(),
        "fused step: parameter and gradient differ in size"
    );
    for s in &states {
        assert_eq!(
            s.len(),
            p.len(),
            "fused step: state and parameter differ in size"
        );
    }
    if p.len() <= CHUNK {
        return kernel(p, g, states);
    }
    let mut tasks = Vec::with_capacity(p.len().div_ceil(CHUNK));
    let (mut p_rest, mut g_rest, mut s_rest) = (p, g, states);
    while !p_rest.is_empty() {
        let n = CHUNK.min(p_rest.len());
        let (ph, pt) = p_rest.split_at_mut(n);
        let (gh, gt) = g_rest.split_at(n);
        let mut heads = Vec::with_capacity(N);
        let mut tails = Vec::with_capacity(N);
        for s in s_rest {
            let (h, t) = s.split_at_mut(n);
            heads.push(h);
            tails.push(t);
        }
        let heads: [&mut [f32]; N] = heads.try_into().unwrap_or_else(|_| unreachable!());
        tasks.push((ph, gh, heads));
        p_rest = pt;
        g_rest = gt;
        s_rest = tails.try_into().unwrap_or_else(|_| unreachable!());
    }
    tasks
        .into_par_iter()
        .map(|(p, g, s)| kernel(p, g, s))
        .reduce(|| true, |a, b| a && b)
}

/// Panics (naming the optimizer) when the kernel saw a non-finite gradient and the checks
/// are on.
pub(crate) fn check(opt: &'static str, finite: bool) {
    if !finite && crate::checks::finite_checks() {
        panic!(
            "{opt}: grad must be finite, found NaN or inf (a GradScaler skips such steps; \
             otherwise check the loss)"
        );
    }
}

/// `±g + λθ`, the gradient an update follows (see `common::direction`).
#[inline(always)]
pub(crate) fn dir(g: f32, p: f32, sign: f32, wd: f32) -> f32 {
    sign * g + wd * p
}
