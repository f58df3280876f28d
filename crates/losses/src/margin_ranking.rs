//! Margin ranking loss.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::or_panic;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced};

const NAME: &str = "margin_ranking_loss";

/// Configuration of the [margin ranking loss](MarginRankingLoss).
#[derive(Config, Debug)]
pub struct MarginRankingLossConfig {
    /// The margin by which the preferred score must lead; finite.
    #[config(default = 0.0)]
    pub margin: f64,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl MarginRankingLossConfig {
    /// Builds the loss.
    pub fn try_init(&self) -> LossResult<MarginRankingLoss> {
        checks::param(
            NAME,
            "margin",
            self.margin,
            self.margin.is_finite(),
            "finite",
        )?;
        Ok(MarginRankingLoss {
            margin: self.margin,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(MarginRankingLossConfig => MarginRankingLoss);

/// Margin ranking loss, PyTorch's `margin_ranking_loss`, of two scores and `y ∈ {-1, +1}`
/// saying which should rank higher:
///
/// ```text
/// ℓ_i = max(0, -y_i·(x1_i - x2_i) + margin)
/// ```
///
/// For learning to rank from pairwise preferences.
#[derive(Debug, Clone)]
pub struct MarginRankingLoss {
    /// The margin.
    pub margin: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl MarginRankingLoss {
    /// Per-element losses, or an error for mismatched shapes, labels other than ±1 or NaN/inf.
    pub fn try_forward_no_reduction<const D: usize>(
        &self,
        input1: Tensor<D>,
        input2: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        checks::scope(self.settings.checks, || {
            checks::same_shape(NAME, "input2", &input2.dims(), "input1", &input1.dims())?;
            checks::same_shape(NAME, "target", &target.dims(), "input1", &input1.dims())?;
            checks::finite(NAME, "input1", &input1)?;
            checks::finite(NAME, "input2", &input2)?;
            checks::signs(NAME, "target", &target)?;
            Ok(target
                .mul(input1.sub(input2))
                .neg()
                .add_scalar(self.margin)
                .clamp_min(0.0))
        })
    }

    /// Per-element losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction<const D: usize>(
        &self,
        input1: Tensor<D>,
        input2: Tensor<D>,
        target: Tensor<D>,
    ) -> Tensor<D> {
        or_panic(self.try_forward_no_reduction(input1, input2, target))
    }

    /// The reduced loss, or an error.
    pub fn try_forward<const D: usize>(
        &self,
        input1: Tensor<D>,
        input2: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(
                NAME,
                self.try_forward_no_reduction(input1, input2, target)?,
                self.reduction,
            )
        })
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward<const D: usize>(
        &self,
        input1: Tensor<D>,
        input2: Tensor<D>,
        target: Tensor<D>,
    ) -> Tensor<1> {
        or_panic(self.try_forward(input1, input2, target))
    }
}

/// Margin ranking loss; see [`MarginRankingLoss`].
///
/// # Panics
/// On mismatched shapes, labels other than ±1, NaN/inf, or `batchmean`.
#[track_caller]
pub fn margin_ranking_loss<const D: usize>(
    input1: Tensor<D>,
    input2: Tensor<D>,
    target: Tensor<D>,
    margin: f64,
    reduction: Reduction,
) -> Tensor<1> {
    let loss = MarginRankingLossConfig::new()
        .with_margin(margin)
        .with_reduction(reduction)
        .try_init();
    or_panic(loss).forward(input1, input2, target)
}
