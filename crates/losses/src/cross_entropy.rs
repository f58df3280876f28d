//! Cross-entropy from logits and negative log-likelihood from log-probabilities.

use burn::config::Config;
use burn::tensor::{DType, Int, Tensor};
use descent_kernel::{Kernel, as_dtype};

use crate::LossSettings;
use crate::class_dim::{check_int_target, flat_int, rows, unflatten, without_class};
use crate::error::{LossError, or_panic};
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced, stable, weights};

const CE: &str = "cross_entropy";
const NLL: &str = "nll_loss";
/// The error of a mean over no target.
const NO_TARGET: &str =
    "must hold at least one non-ignored target of non-zero weight for the mean reduction";

/// Configuration of the [cross-entropy loss](CrossEntropyLoss) (PyTorch `cross_entropy`).
#[derive(Config, Debug)]
pub struct CrossEntropyLossConfig {
    /// One weight per class (`w_c`), for imbalanced classes.
    pub weight: Option<Vec<f64>>,
    /// Targets equal to this index contribute nothing, to the sum or to the mean's normaliser.
    #[config(default = -100)]
    pub ignore_index: i64,
    /// ε in [0, 1]: the target is mixed with the uniform distribution, `(1 - ε)·y + ε/C`.
    #[config(default = 0.0)]
    pub label_smoothing: f64,
    /// How per-sample losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl CrossEntropyLossConfig {
    /// Builds the loss; `label_smoothing` must lie in [0, 1] and the weights be finite.
    pub fn try_init(&self) -> LossResult<CrossEntropyLoss> {
        checks::param(
            CE,
            "label_smoothing",
            self.label_smoothing,
            (0.0..=1.0).contains(&self.label_smoothing),
            "in [0, 1]",
        )?;
        if let Some(w) = &self.weight {
            checks::class_weights(CE, "weight", Some(w), w.len())?;
        }
        Ok(CrossEntropyLoss {
            weight: self.weight.clone(),
            ignore_index: self.ignore_index,
            label_smoothing: self.label_smoothing,
            reduction: self.reduction.check_elementwise(CE)?,
            settings: self.settings,
        })
    }
}

loss_config!(CrossEntropyLossConfig => CrossEntropyLoss);

