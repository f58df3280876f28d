//! The autodiff operation behind the fused losses: a scalar loss whose gradient in the input
//! was computed by the forward pass.
//!
//! The fused kernels compute `L` and `g = ∂L/∂x` in one pass. This operation registers `L` as
//! a node of Burn's autodiff graph with `x` as its parent and `g` as its saved state, so the
//! backward pass is
//!
//! ```text
//! ∂(loss)/∂x = upstream · g,   upstream = ∂(loss)/∂L  (a scalar)
//! ```
//!
//! When the upstream gradient is 1 (`L.backward()`, the common case), `g` is handed to the
//! graph as it is: no pass over memory and no allocation. Otherwise it is scaled once. The
//! operation is first-order: Burn's autodiff has no second derivatives.

// burn-ndarray is deprecated upstream; the ndarray device is supported here on purpose.
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, DispatchKindConversion, DispatchTensor, Flex, NdArray, Scalar,
};
use std::sync::atomic::Ordering;

use burn::tensor::{Tensor, TensorData};

/// The backward step: `upstream · g`, with `g` (the gradient the kernel wrote) as its state.
#[derive(Debug)]
struct Precomputed;

impl<B: Backend> Backward<B, 1> for Precomputed
where
    DispatchTensor: DispatchKindConversion<B>,
{
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |upstream| {
            // The loss is one element, so is its upstream gradient; on the CPU devices it is
            // read without a transfer.
            let upstream = Tensor::<1>::from_primitive::<B>(upstream).into_scalar::<f32>();
            if upstream == 1.0 {
                g
            } else {
                B::float_mul_scalar(g, Scalar::from(upstream))
            }
        });
    }
}

/// The loss `value` as a one-element tensor on `input`'s device, with the gradient `g`
/// (already scaled by the reduction, shaped like `input`) attached to `input` through
/// [`Precomputed`]. Without `g` (an untracked input) the value is returned as it is.
///
/// `None` if `input` is not on an autodiff flex or ndarray device with a known checkpointing
/// strategy (the caller then takes the generic path).
pub(crate) fn attach<const D: usize>(
    value: f64,
    input: &Tensor<D>,
    g: Option<descent_cpu::Buffer>,
) -> Option<Tensor<1>> {
    let device = input.device();
    let Some(g) = g else {
        super::CALLS.fetch_add(1, Ordering::Relaxed);
        return Some(Tensor::from_data(
            TensorData::new(vec![value as f32], [1]),
            &device,
        ));
    };
    let inner = device.inner();
    let value = Tensor::<1>::from_data(TensorData::new(vec![value as f32], [1]), &inner);
    let g = descent_cpu::tensor::<D>(g);
    if inner == burn::tensor::Device::flex() {
        on::<Flex, NoCheckpointing, D>(&value, input, &g)
            .or_else(|| on::<Flex, BalancedCheckpointing, D>(&value, input, &g))
    } else {
        on::<NdArray, NoCheckpointing, D>(&value, input, &g)
            .or_else(|| on::<NdArray, BalancedCheckpointing, D>(&value, input, &g))
    }
}

/// [`attach`] on backend `B` with checkpointing `C`: `None` if `input` is not an
/// `Autodiff<B, C>` tensor.
fn on<B, C, const D: usize>(
    value: &Tensor<1>,
    input: &Tensor<D>,
    g: &Tensor<D>,
) -> Option<Tensor<1>>
where
    B: Backend,
    C: CheckpointStrategy,
    DispatchTensor: DispatchKindConversion<B> + DispatchKindConversion<Autodiff<B, C>>,
{
    let x = input.clone().try_into_primitive::<Autodiff<B, C>>().ok()?;
    let value = value.clone().try_into_primitive::<B>().ok()?;
    let g = g.clone().try_into_primitive::<B>().ok()?;
    let out = match Precomputed
        .prepare::<C>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(g, value),
        OpsKind::UnTracked(prep) => prep.finish(value),
    };
    super::CALLS.fetch_add(1, Ordering::Relaxed);
    Some(Tensor::from_primitive::<Autodiff<B, C>>(out))
}
