//! Prodigy (Mishchenko and Defazio 2024, "Prodigy: An Expeditiously Adaptive Parameter-Free
//! Learner"; the `prodigyopt` package 1.1.2): Adam whose step size `d` is estimated from the
//! distance travelled, one estimate shared by every parameter of the model.

use std::collections::HashMap;

use burn::config::Config;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{DType, Device, Tensor, TensorData};
use descent_kernel::as_dtype;
use serde::{Deserialize, Serialize};

use crate::checks;
use crate::error::{OptimError, OptimResult, or_panic};

const NAME: &str = "prodigy";

/// Configuration of [`Prodigy`], with the package's defaults (use `lr = 1`: `d` sets the scale).
#[derive(Config, Debug)]
pub struct ProdigyConfig {
    /// `(β₁, β₂)` (default (0.9, 0.999)).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// See `beta_1`.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Decay β₃ of the estimate's sums (default `None`: √β₂).
    #[config(default = "None")]
    pub beta3: Option<f64>,
    /// Term ε, added as `d ε` to the denominator (default 1e-8).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Weight decay λ (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ − λ d η θ` (default true) instead of `g + λθ`.
    #[config(default = true)]
    pub decouple: bool,
    /// Adam's bias correction in the step (default false).
    #[config(default = false)]
    pub use_bias_correction: bool,
    /// Leave the rate out of the estimate's denominator during warm-up (default false).
    #[config(default = false)]
    pub safeguard_warmup: bool,
    /// Initial estimate `d₀` (default 1e-6).
    #[config(default = 1e-6)]
    pub d0: f64,
    /// Multiplier of the estimate (default 1).
    #[config(default = 1.0)]
    pub d_coef: f64,
    /// Largest growth of `d` per step (default ∞).
    #[config(default = "f64::INFINITY")]
    pub growth_rate: f64,
}

impl ProdigyConfig {
    /// Checks the hyperparameters and builds the optimizer.
    pub fn try_init(&self) -> OptimResult<Prodigy> {
        checks::positive(NAME, "d0", self.d0)?;
        checks::positive(NAME, "eps", self.eps)?;
        checks::unit_open(NAME, "beta_1", self.beta_1)?;
        checks::unit_open(NAME, "beta_2", self.beta_2)?;
        if let Some(b3) = self.beta3 {
            checks::unit_open(NAME, "beta3", b3)?;
        }
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        checks::non_negative(NAME, "d_coef", self.d_coef)?;
        if self.growth_rate.is_nan() || self.growth_rate < 1.0 {
            return Err(OptimError::new(
                NAME,
                "growth_rate",
                format!("must be >= 1 (or inf), got {}", self.growth_rate),
            ));
        }
        Ok(Prodigy {
            config: self.clone(),
            state: ProdigyState {
                d: self.d0,
                d_max: self.d0,
                d_numerator: 0.0,
                k: 0,
                params: HashMap::new(),
            },
            device_state: HashMap::new(),
        })
    }

    /// Builds the optimizer.
    ///
    /// # Panics
    /// When a hyperparameter is invalid, with a message naming it.
    #[track_caller]
    pub fn init(&self) -> Prodigy {
        or_panic(self.try_init())
    }
}

/// Prodigy, as `prodigyopt.Prodigy`: not a per-tensor Burn `Optimizer`, since its estimate `d`
/// needs every parameter's gradient before any parameter moves; `step` takes the whole module,
/// as `ModuleOptimizer::step` does.
///
/// With `k` steps taken, `β₃ = √β₂` by default, `ĉ = √(1 − β₂ᵏ⁺¹)/(1 − β₁ᵏ⁺¹)` (or 1) and
/// `dη = d η ĉ`, each step is, over all parameters θ (from θ₀) with gradients g:
///
/// ```text
/// r ← β₃ r + (d/d₀) dη Σ ⟨g, θ₀ − θ⟩
/// m = β₁ m + d (1 − β₁) g,   v = β₂ v + d² (1 − β₂) g²
/// s = β₃ s + (d/d₀) dη g     ((d/d₀) d g with safeguard_warmup)
/// d̂ = d_coef · r / Σ|s|;   d ← max(d, d̂) on the first growth;   d ← min(max(d̂ so far), d · growth)
/// θ ← θ − λ dη θ (decoupled) − dη m / (√v + d ε)
/// ```
#[derive(Clone, Debug)]
pub struct Prodigy {
    config: ProdigyConfig,
    state: ProdigyState,
    /// The per-parameter tensors on their devices (the host copy in `state` is made on demand).
    device_state: HashMap<ParamId, Moments>,
}

