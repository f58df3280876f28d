//! Smooth L1 loss.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks};

const NAME: &str = "smooth_l1_loss";

/// Configuration of the [smooth L1 loss](SmoothL1Loss) (PyTorch `smooth_l1_loss`).
#[derive(Config, Debug)]
pub struct SmoothL1LossConfig {
    /// Where the loss turns from quadratic to linear; must be ≥ 0 (0 gives the L1 loss).
    #[config(default = 1.0)]
    pub beta: f64,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl SmoothL1LossConfig {
    /// Builds the loss; `beta` must be ≥ 0 and finite.
    pub fn try_init(&self) -> LossResult<SmoothL1Loss> {
        checks::param(
            NAME,
            "beta",
            self.beta,
            self.beta >= 0.0 && self.beta.is_finite(),
            ">= 0 and finite",
        )?;
        Ok(SmoothL1Loss {
            beta: self.beta,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(SmoothL1LossConfig => SmoothL1Loss);

/// Smooth L1 loss, PyTorch's `smooth_l1_loss`, with `d = x - y`:
///
/// ```text
/// ℓ_i = ½ d² / β        if |d| < β
///       |d| - ½ β       otherwise          (β = 0: ℓ_i = |d|)
/// ```
///
/// Huber loss divided by β: the same shape, but the linear part has slope 1 whatever β is.
/// The box-regression loss of Fast R-CNN.
#[derive(Debug, Clone)]
pub struct SmoothL1Loss {
    /// The threshold β.
    pub beta: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl SmoothL1Loss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        let d = input.sub(target);
        let abs = d.clone().abs();
        if self.beta == 0.0 {
            return Ok(abs);
        }
        let linear = abs.clone().sub_scalar(0.5 * self.beta);
        let quadratic = d.square().mul_scalar(0.5 / self.beta);
        Ok(quadratic.mask_where(abs.greater_equal_elem(self.beta), linear))
    }
}

pair_loss!(SmoothL1Loss, NAME);

/// Smooth L1 loss of `input` against `target` with threshold `beta`; see [`SmoothL1Loss`].
///
/// # Panics
/// On `beta < 0`, mismatched shapes, non-finite values, or the `batchmean` reduction.
#[track_caller]
pub fn smooth_l1_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    beta: f64,
    reduction: Reduction,
) -> Tensor<1> {
    let loss = SmoothL1LossConfig::new()
        .with_beta(beta)
        .with_reduction(reduction)
        .try_init();
    crate::error::or_panic(loss).forward(input, target)
}
