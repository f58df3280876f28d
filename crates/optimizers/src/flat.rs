//! A module's parameters and gradients as one flat host vector (for L-BFGS and for
//! whole-model gradient utilities).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};

use crate::vector::{narrow, widen};

/// Writes the elements of `t` as `f64` into `out` (of `t`'s length). An `f32` tensor on a CPU
/// device is read from its buffer (Burn's `to_data` on ndarray iterates element by element);
/// elsewhere the data are read back and widened.
fn write_f64<const D: usize>(out: &mut [f64], t: Tensor<D>) {
    if descent_kernel::is_cpu_f32(&t) {
        let buffer = descent_kernel::buffer::buffer(t);
        widen(out, descent_kernel::buffer::slice(&buffer));
        return;
    }
    let data = t.into_data();
    match data.as_slice::<f32>() {
        Ok(values) => widen(out, values),
        Err(_) => out.copy_from_slice(
            &data
                .try_to_vec_as::<f64>()
                .expect("float tensors convert to f64"),
        ),
    }
}

/// The number of float parameters of `module`.
fn count<M: Module>(module: &M) -> usize {
    struct Count(usize);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0 += param.shape().num_elements();
        }
    }
    let mut visitor = Count(0);
    module.visit(&mut visitor);
    visitor.0
}

/// Every float parameter of `module`, in visit order, flattened and concatenated.
pub fn params<M: Module>(module: &M) -> Vec<f64> {
    let mut out = Vec::new();
    params_into(module, &mut out);
    out
}

/// [`params`] written into `out`, whose memory is reused when its length already fits.
pub fn params_into<M: Module>(module: &M, out: &mut Vec<f64>) {
    struct Collect<'a>(&'a mut [f64], usize);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let n = param.shape().num_elements();
            write_f64(&mut self.0[self.1..self.1 + n], param.val());
            self.1 += n;
        }
    }
    out.resize(count(module), 0.0);
    module.visit(&mut Collect(out, 0));
}

/// The gradients of `module`'s float parameters in the layout of [`params`]; zeros for a
/// parameter without a gradient.
pub fn grads<M: Module>(module: &M, grads: &GradientsParams) -> Vec<f64> {
    let mut out = Vec::new();
    grads_into(module, grads, &mut out);
    out
}

/// [`grads`] written into `out`, whose memory is reused when its length already fits.
pub fn grads_into<M: Module>(module: &M, grads: &GradientsParams, out: &mut Vec<f64>) {
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: &'a mut [f64],
        offset: usize,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let n = param.shape().num_elements();
            let out = &mut self.out[self.offset..self.offset + n];
            self.offset += n;
            match self.grads.get::<D>(param.id) {
                Some(g) => write_f64(out, g),
                None => out.fill(0.0),
            }
        }
    }
    out.resize(count(module), 0.0);
    module.visit(&mut Collect {
        grads,
        out,
        offset: 0,
    });
}

/// `module` with its float parameters replaced, in visit order, by the values in `flat`
/// (same layout as [`params`]); requires-grad flags, parameter ids and devices are kept.
///
/// On a CPU device an `f32` parameter is written into its own buffer when nothing else holds
/// it (a module returned by an earlier call, say), so repeated calls reuse the memory.
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
            let values = &self.flat[self.offset..self.offset + n];
            self.offset += n;
            let device = tensor.device();
            let require_grad = tensor.is_require_grad();
            let mut new = if descent_kernel::is_cpu_f32(&tensor) {
                // Copied first only when the buffer is shared.
                let mut buffer = descent_kernel::buffer::buffer(tensor);
                narrow(descent_kernel::buffer::slice_mut(&mut buffer), values);
                on_device(descent_kernel::buffer::tensor::<D>(buffer), &device)
            } else {
                // Any other dtype (f16, bf16, f64) or device: the values rounded once, to the
                // parameter's dtype.
                // (`from_data` makes the device's default float dtype: cast back.)
                let dtype = tensor.dtype();
                let data = match dtype {
                    burn::tensor::DType::F64 => TensorData::new(values.to_vec(), shape),
                    _ => {
                        let mut narrowed = vec![0.0f32; n];
                        narrow(&mut narrowed, values);
                        TensorData::new(narrowed, shape)
                    }
                };
                descent_kernel::as_dtype(Tensor::<D>::from_data(data, &device), dtype)
            };
            if require_grad {
                new = new.require_grad();
            }
            Param::from_mapped_value(id, new, mapper)
        }
    }
    module.map(&mut Assign { flat, offset: 0 })
}

/// `t` (on a CPU device, without autodiff) on `device`: wrapped for autodiff when `device` has
/// it, keeping the buffer; copied only for a checkpointing strategy other than the default.
fn on_device<const D: usize>(t: Tensor<D>, device: &burn::tensor::Device) -> Tensor<D> {
    if !device.is_autodiff() {
        return t;
    }
    let t = t.autodiff();
    if t.gradient_checkpointing_strategy() == device.gradient_checkpointing_strategy() {
        t
    } else {
        Tensor::from_data(t.into_data(), device)
    }
}
