//! Adafactor (`torch.optim.Adafactor`, Shazeer and Stern 2018): second moments kept as row and
//! column factors for matrices (memory `R + C` instead of `R·C`), a relative step size and
//! update clipping.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{DType, Device, Tensor};

use burn::tensor::TensorData;
use descent_kernel::paths::{self, Path};
use descent_kernel::{Kernel, Num, buffer};

use crate::adafactor_passes::{StepConstants, Sums, factored_step, vector_step};
use crate::checks;
use crate::error::{OptimError, OptimResult};
use crate::rule::lerp;
use crate::state::{optimizer_config, record_state};
use crate::step::StepSettings;

const NAME: &str = "adafactor";

/// Configuration of [`Adafactor`], with PyTorch's defaults. The learning rate caps the
/// relative step size `ρₜ` and scales the weight decay.
#[derive(Config, Debug)]
pub struct AdafactorConfig {
    /// Decay exponent τ of β₂: `1 − β₂ₜ = t^τ` (default −0.8; must be ≤ 0).
    #[config(default = -0.8)]
    pub beta2_decay: f64,
    /// `(ε₁, ε₂)`: ε₁ bounds the second moment from below (`None`: the machine epsilon of the
    /// parameter's dtype), ε₂ the parameter scale (default `(None, 1e-3)`).
    #[config(default = "(None, 1e-3)")]
    pub eps: (Option<f64>, f64),
    /// Clipping threshold `d` of the update's RMS (default 1; must be ≥ 1).
    #[config(default = 1.0)]
    pub d: f64,
    /// Decoupled weight decay λ, applied as `θ (1 − η λ)` (default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[config(default = false)]
    pub maximize: bool,
    /// Kernel and checks (see [`StepSettings`]).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl AdafactorConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Adafactor> {
        if self.beta2_decay.is_nan() || self.beta2_decay > 0.0 {
            return Err(OptimError::new(
                NAME,
                "beta2_decay",
                format!("must be <= 0, got {}", self.beta2_decay),
            ));
        }
        if let Some(eps1) = self.eps.0 {
            checks::non_negative(NAME, "eps", eps1)?;
        }
        checks::non_negative(NAME, "eps", self.eps.1)?;
        if !(self.d >= 1.0 && self.d.is_finite()) {
            return Err(OptimError::new(
                NAME,
                "d",
                format!("(the clipping threshold) must be >= 1, got {}", self.d),
            ));
        }
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        Ok(Adafactor {
            beta2_decay: self.beta2_decay,
            eps: self.eps,
            d: self.d,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
            checks: self.settings.checks,
            kernel: self.settings.kernel,
        })
    }
}

optimizer_config!(AdafactorConfig => Adafactor);

/// Adafactor, as `torch.optim.Adafactor`.
///
/// With `G = ±∇f(θ)`, t counting from 1, `1 − β₂ₜ = t^τ`, `ρₜ = min(η, 1/√t)` and the factors
/// starting at 0:
///
/// ```text
/// αₜ = max(ε₂, RMS(θ)) ρₜ;   θ ← θ (1 − η λ)
/// matrices (over the last two dims):
///   R = β₂ₜ R + (1 − β₂ₜ) mean_cols(G²)      C = β₂ₜ C + (1 − β₂ₜ) mean_rows(G²)
///   V = R C / max(mean(R), ε₁)
/// vectors:  V = β₂ₜ V + (1 − β₂ₜ) G²
/// U = G / √max(V, ε₁²);   θ ← θ − αₜ U / max(1, RMS(U) / d)
/// ```
///
/// Each step reads two numbers back from the device per tensor (the RMS of θ and of U), as
/// PyTorch's does. On flex and ndarray (`f32`) the step is three fused passes over the buffers
/// (see `adafactor_passes.rs`), the formulas shared with the tensor path.
#[derive(Clone, Debug)]
pub struct Adafactor {
    beta2_decay: f64,
    eps: (Option<f64>, f64),
    d: f64,
    weight_decay: f64,
    maximize: bool,
    checks: bool,
    kernel: Kernel,
}

/// State of [`Adafactor`] for one parameter: `row_var` and `col_var` for tensors of rank ≥ 2,
/// `variance` for vectors.
#[derive(Clone)]
pub struct AdafactorState<const D: usize> {
    /// Row factor `R` (the parameter's shape with the last dim 1).
    pub row_var: Option<Tensor<D>>,
    /// Column factor `C` (the parameter's shape with the second-to-last dim 1).
    pub col_var: Option<Tensor<D>>,
    /// Second moment `V` of a vector.
    pub variance: Option<Tensor<D>>,
    /// Steps taken.
    pub step: u64,
}

