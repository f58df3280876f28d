//! Cosine embedding loss.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::or_panic;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced};

const NAME: &str = "cosine_embedding_loss";
/// PyTorch's `EPSILON` added to each squared norm.
const EPSILON: f64 = 1e-12;

/// Configuration of the [cosine embedding loss](CosineEmbeddingLoss).
#[derive(Config, Debug)]
pub struct CosineEmbeddingLossConfig {
    /// Cosine similarity below which dissimilar pairs cost nothing, in [-1, 1].
    #[config(default = 0.0)]
    pub margin: f64,
    /// How per-pair losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl CosineEmbeddingLossConfig {
    /// Builds the loss; `margin` must lie in [-1, 1].
    pub fn try_init(&self) -> LossResult<CosineEmbeddingLoss> {
        checks::param(
            NAME,
            "margin",
            self.margin,
            (-1.0..=1.0).contains(&self.margin),
            "in [-1, 1]",
        )?;
        Ok(CosineEmbeddingLoss {
            margin: self.margin,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(CosineEmbeddingLossConfig => CosineEmbeddingLoss);

/// Cosine embedding loss, PyTorch's `cosine_embedding_loss`, of embedding pairs `[N, D]` and
/// labels `y ∈ {-1, +1}` `[N]`:
///
/// ```text
/// cos_i = x1_i·x2_i / sqrt((‖x1_i‖² + 1e-12)(‖x2_i‖² + 1e-12))
/// ℓ_i = 1 - cos_i                   if y_i = +1
///       max(0, cos_i - margin)      if y_i = -1
/// ```
///
/// For learning embeddings where direction, not length, carries the meaning (text, faces).
#[derive(Debug, Clone)]
pub struct CosineEmbeddingLoss {
    /// The margin.
    pub margin: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl CosineEmbeddingLoss {
    /// Per-pair losses `[N]`, or an error for mismatched shapes, labels other than ±1 or NaN/inf.
    pub fn try_forward_no_reduction(
        &self,
        input1: Tensor<2>,
        input2: Tensor<2>,
        target: Tensor<1>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            checks::same_shape(NAME, "input2", &input2.dims(), "input1", &input1.dims())?;
            let n = input1.dims()[0];
            checks::same_shape(
                NAME,
                "target",
                &target.dims(),
                "input1's first dimension",
                &[n],
            )?;
            checks::finite(NAME, "input1", &input1)?;
            checks::finite(NAME, "input2", &input2)?;
            checks::signs(NAME, "target", &target)?;
            let dot = input1.clone().mul(input2.clone()).sum_dim(1);
            let sq1 = input1.square().sum_dim(1).add_scalar(EPSILON);
            let sq2 = input2.square().sum_dim(1).add_scalar(EPSILON);
            let cos = dot.div(sq1.mul(sq2).sqrt()).reshape([n]);
            let similar = cos.clone().neg().add_scalar(1.0);
            let dissimilar = cos.sub_scalar(self.margin).clamp_min(0.0);
            Ok(similar.mask_where(target.equal_elem(-1.0), dissimilar))
        })
    }

    /// Per-pair losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(
        &self,
        input1: Tensor<2>,
        input2: Tensor<2>,
        target: Tensor<1>,
    ) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(input1, input2, target))
    }

    /// The reduced loss, or an error.
    pub fn try_forward(
        &self,
        input1: Tensor<2>,
        input2: Tensor<2>,
        target: Tensor<1>,
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
    pub fn forward(&self, input1: Tensor<2>, input2: Tensor<2>, target: Tensor<1>) -> Tensor<1> {
        or_panic(self.try_forward(input1, input2, target))
    }
}

/// Cosine embedding loss; see [`CosineEmbeddingLoss`].
///
/// # Panics
/// On mismatched shapes, labels other than ±1, NaN/inf, or `batchmean`.
#[track_caller]
pub fn cosine_embedding_loss(
    input1: Tensor<2>,
    input2: Tensor<2>,
    target: Tensor<1>,
    margin: f64,
    reduction: Reduction,
) -> Tensor<1> {
    let loss = CosineEmbeddingLossConfig::new()
        .with_margin(margin)
        .with_reduction(reduction)
        .try_init();
    or_panic(loss).forward(input1, input2, target)
}
