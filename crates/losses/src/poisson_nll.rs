//! Poisson negative log-likelihood.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks};

const NAME: &str = "poisson_nll_loss";

/// Configuration of the [Poisson NLL](PoissonNllLoss) (PyTorch `poisson_nll_loss`).
#[derive(Config, Debug)]
pub struct PoissonNllLossConfig {
    /// Whether `input` is the log-rate (`true`) or the rate itself.
    #[config(default = true)]
    pub log_input: bool,
    /// Whether to add the Stirling approximation of `log(y!)`.
    #[config(default = false)]
    pub full: bool,
    /// Added to the rate before its log when `log_input` is false; must be > 0.
    #[config(default = 1e-8)]
    pub eps: f64,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl PoissonNllLossConfig {
    /// Builds the loss; `eps` must be > 0.
    pub fn try_init(&self) -> LossResult<PoissonNllLoss> {
        checks::param(
            NAME,
            "eps",
            self.eps,
            self.eps > 0.0 && self.eps.is_finite(),
            "> 0",
        )?;
        Ok(PoissonNllLoss {
            log_input: self.log_input,
            full: self.full,
            eps: self.eps,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(PoissonNllLossConfig => PoissonNllLoss);

/// Poisson negative log-likelihood, PyTorch's `poisson_nll_loss`, for counts `y ≥ 0`:
///
/// ```text
/// log_input:  ℓ_i = exp(x_i) - y_i·x_i
/// otherwise:  ℓ_i = x_i - y_i·log(x_i + eps)            (x_i ≥ 0 is a rate)
/// full:       ℓ_i += y_i·log y_i - y_i + ½·log(2π·y_i)   where y_i > 1
/// ```
///
/// The loss for count regression (events per interval); predict the log-rate (`log_input`) so
/// that any real output is a valid rate.
#[derive(Debug, Clone)]
pub struct PoissonNllLoss {
    /// Whether `input` is the log-rate.
    pub log_input: bool,
    /// Whether the Stirling term is added.
    pub full: bool,
    /// Stabiliser of `log(x + eps)`.
    pub eps: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl PoissonNllLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        checks::in_range(NAME, "target", &target, 0.0, f64::INFINITY)?;
        let mut loss = if self.log_input {
            input.clone().exp().sub(target.clone().mul(input))
        } else {
            checks::in_range(NAME, "input", &input, 0.0, f64::INFINITY)?;
            input
                .clone()
                .sub(target.clone().mul(input.add_scalar(self.eps).log()))
        };
        if self.full {
            let y = target.clone().clamp_min(1.0);
            let stirling = y.clone().mul(y.clone().log()).sub(y.clone()).add(
                y.mul_scalar(2.0 * core::f64::consts::PI)
                    .log()
                    .mul_scalar(0.5),
            );
            loss = loss.add(stirling.mask_fill(target.lower_equal_elem(1.0), 0.0));
        }
        Ok(loss)
    }
}

pair_loss!(PoissonNllLoss, NAME);

/// Poisson NLL with PyTorch's defaults (`log_input`, not `full`); see [`PoissonNllLoss`].
///
/// # Panics
/// On negative targets, mismatched shapes, non-finite values, or `batchmean`.
#[track_caller]
pub fn poisson_nll_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    crate::error::or_panic(
        PoissonNllLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(input, target)
}