/// Prodigy's state, on the host: the shared estimate and each parameter's tensors (flattened,
/// with their shape). Serde-serialisable: save it with any serde format and resume with
/// [`Prodigy::with_state`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProdigyState {
    /// The estimate `d`.
    pub d: f64,
    /// The largest `d̂` so far.
    pub d_max: f64,
    /// The numerator `r`.
    pub d_numerator: f64,
    /// Steps taken.
    pub k: u64,
    /// Each parameter's tensors, by parameter id (filled by [`Prodigy::state`]).
    pub params: HashMap<u64, ParamState>,
}

/// One parameter's Prodigy state, flattened.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ParamState {
    /// `s`.
    pub s: Vec<f32>,
    /// The starting point θ₀.
    pub p0: Vec<f32>,
    /// `m`.
    pub exp_avg: Vec<f32>,
    /// `v`.
    pub exp_avg_sq: Vec<f32>,
}

#[derive(Clone, Debug)]
struct Moments {
    s: Tensor<1>,
    p0: Tensor<1>,
    exp_avg: Tensor<1>,
    exp_avg_sq: Tensor<1>,
}

impl Prodigy {
    /// The current estimate `d`.
    pub fn d(&self) -> f64 {
        self.state.d
    }

    /// The state, read back to the host.
    pub fn state(&self) -> ProdigyState {
        let read = |t: &Tensor<1>| t.to_data().iter::<f32>().collect::<Vec<f32>>();
        let mut state = self.state.clone();
        state.params = self
            .device_state
            .iter()
            .map(|(id, m)| {
                let p = ParamState {
                    s: read(&m.s),
                    p0: read(&m.p0),
                    exp_avg: read(&m.exp_avg),
                    exp_avg_sq: read(&m.exp_avg_sq),
                };
                (id.val(), p)
            })
            .collect();
        state
    }

    /// This optimizer resuming from `state` (saved by [`state`](Self::state)), its tensors put
    /// on `device`.
    pub fn with_state(mut self, state: ProdigyState, device: &Device) -> Self {
        let t =
            |v: &Vec<f32>| Tensor::<1>::from_data(TensorData::new(v.clone(), [v.len()]), device);
        self.device_state = state
            .params
            .iter()
            .map(|(id, p)| {
                let m = Moments {
                    s: t(&p.s),
                    p0: t(&p.p0),
                    exp_avg: t(&p.exp_avg),
                    exp_avg_sq: t(&p.exp_avg_sq),
                };
                (ParamId::from(*id), m)
            })
            .collect();
        self.state = ProdigyState {
            params: HashMap::new(),
            ..state
        };
        self
    }

    /// One step of every parameter of `module` that has a gradient in `grads`.
    ///
    /// # Panics
    /// On a learning rate that is not > 0, or (a gradient of another shape than its parameter.
    pub fn step<M: Module>(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M {
        checks::positive(NAME, "lr", lr).unwrap_or_else(|e| panic!("{e}"));
        let c = &self.config;
        let (b1, b2) = (c.beta_1, c.beta_2);
        let b3 = c.beta3.unwrap_or_else(|| b2.sqrt());
        let (d, d0, k) = (self.state.d, c.d0, self.state.k);
        let correction = if c.use_bias_correction {
            (1.0 - b2.powi(k as i32 + 1)).sqrt() / (1.0 - b1.powi(k as i32 + 1))
        } else {
            1.0
        };
        let dlr = d * lr * correction;
        let numerator = self.state.d_numerator * b3;
        // Phase 1: the moments, s, and the sums of the estimate.
        let mut first = Accumulate {
            grads: &mut grads,
            state: &mut self.device_state,
            taken: HashMap::new(),
            sums: Vec::new(),
            k: Phase1 {
                b1,
                b2,
                b3,
                d,
                s_rate: if c.safeguard_warmup {
                    d / d0 * d
                } else {
                    d / d0 * dlr
                },
                dot_rate: d / d0 * dlr,
                l2: if c.decouple { 0.0 } else { c.weight_decay },
            },
        };
        module.visit(&mut first);
        let Accumulate { taken, sums, .. } = first;
        if sums.is_empty() {
            return module;
        }
        let sums: Vec<f64> = Tensor::cat(sums, 0).into_data().iter::<f64>().collect();
        let (delta, denom) = sums
            .chunks(2)
            .fold((0.0, 0.0), |(n, s), pair| (n + pair[0], s + pair[1]));
        if denom == 0.0 {
            return module;
        }
        let global = numerator + delta;
        let d_hat = c.d_coef * global / denom;
        let mut d_new = d;
        if d_new == d0 {
            d_new = d_new.max(d_hat);
        }
        let d_max = self.state.d_max.max(d_hat);
        d_new = d_max.min(d_new * c.growth_rate);
        self.state.d_numerator = global;
        self.state.d = d_new;
        self.state.d_max = d_max;
        self.state.k = k + 1;
        // Phase 2: the parameters, with the old dη and the new d in the denominator.
        let shrink = if c.decouple && c.weight_decay != 0.0 {
            Some(c.weight_decay * dlr)
        } else {
            None
        };
        module.map(&mut Apply {
            state: &self.device_state,
            taken,
            dlr,
            d_eps: d_new * c.eps,
            shrink,
        })
    }
}

#[derive(Clone, Copy)]
struct Phase1 {
    b1: f64,
    b2: f64,
    b3: f64,
    d: f64,
    s_rate: f64,
    dot_rate: f64,
    l2: f64,
}

struct Accumulate<'a> {
    grads: &'a mut GradientsParams,
    state: &'a mut HashMap<ParamId, Moments>,
    /// The parameters stepped this time.
    taken: HashMap<ParamId, ()>,
    /// `[(d/d₀) dη ⟨g, θ₀ − θ⟩, Σ|s|]` per parameter, on its device.
    sums: Vec<Tensor<1>>,
    k: Phase1,
}

