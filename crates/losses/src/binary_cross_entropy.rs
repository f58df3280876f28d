//! Binary cross-entropy, on probabilities and on logits.

use burn::config::Config;
use burn::tensor::Tensor;
use descent_kernel::Num;
use descent_kernel::pointwise::PointRule;

use crate::LossSettings;
use crate::fused::{self, logistic::logistic};
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, stable, weights};

const BCE: &str = "binary_cross_entropy";
const BCE_LOGITS: &str = "binary_cross_entropy_with_logits";

/// Configuration of the [binary cross-entropy on probabilities](BinaryCrossEntropyLoss)
/// (PyTorch `binary_cross_entropy`).
#[derive(Config, Debug)]
pub struct BinaryCrossEntropyLossConfig {
    /// Per-element rescaling: one value, one per element of the last dimension, or one per
    /// element.
    pub weight: Option<Vec<f64>>,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl BinaryCrossEntropyLossConfig {
    /// Builds the loss, rejecting the `batchmean` reduction.
    pub fn try_init(&self) -> LossResult<BinaryCrossEntropyLoss> {
        Ok(BinaryCrossEntropyLoss {
            weight: self.weight.clone(),
            reduction: self.reduction.check_elementwise(BCE)?,
            settings: self.settings,
        })
    }
}

loss_config!(BinaryCrossEntropyLossConfig => BinaryCrossEntropyLoss);

/// Binary cross-entropy of probabilities `x ∈ [0, 1]`, PyTorch's `binary_cross_entropy`:
///
/// ```text
/// ℓ_i = -w_i [y_i·max(log x_i, -100) + (1 - y_i)·max(log(1 - x_i), -100)]
/// ∂ℓ_i/∂x_i = w_i (x_i - y_i) / max(x_i (1 - x_i), 1e-12)
/// ```
///
/// Prefer [`BinaryCrossEntropyWithLogitsLoss`]: it takes the logits and is exact where the
/// sigmoid saturates. Use this one when the model already outputs probabilities.
#[derive(Debug, Clone)]
pub struct BinaryCrossEntropyLoss {
    /// Per-element rescaling weight.
    pub weight: Option<Vec<f64>>,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl BinaryCrossEntropyLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        checks::in_range(BCE, "input", &input, 0.0, 1.0)?;
        checks::in_range(BCE, "target", &target, 0.0, 1.0)?;
        let x = input.clone().detach();
        let log_x = x.clone().log().clamp_min(-100.0);
        let log_1mx = x.clone().neg().add_scalar(1.0).log().clamp_min(-100.0);
        let one_minus_y = target.clone().neg().add_scalar(1.0);
        let mut loss = target
            .clone()
            .mul(log_x)
            .add(one_minus_y.mul(log_1mx))
            .neg();
        let denom = x
            .clone()
            .mul(x.clone().neg().add_scalar(1.0))
            .clamp_min(1e-12);
        let mut grad = x.sub(target.detach()).div(denom);
        if let Some(w) = &self.weight {
            let w = weights::broadcast(
                BCE,
                "weight",
                w,
                input.dims(),
                &input.device(),
                loss.dtype(),
            )?;
            loss = loss.mul(w.clone());
            grad = grad.mul(w);
        }
        Ok(loss.add(stable::with_gradient(input, grad)))
    }
}

pair_loss!(BinaryCrossEntropyLoss, BCE);