/// Cross-entropy of logits `x` `[N, C, d1, ...]`, PyTorch's `cross_entropy`, with
/// `log p = log_softmax(x)` over the class dimension.
///
/// Integer targets `y` `[N, d1, ...]`, label smoothing ε, class weights `w`:
///
/// ```text
/// ℓ_i = (1 - ε)·(-w_{y_i} log p_{i,y_i}) + (ε / C)·(-Σ_c w_c log p_{i,c})   (0 where y_i = ignore_index)
/// mean = Σ_i ℓ_i / Σ_{i not ignored} w_{y_i}
/// ```
///
/// Probability targets `y` `[N, C, d1, ...]` ([`Self::forward_probs`]):
///
/// ```text
/// ℓ_i = -Σ_c w_c ((1 - ε)·y_{i,c} + ε/C) log p_{i,c}        mean = Σ_i ℓ_i / N·d1···dk
/// ```
///
/// The loss for single-label multi-class classification. Give it raw logits, never softmax
/// outputs: the log-sum-exp inside keeps it exact for any logit.
#[derive(Debug, Clone)]
pub struct CrossEntropyLoss {
    /// Per-class weights.
    pub weight: Option<Vec<f64>>,
    /// Ignored target index.
    pub ignore_index: i64,
    /// Label smoothing ε.
    pub label_smoothing: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

/// `-w_{y_i} · logp_{i, y_i}` (0 where ignored) and `w_{y_i}` (0 where ignored), both `[M]`.
fn weighted_nll(
    loss: &'static str,
    logp: Tensor<2>,
    target: Tensor<1, Int>,
    weight: Option<&[f64]>,
    ignore_index: i64,
) -> LossResult<(Tensor<1>, Tensor<1>)> {
    let [m, classes] = logp.dims();
    checks::class_weights(loss, "weight", weight, classes)?;
    checks::class_indices(loss, &target, classes, Some(ignore_index))?;
    let ignored = target.clone().equal_elem(ignore_index);
    let safe = target.mask_fill(ignored.clone(), 0);
    let picked = logp.gather(1, safe.clone().reshape([m, 1])).reshape([m]);
    let valid = as_dtype(ignored.bool_not().float(), picked.dtype());
    let w_t = match weight {
        None => valid,
        Some(w) => weights::class_vector(w, &picked.device(), picked.dtype())
            .select(0, safe)
            .mul(valid),
    };
    Ok((picked.mul(w_t.clone()).neg(), w_t))
}

/// Σ ℓ / Σ w for `mean`, erroring when every target is ignored (PyTorch returns NaN).
fn weighted_reduce(
    loss: &'static str,
    per_row: Tensor<1>,
    w_t: Tensor<1>,
    reduction: Reduction,
) -> LossResult<Tensor<1>> {
    if reduction != Reduction::Mean || per_row.dims()[0] == 0 {
        return reduced(loss, per_row, reduction);
    }
    let total = w_t.sum();
    checks::nonzero(loss, "target", &total, NO_TARGET)?;
    Ok(per_row.sum().div(total))
}

impl CrossEntropyLoss {
    fn rows_int<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<(Tensor<1>, Tensor<1>)> {
        let classes = check_int_target(CE, &input, &target)?;
        checks::finite(CE, "input", &input)?;
        let logp = stable::log_softmax(rows(input), 1);
        let target = flat_int(target);
        let weight = self.weight.as_deref();
        let ignored = as_dtype(
            target.clone().equal_elem(self.ignore_index).float(),
            logp.dtype(),
        );
        let (nll, w_t) = weighted_nll(CE, logp.clone(), target, weight, self.ignore_index)?;
        let eps = self.label_smoothing;
        if eps == 0.0 {
            return Ok((nll, w_t));
        }
        let weighted = match weight {
            None => logp,
            Some(w) => {
                let dtype = logp.dtype();
                logp.mul(weights::class_vector(w, &nll.device(), dtype).unsqueeze_dim(0))
            }
        };
        let m = nll.dims()[0];
        let smooth = weighted
            .sum_dim(1)
            .reshape([m])
            .neg()
            .mul(ignored.neg().add_scalar(1.0));
        let per_row = nll
            .mul_scalar(1.0 - eps)
            .add(smooth.mul_scalar(eps / classes as f64));
        Ok((per_row, w_t))
    }

    /// Per-sample losses `[N, d1, ...]` for integer targets.
    pub fn try_forward_no_reduction<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<Tensor<DT>> {
        if let Some(dtype) = descent_kernel::half(&input) {
            let loss = self.try_forward_no_reduction(input.cast(DType::F32), target)?;
            return Ok(loss.cast(dtype));
        }
        let dims = target.dims();
        checks::scope(self.settings.checks, || {
            Ok(unflatten(self.rows_int(input, target)?.0, dims))
        })
    }

    /// Per-sample losses; panics on the errors of [`Self::try_forward_no_reduction`].
    #[track_caller]
    pub fn forward_no_reduction<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> Tensor<DT> {
        or_panic(self.try_forward_no_reduction(input, target))
    }

    /// The reduced loss for integer targets, or an error for mismatched shapes, class indices
    /// out of range, NaN/inf logits, or a mean over no target.
    pub fn try_forward<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<Tensor<1>> {
        if let Some(dtype) = descent_kernel::half(&input) {
            return Ok(self
                .try_forward(input.cast(DType::F32), target)?
                .cast(dtype));
        }
        let written_once = self.weight.is_none() && D == 2 && DT == 1;
        if written_once
            && self.settings.kernel == Kernel::Auto
            && let Some(loss) = crate::fused::rows::cross_entropy(
                &input,
                &target,
                self.ignore_index,
                self.label_smoothing,
                self.reduction,
                self.settings.checks,
            )
        {
            return Ok(loss);
        }
        checks::scope(self.settings.checks, || {
            if written_once {
                return self.rows_generic(input, target);
            }
            let (per_row, w_t) = self.rows_int(input, target)?;
            weighted_reduce(CE, per_row, w_t, self.reduction)
        })
    }

