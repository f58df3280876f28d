//! Weight penalties over a Burn module's parameters: L1, L2 and elastic net.

use burn::config::Config;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::{LossResult, checks};

const NAME: &str = "elastic_net";

/// Configuration of a [weight penalty](Regularizer): `l1 = 0` gives L2 (ridge), `l2 = 0` gives
/// L1 (lasso), both give the elastic net.
#[derive(Config, Debug)]
pub struct RegularizerConfig {
    /// Coefficient λ₁ of `Σ|θ|`; ≥ 0.
    #[config(default = 0.0)]
    pub l1: f64,
    /// Coefficient λ₂ of `Σθ²`; ≥ 0.
    #[config(default = 0.0)]
    pub l2: f64,
}

impl RegularizerConfig {
    /// Builds the penalty; both coefficients must be ≥ 0 and finite.
    pub fn try_init(&self) -> LossResult<Regularizer> {
        for (arg, v) in [("l1", self.l1), ("l2", self.l2)] {
            checks::param(NAME, arg, v, v >= 0.0 && v.is_finite(), ">= 0 and finite")?;
        }
        Ok(Regularizer {
            l1: self.l1,
            l2: self.l2,
        })
    }
}

impl RegularizerConfig {
    /// Builds the penalty.
    ///
    /// # Panics
    /// When a coefficient is negative or not finite, with the message of `try_init`.
    #[track_caller]
    pub fn init(&self) -> Regularizer {
        crate::error::or_panic(self.try_init())
    }
}

/// A penalty on every float parameter θ of a module (Keras' `l1`, `l2`, `l1_l2`):
///
/// ```text
/// R(θ) = λ₁ Σ|θ| + λ₂ Σθ²
/// ```
///
/// Add it to any loss to get a composite loss: `loss + reg.penalty(&model)`. L1 drives weights
/// to exactly zero (sparse models, feature selection); L2 shrinks them smoothly (ridge, the
/// coupled weight decay of SGD, whose `weight_decay = 2·λ₂`); the elastic net mixes both.
/// Every float parameter counts, biases included; build the penalty from a sub-module to leave
/// some out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regularizer {
    /// λ₁.
    pub l1: f64,
    /// λ₂.
    pub l2: f64,
}

struct Penalty {
    l1: f64,
    l2: f64,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for Penalty {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let theta = param.val();
        let mut term: Option<Tensor<1>> = None;
        if self.l1 != 0.0 {
            term = Some(theta.clone().abs().sum().mul_scalar(self.l1));
        }
        if self.l2 != 0.0 {
            let l2 = theta.square().sum().mul_scalar(self.l2);
            term = Some(match term {
                Some(t) => t.add(l2),
                None => l2,
            });
        }
        if let Some(term) = term {
            self.total = Some(match self.total.take() {
                Some(total) => total.add(term),
                None => term,
            });
        }
    }
}

impl Regularizer {
    /// L1 (lasso) penalty `λ Σ|θ|`.
    pub fn l1(lambda: f64) -> LossResult<Self> {
        RegularizerConfig::new().with_l1(lambda).try_init()
    }

    /// L2 (ridge) penalty `λ Σθ²`.
    pub fn l2(lambda: f64) -> LossResult<Self> {
        RegularizerConfig::new().with_l2(lambda).try_init()
    }

    /// Elastic-net penalty `λ₁ Σ|θ| + λ₂ Σθ²`.
    pub fn elastic_net(l1: f64, l2: f64) -> LossResult<Self> {
        RegularizerConfig::new().with_l1(l1).with_l2(l2).try_init()
    }

    /// The penalty of `module`'s parameters, `[1]`, differentiable with respect to them; `None`
    /// when the module has no float parameter or both coefficients are 0.
    pub fn penalty<M: Module>(&self, module: &M) -> Option<Tensor<1>> {
        let mut visitor = Penalty {
            l1: self.l1,
            l2: self.l2,
            total: None,
        };
        module.visit(&mut visitor);
        visitor.total
    }

    /// `loss + R(θ)`: the composite loss.
    pub fn add_to<M: Module>(&self, loss: Tensor<1>, module: &M) -> Tensor<1> {
        match self.penalty(module) {
            Some(p) => loss.add(p),
            None => loss,
        }
    }
}
