//! Adadelta (`torch.optim.Adadelta`): step sizes from the ratio of running RMS of updates and
//! of gradients.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::checks;
use crate::common::{direction, ema};
use crate::error::OptimResult;
use crate::state::{optimizer_config, record_state};

const NAME: &str = "adadelta";

/// Configuration of [`Adadelta`], with PyTorch's defaults (use it with lr = 1.0).
#[derive(Config, Debug)]
pub struct AdadeltaConfig {
    /// Decay rate ρ of the running averages (default 0.9).
    #[config(default = 0.9)]
    pub rho: f64,
    /// Term ε inside the square roots (default 1e-6).
    #[config(default = 1e-6)]
    pub eps: f64,
    /// L2 penalty λ added to the gradient (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
}

impl AdadeltaConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Adadelta> {
        checks::unit_closed(NAME, "rho", self.rho)?;
        checks::non_negative(NAME, "eps", self.eps)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        Ok(Adadelta {
            rho: self.rho,
            eps: self.eps,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
        })
    }
}

optimizer_config!(AdadeltaConfig => Adadelta);

/// Adadelta (`torch.optim.Adadelta`).
///
/// With `g = ±∇f(θ) + λθ`, averages starting at 0:
///
/// ```text
/// v = ρ v + (1 − ρ) g²
/// Δ = √(u + ε) / √(v + ε) · g
/// u = ρ u + (1 − ρ) Δ²
/// θ ← θ − η Δ
/// ```
#[derive(Clone, Debug)]
pub struct Adadelta {
    rho: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
}

/// State of [`Adadelta`] for one parameter.
#[derive(Clone)]
pub struct AdadeltaState<const D: usize> {
    /// Running average of squared gradients `v`.
    pub square_avg: Tensor<D>,
    /// Running average of squared updates `u`.
    pub acc_delta: Tensor<D>,
}

record_state!(AdadeltaState {
    tensors: [square_avg, acc_delta],
    optional: [],
    counters: [],
    floats: [],
});

impl Optimizer for Adadelta {
    type State<const D: usize> = AdadeltaState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        checks::learning_rate(NAME, lr);
        checks::finite_grad(NAME, &grad);
        let g = direction(grad, &tensor, self.maximize, self.weight_decay);
        let (square_avg, acc_delta) = match state {
            Some(s) => (s.square_avg, s.acc_delta),
            None => (tensor.zeros_like(), tensor.zeros_like()),
        };
        let square_avg = ema(square_avg, g.clone().square(), self.rho);
        let std = square_avg.clone().add_scalar(self.eps).sqrt();
        let delta = acc_delta.clone().add_scalar(self.eps).sqrt() / std * g;
        let acc_delta = ema(acc_delta, delta.clone().square(), self.rho);
        (
            tensor - delta.mul_scalar(lr),
            Some(AdadeltaState {
                square_avg,
                acc_delta,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
