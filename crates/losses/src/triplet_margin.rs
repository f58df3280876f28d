//! Triplet margin loss.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::or_panic;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced};

const NAME: &str = "triplet_margin_loss";

/// Configuration of the [triplet margin loss](TripletMarginLoss).
#[derive(Config, Debug)]
pub struct TripletMarginLossConfig {
    /// How much closer the positive must be than the negative; > 0.
    #[config(default = 1.0)]
    pub margin: f64,
    /// The norm degree of the pairwise distance; > 0.
    #[config(default = 2.0)]
    pub p: f64,
    /// Added to each difference before the norm, as PyTorch's `pairwise_distance` does.
    #[config(default = 1e-6)]
    pub eps: f64,
    /// Use `min(d(a, n), d(p, n))` as the negative distance (Balntas et al. 2016).
    #[config(default = false)]
    pub swap: bool,
    /// How per-triplet losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl TripletMarginLossConfig {
    /// Builds the loss; `margin` and `p` must be > 0, `eps` ≥ 0.
    pub fn try_init(&self) -> LossResult<TripletMarginLoss> {
        checks::param(
            NAME,
            "margin",
            self.margin,
            self.margin > 0.0 && self.margin.is_finite(),
            "> 0 and finite",
        )?;
        checks::param(
            NAME,
            "p",
            self.p,
            self.p > 0.0 && self.p.is_finite(),
            "> 0 and finite",
        )?;
        checks::param(
            NAME,
            "eps",
            self.eps,
            self.eps >= 0.0 && self.eps.is_finite(),
            ">= 0 and finite",
        )?;
        Ok(TripletMarginLoss {
            margin: self.margin,
            p: self.p,
            eps: self.eps,
            swap: self.swap,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(TripletMarginLossConfig => TripletMarginLoss);

/// Triplet margin loss, PyTorch's `triplet_margin_loss`, of anchors, positives and negatives
/// `[N, D]`:
///
/// ```text
/// d(a, b) = ‖a - b + eps‖_p
/// ℓ_i = max(0, margin + d(a_i, p_i) - d(a_i, n_i))       (swap: d(a, n) → min(d(a, n), d(p, n)))
/// ```
///
/// For metric learning (face recognition, retrieval): pulls same-identity embeddings together
/// and pushes others at least `margin` further away.
#[derive(Debug, Clone)]
pub struct TripletMarginLoss {
    /// The margin.
    pub margin: f64,
    /// The norm degree.
    pub p: f64,
    /// The difference offset.
    pub eps: f64,
    /// Whether the distance swap is used.
    pub swap: bool,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl TripletMarginLoss {
    fn distance(&self, a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
        pairwise_distance(a, b, self.p, self.eps)
    }

    /// Per-triplet losses `[N]`, or an error for mismatched shapes or NaN/inf.
    pub fn try_forward_no_reduction(
        &self,
        anchor: Tensor<2>,
        positive: Tensor<2>,
        negative: Tensor<2>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            checks::same_shape(NAME, "positive", &positive.dims(), "anchor", &anchor.dims())?;
            checks::same_shape(NAME, "negative", &negative.dims(), "anchor", &anchor.dims())?;
            checks::finite(NAME, "anchor", &anchor)?;
            checks::finite(NAME, "positive", &positive)?;
            checks::finite(NAME, "negative", &negative)?;
            let d_pos = self.distance(anchor.clone(), positive.clone());
            let mut d_neg = self.distance(anchor, negative.clone());
            if self.swap {
                d_neg = d_neg.min_pair(self.distance(positive, negative));
            }
            Ok(d_pos.sub(d_neg).add_scalar(self.margin).clamp_min(0.0))
        })
    }

    /// Per-triplet losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(
        &self,
        anchor: Tensor<2>,
        positive: Tensor<2>,
        negative: Tensor<2>,
    ) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(anchor, positive, negative))
    }

    /// The reduced loss, or an error.
    pub fn try_forward(
        &self,
        anchor: Tensor<2>,
        positive: Tensor<2>,
        negative: Tensor<2>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(
                NAME,
                self.try_forward_no_reduction(anchor, positive, negative)?,
                self.reduction,
            )
        })
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward(
        &self,
        anchor: Tensor<2>,
        positive: Tensor<2>,
        negative: Tensor<2>,
    ) -> Tensor<1> {
        or_panic(self.try_forward(anchor, positive, negative))
    }
}

/// PyTorch's `pairwise_distance` of the rows of `a` and `b` `[N, D]`, `[N]`:
///
/// ```text
/// d(a, b)_n = ‖a_n - b_n + eps‖_p = (Σ_i |a_{n,i} - b_{n,i} + eps|^p)^(1/p)
/// ```
pub fn pairwise_distance(a: Tensor<2>, b: Tensor<2>, p: f64, eps: f64) -> Tensor<1> {
    let n = a.dims()[0];
    let d = a.sub(b).add_scalar(eps);
    let norm = if p == 2.0 {
        d.square().sum_dim(1).sqrt()
    } else if p == 1.0 {
        d.abs().sum_dim(1)
    } else {
        d.abs().powf_scalar(p).sum_dim(1).powf_scalar(1.0 / p)
    };
    norm.reshape([n])
}

/// Triplet margin loss with PyTorch's defaults (margin 1, p = 2, eps 1e-6, no swap); see
/// [`TripletMarginLoss`].
///
/// # Panics
/// On mismatched shapes, NaN/inf, or `batchmean`.
#[track_caller]
pub fn triplet_margin_loss(
    anchor: Tensor<2>,
    positive: Tensor<2>,
    negative: Tensor<2>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        TripletMarginLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(anchor, positive, negative)
}
