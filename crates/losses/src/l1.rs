//! Mean absolute error (L1 loss).

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction};

const NAME: &str = "l1_loss";

/// Configuration of the [mean absolute error](L1Loss) (PyTorch `l1_loss`).
#[derive(Config, Debug)]
pub struct L1LossConfig {
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl L1LossConfig {
    /// Builds the loss, rejecting the `batchmean` reduction.
    pub fn try_init(&self) -> LossResult<L1Loss> {
        Ok(L1Loss {
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(L1LossConfig => L1Loss);

/// Mean absolute error, PyTorch's `l1_loss`:
///
/// ```text
/// ℓ_i = |x_i - y_i|        ∂ℓ_i/∂x_i = sign(x_i - y_i)   (0 at x_i = y_i)
/// ```
///
/// Robust to outliers (the median is its minimiser), but its gradient does not shrink near the
/// optimum, so it needs a decaying learning rate to settle.
#[derive(Debug, Clone)]
pub struct L1Loss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl L1Loss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        Ok(input.sub(target).abs())
    }
}

pair_loss!(L1Loss, NAME);

/// Mean absolute error of `input` against `target`; see [`L1Loss`].
///
/// # Panics
/// On mismatched shapes, non-finite values, or the `batchmean` reduction.
#[track_caller]
pub fn l1_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    crate::error::or_panic(L1LossConfig::new().with_reduction(reduction).try_init())
        .forward(input, target)
}
