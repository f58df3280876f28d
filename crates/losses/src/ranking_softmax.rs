//! Softmax (listwise) ranking loss, Optax's `ranking_softmax_loss`.

use burn::config::Config;
use burn::tensor::{Bool, Tensor};

use crate::LossSettings;
use crate::error::{LossError, or_panic};
use crate::reduction::{nonempty_arg, reduce_counted, reduced};
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, stable};

const NAME: &str = "ranking_softmax_loss";

/// Configuration of the [softmax ranking loss](RankingSoftmaxLoss).
#[derive(Config, Debug)]
pub struct RankingSoftmaxLossConfig {
    /// How per-list losses are reduced: `mean` over the lists with at least one valid item
    /// (Optax's default `reduce_fn=jnp.mean`), `sum`, or `none` (Optax's `reduce_fn=None`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl RankingSoftmaxLossConfig {
    /// Builds the loss.
    pub fn try_init(&self) -> LossResult<RankingSoftmaxLoss> {
        Ok(RankingSoftmaxLoss {
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(RankingSoftmaxLossConfig => RankingSoftmaxLoss);

/// Softmax ranking loss (ListNet-style listwise cross-entropy), Optax's
/// `optax.losses.ranking_softmax_loss`, of item scores `s` `[N, L]` (N lists of L items) and
/// relevance labels `y` `[N, L]`, with an optional validity mask `where` and item weights `w`
/// ([`forward_masked`](Self::forward_masked)):
///
/// ```text
/// V_n = {i : where_ni}                                    (every item without a mask)
/// ℓ_n = -Σ_{i ∈ V_n} w_ni y_ni (s_ni - log Σ_{j ∈ V_n} exp(s_nj))     (0 when V_n is empty)
/// mean = Σ_n ℓ_n / #{n : V_n non-empty}                   (0 when every list is empty)
/// ```
///
/// The labels are not normalised (Optax 0.2.8 does not): a list with two relevant items counts
/// twice. Masked items take part neither in the log-sum-exp nor in the sum; a list with no
/// valid item scores 0 and is left out of the mean, as Optax's `_safe_reduce` does. For
/// learning to rank: the softmax over a list's scores should put its mass on the relevant
/// items. Gradient `∂ℓ_n/∂s_ni = (Σ_j w_nj y_nj) softmax(s_n)_i - w_ni y_ni` on valid items.
#[derive(Debug, Clone)]
pub struct RankingSoftmaxLoss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl RankingSoftmaxLoss {
    /// Shape and value checks of the scores, labels and the optional mask and weights.
    fn check(
        &self,
        logits: &Tensor<2>,
        labels: &Tensor<2>,
        mask: Option<&Tensor<2, Bool>>,
        weights: Option<&Tensor<2>>,
    ) -> LossResult<()> {
        let dims = logits.dims();
        checks::same_shape(NAME, "labels", &labels.dims(), "logits", &dims)?;
        checks::same_place(NAME, "labels", labels, logits)?;
        if let Some(m) = mask {
            checks::same_shape(NAME, "where", &m.dims(), "logits", &dims)?;
            checks::same_place(NAME, "where", m, logits)?;
        }
        if let Some(w) = weights {
            checks::same_shape(NAME, "weights", &w.dims(), "logits", &dims)?;
            checks::same_place(NAME, "weights", w, logits)?;
        }
        if dims[1] == 0 {
            return Err(LossError::new(
                NAME,
                "logits",
                format!("must have at least one item per list; got shape {dims:?}"),
            ));
        }
        checks::finite(NAME, "logits", logits)?;
        checks::finite(NAME, "labels", labels)?;
        checks::in_range(NAME, "labels", labels, 0.0, f64::INFINITY)?;
        if let Some(w) = weights {
            checks::finite(NAME, "weights", w)?;
            checks::in_range(NAME, "weights", w, 0.0, f64::INFINITY)?;
        }
        Ok(())
    }

    /// Per-list losses `[N]` and, with a mask, the `[1]` count of lists with a valid item.
    fn lists(
        &self,
        logits: Tensor<2>,
        labels: Tensor<2>,
        mask: Option<Tensor<2, Bool>>,
        weights: Option<Tensor<2>>,
    ) -> LossResult<(Tensor<1>, Option<Tensor<1>>)> {
        self.check(&logits, &labels, mask.as_ref(), weights.as_ref())?;
        let [n, l] = logits.dims();
        let labels = match weights {
            Some(w) => labels.mul(w),
            None => labels,
        };
        let Some(mask) = mask else {
            let log_p = stable::log_softmax(logits, 1);
            return Ok((labels.mul(log_p).sum_dim(1).neg().reshape([n]), None));
        };
        let invalid = mask.bool_not();
        let valid = invalid.clone().bool_not().float();
        let any = valid.clone().sum_dim(1).greater_elem(0.0).float();
        // log Σ_{j ∈ V} exp(s_j), shifted by the largest valid score (a list's smallest score
        // when it has none valid; every term is finite either way).
        let row_min = logits.clone().min_dim(1).expand([n, l]);
        let shift = logits
            .clone()
            .mask_where(invalid.clone(), row_min)
            .max_dim(1)
            .detach();
        let sum = logits
            .clone()
            .sub(shift.clone())
            .mask_fill(invalid, 0.0)
            .exp()
            .mul(valid.clone())
            .sum_dim(1);
        let lse = sum.add(any.clone().neg().add_scalar(1.0)).log().add(shift);
        let loss = labels
            .mul(valid)
            .mul(logits.sub(lse))
            .sum_dim(1)
            .neg()
            .reshape([n]);
        let count = any.sum().clamp_min(1.0);
        Ok((loss, Some(count)))
    }

    /// Per-list losses `[N]` (Optax's `reduce_fn=None`), or an error for mismatched shapes,
    /// lists of no item, NaN/inf or negative labels.
    pub fn try_forward_no_reduction(
        &self,
        logits: Tensor<2>,
        labels: Tensor<2>,
    ) -> LossResult<Tensor<1>> {
        self.try_forward_masked_no_reduction(logits, labels, None, None)
    }

    /// Per-list losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(&self, logits: Tensor<2>, labels: Tensor<2>) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(logits, labels))
    }

    /// The reduced loss, or an error.
    pub fn try_forward(&self, logits: Tensor<2>, labels: Tensor<2>) -> LossResult<Tensor<1>> {
        self.try_forward_masked(logits, labels, None, None)
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward(&self, logits: Tensor<2>, labels: Tensor<2>) -> Tensor<1> {
        or_panic(self.try_forward(logits, labels))
    }

    /// Per-list losses `[N]` with Optax's `where` (`true`: a valid item) and `weights` (one per
    /// item, ≥ 0), each optional; a list with no valid item scores 0.
    pub fn try_forward_masked_no_reduction(
        &self,
        logits: Tensor<2>,
        labels: Tensor<2>,
        mask: Option<Tensor<2, Bool>>,
        weights: Option<Tensor<2>>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            Ok(self.lists(logits, labels, mask, weights)?.0)
        })
    }

    /// Per-list losses with a mask and weights; panics on errors.
    #[track_caller]
    pub fn forward_masked_no_reduction(
        &self,
        logits: Tensor<2>,
        labels: Tensor<2>,
        mask: Option<Tensor<2, Bool>>,
        weights: Option<Tensor<2>>,
    ) -> Tensor<1> {
        or_panic(self.try_forward_masked_no_reduction(logits, labels, mask, weights))
    }

    /// The reduced loss with Optax's `where` and `weights`, or an error. With a mask, `mean`
    /// is over the lists with a valid item (0 when there is none); an empty batch is an error.
    pub fn try_forward_masked(
        &self,
        logits: Tensor<2>,
        labels: Tensor<2>,
        mask: Option<Tensor<2, Bool>>,
        weights: Option<Tensor<2>>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            // An empty batch (lists of no item are the shape check's error).
            let dims = logits.dims();
            if dims[1] > 0 {
                nonempty_arg(NAME, "logits", &dims, self.reduction)?;
            }
            match self.lists(logits, labels, mask, weights)? {
                (loss, Some(count)) => Ok(reduce_counted(loss, count, self.reduction)),
                (loss, None) => reduced(NAME, loss, self.reduction),
            }
        })
    }

    /// The reduced loss with a mask and weights; panics on errors.
    #[track_caller]
    pub fn forward_masked(
        &self,
        logits: Tensor<2>,
        labels: Tensor<2>,
        mask: Option<Tensor<2, Bool>>,
        weights: Option<Tensor<2>>,
    ) -> Tensor<1> {
        or_panic(self.try_forward_masked(logits, labels, mask, weights))
    }
}

/// Softmax ranking loss of scores `[N, L]` and relevance labels `[N, L]` (no mask, no
/// weights); see [`RankingSoftmaxLoss`]. `Reduction::Mean` is Optax's default.
///
/// # Panics
/// On mismatched shapes, lists of no item, NaN/inf or negative labels, or `batchmean`.
#[track_caller]
pub fn ranking_softmax_loss(
    logits: Tensor<2>,
    labels: Tensor<2>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        RankingSoftmaxLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(logits, labels)
}