record_state!(AdafactorState {
    tensors: [],
    optional: [row_var, col_var, variance],
    counters: [step],
    floats: [],
});

impl<const D: usize> AdafactorState<D> {
    fn empty(step: u64) -> Self {
        Self {
            row_var: None,
            col_var: None,
            variance: None,
            step,
        }
    }
}

/// The machine epsilon of `dtype` (PyTorch's `torch.finfo(dtype).eps`).
fn machine_eps(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::EPSILON,
        DType::F16 => 9.765625e-4,
        DType::BF16 => 7.8125e-3,
        _ => f32::EPSILON as f64,
    }
}

/// `V = R C / m`: the factored second moment from a row factor, a column factor and the
/// floored mean `m` of the row factors.
#[inline(always)]
pub(crate) fn factored<T: Num>(row: T, col: T, mean: T) -> T {
    row * col / mean
}

/// `U = G / √max(V, ε₁²)`.
#[inline(always)]
pub(crate) fn scaled<T: Num>(g: T, var: T, eps1_sq: f32) -> T {
    g / var.max_k(eps1_sq).sqrt()
}

/// `θ (1 − ηλ) − k U`.
#[inline(always)]
pub(crate) fn moved<T: Num>(p: T, u: T, shrink: f32, k: f32) -> T {
    let p = if shrink != 1.0 { p.scale(shrink) } else { p };
    p - u.scale(k)
}

/// The host constants of step `t` (from 1) at rate `lr`.
struct Step {
    t: u64,
    lr: f64,
    rest: f64,
    rho: f64,
    eps1: f64,
}

impl Adafactor {
    /// `(1 − ηλ, αₜ / max(1, RMS(U)/d))` from `Σθ²` and `ΣU²` over `n` elements; panics on
    /// a non-finite update when checking.
    fn scale(&self, s: &Step, n: usize, p_sq: f64, u_sq: f64, finite: bool) -> (f32, f32) {
        let (p_rms, u_rms) = ((p_sq / n as f64).sqrt(), (u_sq / n as f64).sqrt());
        if self.checks && !(finite && u_rms.is_finite()) {
            panic!("{}", crate::step::non_finite(NAME, "grad"));
        }
        let alpha = self.eps.1.max(p_rms) * s.rho;
        let denom = (u_rms / self.d).max(1.0);
        (
            (1.0 - s.lr * self.weight_decay) as f32,
            (alpha / denom) as f32,
        )
    }

    /// The tensor path (every device).
    fn generic<const D: usize>(
        &self,
        s: &Step,
        p: Tensor<D>,
        g: Tensor<D>,
        state: AdafactorState<D>,
    ) -> (Tensor<D>, AdafactorState<D>) {
        paths::record(Path::Generic);
        let dims = p.dims();
        let n = dims.iter().product::<usize>();
        let (rest, eps1) = (s.rest as f32, s.eps1 as f32);
        let lerp = |avg: Option<Tensor<D>>, x: Tensor<D>| match avg {
            Some(avg) => lerp(avg, x, rest),
            None => x.scale(rest),
        };
        let g2 = g.clone().square();
        let (var, state) = if D >= 2 {
            let (rows, cols) = (dims[D - 2], dims[D - 1]);
            let row = lerp(
                state.row_var,
                g2.clone().sum_dim(D - 1).div_scalar(cols as f64),
            );
            let col = lerp(state.col_var, g2.sum_dim(D - 2).div_scalar(rows as f64));
            let mean = row.clone().mean_dim(D - 2).clamp_min(eps1);
            let var = factored(row.clone(), col.clone(), mean);
            let state = AdafactorState {
                row_var: Some(row),
                col_var: Some(col),
                variance: None,
                step: s.t,
            };
            (var, state)
        } else {
            let var = lerp(state.variance, g2);
            let state = AdafactorState {
                row_var: None,
                col_var: None,
                variance: Some(var.clone()),
                step: s.t,
            };
            (var, state)
        };
        let update = scaled(g.clone(), var, (s.eps1 * s.eps1) as f32);
        // Both sums and the finite check in one read-back.
        let sums: Vec<f64> = Tensor::cat(
            vec![p.clone().square().sum(), update.clone().square().sum()],
            0,
        )
        .into_data()
        .iter::<f64>()
        .collect();
        let (shrink, k) = self.scale(s, n, sums[0], sums[1], true);
        (moved(p, update, shrink, k), state)
    }