impl ModuleVisitor for Accumulate<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(g) = self.grads.remove::<D>(param.id) else {
            return;
        };
        let p = param.val().inner();
        if g.dims() != p.dims() {
            panic!(
                "{NAME}: grad must have the parameter's shape {:?}, got {:?}",
                p.dims(),
                g.dims()
            );
        }
        let n = p.shape().num_elements();
        // f16/bf16 parameters and gradients are computed in f32, the state kept in f32 (d² and
        // d·ε, with d₀ = 10⁻⁶, are below f16's range).
        let p = as_dtype(p.reshape([n]), DType::F32);
        let g = as_dtype(g.to_device(&p.device()).reshape([n]), DType::F32);
        let k = self.k;
        let g = if k.l2 != 0.0 {
            g + p.clone().mul_scalar(k.l2)
        } else {
            g
        };
        let m = self.state.entry(param.id).or_insert_with(|| Moments {
            s: p.zeros_like(),
            p0: p.clone(),
            exp_avg: p.zeros_like(),
            exp_avg_sq: p.zeros_like(),
        });
        let dot = (g.clone() * (m.p0.clone() - p))
            .sum()
            .mul_scalar(k.dot_rate);
        m.exp_avg = m.exp_avg.clone().mul_scalar(k.b1) + g.clone().mul_scalar(k.d * (1.0 - k.b1));
        m.exp_avg_sq = m.exp_avg_sq.clone().mul_scalar(k.b2)
            + g.clone().square().mul_scalar(k.d * k.d * (1.0 - k.b2));
        m.s = m.s.clone().mul_scalar(k.b3) + g.mul_scalar(k.s_rate);
        self.sums
            .push(Tensor::cat(vec![dot, m.s.clone().abs().sum()], 0));
        self.taken.insert(param.id, ());
    }
}

struct Apply<'a> {
    state: &'a HashMap<ParamId, Moments>,
    taken: HashMap<ParamId, ()>,
    dlr: f64,
    d_eps: f64,
    shrink: Option<f64>,
}

impl ModuleMapper for Apply<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.taken.remove(&param.id).is_none() {
            return param;
        }
        let m = &self.state[&param.id];
        let (id, tracked, mapper) = param.consume();
        let require_grad = tracked.is_require_grad();
        // The step is not part of the graph: computed on the inner tensor, the result a new leaf.
        let p = tracked.inner();
        let dtype = p.dtype();
        let p = as_dtype(p, DType::F32);
        let dims = p.dims();
        let update: Tensor<D> = (m.exp_avg.clone()
            / (m.exp_avg_sq.clone().sqrt().add_scalar(self.d_eps)))
        .mul_scalar(self.dlr)
        .reshape(dims)
        .to_device(&p.device());
        let p = match self.shrink {
            Some(k) => p.clone() - p.mul_scalar(k),
            None => p,
        };
        let p = as_dtype(p - update, dtype);
        Param::from_mapped_value(id, crate::grads::leaf(p, require_grad), mapper)
    }
}
