//! Gradients from several devices (Burn's `MultiGradientsParams`, which
//! `ModuleOptimizer::step_multi` takes): each parameter's gradients summed once, on the device
//! Burn steps it on, so that a transform of the whole gradient (global-norm clipping) sees the
//! true gradient and gives the numbers one device would.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, MultiGradientsParams};
use burn::tensor::Tensor;

use crate::clip::{NormType, grad_norm};
use crate::grads;

/// Sums each parameter's gradients from every device onto the device `step_multi` steps it on,
/// leaving one gradient per parameter: `g = g_s + Σ_{i≠s} g_i` (in device order, each moved to
/// device `s`), where `s` is Burn's choice, the first of the devices `(id + i) mod n` that holds
/// a gradient of the parameter.
///
/// This is the sum `step_multi` computes itself, in the same order, so `step_multi` on the
/// result is the same step; what changes is that the summed gradient exists before the step,
/// for [`clip_grad_norm_multi`] or anything else that needs the whole gradient.
pub fn reduce_multi<M: Module>(module: &M, grads: &mut MultiGradientsParams) {
    struct Reduce<'a>(&'a mut MultiGradientsParams);
    impl ModuleVisitor for Reduce<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let parts = &mut self.0.grads;
            let n = parts.len();
            let id = param.id;
            let Some(s) = (0..n)
                .map(|i| (id.val() as usize + i) % n)
                .find(|&k| parts[k].0.get::<D>(id).is_some())
            else {
                return;
            };
            let device = parts[s].1.clone();
            let Some(first) = parts[s].0.remove::<D>(id) else {
                return;
            };
            let mut sum = first.to_device(&device);
            for (i, (part, _)) in parts.iter_mut().enumerate() {
                if i == s {
                    continue;
                }
                if let Some(g) = part.remove::<D>(id) {
                    sum = sum + g.to_device(&device);
                }
            }
            parts[s].0.register(id, sum);
        }
    }
    module.visit(&mut Reduce(grads));
}

/// [`crate::clip_grad_norm`] for gradients from several devices: after [`reduce_multi`], the
/// norm of the summed gradients `‖g‖ₚ` over every parameter, and each scaled by
/// `min(1, max_norm / (‖g‖ₚ + 10⁻⁶))` on its device. Returns the norm. `step_multi` on the
/// result gives the parameters one device gives with `clip_grad_norm` on the summed gradients.
///
/// # Panics
/// When `max_norm` is negative or NaN, or `norm_type` is not a finite p > 0 or `Inf`, as
/// [`crate::clip_grad_norm`].
pub fn clip_grad_norm_multi<M: Module>(
    module: &M,
    grads: &mut MultiGradientsParams,
    max_norm: f64,
    norm_type: NormType,
) -> f64 {
    if max_norm.is_nan() || max_norm < 0.0 {
        panic!("clip_grad_norm_multi: max_norm must be >= 0, got {max_norm}");
    }
    reduce_multi(module, grads);
    // One view of every parameter's summed gradient (the tensors are shared, not copied).
    struct Gather<'a> {
        parts: &'a MultiGradientsParams,
        all: GradientsParams,
    }
    impl ModuleVisitor for Gather<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self
                .parts
                .grads
                .iter()
                .find_map(|(part, _)| part.get::<D>(param.id))
            {
                self.all.register(param.id, g);
            }
        }
    }
    let mut gather = Gather {
        parts: grads,
        all: GradientsParams::new(),
    };
    module.visit(&mut gather);
    let total = grad_norm(module, &gather.all, norm_type);
    let coef = (max_norm / (total + 1e-6)).min(1.0);
    if coef != 1.0 {
        for (part, _) in grads.grads.iter_mut() {
            grads::scale(module, part, coef);
        }
    }
    total
}
