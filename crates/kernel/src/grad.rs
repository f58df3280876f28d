//! A value whose gradient was computed with it: the autodiff operation behind the fused losses
//! (on every device), through Burn's backend-extension mechanism.
//!
//! A fused loss computes `L` and `g = ∂L/∂x` in one pass. [`with_grad`] registers `L` as a node
//! of Burn's autodiff graph with `x` as its parent and `g` as its saved state, so the backward
//! pass is
//!
//! ```text
//! ∂(loss)/∂x = upstream · g      (upstream: one element for a reduced L, x's shape or its
//!                                 leading dimensions otherwise, broadcast over g)
//! ```
//!
//! On the CPU devices an upstream of exactly 1 (`L.backward()`, the common case) hands `g` to
//! the graph as it is: no pass over memory. Elsewhere the product is always taken, so that the
//! backward pass never waits for the device. Like the rest of Burn's autodiff, the operation is
//! first-order.

#[cfg(feature = "wgpu")]
use burn::backend::Cube;
#[cfg(feature = "ndarray")]
use burn::backend::NdArray;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, Dispatch, DispatchKindConversion, DispatchTensor, Flex, Shape,
    TensorMetadata, backend_extension,
};
use burn::tensor::Tensor;

/// The backend extension: `value`, with `g` as its gradient with respect to `x`.
#[backend_extension(
    Flex,
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(feature = "wgpu"),
    Autodiff
)]
pub trait PrecomputedGrad: Backend {
    /// `value`, whose gradient with respect to `x` is `upstream · g`. Without autodiff the value
    /// is returned as it is.
    fn with_precomputed_grad(
        x: FloatTensor<Self>,
        value: FloatTensor<Self>,
        g: FloatTensor<Self>,
        cpu: bool,
    ) -> FloatTensor<Self> {
        let _ = (x, g, cpu);
        value
    }
}

impl PrecomputedGrad for Flex {}
#[cfg(feature = "ndarray")]
impl PrecomputedGrad for NdArray {}
#[cfg(feature = "wgpu")]
impl PrecomputedGrad for Cube {}

/// The backward step: `upstream · g`, with `g` and whether it lives on a CPU device as state.
#[derive(Debug)]
struct Precomputed;

impl<B: Backend> Backward<B, 1> for Precomputed
where
    DispatchTensor: DispatchKindConversion<B>,
{
    type State = (FloatTensor<B>, bool);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (g, cpu) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |upstream| {
            let shape = upstream.shape();
            if cpu && shape.num_elements() == 1 {
                // One element on a CPU device: read without a transfer.
                let up =
                    Tensor::<1>::from_primitive::<B>(B::float_reshape(upstream, Shape::new([1])))
                        .into_scalar::<f32>();
                if up == 1.0 {
                    return g;
                }
                return B::float_mul_scalar(g, up.into());
            }
            // Broadcast the upstream over g: one element, or the leading dimensions of g
            // (per-row losses of [rows, classes] logits).
            let rank = g.rank();
            let mut dims = shape.to_vec();
            dims.resize(rank, 1);
            let upstream = if shape.num_dims() == rank {
                upstream
            } else {
                B::float_reshape(upstream, Shape::from(dims))
            };
            B::float_mul(g, upstream)
        });
    }
}

impl<B, C> PrecomputedGrad for Autodiff<B, C>
where
    B: Backend + PrecomputedGrad,
    C: CheckpointStrategy,
    DispatchTensor: DispatchKindConversion<B>,
{
    fn with_precomputed_grad(
        x: FloatTensor<Self>,
        value: FloatTensor<Self>,
        g: FloatTensor<Self>,
        cpu: bool,
    ) -> FloatTensor<Self> {
        let value = value.into_primitive();
        match Precomputed
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((g.into_primitive(), cpu), value),
            OpsKind::UnTracked(prep) => prep.finish(value),
        }
    }
}

/// `value` (one element, or `x`'s shape) as a node of `x`'s autodiff graph whose gradient with
/// respect to `x` is `upstream · g` (`g` shaped like `x`). Where `x` carries no gradient the
/// value is returned as it is.
pub fn with_grad<const D: usize, const DV: usize>(
    x: &Tensor<D>,
    value: Tensor<DV>,
    g: Tensor<D>,
) -> Tensor<DV> {
    let cpu = crate::buffer::is_cpu(&x.device());
    Tensor::from_dispatch(<Dispatch as PrecomputedGrad>::with_precomputed_grad(
        x.clone().into_dispatch(),
        value.into_dispatch(),
        g.into_dispatch(),
        cpu,
    ))
}
