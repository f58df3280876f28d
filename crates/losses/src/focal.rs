//! Focal losses: sigmoid (binary, torchvision) and softmax (multi-class).

use burn::config::Config;
use burn::tensor::{Int, Tensor};
use descent_kernel::Num;
use descent_kernel::pointwise::PointRule;

use crate::LossSettings;
use crate::class_dim::{check_int_target, flat_int, rows, unflatten};
use crate::error::or_panic;
use crate::fused::{self, logistic::logistic};
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced, stable, weights};

const SIGMOID: &str = "sigmoid_focal_loss";
const SOFTMAX: &str = "softmax_focal_loss";

/// Configuration of the [sigmoid focal loss](SigmoidFocalLoss) (torchvision
/// `sigmoid_focal_loss`).
#[derive(Config, Debug)]
pub struct SigmoidFocalLossConfig {
    /// Weight of the positive class in [0, 1]; a negative value turns the weighting off.
    #[config(default = 0.25)]
    pub alpha: f64,
    /// Focusing parameter γ ≥ 0 (0 gives BCE-with-logits).
    #[config(default = 2.0)]
    pub gamma: f64,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl SigmoidFocalLossConfig {
    /// Builds the loss; `alpha` must be ≤ 1 (negative disables it), `gamma` ≥ 0.
    pub fn try_init(&self) -> LossResult<SigmoidFocalLoss> {
        checks::param(
            SIGMOID,
            "alpha",
            self.alpha,
            self.alpha <= 1.0 && self.alpha.is_finite(),
            "in [0, 1], or negative to disable",
        )?;
        checks::param(
            SIGMOID,
            "gamma",
            self.gamma,
            self.gamma >= 0.0 && self.gamma.is_finite(),
            ">= 0 and finite",
        )?;
        Ok(SigmoidFocalLoss {
            alpha: self.alpha,
            gamma: self.gamma,
            reduction: self.reduction.check_elementwise(SIGMOID)?,
            settings: self.settings,
        })
    }
}

loss_config!(SigmoidFocalLossConfig => SigmoidFocalLoss);

/// Sigmoid focal loss of logits `x` (Lin et al. 2017; torchvision's `sigmoid_focal_loss`):
///
/// ```text
/// p = σ(x),  p_t = p·y + (1 - p)(1 - y),  α_t = α·y + (1 - α)(1 - y)
/// ℓ_i = α_t · (1 - p_t)^γ · BCEWithLogits(x_i, y_i)          (α < 0: α_t = 1)
/// ```
///
/// `(1 - p_t)^γ` is evaluated as `exp(γ·log(1 - p_t))` with `log(1 - p_t)` from log-sigmoids,
/// so values and gradients stay finite at saturated logits, also for γ < 1.
/// Use it for heavy class imbalance (fraud, detection): it down-weights the easy, confidently
/// classified majority and focuses training on the hard examples.
#[derive(Debug, Clone)]
pub struct SigmoidFocalLoss {
    /// Positive-class weight α (negative: off).
    pub alpha: f64,
    /// Focusing parameter γ.
    pub gamma: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

/// The loss and its derivative, written once, with `m = 1 - p_t = y·σ(-x) + (1 - y)·σ(x)` and
/// `ce` the BCE-with-logits term:
///
/// ```text
/// ℓ = α_t · m^γ · ce
/// ∂ℓ/∂x = α_t · m^γ · [(σ(x) - y) + γ · ce · (∂m/∂x) / m],   (∂m/∂x) / m = σ(x)σ(-x)(1 - 2y) / m
/// ```
///
/// For hard targets `log m` is a log-sigmoid and `(∂m/∂x) / m` is `-σ(x)` (y = 1) or `σ(-x)`
/// (y = 0), exact at any logit; soft targets clamp `m` at 1e-30.
#[inline(always)]
fn sigmoid_focal<T: Num>(x: T, y: T, alpha: f32, gamma: f32) -> (T, T) {
    let s = logistic(x.clone());
    let one_minus_y = (-y.clone()).shift(1.0);
    let ce = one_minus_y.clone() * x + s.softplus_neg.clone();
    let mut loss = ce.clone();
    let mut grad = s.p.clone() - y.clone();
    if gamma != 0.0 {
        // (∂m/∂x) / m, m and log m for hard targets ...
        let hard1 = y.eq_k(1.0);
        let mut ratio = T::select(hard1.clone(), -s.p.clone(), s.q.clone());
        let mut m = T::select(hard1.clone(), s.q.clone(), s.p.clone());
        let mut log_m = T::select(hard1, -s.softplus_pos, -s.softplus_neg);
        // ... and for soft ones (0 < y < 1), where there are any.
        let soft = (y.clone() - y.clone().square()).gt_k(0.0);
        if T::may_hold(&soft) {
            let raw = y.clone() * s.q.clone() + one_minus_y.clone() * s.p.clone();
            let clamped = raw.clone().max_k(1e-30);
            let live = raw.ge_k(1e-30);
            let spread = (s.p * s.q) * y.clone().scale(-2.0).shift(1.0) / clamped.clone();
            let soft_ratio = T::select(live, spread, ratio.zeros_like());
            ratio = T::select(soft.clone(), soft_ratio, ratio);
            m = T::select(soft.clone(), clamped.clone(), m);
            log_m = T::select(soft, clamped.ln(), log_m);
        }
        let w = if gamma == 2.0 {
            m.square()
        } else {
            log_m.scale(gamma).exp()
        };
        grad = w.clone() * (ce.clone().scale(gamma) * ratio + grad);
        loss = w * ce;
    }
    if alpha >= 0.0 {
        let alpha_t = y.scale(alpha) + one_minus_y.scale(1.0 - alpha);
        loss = loss * alpha_t.clone();
        grad = grad * alpha_t;
    }
    (loss, grad)
}

impl SigmoidFocalLoss {
    /// `(ℓ, ∂ℓ/∂x)` on tensors.
    fn with_grad<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<(Tensor<D>, Tensor<D>)> {
        checks::in_range(SIGMOID, "target", &target, 0.0, 1.0)?;
        Ok(sigmoid_focal(
            input,
            target,
            self.alpha as f32,
            self.gamma as f32,
        ))
    }

