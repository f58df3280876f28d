//! Poly-1 cross-entropy (PolyLoss), Optax's `poly_loss_cross_entropy`.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::{LossError, or_panic};
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced, stable};

const NAME: &str = "poly_loss_cross_entropy";

/// Configuration of the [poly-1 cross-entropy](PolyLossCrossEntropy).
#[derive(Config, Debug)]
pub struct PolyLossCrossEntropyConfig {
    /// ε, the coefficient of the first polynomial term `(1 - p_t)`; any finite value (Optax's
    /// default 2.0, the paper's choice for ImageNet; -1 for detection).
    #[config(default = 2.0)]
    pub epsilon: f64,
    /// How per-sample losses are reduced (`none`: Optax's per-example values, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl PolyLossCrossEntropyConfig {
    /// Builds the loss; `epsilon` must be finite.
    pub fn try_init(&self) -> LossResult<PolyLossCrossEntropy> {
        checks::param(
            NAME,
            "epsilon",
            self.epsilon,
            self.epsilon.is_finite(),
            "finite",
        )?;
        Ok(PolyLossCrossEntropy {
            epsilon: self.epsilon,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(PolyLossCrossEntropyConfig => PolyLossCrossEntropy);

/// Poly-1 cross-entropy (Leng et al. 2022, PolyLoss), Optax's
/// `optax.losses.poly_loss_cross_entropy` (`axis=-1`, no `where`), of logits `x` `[N, C]`
/// against one-hot or probability labels `y` `[N, C]`:
///
/// ```text
/// log p_n = log_softmax(x_n)                 (log-sum-exp form)
/// ℓ_n = -Σ_c y_nc log p_nc  +  ε Σ_c y_nc (1 - p_nc)
///     = CE_n + ε (1 - p_t)                   (one-hot y, t the labelled class)
/// ```
///
/// Cross-entropy with the leading term of its Taylor series in `(1 - p_t)` reweighted: ε > 0
/// pushes harder on examples the model already gets right, ε < 0 eases off them; ε = 0 is
/// cross-entropy. As in Optax, soft labels enter the second term as `Σ_c y_c (1 - p_c)`
/// (which is `1 - Σ_c y_c p_c` when the labels sum to 1).
#[derive(Debug, Clone)]
pub struct PolyLossCrossEntropy {
    /// ε.
    pub epsilon: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl PolyLossCrossEntropy {
    /// Per-sample losses `[N]` (the formula of [`PolyLossCrossEntropy`]; Optax's output), or
    /// an error for mismatched shapes, no class or NaN/inf.
    pub fn try_forward_no_reduction(
        &self,
        logits: Tensor<2>,
        labels: Tensor<2>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            let [n, classes] = logits.dims();
            checks::same_shape(NAME, "labels", &labels.dims(), "logits", &logits.dims())?;
            checks::same_place(NAME, "labels", &labels, &logits)?;
            if classes == 0 {
                return Err(LossError::new(
                    NAME,
                    "logits",
                    format!("must have at least one class; got shape [{n}, 0]"),
                ));
            }
            checks::finite(NAME, "logits", &logits)?;
            checks::finite(NAME, "labels", &labels)?;
            let log_p = stable::log_softmax(logits, 1);
            let one_minus_p = log_p.clone().exp().neg().add_scalar(1.0);
            let ce = labels.clone().mul(log_p).sum_dim(1).neg();
            let poly = labels.mul(one_minus_p).sum_dim(1).mul_scalar(self.epsilon);
            Ok(ce.add(poly).reshape([n]))
        })
    }

    /// Per-sample losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(&self, logits: Tensor<2>, labels: Tensor<2>) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(logits, labels))
    }

    /// The reduced loss, or an error.
    pub fn try_forward(&self, logits: Tensor<2>, labels: Tensor<2>) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(
                NAME,
                self.try_forward_no_reduction(logits, labels)?,
                self.reduction,
            )
        })
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward(&self, logits: Tensor<2>, labels: Tensor<2>) -> Tensor<1> {
        or_panic(self.try_forward(logits, labels))
    }
}

/// Poly-1 cross-entropy of logits `[N, C]` against one-hot or probability labels `[N, C]`
/// with coefficient `epsilon` (Optax's default 2.0); see [`PolyLossCrossEntropy`].
///
/// # Panics
/// On mismatched shapes, no class, NaN/inf, a non-finite epsilon, or `batchmean`.
#[track_caller]
pub fn poly_loss_cross_entropy(
    logits: Tensor<2>,
    labels: Tensor<2>,
    epsilon: f64,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        PolyLossCrossEntropyConfig::new()
            .with_epsilon(epsilon)
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(logits, labels)
}