    /// The unweighted loss of `[N, C]` logits through the formula the fused path shares
    /// ([`crate::fused::rows::generic`]), its gradient handed to the input's graph.
    fn rows_generic<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<Tensor<1>> {
        let classes = check_int_target(CE, &input, &target)?;
        crate::reduction::nonempty(CE, &target.dims(), self.reduction)?;
        checks::finite(CE, "input", &input)?;
        let target = flat_int(target);
        checks::class_indices(CE, &target, classes, Some(self.ignore_index))?;
        let x = rows(input.clone().inner());
        let (per_row, grad, counted) =
            crate::fused::rows::generic(x, target.inner(), self.ignore_index, self.label_smoothing);
        let (value, grad) = match self.reduction {
            Reduction::Mean => {
                let n = counted.sum();
                checks::nonzero(CE, "target", &n, NO_TARGET)?;
                (per_row.sum().div(n.clone()), grad.div(n.reshape([1, 1])))
            }
            Reduction::Sum => (per_row.sum(), grad),
            _ => {
                let n = per_row.dims()[0];
                return Ok(descent_kernel::grad::with_grad(
                    &input,
                    per_row,
                    grad.reshape(input.dims()),
                )
                .reshape([n]));
            }
        };
        Ok(descent_kernel::grad::with_grad(
            &input,
            value,
            grad.reshape(input.dims()),
        ))
    }

    /// The reduced loss for integer targets; panics on the errors of [`Self::try_forward`].
    #[track_caller]
    pub fn forward<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> Tensor<1> {
        or_panic(self.try_forward(input, target))
    }

    fn rows_probs<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<1>> {
        crate::pair::same_shape(CE, &input, &target)?;
        if D < 2 {
            return Err(LossError::new(
                CE,
                "input",
                format!("must be [N, C] or [N, C, d1, ...]; got {:?}", input.dims()),
            ));
        }
        if self.ignore_index >= 0 {
            return Err(LossError::new(
                CE,
                "ignore_index",
                format!(
                    "is not supported for probability targets and must be negative; got {}",
                    self.ignore_index
                ),
            ));
        }
        checks::finite(CE, "input", &input)?;
        checks::finite(CE, "target", &target)?;
        let logp = stable::log_softmax(rows(input), 1);
        let [m, classes] = logp.dims();
        checks::class_weights(CE, "weight", self.weight.as_deref(), classes)?;
        let eps = self.label_smoothing;
        let mut target = rows(target);
        if eps > 0.0 {
            target = target
                .mul_scalar(1.0 - eps)
                .add_scalar(eps / classes as f64);
        }
        let mut terms = logp.mul(target);
        if let Some(w) = &self.weight {
            let device = terms.device();
            let dtype = terms.dtype();
            terms = terms.mul(weights::class_vector(w, &device, dtype).unsqueeze_dim(0));
        }
        Ok(terms.sum_dim(1).reshape([m]).neg())
    }

    /// Per-sample losses `[N, d1, ...]` for probability targets shaped like `input`.
    pub fn try_forward_probs_no_reduction<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<DT>> {
        checks::scope(self.settings.checks, || {
            let dims = without_class::<D, DT>(CE, input.dims())?;
            Ok(unflatten(self.rows_probs(input, target)?, dims))
        })
    }

    /// Per-sample losses for probability targets; panics on errors.
    #[track_caller]
    pub fn forward_probs_no_reduction<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> Tensor<DT> {
        or_panic(self.try_forward_probs_no_reduction(input, target))
    }

