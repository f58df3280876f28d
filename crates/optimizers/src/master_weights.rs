//! Master weights for a half-precision model: the optimizer keeps an `f32` copy of each f16 or
//! bf16 parameter and steps that, so that updates smaller than the half dtype's spacing
//! accumulate instead of rounding away (Micikevicius et al. 2018, "Mixed Precision Training").

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{DType, Device, Tensor};

/// Any per-tensor optimizer over `f32` master copies of the parameters
/// (`MasterWeights::new(AdamConfig::new().build())`, then `.into()` a `ModuleOptimizer`).
///
/// For a parameter `θ` of dtype `h` (f16 or bf16) with gradient `g`:
///
/// ```text
/// w ← θ as f32                        (first step only: the master copy)
/// w ← inner.step(w, g as f32)          (the inner optimizer's state as it keeps it)
/// θ ← w rounded to h                   (to nearest even)
/// ```
///
/// The model stays in `h` (forward and backward in half precision); only the optimizer holds
/// `f32`. For an `f32` parameter the wrapper is the inner optimizer with a copy.
#[derive(Clone, Debug)]
pub struct MasterWeights<O> {
    inner: O,
}

impl<O: Optimizer> MasterWeights<O> {
    /// `inner` over f32 master weights.
    pub fn new(inner: O) -> Self {
        Self { inner }
    }
}

/// State of [`MasterWeights`] for one parameter: the master copy and the inner optimizer's
/// state.
#[derive(Clone)]
pub struct MasterWeightsState<S, const D: usize> {
    /// The inner optimizer's state.
    pub inner: Option<S>,
    /// The `f32` master copy of the parameter.
    pub master: Tensor<D>,
}

impl<S: RecordState, const D: usize> RecordState for MasterWeightsState<S, D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        crate::state::flatten_inner(&self.inner, prefix, out);
        out.push_tensor(prefix, "master", self.master.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let inner = crate::state::unflatten_inner(prefix, src, device)?;
        let master: Tensor<D> = Tensor::from_data(src.take_tensor(prefix, "master")?, device);
        Some(Self {
            inner,
            master: master.cast(DType::F32),
        })
    }
}

impl<O: Optimizer> Optimizer for MasterWeights<O> {
    type State<const D: usize> = MasterWeightsState<O::State<D>, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let dtype = tensor.dtype();
        let (inner, master) = match state {
            Some(s) => (s.inner, s.master),
            // A copy even for f32: the inner step may write the master's buffer in place.
            None => (None, tensor.cast(DType::F32).mul_scalar(1.0)),
        };
        let (master, inner) = self.inner.step(lr, master, grad.cast(DType::F32), inner);
        let out = if dtype == DType::F32 {
            master.clone().mul_scalar(1.0)
        } else {
            master.clone().cast(dtype)
        };
        (out, Some(MasterWeightsState { inner, master }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        MasterWeightsState {
            inner: state.inner.map(|s| O::to_device(s, device)),
            master: state.master.to_device(device),
        }
    }
}

/// `module` with every float parameter cast to `dtype` (parameter ids and require-grad flags
/// kept): the f16 or bf16 model a [`MasterWeights`] optimizer steps, or an f32 copy of it.
///
/// ```text
/// θ ← θ as dtype        (round to nearest even when narrowing)
/// ```
pub fn cast_params<M: Module>(module: M, dtype: DType) -> M {
    struct Cast(DType);
    impl ModuleMapper for Cast {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let (autodiff, require_grad) = (tensor.is_autodiff(), tensor.is_require_grad());
            let value = descent_kernel::as_dtype(tensor.inner(), self.0);
            let value = if autodiff {
                crate::grads::leaf(value, require_grad)
            } else {
                value
            };
            Param::from_mapped_value(id, value, mapper)
        }
    }
    module.map(&mut Cast(dtype))
}