    fn fused<const D: usize>(&self, input: &Tensor<D>, target: &Tensor<D>) -> Option<Tensor<1>> {
        let kernel = FocalKernel {
            alpha: self.alpha as f32,
            gamma: self.gamma as f32,
        };
        let checks = self.settings.checks;
        fused::pointwise(&kernel, input, target, self.reduction, checks)
    }
}

/// [`sigmoid_focal`] on the fused CPU path's lanes.
struct FocalKernel {
    alpha: f32,
    gamma: f32,
}

impl fused::Pointwise for FocalKernel {
    const UNIT_TARGET: bool = true;
}

impl PointRule for FocalKernel {
    #[inline(always)]
    fn eval<T: Num + Copy>(&self, x: T, y: T) -> (T, T) {
        sigmoid_focal(x, y, self.alpha, self.gamma)
    }
}

pair_loss!(SigmoidFocalLoss, SIGMOID, fused);

/// Sigmoid focal loss with `alpha` and `gamma`; see [`SigmoidFocalLoss`].
///
/// # Panics
/// On invalid `alpha`/`gamma`, targets outside [0, 1], mismatched shapes, NaN/inf, `batchmean`.
#[track_caller]
pub fn sigmoid_focal_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    alpha: f64,
    gamma: f64,
    reduction: Reduction,
) -> Tensor<1> {
    let loss = SigmoidFocalLossConfig::new()
        .with_alpha(alpha)
        .with_gamma(gamma)
        .with_reduction(reduction)
        .try_init();
    or_panic(loss).forward(input, target)
}

/// Configuration of the [softmax focal loss](SoftmaxFocalLoss).
#[derive(Config, Debug)]
pub struct SoftmaxFocalLossConfig {
    /// Focusing parameter γ ≥ 0 (0 gives cross-entropy).
    #[config(default = 2.0)]
    pub gamma: f64,
    /// Optional weight per class, `α_c`.
    pub alpha: Option<Vec<f64>>,
    /// How per-sample losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl SoftmaxFocalLossConfig {
    /// Builds the loss; `gamma` must be ≥ 0 and `alpha` finite.
    pub fn try_init(&self) -> LossResult<SoftmaxFocalLoss> {
        checks::param(
            SOFTMAX,
            "gamma",
            self.gamma,
            self.gamma >= 0.0 && self.gamma.is_finite(),
            ">= 0 and finite",
        )?;
        if let Some(a) = &self.alpha {
            checks::class_weights(SOFTMAX, "alpha", Some(a), a.len())?;
        }
        Ok(SoftmaxFocalLoss {
            gamma: self.gamma,
            alpha: self.alpha.clone(),
            reduction: self.reduction.check_elementwise(SOFTMAX)?,
            settings: self.settings,
        })
    }
}

loss_config!(SoftmaxFocalLossConfig => SoftmaxFocalLoss);

/// Softmax focal loss of logits `x` `[N, C, d1, ...]` with class targets `[N, d1, ...]`:
///
/// ```text
/// log p = log_softmax(x),   log(1 - p_t) = logsumexp_{c ≠ t}(x_c) - logsumexp_c(x_c)
/// ℓ_i = -α_{t} · (1 - p_t)^γ · log p_t            mean = Σ_i ℓ_i / N·d1···dk
/// ```
///
/// The multi-class form of focal loss for imbalanced classification; γ = 0 and no α is
/// cross-entropy.
#[derive(Debug, Clone)]
pub struct SoftmaxFocalLoss {
    /// Focusing parameter γ.
    pub gamma: f64,
    /// Per-class weights α.
    pub alpha: Option<Vec<f64>>,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl SoftmaxFocalLoss {
    fn rows_int<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<Tensor<1>> {
        let classes = check_int_target(SOFTMAX, &input, &target)?;
        checks::finite(SOFTMAX, "input", &input)?;
        checks::class_weights(SOFTMAX, "alpha", self.alpha.as_deref(), classes)?;
        let target = flat_int(target);
        checks::class_indices(SOFTMAX, &target, classes, None)?;
        let x = rows(input);
        let [m, _] = x.dims();
        let index = target.clone().reshape([m, 1]);
        let lse = stable::log_sum_exp(x.clone(), 1);
        let log_pt = x
            .clone()
            .gather(1, index.clone())
            .sub(lse.clone())
            .reshape([m]);
        let mut loss = log_pt.neg();
        if self.gamma != 0.0 {
            // The target's column of each row, without `one_hot` (whose own range check reads
            // the indices back, before this loss's deferred check has reported them).
            let columns = Tensor::<1, Int>::arange(0..classes as i64, &index.device())
                .reshape([1, classes])
                .expand([m, classes]);
            let is_target = index.clone().expand([m, classes]).equal(columns);
            let others = stable::log_sum_exp(x.mask_fill(is_target, -1e30), 1);
            let log_1mpt = others.sub(lse).reshape([m]);
            loss = loss.mul(log_1mpt.mul_scalar(self.gamma).exp());
        }
        if let Some(a) = &self.alpha {
            let device = loss.device();
            let dtype = loss.dtype();
            loss = loss.mul(weights::class_vector(a, &device, dtype).select(0, target));
        }
        Ok(loss)
    }

    /// Per-sample losses `[N, d1, ...]`.
    pub fn try_forward_no_reduction<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<Tensor<DT>> {
        checks::scope(self.settings.checks, || {
            let dims = target.dims();
            Ok(unflatten(self.rows_int(input, target)?, dims))
        })
    }

    /// Per-sample losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> Tensor<DT> {
        or_panic(self.try_forward_no_reduction(input, target))
    }

    /// The reduced loss, or an error for bad shapes, class indices or NaN/inf.
    pub fn try_forward<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(SOFTMAX, self.rows_int(input, target)?, self.reduction)
        })
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> Tensor<1> {
        or_panic(self.try_forward(input, target))
    }
}

/// Softmax focal loss of logits `[N, C]` against class indices `[N]`; see [`SoftmaxFocalLoss`].
///
/// # Panics
/// On `gamma < 0`, mismatched shapes, class indices out of range, NaN/inf, or `batchmean`.
#[track_caller]
pub fn softmax_focal_loss(
    input: Tensor<2>,
    target: Tensor<1, Int>,
    gamma: f64,
    reduction: Reduction,
) -> Tensor<1> {
    let loss = SoftmaxFocalLossConfig::new()
        .with_gamma(gamma)
        .with_reduction(reduction)
        .try_init();
    or_panic(loss).forward(input, target)
}
