//! Log-cosh loss.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, stable};

const NAME: &str = "log_cosh";

/// Configuration of the [log-cosh loss](LogCoshLoss).
#[derive(Config, Debug)]
pub struct LogCoshLossConfig {
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl LogCoshLossConfig {
    /// Builds the loss, rejecting the `batchmean` reduction.
    pub fn try_init(&self) -> LossResult<LogCoshLoss> {
        Ok(LogCoshLoss {
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(LogCoshLossConfig => LogCoshLoss);

/// Log-cosh loss, with `d = x - y`, computed without overflowing `cosh`:
///
/// ```text
/// ℓ_i = log cosh(d) = |d| + softplus(-2|d|) - log 2        ∂ℓ_i/∂x_i = tanh(d)
/// ```
///
/// Like Huber with δ ≈ 1 but twice differentiable everywhere: ≈ ½d² for small errors and
/// ≈ |d| - log 2 for large ones.
#[derive(Debug, Clone)]
pub struct LogCoshLoss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl LogCoshLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        let abs = input.sub(target).abs();
        let tail = stable::softplus(abs.clone().mul_scalar(-2.0));
        Ok(abs.add(tail).sub_scalar(core::f64::consts::LN_2))
    }
}

pair_loss!(LogCoshLoss, NAME);

/// Log-cosh loss of `input` against `target`; see [`LogCoshLoss`].
///
/// # Panics
/// On mismatched shapes, non-finite values, or the `batchmean` reduction.
#[track_caller]
pub fn log_cosh<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    crate::error::or_panic(
        LogCoshLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target)
}
