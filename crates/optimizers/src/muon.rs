//! Muon (`torch.optim.Muon`; Jordan et al. 2024, "Muon: an optimizer for hidden layers"):
//! Nesterov momentum whose update is orthogonalised by a Newton–Schulz iteration, for the
//! weight matrices of hidden layers. [`muon_with_adamw`] pairs it with AdamW for the rest of a
//! model in one call.

use burn::config::Config;
use burn::module::{Module, ParamGroup};
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::AdamWConfig;
use crate::checks;
use crate::error::{OptimError, OptimResult};
use crate::state::{optimizer_config, record_state};
use crate::step::StepSettings;

const NAME: &str = "muon";

/// How Muon scales the learning rate by the matrix's shape `A × B` (`adjust_lr_fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustLr {
    /// Keller Jordan's: `η √max(1, A/B)` (PyTorch's default, `"original"`).
    Original,
    /// Moonshot's: `0.2 η √max(A, B)`, to reuse AdamW's learning rate and decay
    /// (`"match_rms_adamw"`).
    MatchRmsAdamw,
}

/// The precision of the Newton–Schulz iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NsPrecision {
    /// Every operation of the iteration rounded to bfloat16, as PyTorch runs it (the default).
    Bfloat16,
    /// The iteration in the parameters' precision (`f32`; `f16`/`bf16` parameters in `f32`).
    Full,
}

/// Configuration of [`Muon`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct MuonConfig {
    /// Decoupled weight decay λ, applied as `θ (1 − η λ)` with the unadjusted rate
    /// (default 0.1).
    #[config(default = 0.1)]
    pub weight_decay: f64,
    /// Momentum μ (default 0.95).
    #[config(default = 0.95)]
    pub momentum: f64,
    /// Nesterov momentum (default true).
    #[config(default = true)]
    pub nesterov: bool,
    /// Coefficients `(a, b, c)` of the quintic Newton–Schulz step (default
    /// (3.4445, −4.7750, 2.0315)).
    #[config(default = "(3.4445, -4.7750, 2.0315)")]
    pub ns_coefficients: (f64, f64, f64),
    /// Floor ε of the Frobenius norm the update is divided by (default 1e-7).
    #[config(default = 1e-7)]
    pub eps: f64,
    /// Newton–Schulz steps (default 5; fewer than 100).
    #[config(default = 5)]
    pub ns_steps: usize,
    /// The learning-rate adjustment (`None`: [`AdjustLr::Original`], as PyTorch).
    #[config(default = "None")]
    pub adjust_lr_fn: Option<AdjustLr>,
    /// Group the iteration's products as `torch.addmm` does (changes only the bfloat16
    /// rounding; default false).
    #[config(default = false)]
    pub use_addmm: bool,
    /// Precision of the Newton–Schulz iteration (default bfloat16, as PyTorch).
    #[config(default = "NsPrecision::Bfloat16")]
    pub ns_precision: NsPrecision,
    /// Checks (see [`StepSettings`]; Muon always runs as tensor operations).
    #[config(default = "StepSettings::new()")]
    pub settings: StepSettings,
}

impl MuonConfig {
    /// Checks the hyperparameters and builds the per-tensor optimizer.
    pub fn try_build(&self) -> OptimResult<Muon> {
        checks::non_negative(NAME, "weight_decay", self.weight_decay)?;
        checks::non_negative(NAME, "momentum", self.momentum)?;
        checks::non_negative(NAME, "eps", self.eps)?;
        if self.ns_steps >= 100 {
            return Err(OptimError::new(
                NAME,
                "ns_steps",
                format!("must be < 100, got {}", self.ns_steps),
            ));
        }
        let (a, b, c) = self.ns_coefficients;
        if ![a, b, c].iter().all(|v| v.is_finite()) {
            return Err(OptimError::new(
                NAME,
                "ns_coefficients",
                format!("must be finite, got ({a}, {b}, {c})"),
            ));
        }
        Ok(Muon {
            config: MuonSettings {
                weight_decay: self.weight_decay,
                momentum: self.momentum,
                nesterov: self.nesterov,
                ns_coefficients: self.ns_coefficients,
                eps: self.eps,
                ns_steps: self.ns_steps,
                adjust_lr: self.adjust_lr_fn.unwrap_or(AdjustLr::Original),
                use_addmm: self.use_addmm,
                bf16: self.ns_precision == NsPrecision::Bfloat16,
                checks: self.settings.checks,
            },
        })
    }
}

optimizer_config!(MuonConfig => Muon);

#[derive(Clone, Debug)]
struct MuonSettings {
    weight_decay: f64,
    momentum: f64,
    nesterov: bool,
    ns_coefficients: (f64, f64, f64),
    eps: f64,
    ns_steps: usize,
    adjust_lr: AdjustLr,
    use_addmm: bool,
    bf16: bool,
    checks: bool,
}

