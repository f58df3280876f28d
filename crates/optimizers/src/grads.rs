//! Walking the gradients of a whole module: the one visitor that clipping, accumulation and
//! loss scaling share.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// What to do with one parameter's gradient; `D` is its rank.
pub(crate) trait GradOp {
    /// Visits one gradient (read-only).
    fn visit<const D: usize>(&mut self, _grad: &Tensor<D>) {}
    /// Replaces one gradient.
    fn map<const D: usize>(&mut self, grad: Tensor<D>) -> Tensor<D> {
        grad
    }
}

/// Calls `op.visit` on every gradient of `module`'s float parameters.
pub(crate) fn visit<M: Module, O: GradOp>(module: &M, grads: &GradientsParams, op: &mut O) {
    struct V<'a, O> {
        grads: &'a GradientsParams,
        op: &'a mut O,
    }
    impl<O: GradOp> ModuleVisitor for V<'_, O> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.op.visit(&g);
            }
        }
    }
    module.visit(&mut V { grads, op });
}

/// Replaces every gradient of `module`'s float parameters by `op.map(gradient)`.
pub(crate) fn map<M: Module, O: GradOp>(module: &M, grads: &mut GradientsParams, op: &mut O) {
    struct V<'a, O> {
        grads: &'a mut GradientsParams,
        op: &'a mut O,
    }
    impl<O: GradOp> ModuleVisitor for V<'_, O> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                let g = self.op.map(g);
                self.grads.register(param.id, g);
            }
        }
    }
    module.visit(&mut V { grads, op });
}

/// Whether any gradient of `module` holds an inf or NaN (one bool read-back per tensor).
pub fn has_non_finite<M: Module>(module: &M, grads: &GradientsParams) -> bool {
    struct Check(bool);
    impl GradOp for Check {
        fn visit<const D: usize>(&mut self, grad: &Tensor<D>) {
            if !self.0 {
                self.0 = grad
                    .clone()
                    .is_finite()
                    .bool_not()
                    .any()
                    .into_scalar::<bool>();
            }
        }
    }
    let mut check = Check(false);
    visit(module, grads, &mut check);
    check.0
}

/// Multiplies every gradient of `module` by `factor`.
pub fn scale<M: Module>(module: &M, grads: &mut GradientsParams, factor: f64) {
    struct Scale(f64);
    impl GradOp for Scale {
        fn map<const D: usize>(&mut self, grad: Tensor<D>) -> Tensor<D> {
            grad.mul_scalar(self.0)
        }
    }
    map(module, grads, &mut Scale(factor));
}

/// `value` (computed off the graph) as a new autodiff leaf, tracked when `require_grad`: what a
/// parameter becomes after an update made outside `ModuleOptimizer`.
pub(crate) fn leaf<const D: usize>(value: Tensor<D>, require_grad: bool) -> Tensor<D> {
    let leaf = Tensor::from_inner(value);
    if require_grad {
        leaf.require_grad()
    } else {
        leaf
    }
}
