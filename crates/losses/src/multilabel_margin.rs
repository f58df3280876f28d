//! Multi-label margin (multi-label hinge) loss.

use burn::config::Config;
use burn::tensor::{IndexingUpdateOp, Int, Tensor};
use descent_kernel::as_dtype;

use crate::LossSettings;
use crate::error::{LossError, or_panic};
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced};

const NAME: &str = "multilabel_margin_loss";

/// Configuration of the [multi-label margin loss](MultilabelMarginLoss).
#[derive(Config, Debug)]
pub struct MultilabelMarginLossConfig {
    /// How per-sample losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl MultilabelMarginLossConfig {
    /// Builds the loss; the reduction must be `none`, `mean` or `sum`.
    pub fn try_init(&self) -> LossResult<MultilabelMarginLoss> {
        Ok(MultilabelMarginLoss {
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(MultilabelMarginLossConfig => MultilabelMarginLoss);

/// Multi-label margin loss, PyTorch's `multilabel_margin_loss`, of scores `x` `[N, C]` and
/// target class indices `y` `[N, C]`, each row's targets ended by its first `-1` (the rest of
/// the row is ignored):
///
/// ```text
/// T_n = {y_{n,0}, ..., y_{n,k-1}}        (k: position of the first -1 in row n, or C)
/// ℓ_n = Σ_{j < k} Σ_{i ∉ T_n} max(0, 1 - (x_{n, y_{n,j}} - x_{n,i})) / C
/// ```
///
/// A target listed twice counts twice, as in PyTorch. For multi-label classification with a
/// hinge: every target class must score at least 1 above every non-target class. Computed as
/// tensor operations over every (target position, class) pair, `[N, C, C]`, on any device.
#[derive(Debug, Clone)]
pub struct MultilabelMarginLoss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl MultilabelMarginLoss {
    /// Per-sample losses `[N]` (the formula of [`MultilabelMarginLoss`]), or an error for bad
    /// shapes, indices outside `[-1, C)` or NaN/inf.
    pub fn try_forward_no_reduction(
        &self,
        input: Tensor<2>,
        target: Tensor<2, Int>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            let [n, classes] = input.dims();
            checks::same_shape(NAME, "target", &target.dims(), "input", &input.dims())?;
            checks::same_place(NAME, "target", &target, &input)?;
            if classes == 0 {
                return Err(LossError::new(
                    NAME,
                    "input",
                    format!("must have at least one class; got shape [{n}, 0]"),
                ));
            }
            checks::finite(NAME, "input", &input)?;
            checks::int_range(
                NAME,
                "target",
                &target,
                -1,
                classes as i64,
                "class indices or -1",
            )?;
            // Positions before the row's first negative index are its targets.
            let valid = target
                .clone()
                .lower_elem(0)
                .float()
                .cumsum(1)
                .equal_elem(0.0)
                .float();
            let safe = target.clamp(0, classes as i64 - 1);
            let is_target = as_dtype(
                Tensor::<2>::zeros([n, classes], &input.device())
                    .scatter(1, safe.clone(), valid.clone(), IndexingUpdateOp::Add)
                    .greater_elem(0.0)
                    .float(),
                input.dtype(),
            );
            let others = is_target.neg().add_scalar(1.0);
            let x_target = input.clone().gather(1, safe);
            // [N, target position j, class i]
            let hinge = input
                .unsqueeze_dim::<3>(1)
                .sub(x_target.unsqueeze_dim::<3>(2))
                .add_scalar(1.0)
                .clamp_min(0.0);
            let pairs = as_dtype(valid, others.dtype())
                .unsqueeze_dim::<3>(2)
                .mul(others.unsqueeze_dim::<3>(1));
            Ok(hinge
                .mul(pairs)
                .sum_dim(2)
                .sum_dim(1)
                .reshape([n])
                .div_scalar(classes as f64))
        })
    }

    /// Per-sample losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(&self, input: Tensor<2>, target: Tensor<2, Int>) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(input, target))
    }

    /// The reduced loss (the formula of [`MultilabelMarginLoss`], reduced), or an error.
    pub fn try_forward(&self, input: Tensor<2>, target: Tensor<2, Int>) -> LossResult<Tensor<1>> {
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
    pub fn forward(&self, input: Tensor<2>, target: Tensor<2, Int>) -> Tensor<1> {
        or_panic(self.try_forward(input, target))
    }
}

/// Multi-label margin loss; see [`MultilabelMarginLoss`] for the formula.
///
/// # Panics
/// On mismatched shapes, indices outside `[-1, C)`, NaN/inf, or `batchmean`.
#[track_caller]
pub fn multilabel_margin_loss(
    input: Tensor<2>,
    target: Tensor<2, Int>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        MultilabelMarginLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target)
}