/// Muon, as `torch.optim.Muon`, for matrices only.
///
/// With `g = ∇f(θ)` and the buffer `B` starting at 0:
///
/// ```text
/// B = B + (1 − μ)(g − B);   U = g + μ (B − g) if nesterov, B otherwise
/// X = U / max(‖U‖_F, ε)          (transposed first when A > B, back at the end)
/// k times:  G = X Xᵀ;   X = a X + (b G + c G G) X
/// θ ← θ (1 − η λ) − η′ X,   η′ = η √max(1, A/B)  or  0.2 η √max(A, B)
/// ```
///
/// A parameter that is not a matrix panics, naming Muon and the shape: give Muon the hidden
/// layers' weight matrices and AdamW the rest ([`muon_with_adamw`]).
#[derive(Clone, Debug)]
pub struct Muon {
    config: MuonSettings,
}

/// State of [`Muon`] for one parameter.
#[derive(Clone)]
pub struct MuonState<const D: usize> {
    /// The momentum buffer `B`.
    pub momentum_buffer: Tensor<D>,
}

record_state!(MuonState {
    tensors: [momentum_buffer],
    optional: [],
    counters: [],
    floats: [],
});

/// `x` rounded to bfloat16's 8 significant bits (round to nearest, by Veltkamp's split:
/// `c = (2¹⁶ + 1) x`, `x₈ = c − (c − x)`), kept in `f32`: PyTorch's bfloat16 iteration, on any
/// device that computes in `f32`.
fn bf16<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let c = x.clone().mul_scalar(65537.0);
    c.clone() - (c - x)
}

/// Row blocks of [`gram`]: 4 for at least 2048 rows, 2 for at least 1024, so that each block
/// product stays large enough to run at the matrix product's full speed (measured on flex:
/// blocks of 192 rows made a 1M-parameter step 1.6× slower); 1 otherwise.
fn blocks(rows: usize) -> usize {
    match rows {
        r if r >= 2048 && r.is_multiple_of(4) => 4,
        r if r >= 1024 && r.is_multiple_of(2) => 2,
        _ => 1,
    }
}

/// `X Xᵀ` of `x` (`m × n`): only the blocks on and above the diagonal of the symmetric result
/// (`k(k+1)/2` block products instead of `k²`: 37% fewer multiplications at `k = 4`, 25% at
/// `k = 2`), the rest mirrored.
fn gram(x: Tensor<2>) -> Tensor<2> {
    let [m, n] = x.dims();
    let k = blocks(m);
    if k == 1 {
        return x.clone().matmul(x.transpose());
    }
    let b = m / k;
    let rows: Vec<Tensor<2>> = (0..k)
        .map(|i| x.clone().slice([i * b..(i + 1) * b, 0..n]))
        .collect();
    let mut grid: Vec<Vec<Option<Tensor<2>>>> = vec![vec![None; k]; k];
    for i in 0..k {
        for j in i..k {
            let p = rows[i].clone().matmul(rows[j].clone().transpose());
            if i != j {
                grid[j][i] = Some(p.clone().transpose());
            }
            grid[i][j] = Some(p);
        }
    }
    let block_rows = grid
        .into_iter()
        .map(|row| Tensor::cat(row.into_iter().flatten().collect(), 1))
        .collect();
    Tensor::cat(block_rows, 0)
}

impl MuonSettings {
    /// The Newton–Schulz orthogonalisation of `u` (`rows × cols`).
    fn orthogonalise(&self, u: Tensor<2>) -> Tensor<2> {
        let round = |x: Tensor<2>| if self.bf16 { bf16(x) } else { x };
        let [rows, cols] = u.dims();
        let tall = rows > cols;
        let mut x = round(if tall { u.transpose() } else { u });
        let norm = x.clone().square().sum().sqrt();
        let norm = if self.bf16 { bf16(norm) } else { norm };
        if self.checks && !norm.clone().into_scalar::<f64>().is_finite() {
            panic!("{}", crate::step::non_finite(NAME, "grad"));
        }
        let floor = if self.bf16 {
            bf16(Tensor::<1>::from_floats([self.eps as f32], &norm.device())).into_scalar::<f32>()
        } else {
            self.eps as f32
        };
        x = round(x / norm.clamp_min(floor).reshape([1, 1]));
        let (a, b, c) = self.ns_coefficients;
        for _ in 0..self.ns_steps {
            // G and G² = G Gᵀ are symmetric: half of each product is computed.
            let gram = round(self::gram(x.clone()));
            let update = if self.use_addmm {
                round(gram.clone().mul_scalar(b) + self::gram(gram).mul_scalar(c))
            } else {
                let square = round(self::gram(gram.clone()));
                round(round(gram.mul_scalar(b)) + round(square.mul_scalar(c)))
            };
            x = if self.use_addmm {
                round(x.clone().mul_scalar(a) + update.matmul(x))
            } else {
                let product = round(update.matmul(x.clone()));
                round(round(x.mul_scalar(a)) + product)
            };
        }
        if tall { x.transpose() } else { x }
    }

