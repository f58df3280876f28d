//! Hinge embedding loss.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::or_panic;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks};

const NAME: &str = "hinge_embedding_loss";

/// Configuration of the [hinge embedding loss](HingeEmbeddingLoss).
#[derive(Config, Debug)]
pub struct HingeEmbeddingLossConfig {
    /// The margin Δ dissimilar pairs must be pushed beyond; must be finite.
    #[config(default = 1.0)]
    pub margin: f64,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl HingeEmbeddingLossConfig {
    /// Builds the loss.
    pub fn try_init(&self) -> LossResult<HingeEmbeddingLoss> {
        checks::param(
            NAME,
            "margin",
            self.margin,
            self.margin.is_finite(),
            "finite",
        )?;
        Ok(HingeEmbeddingLoss {
            margin: self.margin,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(HingeEmbeddingLossConfig => HingeEmbeddingLoss);

/// Hinge embedding loss, PyTorch's `hinge_embedding_loss`, of distances `x` and labels
/// `y ∈ {-1, +1}`:
///
/// ```text
/// ℓ_i = x_i                     if y_i = +1   (similar pair: shrink the distance)
///       max(0, Δ - x_i)         if y_i = -1   (dissimilar: push beyond the margin)
/// ```
///
/// For learning embeddings or similarity from labelled pairs, `x` usually an L1 distance.
#[derive(Debug, Clone)]
pub struct HingeEmbeddingLoss {
    /// The margin Δ.
    pub margin: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl HingeEmbeddingLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        checks::signs(NAME, "target", &target)?;
        let dissimilar = input.clone().neg().add_scalar(self.margin).clamp_min(0.0);
        Ok(input.mask_where(target.equal_elem(-1.0), dissimilar))
    }
}

pair_loss!(HingeEmbeddingLoss, NAME);

/// Hinge embedding loss with margin 1; see [`HingeEmbeddingLoss`].
///
/// # Panics
/// On targets other than ±1, mismatched shapes, NaN/inf, or `batchmean`.
#[track_caller]
pub fn hinge_embedding_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        HingeEmbeddingLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target)
}
