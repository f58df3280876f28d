//! descent's own GPU kernel: a traced rule (see [`crate::trace`]) as one CubeCL kernel, on every
//! CubeCL device (wgpu, and CUDA where built), through Burn's backend extension and its fusion
//! stream.
//!
//! ```text
//! rule.apply on Traced ─> (Program, constants)
//!   ─> Dispatch::step_0 … step_4 (backend extension, Cube devices; one per slot count)
//!   ─> Fusion<CubeBackend>: a custom operation in the fusion stream (ordered with the ops around it)
//!   ─> CubeBackend: one launch of `program::step_N`, one read of each input and one write of
//!      each output per element (in place where nothing else holds the buffer), vectorised 4
//!      wide where the length allows
//! ```
//!
//! An optimizer's step on a tensor is thus one kernel instead of the chain of tensor
//! operations (and the kernels Burn's fusion makes of them) of the generic path.

mod program;

use std::sync::atomic::{AtomicU64, Ordering};

use burn::backend::fusion::custom::{
    CustomOpIr, HandleContainer, OperationFn, OperationIr, StreamId, TensorIr,
};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Cube, Dispatch, DispatchDevice, backend_extension};
use burn::tensor::{DType, Device, Tensor};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::ir::FloatKind;
use cubecl::prelude::*;
use cubecl::{CubeCount, CubeDim, calculate_cube_count_elemwise};

use crate::trace::Program;

/// Whether `device` is a (non-autodiff) CubeCL device: wgpu, Vulkan, Metal, CUDA, ...
pub fn is_cube(device: &Device) -> bool {
    !device.is_autodiff() && matches!(device.as_dispatch(), DispatchDevice::Cube(_))
}

