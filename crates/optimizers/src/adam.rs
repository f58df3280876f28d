//! Adam and AMSGrad (`torch.optim.Adam`): bias-corrected first and second moment estimates,
//! with coupled (L2) weight decay.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::checks;
use crate::common::{direction, ema};
use crate::error::OptimResult;
use crate::fused;
use crate::state::{optimizer_config, record_state};

const NAME: &str = "adam";

/// Configuration of [`Adam`], with PyTorch's defaults (ε = 1e-8, not Burn's 1e-5).
#[derive(Config, Debug)]
pub struct AdamConfig {
    /// Decay rate β₁ of the first moment (default 0.9).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate β₂ of the second moment (default 0.999).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Term ε added to the denominator (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// L2 penalty λ added to the gradient (default 0); see [`AdamWConfig`](crate::AdamWConfig)
    /// for decoupled decay.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    #[config(default = false)]
    pub amsgrad: bool,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
}

/// Checks the hyperparameters Adam-family optimizers share.
pub(crate) fn check_adam(
    name: &'static str,
    beta_1: f64,
    beta_2: f64,
    eps: f64,
    weight_decay: f64,
) -> OptimResult<()> {
    checks::unit_open(name, "beta_1", beta_1)?;
    checks::unit_open(name, "beta_2", beta_2)?;
    checks::non_negative(name, "eps", eps)?;
    checks::non_negative(name, "weight_decay", weight_decay)
}

impl AdamConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Adam> {
        check_adam(NAME, self.beta_1, self.beta_2, self.eps, self.weight_decay)?;
        Ok(Adam {
            core: AdamCore {
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                eps: self.eps,
                amsgrad: self.amsgrad,
            },
            weight_decay: self.weight_decay,
            maximize: self.maximize,
        })
    }
}

optimizer_config!(AdamConfig => Adam);

/// Adam (`torch.optim.Adam`), AMSGrad when configured.
///
/// With `g = ±∇f(θ) + λθ`, moments starting at 0 and t counting from 1:
///
/// ```text
/// m = β₁ m + (1 − β₁) g
/// v = β₂ v + (1 − β₂) g²
/// v̂ = max(v̂, v) if amsgrad, v otherwise
/// θ ← θ − η / (1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    core: AdamCore,
    weight_decay: f64,
    maximize: bool,
}

/// State of the Adam family for one parameter.
#[derive(Clone)]
pub struct AdamState<const D: usize> {
    /// First moment `m`.
    pub exp_avg: Tensor<D>,
    /// Second moment `v`.
    pub exp_avg_sq: Tensor<D>,
    /// Running maximum of `v` (AMSGrad only).
    pub max_exp_avg_sq: Option<Tensor<D>>,
    /// Steps taken.
    pub step: u64,
}

record_state!(AdamState {
    tensors: [exp_avg, exp_avg_sq],
    optional: [max_exp_avg_sq],
    counters: [step],
    floats: [],
});

/// The moment updates and the bias-corrected step shared by Adam and AdamW.
#[derive(Clone, Debug)]
pub(crate) struct AdamCore {
    pub beta_1: f64,
    pub beta_2: f64,
    pub eps: f64,
    pub amsgrad: bool,
}

impl AdamCore {
    /// One Adam step of `tensor` along `g`, returning the new tensor and state.
    pub fn update<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        g: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, AdamState<D>) {
        let (exp_avg, exp_avg_sq, max_exp_avg_sq, step) = match state {
            Some(s) => (s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq, s.step + 1),
            None => (tensor.zeros_like(), tensor.zeros_like(), None, 1),
        };
        let exp_avg = ema(exp_avg, g.clone(), self.beta_1);
        let exp_avg_sq = ema(exp_avg_sq, g.square(), self.beta_2);
        let max_exp_avg_sq = self.amsgrad.then(|| match max_exp_avg_sq {
            Some(max) => max.max_pair(exp_avg_sq.clone()),
            None => exp_avg_sq.clone(),
        });
        let t = step as i32;
        let bias_1 = 1.0 - self.beta_1.powi(t);
        let bias_2_sqrt = (1.0 - self.beta_2.powi(t)).sqrt();
        let second = max_exp_avg_sq.as_ref().unwrap_or(&exp_avg_sq).clone();
        let denom = second.sqrt().div_scalar(bias_2_sqrt).add_scalar(self.eps);
        let update = exp_avg.clone() / denom;
        (
            tensor - update.mul_scalar(lr / bias_1),
            AdamState {
                exp_avg,
                exp_avg_sq,
                max_exp_avg_sq,
                step,
            },
        )
    }
}

