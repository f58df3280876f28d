//! Soft-margin losses: binary (`soft_margin_loss`) and multi-label (`multilabel_soft_margin_loss`).

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::or_panic;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced, stable, weights};

const SOFT: &str = "soft_margin_loss";
const MULTILABEL: &str = "multilabel_soft_margin_loss";

/// Configuration of the [soft-margin loss](SoftMarginLoss) (PyTorch `soft_margin_loss`).
#[derive(Config, Debug)]
pub struct SoftMarginLossConfig {
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl SoftMarginLossConfig {
    /// Builds the loss, rejecting the `batchmean` reduction.
    pub fn try_init(&self) -> LossResult<SoftMarginLoss> {
        Ok(SoftMarginLoss {
            reduction: self.reduction.check_elementwise(SOFT)?,
            settings: self.settings,
        })
    }
}

loss_config!(SoftMarginLossConfig => SoftMarginLoss);

/// Soft-margin loss, PyTorch's `soft_margin_loss`, for labels `y ∈ {-1, +1}`:
///
/// ```text
/// ℓ_i = log(1 + exp(-y_i·x_i)) = softplus(-y_i·x_i)
/// ```
///
/// Logistic regression's loss written for ±1 labels: a smooth hinge.
#[derive(Debug, Clone)]
pub struct SoftMarginLoss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl SoftMarginLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        Ok(stable::softplus(target.mul(input).neg()))
    }
}

pair_loss!(SoftMarginLoss, SOFT);

/// Soft-margin loss; see [`SoftMarginLoss`].
///
/// # Panics
/// On mismatched shapes, NaN/inf, or `batchmean`.
#[track_caller]
pub fn soft_margin_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        SoftMarginLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target)
}

/// Configuration of the [multi-label soft-margin loss](MultilabelSoftMarginLoss).
#[derive(Config, Debug)]
pub struct MultilabelSoftMarginLossConfig {
    /// One weight per class.
    pub weight: Option<Vec<f64>>,
    /// How per-sample losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl MultilabelSoftMarginLossConfig {
    /// Builds the loss; the weights must be finite.
    pub fn try_init(&self) -> LossResult<MultilabelSoftMarginLoss> {
        if let Some(w) = &self.weight {
            checks::class_weights(MULTILABEL, "weight", Some(w), w.len())?;
        }
        Ok(MultilabelSoftMarginLoss {
            weight: self.weight.clone(),
            reduction: self.reduction.check_elementwise(MULTILABEL)?,
            settings: self.settings,
        })
    }
}

loss_config!(MultilabelSoftMarginLossConfig => MultilabelSoftMarginLoss);

/// Multi-label soft-margin loss, PyTorch's `multilabel_soft_margin_loss`, of logits `[N, C]`
/// and 0/1 targets `[N, C]`:
///
/// ```text
/// ℓ_i = -(1/C) Σ_c w_c [y_ic·log σ(x_ic) + (1 - y_ic)·log σ(-x_ic)]
/// ```
///
/// One-vs-all logistic loss averaged over classes: for multi-label classification.
#[derive(Debug, Clone)]
pub struct MultilabelSoftMarginLoss {
    /// Per-class weights.
    pub weight: Option<Vec<f64>>,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl MultilabelSoftMarginLoss {
    /// Per-sample losses `[N]`, or an error for mismatched shapes, targets outside [0, 1] or NaN/inf.
    pub fn try_forward_no_reduction(
        &self,
        input: Tensor<2>,
        target: Tensor<2>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            checks::same_shape(MULTILABEL, "target", &target.dims(), "input", &input.dims())?;
            checks::finite(MULTILABEL, "input", &input)?;
            checks::finite(MULTILABEL, "target", &target)?;
            checks::in_range(MULTILABEL, "target", &target, 0.0, 1.0)?;
            let [n, classes] = input.dims();
            let positive = target.clone().mul(stable::log_sigmoid(input.clone()));
            let negative = target
                .neg()
                .add_scalar(1.0)
                .mul(stable::log_sigmoid(input.clone().neg()));
            let mut loss = positive.add(negative).neg();
            if let Some(w) = &self.weight {
                loss = loss.mul(weights::broadcast(
                    MULTILABEL,
                    "weight",
                    w,
                    [n, classes],
                    &input.device(),
                    input.dtype(),
                )?);
            }
            Ok(loss.sum_dim(1).reshape([n]).div_scalar(classes as f64))
        })
    }

    /// Per-sample losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(&self, input: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(input, target))
    }

    /// The reduced loss, or an error.
    pub fn try_forward(&self, input: Tensor<2>, target: Tensor<2>) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(
                MULTILABEL,
                self.try_forward_no_reduction(input, target)?,
                self.reduction,
            )
        })
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward(&self, input: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
        or_panic(self.try_forward(input, target))
    }
}

/// Multi-label soft-margin loss, unweighted; see [`MultilabelSoftMarginLoss`].
///
/// # Panics
/// On mismatched shapes, targets outside [0, 1], NaN/inf, or `batchmean`.
#[track_caller]
pub fn multilabel_soft_margin_loss(
    input: Tensor<2>,
    target: Tensor<2>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        MultilabelSoftMarginLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target)
}
