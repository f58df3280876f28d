//! Keras-style categorical cross-entropy on probabilities (dense and sparse targets).

use burn::config::Config;
use burn::tensor::{Int, Tensor};

use crate::LossSettings;
use crate::error::or_panic;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced};

const DENSE: &str = "categorical_cross_entropy";
const SPARSE: &str = "sparse_categorical_cross_entropy";
/// Keras' `epsilon()`: probabilities are clipped to `[EPS, 1 - EPS]` before the log.
const EPS: f64 = 1e-7;

/// Configuration of the [categorical cross-entropies](CategoricalCrossEntropyLoss) on
/// probabilities.
#[derive(Config, Debug)]
pub struct CategoricalCrossEntropyLossConfig {
    /// How per-sample losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl CategoricalCrossEntropyLossConfig {
    /// Builds the loss for one-hot or probability targets.
    pub fn try_init(&self) -> LossResult<CategoricalCrossEntropyLoss> {
        Ok(CategoricalCrossEntropyLoss {
            reduction: self.reduction.check_elementwise(DENSE)?,
            settings: self.settings,
        })
    }

    /// Builds the loss for integer class targets.
    pub fn try_init_sparse(&self) -> LossResult<SparseCategoricalCrossEntropyLoss> {
        Ok(SparseCategoricalCrossEntropyLoss {
            reduction: self.reduction.check_elementwise(SPARSE)?,
            settings: self.settings,
        })
    }
}

loss_config!(CategoricalCrossEntropyLossConfig => CategoricalCrossEntropyLoss);

impl CategoricalCrossEntropyLossConfig {
    /// Builds the sparse loss (integer class targets).
    ///
    /// # Panics
    /// When a hyperparameter is invalid, with the message of `try_init_sparse`.
    #[track_caller]
    pub fn init_sparse(&self) -> SparseCategoricalCrossEntropyLoss {
        or_panic(self.try_init_sparse())
    }
}

/// Rows renormalised to sum 1, then clipped to `[1e-7, 1 - 1e-7]`, then logged.
fn clipped_log_probs(loss: &'static str, input: Tensor<2>) -> LossResult<Tensor<2>> {
    checks::finite(loss, "input", &input)?;
    checks::in_range(loss, "input", &input, 0.0, f64::INFINITY)?;
    let total = input.clone().sum_dim(1);
    checks::no_zeros(
        loss,
        "input",
        &total,
        "rows must have a positive sum of probabilities; got a row of zeros",
    )?;
    Ok(input.div(total).clamp(EPS, 1.0 - EPS).log())
}

/// Categorical cross-entropy of probabilities `p` `[N, C]` (Keras `categorical_crossentropy`,
/// `from_logits=False`) against one-hot or probability targets `y` `[N, C]`:
///
/// ```text
/// p̂ = clip(p / Σ_c p_c, 1e-7, 1 - 1e-7),    ℓ_i = -Σ_c y_ic · log p̂_ic
/// ```
///
/// For models that end in a softmax. Prefer [`CrossEntropyLoss`](crate::CrossEntropyLoss) on
/// logits: the clip loses the gradient of confidently wrong predictions.
#[derive(Debug, Clone)]
pub struct CategoricalCrossEntropyLoss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl CategoricalCrossEntropyLoss {
    /// Per-sample losses `[N]`, or an error for mismatched shapes, negative or NaN/inf values.
    pub fn try_forward_no_reduction(
        &self,
        input: Tensor<2>,
        target: Tensor<2>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            checks::same_shape(DENSE, "target", &target.dims(), "input", &input.dims())?;
            checks::finite(DENSE, "target", &target)?;
            let n = input.dims()[0];
            let log_p = clipped_log_probs(DENSE, input)?;
            Ok(target.mul(log_p).sum_dim(1).reshape([n]).neg())
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
                DENSE,
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

/// Sparse categorical cross-entropy of probabilities `p` `[N, C]` (Keras
/// `sparse_categorical_crossentropy`, `from_logits=False`) against class indices `[N]`:
///
/// ```text
/// ℓ_i = -log clip(p_{i,y_i} / Σ_c p_ic, 1e-7, 1 - 1e-7)
/// ```
#[derive(Debug, Clone)]
pub struct SparseCategoricalCrossEntropyLoss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl SparseCategoricalCrossEntropyLoss {
    /// Per-sample losses `[N]`, or an error for mismatched shapes, class indices out of range
    /// or bad probabilities.
    pub fn try_forward_no_reduction(
        &self,
        input: Tensor<2>,
        target: Tensor<1, Int>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            let [n, classes] = input.dims();
            checks::same_shape(
                SPARSE,
                "target",
                &target.dims(),
                "input's first dimension",
                &[n],
            )?;
            checks::class_indices(SPARSE, &target, classes, None)?;
            let log_p = clipped_log_probs(SPARSE, input)?;
            Ok(log_p.gather(1, target.reshape([n, 1])).reshape([n]).neg())
        })
    }

    /// Per-sample losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(&self, input: Tensor<2>, target: Tensor<1, Int>) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(input, target))
    }

    /// The reduced loss, or an error.
    pub fn try_forward(&self, input: Tensor<2>, target: Tensor<1, Int>) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(
                SPARSE,
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

/// Categorical cross-entropy on probabilities; see [`CategoricalCrossEntropyLoss`].
///
/// # Panics
/// On mismatched shapes, negative or NaN/inf values, or `batchmean`.
#[track_caller]
pub fn categorical_cross_entropy(
    input: Tensor<2>,
    target: Tensor<2>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        CategoricalCrossEntropyLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target)
}

/// Sparse categorical cross-entropy on probabilities; see
/// [`SparseCategoricalCrossEntropyLoss`].
///
/// # Panics
/// On mismatched shapes, class indices out of range, bad probabilities, or `batchmean`.
#[track_caller]
pub fn sparse_categorical_cross_entropy(
    input: Tensor<2>,
    target: Tensor<1, Int>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        CategoricalCrossEntropyLossConfig::new()
            .with_reduction(reduction)
            .try_init_sparse(),
    )
    .forward(input, target)
}
