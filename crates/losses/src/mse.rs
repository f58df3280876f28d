//! Mean squared error.

use burn::config::Config;
use burn::tensor::Tensor;
use descent_kernel::Num;
use descent_kernel::pointwise::PointRule;

use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, LossSettings, Reduction, fused};

const NAME: &str = "mse_loss";

/// Configuration of the [mean squared error](MseLoss) (PyTorch `mse_loss`).
#[derive(Config, Debug)]
pub struct MseLossConfig {
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl MseLossConfig {
    /// Builds the loss, rejecting the `batchmean` reduction.
    pub fn try_init(&self) -> LossResult<MseLoss> {
        Ok(MseLoss {
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(MseLossConfig => MseLoss);

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
    /// Kernel and value checks.
    pub settings: LossSettings,
}

/// The loss and its derivative, written once: `ℓ = (x - y)²`, `∂ℓ/∂x = 2(x - y)`.
#[inline(always)]
fn mse<T: Num>(x: T, y: T) -> (T, T) {
    let d = x - y;
    (d.clone().square(), d.clone() + d)
}

impl MseLoss {
    /// `(ℓ, ∂ℓ/∂x)` on tensors.
    fn with_grad<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<(Tensor<D>, Tensor<D>)> {
        Ok(mse(input, target))
    }

    fn fused<const D: usize>(&self, input: &Tensor<D>, target: &Tensor<D>) -> Option<Tensor<1>> {
        let checks = self.settings.checks;
        fused::pointwise(&MseKernel, input, target, self.reduction, checks)
    }
}

/// [`mse`] on the fused CPU path's lanes.
struct MseKernel;

impl fused::Pointwise for MseKernel {
    const UNIT_TARGET: bool = false;
}

impl PointRule for MseKernel {
    #[inline(always)]
    fn eval<T: Num + Copy>(&self, x: T, y: T) -> (T, T) {
        mse(x, y)
    }
}

pair_loss!(MseLoss, NAME, fused);

/// Mean squared error of `input` against `target` with `reduction`; see [`MseLoss`].
///
/// # Panics
/// On mismatched shapes, non-finite values, or the `batchmean` reduction.
#[track_caller]
pub fn mse_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    MseLossConfig::new()
        .with_reduction(reduction)
        .init()
        .forward(input, target)
}
