//! Huber loss.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks};

const NAME: &str = "huber_loss";

/// Configuration of the [Huber loss](HuberLoss) (PyTorch `huber_loss`).
#[derive(Config, Debug)]
pub struct HuberLossConfig {
    /// Where the loss turns from quadratic to linear; must be > 0.
    #[config(default = 1.0)]
    pub delta: f64,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl HuberLossConfig {
    /// Builds the loss; `delta` must be > 0 and finite.
    pub fn try_init(&self) -> LossResult<HuberLoss> {
        checks::param(
            NAME,
            "delta",
            self.delta,
            self.delta > 0.0 && self.delta.is_finite(),
            "> 0 and finite",
        )?;
        Ok(HuberLoss {
            delta: self.delta,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(HuberLossConfig => HuberLoss);

/// Huber loss, PyTorch's `huber_loss`, with `d = x - y`:
///
/// ```text
/// ℓ_i = ½ d²              if |d| < δ
///       δ (|d| - ½ δ)     otherwise
/// ∂ℓ_i/∂x_i = d if |d| < δ, else δ·sign(d)
/// ```
///
/// Quadratic near the target like MSE, linear far from it like L1: the loss for regression with
/// outliers, whose gradient is bounded by δ.
#[derive(Debug, Clone)]
pub struct HuberLoss {
    /// The threshold δ.
    pub delta: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl HuberLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        let d = input.sub(target);
        let abs = d.clone().abs();
        let linear = abs
            .clone()
            .sub_scalar(0.5 * self.delta)
            .mul_scalar(self.delta);
        let quadratic = d.square().mul_scalar(0.5);
        Ok(quadratic.mask_where(abs.greater_equal_elem(self.delta), linear))
    }
}

pair_loss!(HuberLoss, NAME);

/// Huber loss of `input` against `target` with threshold `delta`; see [`HuberLoss`].
///
/// # Panics
/// On `delta <= 0`, mismatched shapes, non-finite values, or the `batchmean` reduction.
#[track_caller]
pub fn huber_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    delta: f64,
    reduction: Reduction,
) -> Tensor<1> {
    let loss = HuberLossConfig::new()
        .with_delta(delta)
        .with_reduction(reduction)
        .try_init();
    crate::error::or_panic(loss).forward(input, target)
}
