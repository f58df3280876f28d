//! Numerically stable building blocks: softplus, log-sigmoid, log-sum-exp, log-softmax.
//!
//! Every loss that starts from logits is written with these, so that values and gradients stay
//! finite at logits of ±100 in f32.

use burn::tensor::{Tensor, activation};

/// `softplus(x) = log(1 + exp(x))`, computed as `log1p(exp(x))` below 20 and `x` above.
///
/// The gradient is `sigmoid(x)` everywhere, 0.5 at 0 (a `max(x, 0) + log1p(exp(-|x|))` form would
/// give the wrong sub-gradient 0 there).
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    activation::softplus(x, 1.0)
}

/// `log σ(x) = -softplus(-x)`, finite for any finite `x`.
pub fn log_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    softplus(x.neg()).neg()
}

/// `log Σ_j exp(x_j)` along `dim` (kept as size 1), shifted by the detached maximum.
pub fn log_sum_exp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let max = x.clone().max_dim(dim).detach();
    x.sub(max.clone()).exp().sum_dim(dim).log().add(max)
}

/// `log softmax(x)_j = x_j - log Σ_k exp(x_k)` along `dim`.
pub fn log_softmax<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let lse = log_sum_exp(x.clone(), dim);
    x.sub(lse)
}

/// A tensor whose value is exactly 0 and whose gradient with respect to `x` is `grad`.
///
/// Added to a value computed from `x.detach()`, it gives a loss the backward pass PyTorch
/// defines explicitly (for example BCE's `(x - y) / max(x(1 - x), 1e-12)`), where plain autodiff
/// of the forward formula would produce `0 · ∞`.
pub fn with_gradient<const D: usize>(x: Tensor<D>, grad: Tensor<D>) -> Tensor<D> {
    let product = x.mul(grad.detach());
    product.clone().sub(product.detach())
}
