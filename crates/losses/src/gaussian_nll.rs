//! Gaussian negative log-likelihood.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::{LossError, or_panic};
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced};

const NAME: &str = "gaussian_nll_loss";

/// Configuration of the [Gaussian NLL](GaussianNllLoss) (PyTorch `gaussian_nll_loss`).
#[derive(Config, Debug)]
pub struct GaussianNllLossConfig {
    /// Whether to add the constant `½·log(2π)`.
    #[config(default = false)]
    pub full: bool,
    /// Lower clamp of the variance; must be > 0.
    #[config(default = 1e-6)]
    pub eps: f64,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl GaussianNllLossConfig {
    /// Builds the loss; `eps` must be > 0.
    pub fn try_init(&self) -> LossResult<GaussianNllLoss> {
        checks::param(
            NAME,
            "eps",
            self.eps,
            self.eps > 0.0 && self.eps.is_finite(),
            "> 0",
        )?;
        Ok(GaussianNllLoss {
            full: self.full,
            eps: self.eps,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(GaussianNllLossConfig => GaussianNllLoss);

/// Gaussian negative log-likelihood, PyTorch's `gaussian_nll_loss`, of a predicted mean `x` and
/// variance `v`:
///
/// ```text
/// ℓ_i = ½ (log max(v_i, eps) + (x_i - y_i)² / max(v_i, eps))   [+ ½ log 2π if full]
/// ```
///
/// The clamp is applied without autograd, as in PyTorch: the gradient with respect to `v`
/// passes through it unchanged. `var` has the input's shape, or its last dimension is 1
/// (one variance per row), or it lacks the last dimension (then it is unsqueezed).
/// Use it to regress a mean and an uncertainty together (heteroscedastic regression).
#[derive(Debug, Clone)]
pub struct GaussianNllLoss {
    /// Whether the constant is added.
    pub full: bool,
    /// Lower clamp of the variance.
    pub eps: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl GaussianNllLoss {
    /// Per-element losses, shaped like `input`; `var` is `[..., D]`, `[..., 1]` or `[...]`.
    pub fn try_forward_no_reduction<const D: usize, const DV: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
        var: Tensor<DV>,
    ) -> LossResult<Tensor<D>> {
        checks::scope(self.settings.checks, || {
            let dims = input.dims();
            checks::same_shape(NAME, "target", &target.dims(), "input", &dims)?;
            let var = broadcast_var(var, dims)?;
            checks::finite(NAME, "input", &input)?;
            checks::finite(NAME, "target", &target)?;
            checks::finite(NAME, "var", &var)?;
            checks::in_range(NAME, "var", &var, 0.0, f64::INFINITY)?;
            // Clamp without autograd: v + (max(v, eps) - v).detach().
            let lift = var.clone().clamp_min(self.eps).sub(var.clone()).detach();
            let var = var.add(lift);
            let mut loss = var
                .clone()
                .log()
                .add(input.sub(target).square().div(var))
                .mul_scalar(0.5);
            if self.full {
                loss = loss.add_scalar(0.5 * (2.0 * core::f64::consts::PI).ln());
            }
            Ok(loss)
        })
    }

    /// Per-element losses; panics on the errors of [`Self::try_forward_no_reduction`].
    #[track_caller]
    pub fn forward_no_reduction<const D: usize, const DV: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
        var: Tensor<DV>,
    ) -> Tensor<D> {
        or_panic(self.try_forward_no_reduction(input, target, var))
    }

    /// The reduced loss, or an error for mismatched shapes, negative variances or NaN/inf.
    pub fn try_forward<const D: usize, const DV: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
        var: Tensor<DV>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(
                NAME,
                self.try_forward_no_reduction(input, target, var)?,
                self.reduction,
            )
        })
    }

    /// The reduced loss; panics on the errors of [`Self::try_forward`].
    #[track_caller]
    pub fn forward<const D: usize, const DV: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
        var: Tensor<DV>,
    ) -> Tensor<1> {
        or_panic(self.try_forward(input, target, var))
    }
}

/// Expands `var` to `dims` following PyTorch's rules for `gaussian_nll_loss`.
fn broadcast_var<const D: usize, const DV: usize>(
    var: Tensor<DV>,
    dims: [usize; D],
) -> LossResult<Tensor<D>> {
    let vd = var.dims();
    let error = || {
        LossError::new(
            NAME,
            "var",
            format!(
                "must have the input's shape {dims:?}, or end in 1, or lack its last dimension; got {vd:?}"
            ),
        )
    };
    let shape: [usize; D] = if DV == D {
        let leading_match = vd[..D.saturating_sub(1)] == dims[..D.saturating_sub(1)];
        if vd[..] != dims[..] && !(leading_match && D > 0 && vd[D - 1] == 1) {
            return Err(error());
        }
        core::array::from_fn(|i| vd[i])
    } else if DV + 1 == D && vd[..] == dims[..D - 1] {
        core::array::from_fn(|i| if i + 1 == D { 1 } else { vd[i] })
    } else {
        return Err(error());
    };
    Ok(var.reshape(shape).expand(dims))
}

/// Gaussian NLL with PyTorch's defaults (`eps = 1e-6`, not `full`); see [`GaussianNllLoss`].
///
/// # Panics
/// On mismatched shapes, negative variances, non-finite values, or `batchmean`.
#[track_caller]
pub fn gaussian_nll_loss<const D: usize, const DV: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    var: Tensor<DV>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        GaussianNllLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target, var)
}