/// The backend extension: an optimizer step traced as a [`Program`], on `p, g` and 0 to 4 state
/// slots (element-wise aligned `f32` tensors), returning `p'` and the new slots. One method per
/// number of slots: an extension takes and returns a fixed number of tensors.
#[backend_extension(Cube)]
#[allow(missing_docs, clippy::type_complexity, clippy::too_many_arguments)]
pub trait ProgramKernel: Backend {
    fn step_0(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        program: Program,
        consts: Vec<f32>,
    ) -> FloatTensor<Self>;
    fn step_1(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        s0: FloatTensor<Self>,
        program: Program,
        consts: Vec<f32>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
    fn step_2(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        s0: FloatTensor<Self>,
        s1: FloatTensor<Self>,
        program: Program,
        consts: Vec<f32>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    fn step_3(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        s0: FloatTensor<Self>,
        s1: FloatTensor<Self>,
        s2: FloatTensor<Self>,
        program: Program,
        consts: Vec<f32>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
    fn step_4(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        s0: FloatTensor<Self>,
        s1: FloatTensor<Self>,
        s2: FloatTensor<Self>,
        s3: FloatTensor<Self>,
        program: Program,
        consts: Vec<f32>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

type Fused = FloatTensor<Cube>;

impl ProgramKernel for Cube {
    fn step_0(p: Fused, g: Fused, program: Program, consts: Vec<f32>) -> Fused {
        let [p] = register(vec![p, g], program, consts);
        p
    }

    fn step_1(p: Fused, g: Fused, s0: Fused, program: Program, consts: Vec<f32>) -> (Fused, Fused) {
        let [p, s0] = register(vec![p, g, s0], program, consts);
        (p, s0)
    }

    fn step_2(
        p: Fused,
        g: Fused,
        s0: Fused,
        s1: Fused,
        program: Program,
        consts: Vec<f32>,
    ) -> (Fused, Fused, Fused) {
        let [p, s0, s1] = register(vec![p, g, s0, s1], program, consts);
        (p, s0, s1)
    }

    fn step_3(
        p: Fused,
        g: Fused,
        s0: Fused,
        s1: Fused,
        s2: Fused,
        program: Program,
        consts: Vec<f32>,
    ) -> (Fused, Fused, Fused, Fused) {
        let [p, s0, s1, s2] = register(vec![p, g, s0, s1, s2], program, consts);
        (p, s0, s1, s2)
    }

    fn step_4(
        p: Fused,
        g: Fused,
        s0: Fused,
        s1: Fused,
        s2: Fused,
        s3: Fused,
        program: Program,
        consts: Vec<f32>,
    ) -> (Fused, Fused, Fused, Fused, Fused) {
        let [p, s0, s1, s2, s3] = register(vec![p, g, s0, s1, s2, s3], program, consts);
        (p, s0, s1, s2, s3)
    }
}

/// Registers the step as a custom operation of the fusion stream: `M` new tensors (`p'` and
/// the slots), computed by [`launch`] when the stream runs.
fn register<const M: usize>(inputs: Vec<Fused>, program: Program, consts: Vec<f32>) -> [Fused; M] {
    let client = inputs[0].client.clone();
    let shape = inputs[0].shape.clone();
    let ins: Vec<TensorIr> = inputs.into_iter().map(|t| t.into_ir()).collect();
    let outs: Vec<TensorIr> = (0..M)
        .map(|_| TensorIr::uninit(client.create_empty_handle(), shape.clone(), DType::F32))
        .collect();
    let desc = CustomOpIr {
        id: "descent_step".into(),
        inputs: ins.clone(),
        outputs: outs.clone(),
        scalars: Vec::new(),
    };
    let op = OperationFn(move |handles: &mut HandleContainer<_>| {
        let tensors: Vec<CubeTensor> = ins
            .iter()
            .map(|t| handles.get_float_tensor::<CubeBackend>(t))
            .collect();
        for (out, t) in outs.iter().zip(launch(&program, &consts, tensors)) {
            handles.register_float_tensor::<CubeBackend>(&out.id, t);
        }
        Ok(())
    });
    let outputs = client.register(StreamId::current(), OperationIr::Custom(desc), op);
    let Ok(outputs) = <[Fused; M]>::try_from(outputs) else {
        unreachable!("{M} outputs registered")
    };
    outputs
}

static IN_PLACE: AtomicU64 = AtomicU64::new(0);

/// Outputs the kernel has written over their inputs' buffers (in place) in this process so far,
/// counted when the fusion stream runs a step: tests read it to prove the in-place path ran.
pub fn in_place_outputs() -> u64 {
    IN_PLACE.load(Ordering::Relaxed)
}

/// Threads per cube of the kernel.
const CUBE_DIM: u32 = 256;

/// Launches the program on the backend's tensors `p, g, s…` (same shape, `f32`, at most four
/// slots): new contiguous outputs `p', s'…`.
fn launch(program: &Program, consts: &[f32], inputs: Vec<CubeTensor>) -> Vec<CubeTensor> {
    let inputs: Vec<CubeTensor> = inputs.into_iter().map(into_contiguous).collect();
    let first = &inputs[0];
    let (client, device) = (first.client.clone(), first.device.clone());
    let shape = first.meta.shape().clone();
    let elements = shape.num_elements();
    // Output j (p', then the slots) overwrites its input (p, then the slots; input k) where
    // nothing else holds that buffer, as `ModuleOptimizer` hands parameters and states: no
    // allocation, and no second copy of the tensor alive. Elsewhere it is a new tensor.
    let mut outputs = Vec::with_capacity(program.outputs.len());
    let mut out_args = Vec::with_capacity(program.outputs.len());
    for j in 0..program.outputs.len() {
        let k = if j == 0 { 0 } else { j + 1 };
        let input = &inputs[k];
        // (Contiguous already: `into_contiguous` above.)
        if input.can_mut() {
            out_args.push(input.as_tensor_alias(k));
            outputs.push(input.clone());
            IN_PLACE.fetch_add(1, Ordering::Relaxed);
        } else {
            let t = empty_device_contiguous_dtype(
                client.clone(),
                device.clone(),
                shape.clone(),
                DType::F32,
            );
            out_args.push(t.clone().into_tensor_arg());
            outputs.push(t);
        }
    }
    let vector = if elements.is_multiple_of(4) { 4 } else { 1 };
    let units = elements / vector;
    let cube_dim = CubeDim::new_1d(CUBE_DIM);
    let cube_count: CubeCount = calculate_cube_count_elemwise(&client, units, cube_dim);
    let args = |t: &CubeTensor| t.clone().into_tensor_arg();
    let dtype = ElemType::Float(FloatKind::F32);
    let consts: SequenceArg<InputScalar> =
        consts.iter().map(|&k| InputScalar::new(k, dtype)).collect();
    let i = &inputs;
    let mut o = out_args.into_iter();
    let program = program.clone();
    macro_rules! go {
        ($kernel:ident; $($s:literal),*) => {
            unsafe {
                program::$kernel::launch_unchecked(
                    &client, cube_count, cube_dim, vector,
                    args(&i[0]), args(&i[1]), $(args(&i[$s + 2]),)*
                    o.next().expect("p'"), $({ let _ = $s; o.next().expect("a slot") },)*
                    consts, program, dtype,
                )
            }
        };
    }
    match inputs.len() - 2 {
        0 => go!(step_0;),
        1 => go!(step_1; 0),
        2 => go!(step_2; 0, 1),
        3 => go!(step_3; 0, 1, 2),
        4 => go!(step_4; 0, 1, 2, 3),
        n => panic!("descent's GPU step: {n} state slots (at most 4)"),
    }
    outputs
}

/// Runs `program` (an optimizer step traced on `p, g, s…`, returning `p', s'…`) with `consts`
/// on `inputs = [p, g, s…]` (`f32` tensors of one shape on one CubeCL device, see [`is_cube`],
/// at most four slots): one kernel launch; returns `[p', s'…]`.
pub fn run<const D: usize>(
    program: &Program,
    consts: &[f32],
    inputs: Vec<Tensor<D>>,
) -> Vec<Tensor<D>> {
    let slots = inputs.len().checked_sub(2);
    assert!(
        slots.is_some_and(|n| n <= 4)
            && program.inputs == inputs.len()
            && program.outputs.len() == inputs.len() - 1,
        "descent's GPU step: p, g and 0 to 4 slots in, p and the slots out; got {} inputs for a \
         program of {} inputs and {} outputs",
        inputs.len(),
        program.inputs,
        program.outputs.len()
    );
    let (program, consts) = (program.clone(), consts.to_vec());
    let mut t = inputs.into_iter().map(Tensor::into_dispatch);
    let mut next = || t.next().expect("checked above");
    let (p, g) = (next(), next());
    let out = match slots {
        Some(0) => vec![<Dispatch as ProgramKernel>::step_0(p, g, program, consts)],
        Some(1) => {
            let (p, s0) = <Dispatch as ProgramKernel>::step_1(p, g, next(), program, consts);
            vec![p, s0]
        }
        Some(2) => {
            let (s0, s1) = (next(), next());
            let (p, s0, s1) = <Dispatch as ProgramKernel>::step_2(p, g, s0, s1, program, consts);
            vec![p, s0, s1]
        }
        Some(3) => {
            let (s0, s1, s2) = (next(), next(), next());
            let (p, s0, s1, s2) =
                <Dispatch as ProgramKernel>::step_3(p, g, s0, s1, s2, program, consts);
            vec![p, s0, s1, s2]
        }
        _ => {
            let (s0, s1, s2, s3) = (next(), next(), next(), next());
            let (p, s0, s1, s2, s3) =
                <Dispatch as ProgramKernel>::step_4(p, g, s0, s1, s2, s3, program, consts);
            vec![p, s0, s1, s2, s3]
        }
    };
    out.into_iter().map(Tensor::from_dispatch).collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::DeviceKind;
    use burn::tensor::Tensor;

    use super::*;
    use crate::trace::{eval, trace};
    use crate::{Ema, Num};

    /// Adam's arithmetic with a select (a clipped step) and every kind of constant.
    fn rule<T: Num>(p: T, g: T, s: &mut [T], lr: f32) -> T {
        let (m, v) = (Ema::new(0.9), Ema::new(0.999));
        s[0] = m.of(s[0].clone(), g.clone());
        s[1] = v.of(s[1].clone(), g.clone().square());
        let step = s[0].clone().div_k(0.1) / s[1].clone().div_k(0.001).sqrt().shift(1e-8);
        let big = step.gt_k(3.0);
        let step = T::select(big, step.zeros_like().shift(3.0), step);
        p - step.scale(lr)
    }

    /// The in-place counter is per process: the tests that launch kernels take turns.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn the_kernel_computes_the_traced_rule_on_wgpu() {
        let _turn = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        // 1024 elements run 4 wide, 1003 one by one.
        for n in [1024, 1003] {
            // Fixed data; every seventh second moment tiny, so that the clip (the select) holds
            // there and not elsewhere.
            let make = |f: &dyn Fn(f32) -> f32| {
                let x: Vec<f32> = (0..n).map(|i| f(i as f32)).collect();
                Tensor::<1>::from_floats(x.as_slice(), &device)
            };
            let (p, g) = (
                make(&|i| (0.37 * i).sin()),
                make(&|i| 3.0 * (1.3 * i).cos()),
            );
            let m = make(&|i| (0.7 * i).sin());
            let v = make(&|i| {
                if i % 7.0 == 0.0 {
                    1e-6
                } else {
                    (0.3 * i).cos().abs() + 0.1
                }
            });
            let (program, consts) = trace(4, |x| {
                let mut s = [x[2].clone(), x[3].clone()];
                let p = rule(x[0].clone(), x[1].clone(), &mut s, 0.01);
                vec![p, s[0].clone(), s[1].clone()]
            });
            let host = |t: &Tensor<1>| t.to_data().to_vec::<f32>().unwrap();
            let inputs = [&p, &g, &m, &v].map(host);
            let out = run(&program, &consts, vec![p, g, m, v]);
            assert_eq!(out.len(), 3);
            let out: Vec<Vec<f32>> = out.iter().map(host).collect();
            let mut selected = 0;
            for i in 0..n {
                let x: Vec<f32> = inputs.iter().map(|t| t[i]).collect();
                let want = eval(&program, &consts, &x);
                let mut s = [x[2], x[3]];
                assert_eq!(want[0], rule(x[0], x[1], &mut s, 0.01));
                for (j, w) in want.iter().enumerate() {
                    let got = out[j][i];
                    assert!(
                        (got - w).abs() <= 1e-6 * w.abs().max(1.0),
                        "n {n}, element {i}, output {j}: {got} against {w}"
                    );
                }
                selected += usize::from(s[0] / 0.1 / ((s[1] / 0.001).sqrt() + 1e-8) > 3.0);
            }
            assert!(selected > 0, "the select was exercised");
        }
    }

    /// The outputs overwrite inputs nothing else holds; an input still held elsewhere keeps
    /// its values and its output is a new tensor.
    #[test]
    fn outputs_overwrite_only_inputs_nothing_else_holds() {
        let _turn = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        let (program, consts) = trace(3, |x| {
            // SGD with momentum: b = 0.9 b + g, p = p − 0.1 b.
            let b = x[2].clone().scale(0.9) + x[1].clone();
            vec![x[0].clone() - b.clone().scale(0.1), b]
        });
        let host = |t: &Tensor<1>| t.to_data().to_vec::<f32>().unwrap();
        let make = |v: f32| Tensor::<1>::from_floats([v; 8].as_slice(), &device);
        // Nothing else holds p and b: both outputs in place.
        let before = in_place_outputs();
        let out = run(&program, &consts, vec![make(1.0), make(2.0), make(3.0)]);
        assert_eq!(host(&out[0]), [1.0 - 0.1 * (0.9 * 3.0 + 2.0); 8]);
        assert_eq!(host(&out[1]), [0.9 * 3.0 + 2.0; 8]);
        assert_eq!(in_place_outputs() - before, 2, "p and b in place");
        // The caller keeps p: p' is a new tensor, p unchanged; b still in place.
        let p = make(1.0);
        let before = in_place_outputs();
        let out = run(&program, &consts, vec![p.clone(), make(2.0), make(3.0)]);
        assert_eq!(host(&out[0]), [1.0 - 0.1 * (0.9 * 3.0 + 2.0); 8]);
        assert_eq!(host(&p), [1.0; 8], "a held input keeps its values");
        assert_eq!(in_place_outputs() - before, 1, "only b in place");
    }
}