impl AdamCore {
    /// The fused form of [`update`](Self::update) on flex: `g' = sign·g + λθ` (coupled decay
    /// `wd`), `θ ← θ·decay` (decoupled decay, 1 for none), then the Adam step; one pass.
    #[allow(clippy::too_many_arguments)]
    pub fn update_flex<const D: usize>(
        &self,
        opt: &'static str,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
        sign: f32,
        wd: f32,
        decay: f32,
    ) -> (Tensor<D>, AdamState<D>) {
        let mut p = fused::buffer(tensor);
        let g = fused::buffer(grad);
        let (mut m, mut v, mut vmax, step) = match state {
            Some(s) => (
                fused::buffer(s.exp_avg),
                fused::buffer(s.exp_avg_sq),
                s.max_exp_avg_sq.map(fused::buffer),
                s.step + 1,
            ),
            None => (fused::zeros(&p), fused::zeros(&p), None, 1),
        };
        if self.amsgrad && vmax.is_none() {
            vmax = Some(fused::zeros(&p));
        }
        let t = step as i32;
        let (b1, b2) = (self.beta_1 as f32, self.beta_2 as f32);
        let (c1, c2) = ((1.0 - self.beta_1) as f32, (1.0 - self.beta_2) as f32);
        let bias_2_sqrt = (1.0 - self.beta_2.powi(t)).sqrt() as f32;
        let step_size = (lr / (1.0 - self.beta_1.powi(t))) as f32;
        let eps = self.eps as f32;
        let finite = {
            let (ps, gs) = (fused::slice_mut(&mut p), fused::slice(&g));
            let (ms, vs) = (fused::slice_mut(&mut m), fused::slice_mut(&mut v));
            match vmax.as_mut() {
                Some(x) => fused::run(ps, gs, [ms, vs, fused::slice_mut(x)], |p, g, [m, v, x]| {
                    fused::each!(p, g, [m, v, x], |i| {
                        let gi = fused::dir(g[i], p[i], sign, wd);
                        m[i] = m[i] * b1 + gi * c1;
                        v[i] = v[i] * b2 + gi * gi * c2;
                        x[i] = x[i].max(v[i]);
                        p[i] =
                            p[i] * decay - step_size * (m[i] / (x[i].sqrt() / bias_2_sqrt + eps));
                    })
                }),
                None => fused::run(ps, gs, [ms, vs], |p, g, [m, v]| {
                    fused::each!(p, g, [m, v], |i| {
                        let gi = fused::dir(g[i], p[i], sign, wd);
                        m[i] = m[i] * b1 + gi * c1;
                        v[i] = v[i] * b2 + gi * gi * c2;
                        p[i] =
                            p[i] * decay - step_size * (m[i] / (v[i].sqrt() / bias_2_sqrt + eps));
                    })
                }),
            }
        };
        fused::check(opt, finite);
        (
            fused::tensor(p),
            AdamState {
                exp_avg: fused::tensor(m),
                exp_avg_sq: fused::tensor(v),
                max_exp_avg_sq: vmax.map(fused::tensor),
                step,
            },
        )
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        checks::learning_rate(NAME, lr);
        if fused::eligible(&tensor, &grad) {
            let sign = if self.maximize { -1.0 } else { 1.0 };
            let wd = self.weight_decay as f32;
            let (tensor, state) = self
                .core
                .update_flex(NAME, lr, tensor, grad, state, sign, wd, 1.0);
            return (tensor, Some(state));
        }
        checks::finite_grad(NAME, &grad, &tensor);
        let g = direction(grad, &tensor, self.maximize, self.weight_decay);
        let (tensor, state) = self.core.update(lr, tensor, g, state);
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
