//! How a vector of per-element losses becomes the loss: one type, one function.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::error::{LossError, LossResult};

/// The reduction applied to per-element losses, as PyTorch's `reduction=` argument.
///
/// ```text
/// none      : ℓ (the per-element losses, unreduced)
/// mean      : Σ ℓ / numel      (weighted losses divide by the weight sum where PyTorch does)
/// sum       : Σ ℓ
/// batchmean : Σ ℓ / N          (N = size of the first dimension; KL divergence only)
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// No reduction: `forward` returns the per-element losses, flattened.
    None,
    /// The mean over elements (PyTorch's default).
    Mean,
    /// The sum over elements.
    Sum,
    /// The sum divided by the batch size; only [`kl_div`](crate::kl_div) accepts it.
    BatchMean,
}

impl Reduction {
    /// PyTorch's name of the reduction.
    pub fn as_str(self) -> &'static str {
        match self {
            Reduction::None => "none",
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
            Reduction::BatchMean => "batchmean",
        }
    }

    /// Parses PyTorch's name (`none`, `mean`, `sum`, `batchmean`).
    pub fn parse(loss: &'static str, name: &str) -> LossResult<Self> {
        match name {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            "batchmean" => Ok(Reduction::BatchMean),
            other => Err(LossError::new(
                loss,
                "reduction",
                format!("must be one of none, mean, sum, batchmean; got {other:?}"),
            )),
        }
    }

    /// Rejects `batchmean` for every loss but KL divergence.
    pub(crate) fn check_elementwise(self, loss: &'static str) -> LossResult<Self> {
        if self == Reduction::BatchMean {
            return Err(LossError::new(
                loss,
                "reduction",
                "must be none, mean or sum (batchmean is for kl_div only); got batchmean",
            ));
        }
        Ok(self)
    }
}

/// [`reduce`] for loss `name`, refusing a mean over nothing ([`nonempty`]).
pub(crate) fn reduced<const D: usize>(
    name: &'static str,
    loss: Tensor<D>,
    reduction: Reduction,
) -> LossResult<Tensor<1>> {
    nonempty(name, &loss.dims(), reduction)?;
    Ok(reduce(loss, reduction))
}

/// A mean over no element (`mean`, or `batchmean` of an empty batch) is an error naming the
/// loss: PyTorch returns NaN there; descent refuses it for every loss, whether the value
/// checks are on or off (the shape says it, no read-back needed).
pub(crate) fn nonempty(name: &'static str, dims: &[usize], reduction: Reduction) -> LossResult<()> {
    nonempty_arg(name, "input", dims, reduction)
}

/// [`nonempty`] for an input named `arg` (Optax's `logits`, `embeddings`).
pub(crate) fn nonempty_arg(
    name: &'static str,
    arg: &'static str,
    dims: &[usize],
    reduction: Reduction,
) -> LossResult<()> {
    let empty = match reduction {
        Reduction::Mean => dims.iter().product::<usize>() == 0,
        Reduction::BatchMean => dims.first() == Some(&0),
        _ => false,
    };
    if empty {
        return Err(LossError::new(
            name,
            arg,
            format!(
                "must hold at least one element for the {} reduction (a mean over nothing is \
                 undefined); got shape {dims:?}",
                reduction.as_str()
            ),
        ));
    }
    Ok(())
}

/// [`reduce`] of losses `loss` of which only `count` are counted (masked pairs or lists hold
/// 0): `mean` is `Σ ℓ / count`, `none` and `sum` as [`reduce`]. Optax's means over positive
/// pairs (`ntxent`) and over valid lists (`ranking_softmax_loss`).
pub(crate) fn reduce_counted<const D: usize>(
    loss: Tensor<D>,
    count: Tensor<1>,
    reduction: Reduction,
) -> Tensor<1> {
    match reduction {
        Reduction::Mean => loss.sum().div(count),
        other => reduce(loss, other),
    }
}

/// Applies `reduction` to per-element losses `loss`: the single place that reduces.
///
/// `none` flattens to one dimension; `batchmean` divides the sum by `loss.dims()[0]`.
pub fn reduce<const D: usize>(loss: Tensor<D>, reduction: Reduction) -> Tensor<1> {
    match reduction {
        Reduction::None => {
            let n = loss.shape().num_elements();
            loss.reshape([n])
        }
        Reduction::Mean => loss.mean(),
        Reduction::Sum => loss.sum(),
        Reduction::BatchMean => {
            let batch = if D == 0 { 1 } else { loss.dims()[0].max(1) };
            loss.sum().div_scalar(batch as f64)
        }
    }
}
