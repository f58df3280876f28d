//! Quantile (pinball) loss.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks};

const NAME: &str = "quantile";

/// Configuration of the [quantile loss](QuantileLoss).
#[derive(Config, Debug)]
pub struct QuantileLossConfig {
    /// The quantile to estimate, in [0, 1] (0.5 gives half the L1 loss).
    #[config(default = 0.5)]
    pub q: f64,
    /// How per-element losses are reduced (`none`, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl QuantileLossConfig {
    /// Builds the loss; `q` must lie in [0, 1].
    pub fn try_init(&self) -> LossResult<QuantileLoss> {
        checks::param(
            NAME,
            "q",
            self.q,
            (0.0..=1.0).contains(&self.q),
            "in [0, 1]",
        )?;
        Ok(QuantileLoss {
            q: self.q,
            reduction: self.reduction.check_elementwise(NAME)?,
            settings: self.settings,
        })
    }
}

loss_config!(QuantileLossConfig => QuantileLoss);

/// Quantile (pinball) loss, with `d = y - x`:
///
/// ```text
/// ℓ_i = max(q·d, (q - 1)·d)
/// ```
///
/// Its minimiser is the q-th quantile of the target distribution: use it for prediction
/// intervals (train q = 0.1 and q = 0.9) or asymmetric costs of under- and over-prediction.
#[derive(Debug, Clone)]
pub struct QuantileLoss {
    /// The quantile q.
    pub q: f64,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl QuantileLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        let d = target.sub(input);
        let under = d.clone().mul_scalar(self.q);
        let over = d.clone().mul_scalar(self.q - 1.0);
        Ok(under.mask_where(d.lower_elem(0.0), over))
    }
}

pair_loss!(QuantileLoss, NAME);

/// Quantile loss of `input` against `target` for quantile `q`; see [`QuantileLoss`].
///
/// # Panics
/// On `q` outside [0, 1], mismatched shapes, non-finite values, or `batchmean`.
#[track_caller]
pub fn quantile<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    q: f64,
    reduction: Reduction,
) -> Tensor<1> {
    let loss = QuantileLossConfig::new()
        .with_q(q)
        .with_reduction(reduction)
        .try_init();
    crate::error::or_panic(loss).forward(input, target)
}