    /// `η′`: the learning rate adjusted to the shape `rows × cols`.
    fn adjusted(&self, lr: f64, rows: usize, cols: usize) -> f64 {
        let (a, b) = (rows as f64, cols as f64);
        lr * match self.adjust_lr {
            AdjustLr::Original => (a / b).max(1.0).sqrt(),
            AdjustLr::MatchRmsAdamw => 0.2 * a.max(b).sqrt(),
        }
    }
}

impl Optimizer for Muon {
    type State<const D: usize> = MuonState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        checks::learning_rate(NAME, lr);
        let dims = tensor.dims();
        if D != 2 {
            panic!(
                "{NAME}: parameters must be matrices (2-D), got one of shape {dims:?}: Muon is \
                 for the weight matrices of hidden layers; optimize biases, norms, embeddings \
                 and output heads with AdamW (descent::optimizers::muon_with_adamw does both)"
            );
        }
        if grad.dims() != dims {
            panic!(
                "{NAME}: grad must have the parameter's shape {dims:?}, got {:?}",
                grad.dims()
            );
        }
        if dims.contains(&0) {
            let buffer = state.map_or_else(|| grad.zeros_like(), |s| s.momentum_buffer);
            return (
                tensor,
                Some(MuonState {
                    momentum_buffer: buffer,
                }),
            );
        }
        let c = &self.config;
        let half = descent_kernel::half(&tensor);
        let f32 = |t: Tensor<D>| {
            if half.is_some() {
                t.cast(DType::F32)
            } else {
                t
            }
        };
        let (p, g) = (f32(tensor), f32(grad));
        let buffer = match state {
            Some(s) => f32(s.momentum_buffer),
            None => g.zeros_like(),
        };
        let mu = c.momentum;
        let buffer = buffer.clone() + (g.clone() - buffer).mul_scalar(1.0 - mu);
        let update = if c.nesterov {
            g.clone() + (buffer.clone() - g).mul_scalar(mu)
        } else {
            buffer.clone()
        };
        let (rows, cols) = (dims[0], dims[1]);
        let ortho: Tensor<D> = c.orthogonalise(update.reshape([rows, cols])).reshape(dims);
        let p = if c.weight_decay != 0.0 {
            p.mul_scalar(1.0 - lr * c.weight_decay)
        } else {
            p
        };
        let p = p - ortho.mul_scalar(c.adjusted(lr, rows, cols));
        let p = match half {
            Some(dtype) => p.cast(dtype),
            None => p,
        };
        (
            p,
            Some(MuonState {
                momentum_buffer: buffer,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}

/// The usual Muon setup for a whole model in one call: Muon for the weight matrices of hidden
/// layers, AdamW for everything else (biases, norms, and the matrices whose module path
/// contains one of `adamw_paths`, such as `"embedding"` or `"head"`).
///
/// Returns the optimizer, or an error when a config is invalid or no parameter goes to Muon.
///
/// ```ignore
/// let mut optim = muon_with_adamw(&model, &MuonConfig::new(), &AdamWConfig::new(), &["output"])?;
/// model = optim.step(lr, model, grads);
/// ```
///
/// Both get the same learning rate at each step; PyTorch users running the two as separate
/// optimizers at different rates use two `ModuleOptimizer`s with `ParamGroup`s instead.
pub fn muon_with_adamw<M: Module>(
    module: &M,
    muon: &MuonConfig,
    adamw: &AdamWConfig,
    adamw_paths: &[&str],
) -> OptimResult<ModuleOptimizer> {
    let matrices = crate::transforms::select_ids(module, |path, shape| {
        shape.len() == 2 && !adamw_paths.iter().any(|e| path.contains(e))
    });
    if matrices.is_empty() {
        return Err(OptimError::new(
            NAME,
            "module",
            "has no weight matrix for Muon (every 2-D parameter is excluded by adamw_paths, or \
             there is none)",
        ));
    }
    let adamw = adamw.try_build()?;
    let muon = muon.try_build()?;
    Ok(ModuleOptimizer::from(adamw).with_group(ParamGroup::from_ids(matrices), muon, None))
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::{blocks, gram};

    /// The blocked symmetric product equals the plain one, for 2 and 4 blocks.
    #[test]
    fn blocked_gram_is_the_plain_product() {
        #[allow(deprecated)]
        let devices = [
            Device::flex(),
            #[cfg(feature = "ndarray")]
            Device::ndarray(),
        ];
        for device in devices {
            for rows in [1024, 2048] {
                assert!(blocks(rows) > 1);
                let x = Tensor::<2>::random([rows, 8], Distribution::Normal(0.0, 1.0), &device);
                let plain: Vec<f32> = x
                    .clone()
                    .matmul(x.clone().transpose())
                    .into_data()
                    .iter::<f32>()
                    .collect();
                let blocked: Vec<f32> = gram(x).into_data().iter::<f32>().collect();
                assert_eq!(plain.len(), blocked.len());
                for (i, (p, b)) in plain.iter().zip(&blocked).enumerate() {
                    assert!(
                        (p - b).abs() <= 1e-5 * p.abs().max(1.0),
                        "{rows}: [{i}] {p} vs {b}"
                    );
                }
            }
        }
    }
}
