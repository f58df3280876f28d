//! Hinge and squared hinge losses (SVM losses).

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::or_panic;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks};

const HINGE: &str = "hinge";
const SQUARED: &str = "squared_hinge";

/// Configuration of the [hinge loss](HingeLoss) and [squared hinge loss](SquaredHingeLoss).
#[derive(Config, Debug)]
pub struct HingeLossConfig {
    /// The margin the score `y·x` must reach to cost nothing; must be finite.
    #[config(default = 1.0)]
    pub margin: f64,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl HingeLossConfig {
    fn checked(&self, loss: &'static str) -> LossResult<(f64, Reduction)> {
        checks::param(
            loss,
            "margin",
            self.margin,
            self.margin.is_finite(),
            "finite",
        )?;
        Ok((self.margin, self.reduction.check_elementwise(loss)?))
    }

    /// Builds the hinge loss.
    pub fn try_init(&self) -> LossResult<HingeLoss> {
        let (margin, reduction) = self.checked(HINGE)?;
        Ok(HingeLoss {
            margin,
            reduction,
            settings: self.settings,
        })
    }

    /// Builds the squared hinge loss.
    pub fn try_init_squared(&self) -> LossResult<SquaredHingeLoss> {
        let (margin, reduction) = self.checked(SQUARED)?;
        Ok(SquaredHingeLoss {
            margin,
            reduction,
            settings: self.settings,
        })
    }
}

loss_config!(HingeLossConfig => HingeLoss);

impl HingeLossConfig {
    /// Builds the squared hinge loss.
    ///
    /// # Panics
    /// When a hyperparameter is invalid, with the message of `try_init_squared`.
    #[track_caller]
    pub fn init_squared(&self) -> SquaredHingeLoss {
        or_panic(self.try_init_squared())
    }
}

/// Hinge loss of scores `x` for labels `y ∈ {-1, +1}`:
///
/// ```text
/// ℓ_i = max(0, margin - y_i·x_i)
/// ```
///
/// The linear SVM's loss: zero once a point is classified with the margin, so the solution
/// depends only on the support vectors. Not a probability model; use BCE for probabilities.
#[derive(Debug, Clone)]
pub struct HingeLoss {
    /// The margin.
    pub margin: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

fn margin_violation<const D: usize>(
    loss: &'static str,
    margin: f64,
    input: Tensor<D>,
    target: Tensor<D>,
) -> LossResult<Tensor<D>> {
    checks::signs(loss, "target", &target)?;
    Ok(target.mul(input).neg().add_scalar(margin).clamp_min(0.0))
}

impl HingeLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        margin_violation(HINGE, self.margin, input, target)
    }
}

pair_loss!(HingeLoss, HINGE);

/// Squared hinge loss of scores `x` for labels `y ∈ {-1, +1}`:
///
/// ```text
/// ℓ_i = max(0, margin - y_i·x_i)²
/// ```
///
/// The L2-SVM loss: differentiable everywhere, and it punishes large violations harder.
#[derive(Debug, Clone)]
pub struct SquaredHingeLoss {
    /// The margin.
    pub margin: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl SquaredHingeLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        Ok(margin_violation(SQUARED, self.margin, input, target)?.square())
    }
}

pair_loss!(SquaredHingeLoss, SQUARED);

/// Hinge loss with margin 1; see [`HingeLoss`].
///
/// # Panics
/// On targets other than ±1, mismatched shapes, NaN/inf, or `batchmean`.
#[track_caller]
pub fn hinge<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(HingeLossConfig::new().with_reduction(reduction).try_init()).forward(input, target)
}

/// Squared hinge loss with margin 1; see [`SquaredHingeLoss`].
///
/// # Panics
/// On targets other than ±1, mismatched shapes, NaN/inf, or `batchmean`.
#[track_caller]
pub fn squared_hinge<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        HingeLossConfig::new()
            .with_reduction(reduction)
            .try_init_squared(),
    )
    .forward(input, target)
}
