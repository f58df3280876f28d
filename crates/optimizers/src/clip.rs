//! Gradient clipping over all parameters together (`torch.nn.utils.clip_grad_norm_` and
//! `clip_grad_value_`) and the gradient norm for monitoring.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::error::{OptimError, OptimResult, or_panic};
use crate::grads::{self, GradOp};

/// The norm used by [`grad_norm`] and [`clip_grad_norm`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NormType {
    /// `(Σ |gᵢ|ᵖ)^(1/p)` over every element of every gradient, p > 0 (2 is the usual).
    P(f64),
    /// `max |gᵢ|` over every element of every gradient.
    Inf,
}

impl NormType {
    /// The Euclidean norm, the default of PyTorch.
    pub const L2: Self = Self::P(2.0);

    fn check(self) -> OptimResult<()> {
        match self {
            Self::P(p) if !(p.is_finite() && p > 0.0) => Err(OptimError::new(
                "clip_grad_norm",
                "norm_type",
                format!("must be a finite p > 0 or Inf, got {p}"),
            )),
            _ => Ok(()),
        }
    }
}

/// The norm of all of `module`'s gradients taken as one vector: `(Σ‖gₖ‖ₚᵖ)^(1/p)` or
/// `maxₖ ‖gₖ‖∞`. One scalar read-back per parameter tensor. Log it to watch for exploding or
/// vanishing gradients.
///
/// # Panics
/// When `norm_type` is `P(p)` with `p <= 0` or not finite.
pub fn grad_norm<M: Module>(module: &M, grads: &GradientsParams, norm_type: NormType) -> f64 {
    or_panic(norm_type.check());
    struct Norm {
        norm_type: NormType,
        acc: f64,
    }
    impl GradOp for Norm {
        fn visit<const D: usize>(&mut self, grad: &Tensor<D>) {
            if grad.shape().num_elements() == 0 {
                return; // adds nothing to a sum, and has no maximum
            }
            let abs = grad.clone().abs();
            match self.norm_type {
                NormType::Inf => {
                    let m = abs.max().into_scalar::<f64>();
                    self.acc = if m.is_nan() {
                        f64::NAN
                    } else {
                        self.acc.max(m)
                    };
                }
                NormType::P(p) => {
                    let s = if p == 2.0 {
                        abs.square().sum()
                    } else if p == 1.0 {
                        abs.sum()
                    } else {
                        abs.powf_scalar(p).sum()
                    };
                    self.acc += s.into_scalar::<f64>();
                }
            }
        }
    }
    let mut norm = Norm {
        norm_type,
        acc: 0.0,
    };
    grads::visit(module, grads, &mut norm);
    match norm_type {
        NormType::Inf => norm.acc,
        NormType::P(p) => norm.acc.powf(1.0 / p),
    }
}

/// Rescales all of `module`'s gradients together so that their norm is at most `max_norm`,
/// as `torch.nn.utils.clip_grad_norm_`: with `N` the total norm (see [`grad_norm`]),
/// `g ← g · min(1, max_norm / (N + 1e-6))`. Returns `N` (before clipping) for monitoring.
///
/// A non-finite `N` is returned as is and the gradients become non-finite, as in PyTorch; a
/// [`GradScaler`](crate::GradScaler) then skips the step, and an optimizer without one stops
/// with an error.
///
/// # Panics
/// When `max_norm` is negative or `norm_type` is invalid.
pub fn clip_grad_norm<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
    norm_type: NormType,
) -> f64 {
    if max_norm.is_nan() || max_norm < 0.0 {
        panic!("clip_grad_norm: max_norm must be >= 0, got {max_norm}");
    }
    let total = grad_norm(module, grads, norm_type);
    let coef = (max_norm / (total + 1e-6)).min(1.0);
    if coef != 1.0 {
        grads::scale(module, grads, coef);
    }
    total
}

/// Clamps every gradient element of `module` to `[−clip_value, clip_value]`, as
/// `torch.nn.utils.clip_grad_value_`.
///
/// # Panics
/// When `clip_value` is negative or NaN.
pub fn clip_grad_value<M: Module>(module: &M, grads: &mut GradientsParams, clip_value: f64) {
    if clip_value.is_nan() || clip_value < 0.0 {
        panic!("clip_grad_value: clip_value must be >= 0, got {clip_value}");
    }
    struct Clamp(f64);
    impl GradOp for Clamp {
        fn map<const D: usize>(&mut self, grad: Tensor<D>) -> Tensor<D> {
            grad.clamp(-self.0, self.0)
        }
    }
    grads::map(module, grads, &mut Clamp(clip_value));
}