    /// The reduced loss for probability targets (class weights do not enter the mean's
    /// normaliser, as in PyTorch).
    pub fn try_forward_probs<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(CE, self.rows_probs(input, target)?, self.reduction)
        })
    }

    /// The reduced loss for probability targets; panics on errors.
    #[track_caller]
    pub fn forward_probs<const D: usize>(&self, input: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
        or_panic(self.try_forward_probs(input, target))
    }
}

/// Cross-entropy of logits `[N, C]` against class indices `[N]`, PyTorch's defaults; see
/// [`CrossEntropyLoss`].
///
/// # Panics
/// On mismatched shapes, class indices out of range, NaN/inf logits, or `batchmean`.
#[track_caller]
pub fn cross_entropy(input: Tensor<2>, target: Tensor<1, Int>, reduction: Reduction) -> Tensor<1> {
    or_panic(
        CrossEntropyLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target)
}

/// Configuration of the [negative log-likelihood](NllLoss) (PyTorch `nll_loss`).
#[derive(Config, Debug)]
pub struct NllLossConfig {
    /// One weight per class.
    pub weight: Option<Vec<f64>>,
    /// Targets equal to this index contribute nothing.
    #[config(default = -100)]
    pub ignore_index: i64,
    /// How per-sample losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl NllLossConfig {
    /// Builds the loss; the weights must be finite.
    pub fn try_init(&self) -> LossResult<NllLoss> {
        if let Some(w) = &self.weight {
            checks::class_weights(NLL, "weight", Some(w), w.len())?;
        }
        Ok(NllLoss {
            weight: self.weight.clone(),
            ignore_index: self.ignore_index,
            reduction: self.reduction.check_elementwise(NLL)?,
            settings: self.settings,
        })
    }
}

loss_config!(NllLossConfig => NllLoss);

/// Negative log-likelihood of log-probabilities `x` `[N, C, d1, ...]`, PyTorch's `nll_loss`:
///
/// ```text
/// ℓ_i = -w_{y_i} x_{i, y_i}   (0 where y_i = ignore_index)
/// mean = Σ_i ℓ_i / Σ_{i not ignored} w_{y_i}
/// ```
///
/// Cross-entropy split in two: use it after your own `log_softmax` (or any log-probabilities).
#[derive(Debug, Clone)]
pub struct NllLoss {
    /// Per-class weights.
    pub weight: Option<Vec<f64>>,
    /// Ignored target index.
    pub ignore_index: i64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl NllLoss {
    fn rows_int<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<(Tensor<1>, Tensor<1>)> {
        check_int_target(NLL, &input, &target)?;
        checks::finite(NLL, "input", &input)?;
        weighted_nll(
            NLL,
            rows(input),
            flat_int(target),
            self.weight.as_deref(),
            self.ignore_index,
        )
    }

    /// Per-sample losses `[N, d1, ...]`.
    pub fn try_forward_no_reduction<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<Tensor<DT>> {
        let dims = target.dims();
        checks::scope(self.settings.checks, || {
            Ok(unflatten(self.rows_int(input, target)?.0, dims))
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

    /// The reduced loss, or an error for bad shapes, class indices or values.
    pub fn try_forward<const D: usize, const DT: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<DT, Int>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            let (per_row, w_t) = self.rows_int(input, target)?;
            weighted_reduce(NLL, per_row, w_t, self.reduction)
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

/// Negative log-likelihood of log-probabilities `[N, C]` against class indices `[N]`; see
/// [`NllLoss`].
///
/// # Panics
/// On mismatched shapes, class indices out of range, NaN/inf inputs, or `batchmean`.
#[track_caller]
pub fn nll_loss(input: Tensor<2>, target: Tensor<1, Int>, reduction: Reduction) -> Tensor<1> {
    or_panic(NllLossConfig::new().with_reduction(reduction).try_init()).forward(input, target)
}
