//! Sharpness-aware minimisation (Foret et al. 2021, "Sharpness-Aware Minimization for
//! Efficiently Improving Generalization"; ASAM, Kwon et al. 2021, for `adaptive`) over any
//! optimizer.

use burn::config::Config;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::{GradientsParams, LearningRate, ModuleOptimizer};
use burn::tensor::Tensor;

use crate::checks;
use crate::error::{OptimResult, or_panic};

/// Configuration of [`Sam`].
#[derive(Config, Debug)]
pub struct SamConfig {
    /// Radius ρ of the neighbourhood (default 0.05).
    #[config(default = 0.05)]
    pub rho: f64,
    /// ASAM: the ascent scaled by the weights, `|θ|` (default false).
    #[config(default = false)]
    pub adaptive: bool,
}

impl SamConfig {
    /// SAM over `base` (any optimizer, or a `ModuleOptimizer` with groups).
    pub fn try_init(&self, base: impl Into<ModuleOptimizer>) -> OptimResult<Sam> {
        checks::non_negative("sam", "rho", self.rho)?;
        Ok(Sam {
            rho: self.rho,
            adaptive: self.adaptive,
            base: base.into(),
        })
    }

    /// SAM over `base`.
    ///
    /// # Panics
    /// When `rho` is negative or not finite.
    #[track_caller]
    pub fn init(&self, base: impl Into<ModuleOptimizer>) -> Sam {
        or_panic(self.try_init(base))
    }
}

/// SAM: each step evaluates the gradient twice through a closure, as L-BFGS does, and hands
/// the second to the base optimizer:
///
/// ```text
/// g = ∇L(θ);   s = |θ| (ASAM) or 1
/// ε = ρ s² g / (‖s g‖ + 10⁻¹²)              (‖·‖ over all parameters together)
/// θ ← base step from θ with ∇L(θ + ε)
/// ```
///
/// (the reference implementation `davda54/sam`'s `first_step`/`second_step`).
#[derive(Clone)]
pub struct Sam {
    rho: f64,
    adaptive: bool,
    base: ModuleOptimizer,
}

impl Sam {
    /// One step of `module`; `closure(&model)` returns the loss and its gradients at `model`.
    /// Returns the new module and the loss at the old one.
    pub fn step<M: Module>(
        &mut self,
        lr: LearningRate,
        module: M,
        mut closure: impl FnMut(&M) -> (f64, GradientsParams),
    ) -> (M, f64) {
        let (loss, grads) = closure(&module);
        // ‖s g‖ over every parameter.
        let mut norm = Norm {
            grads: &grads,
            adaptive: self.adaptive,
            sums: Vec::new(),
        };
        module.visit(&mut norm);
        let total: f64 = norm
            .sums
            .into_iter()
            .map(|t| t.into_scalar::<f64>())
            .sum::<f64>()
            .sqrt();
        let scale = self.rho / (total + 1e-12);
        let perturbed = module.clone().map(&mut Perturb {
            grads: &grads,
            adaptive: self.adaptive,
            scale,
        });
        let (_, sharp) = closure(&perturbed);
        (self.base.step(lr, module, sharp), loss)
    }

    /// The base optimizer (for its record).
    pub fn base(&self) -> &ModuleOptimizer {
        &self.base
    }
}

struct Norm<'a> {
    grads: &'a GradientsParams,
    adaptive: bool,
    sums: Vec<Tensor<1>>,
}

impl ModuleVisitor for Norm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let g = if self.adaptive {
                g.clone() * param.val().inner().abs().to_device(&g.device())
            } else {
                g
            };
            self.sums.push(g.square().sum());
        }
    }
}

struct Perturb<'a> {
    grads: &'a GradientsParams,
    adaptive: bool,
    scale: f64,
}

impl ModuleMapper for Perturb<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(g) = self.grads.get::<D>(param.id) else {
            return param;
        };
        let (id, tracked, mapper) = param.consume();
        let require_grad = tracked.is_require_grad();
        let p = tracked.inner();
        let g = g.to_device(&p.device());
        let e = if self.adaptive {
            g * p.clone().square()
        } else {
            g
        };
        let next = crate::grads::leaf(p + e.mul_scalar(self.scale), require_grad);
        Param::from_mapped_value(id, next, mapper)
    }
}
