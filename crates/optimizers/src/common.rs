//! Pieces of the update rules that several optimizers share.

use burn::tensor::Tensor;

/// The gradient an update follows: negated when maximizing, plus coupled (L2) weight decay
/// `g + λθ` when `weight_decay != 0`, as PyTorch applies them.
pub(crate) fn direction<const D: usize>(
    grad: Tensor<D>,
    param: &Tensor<D>,
    maximize: bool,
    weight_decay: f64,
) -> Tensor<D> {
    let grad = if maximize { grad.neg() } else { grad };
    if weight_decay != 0.0 {
        grad + param.clone().mul_scalar(weight_decay)
    } else {
        grad
    }
}

/// Decoupled weight decay `θ ← θ (1 − ηλ)` (AdamW, NAdamW, RAdamW).
pub(crate) fn decay_decoupled<const D: usize>(
    param: Tensor<D>,
    lr: f64,
    weight_decay: f64,
) -> Tensor<D> {
    if weight_decay != 0.0 {
        param.mul_scalar(1.0 - lr * weight_decay)
    } else {
        param
    }
}

/// `β m + (1 − β) x`: an exponential moving average.
pub(crate) fn ema<const D: usize>(avg: Tensor<D>, x: Tensor<D>, beta: f64) -> Tensor<D> {
    avg.mul_scalar(beta) + x.mul_scalar(1.0 - beta)
}
