//! Triplet margin loss with any distance.

use std::fmt;
use std::sync::Arc;

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::{LossError, or_panic};
use crate::settings::loss_config;
use crate::triplet_margin::pairwise_distance;
use crate::{LossResult, Reduction, checks, reduction::reduced};

const NAME: &str = "triplet_margin_with_distance_loss";

/// PyTorch's `pairwise_distance` defaults used by [`Distance::Pairwise`].
const PAIRWISE_EPS: f64 = 1e-6;
/// PyTorch's `cosine_similarity` default used by [`Distance::Cosine`].
const COSINE_EPS: f64 = 1e-8;

/// A distance between the rows of two `[N, D]` tensors, `[N]`: the `distance_function` of
/// [`TripletMarginWithDistanceLoss`]. Any closure; it must be differentiable (Burn tensor
/// operations) for the loss to be.
pub type DistanceFn = Arc<dyn Fn(Tensor<2>, Tensor<2>) -> Tensor<1> + Send + Sync>;

/// The named distances of [`TripletMarginWithDistanceLossConfig`] (the registry's
/// `distance_function` option).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Distance {
    /// PyTorch's default, `pairwise_distance(a, b)`: `‖a - b + 1e-6‖₂` per row.
    Pairwise,
    /// `1 - cosine_similarity(a, b)` (eps `1e-8`) per row.
    Cosine,
}

impl Distance {
    /// The distance as a closure.
    pub fn function(self) -> DistanceFn {
        match self {
            Distance::Pairwise => Arc::new(|a, b| pairwise_distance(a, b, 2.0, PAIRWISE_EPS)),
            Distance::Cosine => {
                Arc::new(|a, b| cosine_similarity(a, b, COSINE_EPS).neg().add_scalar(1.0))
            }
        }
    }
}

/// PyTorch's `cosine_similarity` of the rows of `a` and `b` `[N, D]`, `[N]`, each norm clamped
/// at `eps`:
///
/// ```text
/// cos(a, b)_n = Σ_i (a_{n,i} / max(‖a_n‖₂, eps)) · (b_{n,i} / max(‖b_n‖₂, eps))
/// ```
pub fn cosine_similarity(a: Tensor<2>, b: Tensor<2>, eps: f64) -> Tensor<1> {
    let n = a.dims()[0];
    let unit = |x: Tensor<2>| {
        let norm = x.clone().square().sum_dim(1).sqrt().clamp_min(eps);
        x.div(norm)
    };
    unit(a).mul(unit(b)).sum_dim(1).reshape([n])
}

/// Configuration of the [triplet margin loss with a distance](TripletMarginWithDistanceLoss).
#[derive(Config, Debug)]
pub struct TripletMarginWithDistanceLossConfig {
    /// The named distance [`try_init`](Self::try_init) uses (PyTorch's default: pairwise);
    /// [`try_init_with`](Self::try_init_with) takes any closure instead.
    #[config(default = "Distance::Pairwise")]
    pub distance_function: Distance,
    /// How much closer the positive must be than the negative; > 0.
    #[config(default = 1.0)]
    pub margin: f64,
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

impl TripletMarginWithDistanceLossConfig {
    /// Builds the loss with the named [`distance_function`](Self::distance_function); `margin`
    /// must be > 0 and finite.
    pub fn try_init(&self) -> LossResult<TripletMarginWithDistanceLoss> {
        self.build(self.distance_function.function())
    }

    /// Builds the loss with the distance `distance` (rows of `[N, D]` tensors to `[N]`), for
    /// example `|a, b| (a - b).abs().sum_dim(1).squeeze_dim(1)`.
    pub fn try_init_with(
        &self,
        distance: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<1> + Send + Sync + 'static,
    ) -> LossResult<TripletMarginWithDistanceLoss> {
        self.build(Arc::new(distance))
    }

    /// [`try_init_with`](Self::try_init_with), panicking with its error.
    #[track_caller]
    pub fn init_with(
        &self,
        distance: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<1> + Send + Sync + 'static,
    ) -> TripletMarginWithDistanceLoss {
        or_panic(self.try_init_with(distance))
    }

