//! A module's parameters and gradients as one flat host vector (for L-BFGS and for
//! whole-model gradient utilities).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};

/// Appends the elements of `t` as `f64`. An `f32` tensor on a CPU device is read from its
/// buffer (Burn's `to_data` on ndarray iterates element by element); elsewhere the data are
/// read back and widened, by a plain loop for `f32` and Burn's conversion otherwise.
fn extend_f64<const D: usize>(out: &mut Vec<f64>, t: Tensor<D>) {
    if descent_cpu::is_cpu_f32(&t) {
        let buffer = descent_cpu::buffer(t);
        out.extend(descent_cpu::slice(&buffer).iter().map(|&v| f64::from(v)));
        return;
    }
    let data = t.into_data();
    match data.as_slice::<f32>() {
        Ok(values) => out.extend(values.iter().map(|&v| f64::from(v))),
        Err(_) => out.extend(
            data.try_to_vec_as::<f64>()
                .expect("float tensors convert to f64"),
        ),
    }
}

/// Every float parameter of `module`, in visit order, flattened and concatenated.
pub fn params<M: Module>(module: &M) -> Vec<f64> {
    struct Collect(Vec<f64>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            extend_f64(&mut self.0, param.val());
        }
    }
    let mut visitor = Collect(Vec::new());
    module.visit(&mut visitor);
    visitor.0
}

/// The gradients of `module`'s float parameters in the layout of [`params`]; zeros for a
/// parameter without a gradient.
pub fn grads<M: Module>(module: &M, grads: &GradientsParams) -> Vec<f64> {
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: Vec<f64>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            match self.grads.get::<D>(param.id) {
                Some(g) => extend_f64(&mut self.out, g),
                None => {
                    let n = param.val().shape().num_elements();
                    self.out.extend(std::iter::repeat_n(0.0, n));
                }
            }
        }
    }
    let mut visitor = Collect {
        grads,
        out: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.out
}

/// `module` with its float parameters replaced, in visit order, by the values in `flat`
/// (same layout as [`params`]); requires-grad flags and parameter ids are kept.
pub fn set_params<M: Module>(module: M, flat: &[f64]) -> M {
    struct Assign<'a> {
        flat: &'a [f64],
        offset: usize,
    }
    impl ModuleMapper for Assign<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper): (ParamId, Tensor<D>, _) = param.consume();
            let shape = tensor.shape();
            let n = shape.num_elements();
            let values: Vec<f32> = self.flat[self.offset..self.offset + n]
                .iter()
                .map(|v| *v as f32)
                .collect();
            self.offset += n;
            let mut new = Tensor::<D>::from_data(TensorData::new(values, shape), &tensor.device());
            if tensor.is_require_grad() {
                new = new.require_grad();
            }
            Param::from_mapped_value(id, new, mapper)
        }
    }
    module.map(&mut Assign { flat, offset: 0 })
}