    /// The fused path (`f32` on flex and ndarray): see `adafactor_passes.rs`.
    fn fused<const D: usize>(
        &self,
        s: &Step,
        p: Tensor<D>,
        g: Tensor<D>,
        state: AdafactorState<D>,
    ) -> (Tensor<D>, AdafactorState<D>) {
        paths::record(Path::Fused);
        let dims = p.dims();
        let n = dims.iter().product::<usize>();
        let device = p.device();
        let k = StepConstants {
            rest: s.rest as f32,
            eps1: s.eps1 as f32,
            eps1_sq: (s.eps1 * s.eps1) as f32,
        };
        let mut pb = buffer::buffer(p);
        let gb = buffer::buffer(g);
        let scale = |sums: &Sums| Some(self.scale(s, n, sums.p_sq, sums.u_sq, sums.finite));
        if D >= 2 {
            let (rows, cols) = (dims[D - 2], dims[D - 1]);
            let batches = n / (rows * cols);
            let host = |t: Option<Tensor<D>>, len: usize| match t {
                Some(t) => t.into_data().iter::<f32>().collect(),
                None => vec![0.0f32; len],
            };
            let mut row = host(state.row_var, batches * rows);
            let mut col = host(state.col_var, batches * cols);
            factored_step(
                buffer::slice_mut(&mut pb),
                buffer::slice(&gb),
                (batches, rows, cols),
                &mut row,
                &mut col,
                k,
                scale,
            );
            let mut row_dims = dims;
            row_dims[D - 1] = 1;
            let mut col_dims = dims;
            col_dims[D - 2] = 1;
            let device_tensor = |v: Vec<f32>, shape: [usize; D]| {
                Tensor::<D>::from_data(TensorData::new(v, shape), &device)
            };
            let state = AdafactorState {
                row_var: Some(device_tensor(row, row_dims)),
                col_var: Some(device_tensor(col, col_dims)),
                variance: None,
                step: s.t,
            };
            (buffer::tensor(pb), state)
        } else {
            let mut vb = match state.variance {
                Some(v) => buffer::buffer(v),
                None => buffer::zeros(&pb),
            };
            vector_step(
                buffer::slice_mut(&mut pb),
                buffer::slice(&gb),
                buffer::slice_mut(&mut vb),
                k,
                scale,
            );
            let state = AdafactorState {
                row_var: None,
                col_var: None,
                variance: Some(buffer::tensor(vb)),
                step: s.t,
            };
            (buffer::tensor(pb), state)
        }
    }
}

impl Optimizer for Adafactor {
    type State<const D: usize> = AdafactorState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        checks::learning_rate(NAME, lr);
        let dims = tensor.dims();
        if grad.dims() != dims {
            panic!(
                "{NAME}: grad must have the parameter's shape {dims:?}, got {:?}",
                grad.dims()
            );
        }
        let n = dims.iter().product::<usize>();
        let t = state.as_ref().map_or(0, |s| s.step) + 1;
        if n == 0 {
            let state = state.map_or(AdafactorState::empty(t), |s| AdafactorState {
                step: t,
                ..s
            });
            return (tensor, Some(state));
        }
        let step = Step {
            t,
            lr,
            rest: (t as f64).powf(self.beta2_decay),
            rho: lr.min(1.0 / (t as f64).sqrt()),
            eps1: self.eps.0.unwrap_or_else(|| machine_eps(tensor.dtype())),
        };
        let half = descent_kernel::half(&tensor);
        let f32 = |t: Tensor<D>| {
            if half.is_some() {
                t.cast(DType::F32)
            } else {
                t
            }
        };
        let (p, g) = (f32(tensor), f32(grad));
        let g = if self.maximize { -g } else { g };
        let state = state.unwrap_or(AdafactorState::empty(0));
        let state = AdafactorState {
            row_var: state.row_var.map(f32),
            col_var: state.col_var.map(f32),
            variance: state.variance.map(f32),
            step: state.step,
        };
        let fused = self.kernel == Kernel::Auto
            && descent_kernel::is_cpu_f32(&p)
            && descent_kernel::is_cpu_f32(&g)
            && g.device() == p.device()
            && state.variance.iter().all(descent_kernel::is_cpu_f32);
        let (p, state) = if fused {
            self.fused(&step, p, g, state)
        } else {
            self.generic(&step, p, g, state)
        };
        let p = match half {
            Some(dtype) => p.cast(dtype),
            None => p,
        };
        (p, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}