    fn build(&self, distance: DistanceFn) -> LossResult<TripletMarginWithDistanceLoss> {
        checks::param(
            NAME,
            "margin",
            self.margin,
            self.margin > 0.0 && self.margin.is_finite(),
            "> 0 and finite",
        )?;
        Ok(TripletMarginWithDistanceLoss {
            distance,
            margin: self.margin,
            swap: self.swap,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(TripletMarginWithDistanceLossConfig => TripletMarginWithDistanceLoss);

/// Triplet margin loss with a distance, PyTorch's `triplet_margin_with_distance_loss`, of
/// anchors, positives and negatives `[N, D]` and any distance `d` (rows to `[N]`):
///
/// ```text
/// ℓ_i = max(0, margin + d(a_i, p_i) - d(a_i, n_i))       (swap: d(a, n) → min(d(a, n), d(p, n)))
/// d   = pairwise_distance (default), 1 - cosine_similarity, or any closure
/// ```
///
/// For metric learning with a distance of one's choice (cosine for normalised embeddings).
#[derive(Clone)]
pub struct TripletMarginWithDistanceLoss {
    /// The distance.
    pub distance: DistanceFn,
    /// The margin.
    pub margin: f64,
    /// Whether the distance swap is used.
    pub swap: bool,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl fmt::Debug for TripletMarginWithDistanceLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TripletMarginWithDistanceLoss")
            .field("margin", &self.margin)
            .field("swap", &self.swap)
            .field("reduction", &self.reduction)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TripletMarginWithDistanceLoss {
    fn distance_of(&self, a: Tensor<2>, b: Tensor<2>) -> LossResult<Tensor<1>> {
        let n = a.dims()[0];
        let d = (self.distance)(a, b);
        if d.dims() != [n] {
            return Err(LossError::new(
                NAME,
                "distance_function",
                format!(
                    "must return one distance per row, shape [{n}]; got {:?}",
                    d.dims()
                ),
            ));
        }
        Ok(d)
    }

    /// Per-triplet losses `[N]` (the formula of [`TripletMarginWithDistanceLoss`]), or an error
    /// for mismatched shapes or NaN/inf.
    pub fn try_forward_no_reduction(
        &self,
        anchor: Tensor<2>,
        positive: Tensor<2>,
        negative: Tensor<2>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            checks::same_shape(NAME, "positive", &positive.dims(), "anchor", &anchor.dims())?;
            checks::same_shape(NAME, "negative", &negative.dims(), "anchor", &anchor.dims())?;
            checks::same_place(NAME, "positive", &positive, &anchor)?;
            checks::same_place(NAME, "negative", &negative, &anchor)?;
            checks::finite(NAME, "anchor", &anchor)?;
            checks::finite(NAME, "positive", &positive)?;
            checks::finite(NAME, "negative", &negative)?;
            let d_pos = self.distance_of(anchor.clone(), positive.clone())?;
            let mut d_neg = self.distance_of(anchor, negative.clone())?;
            if self.swap {
                d_neg = d_neg.min_pair(self.distance_of(positive, negative)?);
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

    /// The reduced loss (the formula of [`TripletMarginWithDistanceLoss`], reduced), or an
    /// error.
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

/// Triplet margin loss with the distance `distance`, margin 1, no swap; see
/// [`TripletMarginWithDistanceLoss`] for the formula.
///
/// # Panics
/// On mismatched shapes, NaN/inf, or `batchmean`.
#[track_caller]
pub fn triplet_margin_with_distance_loss(
    anchor: Tensor<2>,
    positive: Tensor<2>,
    negative: Tensor<2>,
    distance: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<1> + Send + Sync + 'static,
    reduction: Reduction,
) -> Tensor<1> {
    TripletMarginWithDistanceLossConfig::new()
        .with_reduction(reduction)
        .init_with(distance)
        .forward(anchor, positive, negative)
}
