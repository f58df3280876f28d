//! Soft Dice (and Tversky) loss for segmentation, Optax's `dice_loss`.

use burn::config::Config;
use burn::tensor::{Tensor, activation};

use crate::LossSettings;
use crate::error::{LossError, or_panic};
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced, stable, weights};

const NAME: &str = "dice_loss";

/// Optax's tolerance on the class sums of probabilities (`jnp.allclose(sums, 1, rtol=1e-5)`,
/// whose default `atol` is 1e-8).
const SUM_TOL: f64 = 1e-5 + 1e-8;

/// Configuration of the [Dice loss](DiceLoss).
#[derive(Config, Debug)]
pub struct DiceLossConfig {
    /// One weight per class, multiplying the per-class losses (Optax's `class_weights`).
    pub class_weights: Option<Vec<f64>>,
    /// The smoothing term added to numerator and denominator; ≥ 0 and finite (Optax's 1).
    #[config(default = 1.0)]
    pub smooth: f64,
    /// α, the weight of false positives; ≥ 0 and finite (0.5: Dice; Tversky otherwise).
    #[config(default = 0.5)]
    pub alpha: f64,
    /// β, the weight of false negatives; ≥ 0 and finite (0.5: Dice).
    #[config(default = 0.5)]
    pub beta: f64,
    /// Whether the input holds logits (sigmoid for one class, softmax over the classes) or,
    /// `false`, probabilities (Optax's `apply_softmax`, default true).
    #[config(default = true)]
    pub apply_softmax: bool,
    /// Drop class 0 (the background) from the loss when there are several classes.
    #[config(default = false)]
    pub ignore_background: bool,
    /// How the per-class losses of an example are combined: `mean` (Optax's `reduction`
    /// default), `sum`, or `none` (every per-class loss is kept; see [`DiceLoss`]).
    #[config(default = "Reduction::Mean")]
    pub class_reduction: Reduction,
    /// How the per-example losses are reduced over the batch (`none`: Optax's output, `mean`,
    /// `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl DiceLossConfig {
    /// Builds the loss; `smooth`, `alpha` and `beta` must be ≥ 0 and finite, the class
    /// weights finite, the reductions `none`, `mean` or `sum`.
    pub fn try_init(&self) -> LossResult<DiceLoss> {
        for (arg, v) in [
            ("smooth", self.smooth),
            ("alpha", self.alpha),
            ("beta", self.beta),
        ] {
            checks::param(NAME, arg, v, v >= 0.0 && v.is_finite(), ">= 0 and finite")?;
        }
        if let Some(w) = &self.class_weights {
            checks::class_weights(NAME, "class_weights", Some(w), w.len())?;
        }
        if self.class_reduction == Reduction::BatchMean {
            return Err(LossError::new(
                NAME,
                "class_reduction",
                "must be none, mean or sum; got batchmean",
            ));
        }
        Ok(DiceLoss {
            class_weights: self.class_weights.clone(),
            smooth: self.smooth,
            alpha: self.alpha,
            beta: self.beta,
            apply_softmax: self.apply_softmax,
            ignore_background: self.ignore_background,
            class_reduction: self.class_reduction,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(DiceLossConfig => DiceLoss);

/// Soft Dice loss (Milletari et al. 2016), with Tversky's weighting of false positives and
/// negatives, Optax's `optax.losses.dice_loss` (default `axis`), of predictions `x` and
/// targets `t` `[N, d1, ..., dk, C]` (channels last, as Optax; `[N, C]` has no spatial
/// dimension), per example n and class c:
///
/// ```text
/// p = sigmoid(x) (C = 1) | softmax over C (C > 1) | x (apply_softmax = false)
/// I_nc = Σ_s p_nsc t_nsc     P_nc = Σ_s p_nsc     T_nc = Σ_s t_nsc      (s over d1..dk)
/// ℓ_nc = w_c (1 - (I_nc + smooth) / (I_nc + α (P_nc - I_nc) + β (T_nc - I_nc) + smooth))
/// ℓ_n  = mean_c ℓ_nc (class_reduction mean, Optax's default) | Σ_c ℓ_nc (sum)
/// ```
///
/// With α = β = ½ it is `1 - (2|X∩Y| + 2s) / (|X| + |Y| + 2s)`, the Dice coefficient's
/// complement; α > β penalises false positives more, β > α false negatives. Class 0 is left
/// out with `ignore_background` (and C > 1). For segmentation with rare foreground classes:
/// each class counts by its overlap, not its pixel count. Targets are one-hot (or soft, in
/// [0, 1]); binary segmentation is one channel of logits (`[N, ..., 1]`).
///
/// Outputs: [`forward_per_class`](Self::forward_per_class) gives `ℓ_nc` `[N, C']` (Optax's
/// `reduction="none"`); `forward_no_reduction` gives `ℓ_n` `[N]` (Optax's output), or every
/// `ℓ_nc` flattened with `class_reduction` none; `forward` reduces that with `reduction`.
/// Probabilities (`apply_softmax = false`) must lie in [0, 1] and, for C > 1, sum to 1 over
/// the classes (within 1e-5, as Optax checks); for C = 1 only the range is checked (Optax
/// 0.2.8 would require the single channel to sum to 1, i.e. be 1 everywhere).
#[derive(Debug, Clone)]
pub struct DiceLoss {
    /// One weight per class.
    pub class_weights: Option<Vec<f64>>,
    /// The smoothing term.
    pub smooth: f64,
    /// The weight of false positives.
    pub alpha: f64,
    /// The weight of false negatives.
    pub beta: f64,
    /// Whether the input holds logits.
    pub apply_softmax: bool,
    /// Whether class 0 is left out (C > 1).
    pub ignore_background: bool,
    /// How the per-class losses of an example are combined.
    pub class_reduction: Reduction,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl DiceLoss {
    /// `ℓ_nc` `[N, C']`, inside the caller's scope.
    fn per_class<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<2>> {
        let dims = input.dims();
        checks::same_shape(NAME, "targets", &target.dims(), "predictions", &dims)?;
        checks::same_place(NAME, "targets", &target, &input)?;
        if D < 2 || dims[D - 1] == 0 {
            return Err(LossError::new(
                NAME,
                "predictions",
                format!(
                    "must have a batch and a (last) class dimension of at least one class, \
                     [N, ..., C]; got shape {dims:?}"
                ),
            ));
        }
        let (n, classes) = (dims[0], dims[D - 1]);
        let spatial: usize = dims[1..D - 1].iter().product();
        checks::class_weights(
            NAME,
            "class_weights",
            self.class_weights.as_deref(),
            classes,
        )?;
        checks::finite(NAME, "predictions", &input)?;
        checks::finite(NAME, "targets", &target)?;
        checks::in_range(NAME, "targets", &target, 0.0, 1.0)?;
        let x = input.reshape([n, spatial, classes]);
        let t = target.reshape([n, spatial, classes]);
        let p = if !self.apply_softmax {
            checks::in_range(NAME, "predictions", &x, 0.0, 1.0)?;
            if classes > 1 {
                checks::sums_to_one(
                    NAME,
                    "predictions",
                    &x.clone().sum_dim(2),
                    SUM_TOL,
                    "must hold probabilities summing to 1 over the classes when \
                     apply_softmax = false",
                )?;
            }
            x
        } else if classes == 1 {
            activation::sigmoid(x)
        } else {
            stable::log_softmax(x, 2).exp()
        };
        let over_space = |v: Tensor<3>| v.sum_dim(1).reshape([n, classes]);
        let inter = over_space(p.clone().mul(t.clone()));
        let pred = over_space(p);
        let truth = over_space(t);
        let numerator = inter.clone().add_scalar(self.smooth);
        let denominator = inter
            .clone()
            .add(pred.sub(inter.clone()).mul_scalar(self.alpha))
            .add(truth.sub(inter).mul_scalar(self.beta))
            .add_scalar(self.smooth);
        if self.smooth == 0.0 {
            checks::no_zeros(
                NAME,
                "smooth",
                &denominator,
                "must be > 0 here: a class has neither predicted nor target mass (or alpha = \
                 beta = 0 and no overlap), so its Dice ratio is 0/0",
            )?;
        }
        let mut loss = numerator.div(denominator).neg().add_scalar(1.0);
        if let Some(w) = &self.class_weights {
            let w = weights::class_vector(w, &loss.device(), loss.dtype()).reshape([1, classes]);
            loss = loss.mul(w);
        }
        if self.ignore_background && classes > 1 {
            loss = loss.slice([0..n, 1..classes]);
        }
        Ok(loss)
    }

    /// The per-class losses `ℓ_nc` `[N, C']` (C' = C - 1 with `ignore_background`), Optax's
    /// `reduction="none"`, or an error for mismatched shapes, no class, NaN/inf, targets
    /// outside [0, 1], or probabilities that are not (`apply_softmax = false`).
    pub fn try_forward_per_class<const D: usize>(
        &self,
        predictions: Tensor<D>,
        targets: Tensor<D>,
    ) -> LossResult<Tensor<2>> {
        checks::scope(self.settings.checks, || {
            self.per_class(predictions, targets)
        })
    }

    /// The per-class losses; panics on errors.
    #[track_caller]
    pub fn forward_per_class<const D: usize>(
        &self,
        predictions: Tensor<D>,
        targets: Tensor<D>,
    ) -> Tensor<2> {
        or_panic(self.try_forward_per_class(predictions, targets))
    }

    /// The per-example losses `ℓ_n` `[N]` (Optax's output), or with `class_reduction` none
    /// every `ℓ_nc` flattened `[N·C']`; or an error (see
    /// [`try_forward_per_class`](Self::try_forward_per_class)).
    pub fn try_forward_no_reduction<const D: usize>(
        &self,
        predictions: Tensor<D>,
        targets: Tensor<D>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            let loss = self.per_class(predictions, targets)?;
            let [n, classes] = loss.dims();
            Ok(match self.class_reduction {
                Reduction::Sum => loss.sum_dim(1).reshape([n]),
                Reduction::None => loss.reshape([n * classes]),
                _ => loss.mean_dim(1).reshape([n]),
            })
        })
    }

    /// The per-example losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction<const D: usize>(
        &self,
        predictions: Tensor<D>,
        targets: Tensor<D>,
    ) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(predictions, targets))
    }

    /// The loss reduced over the batch, or an error.
    pub fn try_forward<const D: usize>(
        &self,
        predictions: Tensor<D>,
        targets: Tensor<D>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(
                NAME,
                self.try_forward_no_reduction(predictions, targets)?,
                self.reduction,
            )
        })
    }

    /// The loss reduced over the batch; panics on errors.
    #[track_caller]
    pub fn forward<const D: usize>(&self, predictions: Tensor<D>, targets: Tensor<D>) -> Tensor<1> {
        or_panic(self.try_forward(predictions, targets))
    }
}

/// Dice loss of logits `[N, ..., C]` (channels last) against one-hot targets of the same
/// shape, with Optax's defaults (smooth 1, α = β = ½, softmax, or sigmoid for C = 1; mean over
/// the classes); see [`DiceLoss`].
///
/// # Panics
/// On mismatched shapes, no class, NaN/inf, targets outside [0, 1], or `batchmean`.
#[track_caller]
pub fn dice_loss<const D: usize>(
    predictions: Tensor<D>,
    targets: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(DiceLossConfig::new().with_reduction(reduction).try_init())
        .forward(predictions, targets)
}
