//! NT-Xent (normalised temperature-scaled cross-entropy, InfoNCE), Optax's `ntxent`.

use burn::config::Config;
use burn::tensor::{Bool, Int, Tensor};

use crate::LossSettings;
use crate::error::or_panic;
use crate::reduction::{nonempty_arg, reduce_counted};
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, stable};

const NAME: &str = "ntxent";

/// Optax's floor of the squared norms in the cosine similarity: `jnp.finfo(float32).eps`.
const NORM2_EPS: f64 = f32::EPSILON as f64;

/// Configuration of the [NT-Xent loss](NtXentLoss).
#[derive(Config, Debug)]
pub struct NtXentLossConfig {
    /// τ: similarities are divided by it; > 0 and finite (Optax's default 0.07).
    #[config(default = 0.07)]
    pub temperature: f64,
    /// How the per-pair losses are reduced: `mean` over the positive pairs (Optax's value),
    /// `sum`, or `none` (the `[N, N]` matrix of per-pair losses, 0 off the positive pairs).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl NtXentLossConfig {
    /// Builds the loss; `temperature` must be > 0 and finite.
    pub fn try_init(&self) -> LossResult<NtXentLoss> {
        checks::param(
            NAME,
            "temperature",
            self.temperature,
            self.temperature > 0.0 && self.temperature.is_finite(),
            "> 0 and finite",
        )?;
        Ok(NtXentLoss {
            temperature: self.temperature,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(NtXentLossConfig => NtXentLoss);

/// NT-Xent / InfoNCE, Optax's `optax.losses.ntxent` (SimCLR's contrastive loss, as
/// pytorch-metric-learning's `NTXentLoss`), of embeddings `x` `[N, D]` and labels `y` `[N]`
/// naming the positive pairs (`[0, 0, 1, 1]`: rows 0 and 1 are one pair, rows 2 and 3
/// another):
///
/// ```text
/// s_ij = cos(x_i, x_j) / τ        cos(a, b) = a·b / (√max(‖a‖², ε) √max(‖b‖², ε)),  ε = 2⁻²³
/// P = {(i, j) : i ≠ j, y_i = y_j}  (positive pairs)     N_i = {k : y_k ≠ y_i}  (negatives of i)
/// ℓ_ij = -log( exp(s_ij) / (exp(s_ij) + Σ_{k ∈ N_i} exp(s_ik)) )
///      = softplus( logsumexp_{k ∈ N_i} s_ik - s_ij )        (0 when i has no negative)
/// mean = Σ_{(i,j) ∈ P} ℓ_ij / |P|                          (Optax's value)
/// ```
///
/// Each positive pair is scored against its anchor's negatives only (not against the other
/// positives), and self-pairs are excluded, as in Optax. Computed in the log-sum-exp form above,
/// so it stays finite at small temperatures. For self-supervised and supervised contrastive
/// learning: pull the embeddings of one group together, push the others away on the sphere.
/// `none` gives the `[N, N]` per-pair losses (0 off `P`); `sum` is their sum. A batch without
/// a positive pair is an error (Optax returns NaN).
#[derive(Debug, Clone)]
pub struct NtXentLoss {
    /// The temperature τ.
    pub temperature: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl NtXentLoss {
    /// The per-pair losses `[N, N]` and the positive-pair mask, after the shape checks.
    fn pairs(
        &self,
        embeddings: Tensor<2>,
        labels: Tensor<1, Int>,
    ) -> LossResult<(Tensor<2>, Tensor<2>)> {
        let [n, _] = embeddings.dims();
        checks::same_shape(
            NAME,
            "labels",
            &labels.dims(),
            "embeddings' first dimension",
            &[n],
        )?;
        checks::same_place(NAME, "labels", &labels, &embeddings)?;
        checks::finite(NAME, "embeddings", &embeddings)?;
        let device = embeddings.device();
        let norm = embeddings
            .clone()
            .square()
            .sum_dim(1)
            .clamp_min(NORM2_EPS)
            .sqrt();
        let unit = embeddings.div(norm);
        let s = unit
            .clone()
            .matmul(unit.transpose())
            .div_scalar(self.temperature);
        let same = labels
            .clone()
            .reshape([n, 1])
            .expand([n, n])
            .equal(labels.reshape([1, n]).expand([n, n]));
        let negatives = same.clone().bool_not().float();
        let positive = same
            .clone()
            .bool_and(Tensor::<2, Bool>::diag_mask([n, n], 0, &device));
        // log Σ_{k ∈ N_i} exp(s_ik), shifted by the largest negative of the row; rows without a
        // negative get log 1 here and are zeroed below.
        let floor = -1.0 / self.temperature - 1.0;
        let shift = s.clone().mask_fill(same.clone(), floor).max_dim(1).detach();
        let has_negative = negatives.clone().sum_dim(1).greater_elem(0.0).float();
        let sum = s
            .clone()
            .sub(shift.clone())
            .mask_fill(same, 0.0)
            .exp()
            .mul(negatives)
            .sum_dim(1);
        let lse = sum
            .add(has_negative.clone().neg().add_scalar(1.0))
            .log()
            .add(shift);
        let positives = positive.float();
        let loss = stable::softplus(lse.sub(s))
            .mul(positives.clone())
            .mul(has_negative);
        Ok((loss, positives))
    }

    /// The per-pair losses `ℓ_ij` `[N, N]` (0 where `(i, j)` is not a positive pair), or an
    /// error for labels of the wrong shape, a non-finite embedding or a temperature issue.
    pub fn try_forward_no_reduction(
        &self,
        embeddings: Tensor<2>,
        labels: Tensor<1, Int>,
    ) -> LossResult<Tensor<2>> {
        checks::scope(self.settings.checks, || {
            Ok(self.pairs(embeddings, labels)?.0)
        })
    }

    /// The per-pair losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(&self, embeddings: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<2> {
        or_panic(self.try_forward_no_reduction(embeddings, labels))
    }

    /// The reduced loss (`mean`: over the positive pairs, Optax's value), or an error; a
    /// batch without a positive pair is one for `mean`.
    pub fn try_forward(
        &self,
        embeddings: Tensor<2>,
        labels: Tensor<1, Int>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            nonempty_arg(NAME, "embeddings", &[embeddings.dims()[0]], self.reduction)?;
            let (loss, positives) = self.pairs(embeddings, labels)?;
            let count = positives.sum();
            if self.reduction == Reduction::Mean {
                checks::nonzero(
                    NAME,
                    "labels",
                    &count,
                    "must name at least one positive pair (two rows with the same label) for \
                     the mean reduction; every label is distinct",
                )?;
            }
            Ok(reduce_counted(loss, count, self.reduction))
        })
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward(&self, embeddings: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
        or_panic(self.try_forward(embeddings, labels))
    }
}

/// NT-Xent of embeddings `[N, D]` with positive-pair labels `[N]` at temperature
/// `temperature`; see [`NtXentLoss`] for the formula. `Reduction::Mean` is Optax's `ntxent`.
///
/// # Panics
/// On labels of the wrong shape, NaN/inf, a temperature ≤ 0, no positive pair (mean), or
/// `batchmean`.
#[track_caller]
pub fn ntxent(
    embeddings: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f64,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        NtXentLossConfig::new()
            .with_temperature(temperature)
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(embeddings, labels)
}
