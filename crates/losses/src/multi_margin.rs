//! Multi-class margin (multi-class hinge) loss.

use burn::config::Config;
use burn::tensor::{Int, Tensor};

use crate::LossSettings;
use crate::error::{LossError, or_panic};
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced, weights};

const NAME: &str = "multi_margin_loss";

/// Configuration of the [multi-class margin loss](MultiMarginLoss).
#[derive(Config, Debug)]
pub struct MultiMarginLossConfig {
    /// The exponent p, 1 or 2.
    #[config(default = 1)]
    pub p: u32,
    /// The margin the target score must beat every other score by; finite.
    #[config(default = 1.0)]
    pub margin: f64,
    /// One weight per class, applied by the target's class.
    pub weight: Option<Vec<f64>>,
    /// How per-sample losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl MultiMarginLossConfig {
    /// Builds the loss; `p` must be 1 or 2, `margin` and `weight` finite.
    pub fn try_init(&self) -> LossResult<MultiMarginLoss> {
        if self.p != 1 && self.p != 2 {
            return Err(LossError::new(
                NAME,
                "p",
                format!("must be 1 or 2; got {}", self.p),
            ));
        }
        checks::param(
            NAME,
            "margin",
            self.margin,
            self.margin.is_finite(),
            "finite",
        )?;
        if let Some(w) = &self.weight {
            checks::class_weights(NAME, "weight", Some(w), w.len())?;
        }
        Ok(MultiMarginLoss {
            p: self.p,
            margin: self.margin,
            weight: self.weight.clone(),
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(MultiMarginLossConfig => MultiMarginLoss);

/// Multi-class margin loss, PyTorch's `multi_margin_loss`, of scores `x` `[N, C]` and class
/// targets `y` `[N]`:
///
/// ```text
/// ℓ_i = (1/C) Σ_{j ≠ y_i} w_{y_i} · max(0, margin - x_{i,y_i} + x_{i,j})^p
/// ```
///
/// The multi-class SVM (Weston–Watkins): the target score must beat every other by the margin.
#[derive(Debug, Clone)]
pub struct MultiMarginLoss {
    /// The exponent p.
    pub p: u32,
    /// The margin.
    pub margin: f64,
    /// Per-class weights.
    pub weight: Option<Vec<f64>>,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl MultiMarginLoss {
    /// Per-sample losses `[N]`, or an error for bad shapes, class indices or NaN/inf.
    pub fn try_forward_no_reduction(
        &self,
        input: Tensor<2>,
        target: Tensor<1, Int>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            let [n, classes] = input.dims();
            checks::same_shape(
                NAME,
                "target",
                &target.dims(),
                "input's first dimension",
                &[n],
            )?;
            checks::finite(NAME, "input", &input)?;
            checks::class_weights(NAME, "weight", self.weight.as_deref(), classes)?;
            checks::class_indices(NAME, &target, classes, None)?;
            let index = target.clone().reshape([n, 1]);
            let x_target = input.clone().gather(1, index);
            let mut violation = input.sub(x_target).add_scalar(self.margin).clamp_min(0.0);
            if self.p == 2 {
                violation = violation.square();
            }
            let others = descent_kernel::as_dtype(
                target.clone().one_hot::<2>(classes).float(),
                violation.dtype(),
            )
            .neg()
            .add_scalar(1.0);
            let mut loss = violation
                .mul(others)
                .sum_dim(1)
                .reshape([n])
                .div_scalar(classes as f64);
            if let Some(w) = &self.weight {
                let device = loss.device();
                let dtype = loss.dtype();
                loss = loss.mul(weights::class_vector(w, &device, dtype).select(0, target));
            }
            Ok(loss)
        })
    }

    /// Per-sample losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(&self, input: Tensor<2>, target: Tensor<1, Int>) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(input, target))
    }

    /// The reduced loss (the mean is over samples, not weights, as in PyTorch), or an error.
    pub fn try_forward(&self, input: Tensor<2>, target: Tensor<1, Int>) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(
                NAME,
                self.try_forward_no_reduction(input, target)?,
                self.reduction,
            )
        })
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward(&self, input: Tensor<2>, target: Tensor<1, Int>) -> Tensor<1> {
        or_panic(self.try_forward(input, target))
    }
}

/// Multi-class margin loss with p = 1, margin 1, no weights; see [`MultiMarginLoss`].
///
/// # Panics
/// On mismatched shapes, class indices out of range, NaN/inf, or `batchmean`.
#[track_caller]
pub fn multi_margin_loss(
    input: Tensor<2>,
    target: Tensor<1, Int>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        MultiMarginLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target)
}
