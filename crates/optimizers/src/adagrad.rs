//! AdaGrad (`torch.optim.Adagrad`): per-coordinate step sizes from the sum of squared
//! gradients.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::checks;
use crate::common::direction;
use crate::error::OptimResult;
use crate::fused;
use crate::state::{optimizer_config, record_state};

const NAME: &str = "adagrad";

/// Configuration of [`Adagrad`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct AdagradConfig {
    /// Learning-rate decay κ: step t uses `η / (1 + (t − 1) κ)` (default 0).
    #[config(default = 0.0)]
    pub lr_decay: f64,
    /// L2 penalty λ added to the gradient (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Starting value of the sum of squares (default 0).
    #[config(default = 0.0)]
    pub initial_accumulator_value: f64,
    /// Term ε added to the denominator (default 1e-10).
    #[config(default = 1e-10)]
    pub eps: f64,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
}

impl AdagradConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Adagrad> {
        checks::non_negative(NAME, "lr_decay", self.lr_decay)?;
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        checks::non_negative(
            NAME,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        checks::non_negative(NAME, "eps", self.eps)?;
        Ok(Adagrad {
            lr_decay: self.lr_decay,
            weight_decay: self.weight_decay,
            initial_accumulator_value: self.initial_accumulator_value,
            eps: self.eps,
            maximize: self.maximize,
        })
    }
}

optimizer_config!(AdagradConfig => Adagrad);

/// AdaGrad (`torch.optim.Adagrad`).
///
/// With `g = ±∇f(θ) + λθ` and `S₀ = initial_accumulator_value`:
///
/// ```text
/// Sₜ = Sₜ₋₁ + g²
/// θ ← θ − η / (1 + (t − 1) κ) · g / (√Sₜ + ε)
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad {
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    eps: f64,
    maximize: bool,
}

/// State of [`Adagrad`] for one parameter.
#[derive(Clone)]
pub struct AdagradState<const D: usize> {
    /// The sum of squared gradients `S`.
    pub sum: Tensor<D>,
    /// Steps taken.
    pub step: u64,
}

record_state!(AdagradState {
    tensors: [sum],
    optional: [],
    counters: [step],
    floats: [],
});

impl Adagrad {
    /// The update in one pass over the flex buffers.
    fn step_flex<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdagradState<D>>,
    ) -> (Tensor<D>, Option<AdagradState<D>>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let (mut sum, step) = match state {
            Some(s) => (fused::buffer(s.sum), s.step + 1),
            None => (fused::filled(&p, self.initial_accumulator_value as f32), 1),
        };
        let sign = if self.maximize { -1.0f32 } else { 1.0 };
        let wd = self.weight_decay as f32;
        let clr = (lr / (1.0 + (step - 1) as f64 * self.lr_decay)) as f32;
        let eps = self.eps as f32;
        let finite = fused::run(
            fused::slice_mut(&mut p),
            fused::slice(&g),
            [fused::slice_mut(&mut sum)],
            |p, g, [s]| {
                fused::each!(p, g, [s], |i| {
                    let gi = fused::dir(g[i], p[i], sign, wd);
                    s[i] += gi * gi;
                    p[i] -= gi / (s[i].sqrt() + eps) * clr;
                })
            },
        );
        fused::check(NAME, finite);
        (
            fused::tensor(p),
            Some(AdagradState {
                sum: fused::tensor(sum),
                step,
            }),
        )
    }
}

impl Optimizer for Adagrad {
    type State<const D: usize> = AdagradState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        checks::learning_rate(NAME, lr);
        if fused::eligible(&tensor, &grad) {
            return self.step_flex(lr, tensor, grad, state);
        }
        checks::finite_grad(NAME, &grad, &tensor);
        let g = direction(grad, &tensor, self.maximize, self.weight_decay);
        let (sum, step) = match state {
            Some(s) => (s.sum, s.step + 1),
            None => (
                tensor
                    .zeros_like()
                    .add_scalar(self.initial_accumulator_value),
                1,
            ),
        };
        let sum = sum + g.clone().square();
        let clr = lr / (1.0 + (step - 1) as f64 * self.lr_decay);
        let update = g / sum.clone().sqrt().add_scalar(self.eps);
        (
            tensor - update.mul_scalar(clr),
            Some(AdagradState { sum, step }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