/// Configuration of the [binary cross-entropy on logits](BinaryCrossEntropyWithLogitsLoss)
/// (PyTorch `binary_cross_entropy_with_logits`).
#[derive(Config, Debug)]
pub struct BinaryCrossEntropyWithLogitsLossConfig {
    /// Per-element rescaling: one value, one per element of the last dimension, or one per
    /// element.
    pub weight: Option<Vec<f64>>,
    /// Weight of the positive term: one value, or one per element of the last dimension
    /// (per class in multi-label problems). `n_neg / n_pos` balances classes.
    pub pos_weight: Option<Vec<f64>>,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl BinaryCrossEntropyWithLogitsLossConfig {
    /// Builds the loss, rejecting the `batchmean` reduction and non-finite weights.
    pub fn try_init(&self) -> LossResult<BinaryCrossEntropyWithLogitsLoss> {
        for (arg, w) in [("weight", &self.weight), ("pos_weight", &self.pos_weight)] {
            if let Some(v) = w.iter().flatten().find(|v| !v.is_finite()) {
                return Err(crate::LossError::new(
                    BCE_LOGITS,
                    arg,
                    format!("must be finite; got {v}"),
                ));
            }
        }
        Ok(BinaryCrossEntropyWithLogitsLoss {
            weight: self.weight.clone(),
            pos_weight: self.pos_weight.clone(),
            reduction: self.reduction.check_elementwise(BCE_LOGITS)?,
            settings: self.settings,
        })
    }
}

loss_config!(BinaryCrossEntropyWithLogitsLossConfig => BinaryCrossEntropyWithLogitsLoss);

/// Binary cross-entropy of logits `x`, PyTorch's `binary_cross_entropy_with_logits`, with
/// `p` the `pos_weight` and `softplus(z) = log(1 + e^z)`:
///
/// ```text
/// ℓ_i = w_i [(1 - y_i)·x_i + (1 + (p - 1)·y_i)·softplus(-x_i)]
///     = -w_i [p·y_i·log σ(x_i) + (1 - y_i)·log(1 - σ(x_i))]
/// ∂ℓ_i/∂x_i = w_i [(1 + (p - 1)·y_i)·σ(x_i) - p·y_i]
/// ```
///
/// The loss for binary and multi-label classification: finite at any logit. Soft targets in
/// [0, 1] are allowed; `pos_weight > 1` raises recall on a rare positive class.
#[derive(Debug, Clone)]
pub struct BinaryCrossEntropyWithLogitsLoss {
    /// Per-element rescaling weight.
    pub weight: Option<Vec<f64>>,
    /// Weight of the positive term.
    pub pos_weight: Option<Vec<f64>>,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

/// The loss and its derivative, written once, with `w` the `weight`, `p` the `pos_weight` and
/// `L = 1 + (p - 1)·y`:
///
/// ```text
/// ℓ = w [(1 - y)·x + L·softplus(-x)],   ∂ℓ/∂x = w [L·σ(x) - p·y]
/// ```
#[inline(always)]
fn bce_with_logits<T: Num>(x: T, y: T, weight: Option<T>, pos_weight: Option<T>) -> (T, T) {
    let s = logistic(x.clone());
    let one_minus_y = (-y.clone()).shift(1.0);
    let (loss, grad) = match pos_weight {
        None => (one_minus_y * x + s.softplus_neg, s.p - y),
        Some(p) => {
            let l = (p.clone().shift(-1.0) * y.clone()).shift(1.0);
            (
                one_minus_y * x + l.clone() * s.softplus_neg,
                l * s.p - p * y,
            )
        }
    };
    match weight {
        Some(w) => (w.clone() * loss, w * grad),
        None => (loss, grad),
    }
}

impl BinaryCrossEntropyWithLogitsLoss {
    /// `(ℓ, ∂ℓ/∂x)` on tensors, the weights broadcast to the input.
    fn with_grad<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<(Tensor<D>, Tensor<D>)> {
        checks::in_range(BCE_LOGITS, "target", &target, 0.0, 1.0)?;
        let (dims, device, dtype) = (input.dims(), input.device(), input.dtype());
        let broadcast = |arg, w: &Option<Vec<f64>>| {
            w.as_deref()
                .map(|w| weights::broadcast(BCE_LOGITS, arg, w, dims, &device, dtype))
                .transpose()
        };
        let weight = broadcast("weight", &self.weight)?;
        let pos_weight = broadcast("pos_weight", &self.pos_weight)?;
        Ok(bce_with_logits(input, target, weight, pos_weight))
    }

    fn fused<const D: usize>(&self, input: &Tensor<D>, target: &Tensor<D>) -> Option<Tensor<1>> {
        let scalar = |w: &Option<Vec<f64>>| match w.as_deref() {
            None => Some(None),
            Some([v]) => Some(Some(*v as f32)),
            Some(_) => None,
        };
        let kernel = BceLogitsKernel {
            weight: scalar(&self.weight)?,
            pos_weight: scalar(&self.pos_weight)?,
        };
        let checks = self.settings.checks;
        fused::pointwise(&kernel, input, target, self.reduction, checks)
    }
}

/// [`bce_with_logits`] on the fused CPU path's lanes, with one `weight` and one
/// `pos_weight` for all elements.
struct BceLogitsKernel {
    weight: Option<f32>,
    pos_weight: Option<f32>,
}

impl fused::Pointwise for BceLogitsKernel {
    const UNIT_TARGET: bool = true;
}

impl PointRule for BceLogitsKernel {
    #[inline(always)]
    fn eval<T: Num + Copy>(&self, x: T, y: T) -> (T, T) {
        let splat = |v: f32| x.zeros_like().shift(v);
        let (w, p) = (self.weight.map(splat), self.pos_weight.map(splat));
        bce_with_logits(x, y, w, p)
    }
}

pair_loss!(BinaryCrossEntropyWithLogitsLoss, BCE_LOGITS, fused);

/// Binary cross-entropy of probabilities, unweighted; see [`BinaryCrossEntropyLoss`].
///
/// # Panics
/// On probabilities or targets outside [0, 1], mismatched shapes, NaN/inf, or `batchmean`.
#[track_caller]
pub fn binary_cross_entropy<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    let loss = BinaryCrossEntropyLossConfig::new()
        .with_reduction(reduction)
        .try_init();
    crate::error::or_panic(loss).forward(input, target)
}

/// Binary cross-entropy of logits, unweighted; see [`BinaryCrossEntropyWithLogitsLoss`].
///
/// # Panics
/// On targets outside [0, 1], mismatched shapes, NaN/inf, or `batchmean`.
#[track_caller]
pub fn binary_cross_entropy_with_logits<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    let loss = BinaryCrossEntropyWithLogitsLossConfig::new()
        .with_reduction(reduction)
        .try_init();
    crate::error::or_panic(loss).forward(input, target)
}
