//! Mean squared error.

use burn::config::Config;
use burn::tensor::Tensor;
use wide::f32x8;

use crate::pair::pair_loss;
use crate::{LossResult, Reduction, fused};

const NAME: &str = "mse_loss";

/// Configuration of the [mean squared error](MseLoss) (PyTorch `mse_loss`).
#[derive(Config, Debug)]
pub struct MseLossConfig {
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
}

impl MseLossConfig {
    /// Builds the loss, rejecting the `batchmean` reduction.
    pub fn init(&self) -> LossResult<MseLoss> {
        Ok(MseLoss {
            reduction: self.reduction.check_elementwise(NAME)?,
        })
    }
}

/// Mean squared error, PyTorch's `mse_loss`:
///
/// ```text
/// ℓ_i = (x_i - y_i)²
/// ```
///
/// The default regression loss: the maximum-likelihood loss under Gaussian noise, smooth, with a
/// gradient proportional to the error. Squares make it sensitive to outliers; prefer
/// [`HuberLoss`](crate::HuberLoss) or [`L1Loss`](crate::L1Loss) when the data has them.
#[derive(Debug, Clone)]
pub struct MseLoss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
}

impl MseLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        Ok(input.sub(target).square())
    }

    fn fused<const D: usize>(&self, input: &Tensor<D>, target: &Tensor<D>) -> Option<Tensor<1>> {
        fused::pointwise(&MseKernel, input, target, self.reduction)
    }
}

/// `ℓ = (x - y)²`, `∂ℓ/∂x = 2(x - y)`, for the fused CPU path.
struct MseKernel;

impl fused::Pointwise for MseKernel {
    const UNIT_TARGET: bool = false;

    #[inline(always)]
    fn eval(&self, x: f32x8, y: f32x8) -> (f32x8, f32x8) {
        let d = x - y;
        (d * d, d + d)
    }
}

pair_loss!(MseLoss, NAME, fused);

/// Mean squared error of `input` against `target` with `reduction`; see [`MseLoss`].
///
/// # Panics
/// On mismatched shapes, non-finite values, or the `batchmean` reduction.
pub fn mse_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    crate::error::or_panic(MseLossConfig::new().with_reduction(reduction).init())
        .forward(input, target)
}
