//! Kullback–Leibler divergence.

use burn::config::Config;
use burn::tensor::Tensor;

use crate::LossSettings;
use crate::error::or_panic;
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks};

const NAME: &str = "kl_div";

/// Configuration of the [KL divergence](KlDivLoss) (PyTorch `kl_div`).
#[derive(Config, Debug)]
pub struct KlDivLossConfig {
    /// Whether `target` holds log-probabilities rather than probabilities.
    #[config(default = false)]
    pub log_target: bool,
    /// `none`, `mean` (over all elements, PyTorch's default), `sum`, or `batchmean` (the
    /// mathematically correct KL per sample).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl KlDivLossConfig {
    /// Builds the loss (every reduction is valid).
    pub fn try_init(&self) -> LossResult<KlDivLoss> {
        Ok(KlDivLoss {
            log_target: self.log_target,
            reduction: self.reduction,
            settings: self.settings,
        })
    }
}

loss_config!(KlDivLossConfig => KlDivLoss);

/// KL divergence `KL(y ‖ p)`, PyTorch's `kl_div`, of log-probabilities `x = log p` against a
/// target distribution `y`:
///
/// ```text
/// ℓ_i = y_i · (log y_i - x_i)          (0 where y_i = 0)
/// ℓ_i = exp(y_i) · (y_i - x_i)         (log_target: y holds log-probabilities)
/// batchmean = Σ ℓ / N
/// ```
///
/// For distillation and distribution matching. Use `batchmean` for the true divergence per
/// sample; `mean` divides by every element, as PyTorch's default does.
#[derive(Debug, Clone)]
pub struct KlDivLoss {
    /// Whether the target holds log-probabilities.
    pub log_target: bool,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl KlDivLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        if self.log_target {
            return Ok(target.clone().exp().mul(target.sub(input)));
        }
        checks::in_range(NAME, "target", &target, 0.0, f64::INFINITY)?;
        // xlogy(y, y): y·log y with 0·log 0 = 0, and a log argument of 1 where y = 0.
        let safe = target
            .clone()
            .mask_fill(target.clone().lower_equal_elem(0.0), 1.0);
        Ok(target.clone().mul(safe.log()).sub(target.mul(input)))
    }
}

pair_loss!(KlDivLoss, NAME);

/// KL divergence with probability targets; see [`KlDivLoss`].
///
/// # Panics
/// On negative targets, mismatched shapes or NaN/inf.
#[track_caller]
pub fn kl_div<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(KlDivLossConfig::new().with_reduction(reduction).try_init()).forward(input, target)
}
