//! Every element-wise optimizer's rule is written once and runs three ways: fused over the CPU
//! buffers, traced into one CubeCL kernel (wgpu), and as tensor operations (the generic path,
//! every device). On flex and on ndarray the fused and generic paths, on wgpu the kernel and
//! generic paths, must give the same parameters and states, for every optimizer and variant,
//! over several steps; the path counters prove which path ran each time.

use burn::optim::{Optimizer, RecordState, StateSink};
use burn::tensor::{DType, Device, Tensor, TensorData};
use descent::kernel::paths::{self, Path};
use descent::optimizers::*;

fn data(seed: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 - 2.0)
        .collect()
}

/// θ after `steps` steps of `optim` on `device`, with varying gradients (299 elements: not a
/// multiple of the lane width), and how many updates each path (fused, generic, kernel) served
/// on this thread.
fn run<O: Optimizer>(optim: &O, device: &Device, steps: u32) -> (Vec<f32>, [u64; 3]) {
    let before = served();
    let n = 299;
    let mut theta = Tensor::<2>::from_data(TensorData::new(data(1, n), [13, 23]), device);
    let mut state = None;
    for s in 0..steps {
        let g = Tensor::<2>::from_data(TensorData::new(data(s + 7, n), [13, 23]), device);
        let (t, st) = optim.step(0.01, theta, g, state.take());
        theta = t;
        state = st;
    }
    let after = served();
    (
        theta.into_data().iter::<f32>().collect(),
        std::array::from_fn(|i| after[i] - before[i]),
    )
}

/// Updates served so far on this thread by the fused, generic and kernel paths.
fn served() -> [u64; 3] {
    [Path::Fused, Path::Generic, Path::Kernel].map(paths::count)
}

/// The optimizer built by `config(kernel)` gives the same numbers through `Kernel::Auto` (the
/// fused loop on the CPU devices, the CubeCL kernel on wgpu) and `Kernel::Generic`, on every
/// device; each run took the path it was given, every step.
fn same<O: Optimizer>(name: &str, config: impl Fn(Kernel) -> O) {
    for device in crate::devices::every_device() {
        let steps = 12;
        let (fused, fused_served) = run(&config(Kernel::Auto), &device, steps);
        let (generic, generic_served) = run(&config(Kernel::Generic), &device, steps);
        let n = u64::from(steps);
        let cpu = descent::kernel::is_cpu(&device);
        assert_eq!(
            fused_served,
            if cpu { [n, 0, 0] } else { [0, 0, n] },
            "{name} {device:?}: the fused (CPU) or kernel (wgpu) run's paths"
        );
        assert_eq!(
            generic_served,
            [0, n, 0],
            "{name} {device:?}: the generic run's paths"
        );
        // The same IEEE single operations in the same order: the same bits.
        for (i, (a, b)) in fused.iter().zip(&generic).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{name} {device:?}[{i}]: fused {a}, generic {b}"
            );
        }
        assert_ne!(fused, data(1, 299), "{name}: nothing moved");
    }
}

#[test]
fn both_kernels_give_the_same_steps_for_every_optimizer() {
    same("sgd", |k| {
        SgdConfig::new()
            .with_weight_decay(0.1)
            .with_kernel(k)
            .build()
    });
    same("sgd momentum", |k| {
        SgdConfig::new()
            .with_momentum(0.9)
            .with_dampening(0.2)
            .with_kernel(k)
            .build()
    });
    same("sgd nesterov", |k| {
        SgdConfig::new()
            .with_momentum(0.8)
            .with_nesterov(true)
            .with_maximize(true)
            .with_kernel(k)
            .build()
    });
    same("adagrad", |k| {
        AdagradConfig::new()
            .with_lr_decay(0.1)
            .with_initial_accumulator_value(0.2)
            .with_kernel(k)
            .build()
    });
    for (centered, momentum) in [(false, 0.0), (true, 0.0), (false, 0.9), (true, 0.9)] {
        same(&format!("rmsprop centered={centered} μ={momentum}"), |k| {
            RmsPropConfig::new()
                .with_centered(centered)
                .with_momentum(momentum)
                .with_weight_decay(0.01)
                .with_kernel(k)
                .build()
        });
    }
    same("adam", |k| {
        AdamConfig::new()
            .with_weight_decay(0.1)
            .with_kernel(k)
            .build()
    });
    same("adam amsgrad", |k| {
        AdamConfig::new()
            .with_amsgrad(true)
            .with_maximize(true)
            .with_kernel(k)
            .build()
    });
    same("adamw", |k| {
        AdamWConfig::new().with_amsgrad(true).with_kernel(k).build()
    });
    same("adamax", |k| {
        AdamaxConfig::new()
            .with_weight_decay(0.05)
            .with_kernel(k)
            .build()
    });
    same("nadam", |k| {
        NAdamConfig::new()
            .with_weight_decay(0.05)
            .with_kernel(k)
            .build()
    });
    same("nadamw", |k| {
        NAdamConfig::new()
            .with_weight_decay(0.05)
            .with_decoupled_weight_decay(true)
            .with_kernel(k)
            .build()
    });
    // RAdam: 12 steps cross from the un-rectified (ρₜ ≤ 5) to the rectified branch.
    same("radam", |k| {
        RAdamConfig::new()
            .with_weight_decay(0.05)
            .with_kernel(k)
            .build()
    });
    same("radamw", |k| {
        RAdamConfig::new()
            .with_weight_decay(0.05)
            .with_decoupled_weight_decay(true)
            .with_kernel(k)
            .build()
    });
    same("adadelta", |k| {
        AdadeltaConfig::new()
            .with_weight_decay(0.01)
            .with_kernel(k)
            .build()
    });
    same("lion", |k| {
        LionConfig::new()
            .with_weight_decay(0.1)
            .with_kernel(k)
            .build()
    });
    same("ema_momentum", |k| {
        EmaMomentumConfig::new()
            .with_weight_decay(0.01)
            .with_kernel(k)
            .build()
    });
    same("adamw_schedule_free", |k| {
        AdamWScheduleFreeConfig::new()
            .with_weight_decay(0.05)
            .with_warmup_steps(3)
            .with_kernel(k)
            .build()
    });
    same("sgd_schedule_free", |k| {
        SgdScheduleFreeConfig::new()
            .with_weight_decay(0.01)
            .with_kernel(k)
            .build()
    });
    same("adopt", |k| AdoptConfig::new().with_kernel(k).build());
    same("adopt decoupled", |k| {
        AdoptConfig::new()
            .with_weight_decay(0.01)
            .with_weight_decouple(true)
            .with_kernel(k)
            .build()
    });
    same("ademamix", |k| {
        AdEMAMixConfig::new()
            .with_t_alpha_beta3(Some(10.0))
            .with_weight_decay(0.01)
            .with_kernel(k)
            .build()
    });
    same("asgd", |k| {
        AsgdConfig::new()
            .with_t0(3.0)
            .with_lambd(0.01)
            .with_weight_decay(0.01)
            .with_kernel(k)
            .build()
    });
    same("rprop", |k| {
        RpropConfig::new()
            .with_maximize(true)
            .with_kernel(k)
            .build()
    });
    same("rprop tight bounds", |k| {
        RpropConfig::new()
            .with_etas((0.3, 1.5))
            .with_step_sizes((0.001, 0.02))
            .with_kernel(k)
            .build()
    });
}

/// θ after `steps` Adafactor steps of a tensor of shape `dims` on `device`, and the updates
/// each path served.
fn adafactor_run<const D: usize>(
    kernel: Kernel,
    dims: [usize; D],
    device: &Device,
    steps: u32,
) -> (Vec<f32>, [u64; 3]) {
    let optim = AdafactorConfig::new()
        .with_weight_decay(0.1)
        .with_kernel(kernel)
        .build();
    let before = served();
    let n = dims.iter().product();
    let mut theta = Tensor::<D>::from_data(TensorData::new(data(1, n), dims), device);
    let mut state = None;
    for s in 0..steps {
        let g = Tensor::<D>::from_data(TensorData::new(data(s + 7, n), dims), device);
        let (t, st) = optim.step(0.05, theta, g, state.take());
        theta = t;
        state = st;
    }
    let after = served();
    (
        theta.into_data().iter::<f32>().collect(),
        std::array::from_fn(|i| after[i] - before[i]),
    )
}

/// Adafactor's fused passes and its tensor path share their per-element formulas; their sums
/// (RMS, row and column means) add in another order, so the two agree to f32 rounding, not to
/// the bit. Matrices, a batch of matrices (factored over the last two dims) and a vector.
#[test]
fn adafactor_fused_and_generic_agree() {
    fn check<const D: usize>(dims: [usize; D]) {
        for device in descent::device::cpu_devices() {
            let steps = 8;
            let (fused, fs) = adafactor_run(Kernel::Auto, dims, &device, steps);
            let (generic, gs) = adafactor_run(Kernel::Generic, dims, &device, steps);
            let n = u64::from(steps);
            assert_eq!(fs, [n, 0, 0], "{dims:?} {device:?}: the fused run's paths");
            assert_eq!(
                gs,
                [0, n, 0],
                "{dims:?} {device:?}: the generic run's paths"
            );
            for (i, (a, b)) in fused.iter().zip(&generic).enumerate() {
                assert!(
                    (a - b).abs() <= 2e-5 * b.abs().max(1e-2),
                    "{dims:?} {device:?}[{i}]: fused {a}, generic {b}"
                );
            }
            let n = dims.iter().product();
            assert_ne!(fused, data(1, n), "{dims:?}: nothing moved");
        }
    }
    check([13, 23]);
    check([3, 7, 11]);
    check([299]);
}

/// θ (widened to f32), every state tensor (dtype and values widened to f32) after `steps`
/// steps on flex with θ and g in `dtype`, and how many updates each path served.
#[allow(clippy::type_complexity)]
fn run_half<O: Optimizer>(
    optim: &O,
    dtype: DType,
    steps: u32,
) -> (Vec<f32>, Vec<(DType, Vec<f32>)>, [u64; 2])
where
    O::State<2>: RecordState,
{
    let device = Device::flex();
    let before = [paths::count(Path::Fused), paths::count(Path::Generic)];
    let n = 299;
    let mut theta =
        Tensor::<2>::from_data(TensorData::new(data(1, n), [13, 23]), &device).cast(dtype);
    let mut state = None;
    for s in 0..steps {
        let g =
            Tensor::<2>::from_data(TensorData::new(data(s + 7, n), [13, 23]), &device).cast(dtype);
        let (t, st) = optim.step(0.01, theta, g, state.take());
        assert_eq!(t.dtype(), dtype, "the parameter keeps its dtype");
        theta = t;
        state = st;
    }
    let served = [
        paths::count(Path::Fused) - before[0],
        paths::count(Path::Generic) - before[1],
    ];
    let mut sink = StateSink::default();
    state.expect("a state").state_flatten("p", &mut sink);
    let slots = sink
        .tensors
        .into_iter()
        .map(|(_, d)| (d.dtype(), d.convert::<f32>().iter::<f32>().collect()))
        .collect();
    let theta = theta.cast(DType::F32).into_data().iter::<f32>().collect();
    (theta, slots, served)
}

/// f16 and bf16 parameters: the fused loop (reading and writing the half buffers, computing in
/// f32) and the tensor path (cast to f32, update, cast back) give the same bits, parameter and
/// state, with the state in f32 (default) or in bf16 (`state_dtype`), which it then is.
#[test]
fn half_precision_steps_are_the_same_on_both_paths() {
    fn check<O: Optimizer>(name: &str, config: impl Fn(Kernel, Option<DType>) -> O)
    where
        O::State<2>: RecordState,
    {
        for dtype in [DType::F16, DType::BF16] {
            let mut by_state = Vec::new();
            for state_dtype in [None, Some(DType::BF16)] {
                let steps = 6;
                let (ft, fs, fserved) = run_half(&config(Kernel::Auto, state_dtype), dtype, steps);
                let (gt, gs, gserved) =
                    run_half(&config(Kernel::Generic, state_dtype), dtype, steps);
                let n = u64::from(steps);
                let what = format!("{name} {dtype:?} state {state_dtype:?}");
                assert_eq!(fserved, [n, 0], "{what}: the fused run's paths");
                assert_eq!(gserved, [0, n], "{what}: the generic run's paths");
                for (i, (a, b)) in ft.iter().zip(&gt).enumerate() {
                    assert_eq!(
                        a.to_bits(),
                        b.to_bits(),
                        "{what}[{i}]: fused {a}, generic {b}"
                    );
                }
                assert_eq!(fs.len(), gs.len(), "{what}: state tensors");
                for ((fd, fv), (gd, gv)) in fs.iter().zip(&gs) {
                    let want = state_dtype.unwrap_or(DType::F32);
                    assert_eq!((*fd, *gd), (want, want), "{what}: the state's dtype");
                    let same = fv.iter().zip(gv).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{what}: fused and generic states differ");
                }
                let start: Vec<f32> = data(1, 299);
                assert!(
                    ft.iter().zip(&start).filter(|(a, b)| a != b).count() > 100,
                    "{what}: nothing moved"
                );
                by_state.push(ft);
            }
            // Lion steps by a sign: a rounded state rarely changes it.
            if name != "lion" {
                assert!(
                    by_state[0] != by_state[1],
                    "{name} {dtype:?}: a bf16 state should round differently from an f32 one"
                );
            }
        }
    }
    check("adam", |k, s| {
        AdamConfig::new()
            .with_weight_decay(0.1)
            .with_kernel(k)
            .with_state_dtype(s)
            .build()
    });
    check("adamw", |k, s| {
        AdamWConfig::new()
            .with_kernel(k)
            .with_state_dtype(s)
            .build()
    });
    check("sgd momentum", |k, s| {
        SgdConfig::new()
            .with_momentum(0.9)
            .with_kernel(k)
            .with_state_dtype(s)
            .build()
    });
    check("adagrad", |k, s| {
        AdagradConfig::new()
            .with_kernel(k)
            .with_state_dtype(s)
            .build()
    });
    check("rmsprop", |k, s| {
        RmsPropConfig::new()
            .with_centered(true)
            .with_momentum(0.9)
            .with_kernel(k)
            .with_state_dtype(s)
            .build()
    });
    check("lion", |k, s| {
        LionConfig::new().with_kernel(k).with_state_dtype(s).build()
    });
}

/// On wgpu through `ModuleOptimizer` (parameters handed without autodiff, gradients from a
/// backward pass, and gradients made on the autodiff device itself as a user may register
/// them): the CubeCL kernel serves every update and gives the generic path's bits.
#[test]
fn module_steps_on_wgpu_run_the_kernel_with_the_generic_paths_numbers() {
    use crate::common::{Net, data, mse_grads};
    use burn::optim::{GradientsParams, ModuleOptimizer};
    let Some(device) = crate::devices::wgpu().map(|d| d.autodiff()) else {
        return;
    };
    let train = |kernel: Kernel, on_autodiff: bool| {
        let mut optim: ModuleOptimizer = AdamWConfig::new()
            .with_weight_decay(0.1)
            .with_kernel(kernel)
            .init();
        let mut net = Net::new(&device);
        let before = served();
        #[cfg(feature = "wgpu")]
        let in_place = descent::kernel::cube::in_place_outputs();
        for _ in 0..5 {
            let (x, y) = data(&device);
            let grads = if on_autodiff {
                // Gradients registered as tensors of the autodiff device (untracked).
                let grads = mse_grads(&net, x, y);
                let mut own = GradientsParams::new();
                let w = grads.get::<2>(net.w.id).expect("w's gradient");
                let b = grads.get::<1>(net.b.id).expect("b's gradient");
                own.register(net.w.id, Tensor::<2>::from_data(w.into_data(), &device));
                own.register(net.b.id, Tensor::<1>::from_data(b.into_data(), &device));
                own
            } else {
                mse_grads(&net, x, y)
            };
            net = optim.step(0.05, net, grads);
        }
        let values = net.values();
        let after = served();
        let served: [u64; 3] = std::array::from_fn(|i| after[i] - before[i]);
        #[cfg(feature = "wgpu")]
        if kernel == Kernel::Auto {
            // ModuleOptimizer hands over the parameters and states: 5 steps × 2 tensors ×
            // (θ, m, v) written in place (other tests may add to the process-wide count).
            let written = descent::kernel::cube::in_place_outputs() - in_place;
            assert!(written >= 30, "{written} outputs in place");
        }
        (values, served)
    };
    for on_autodiff in [false, true] {
        let (kernel, kernel_served) = train(Kernel::Auto, on_autodiff);
        let (generic, generic_served) = train(Kernel::Generic, on_autodiff);
        assert_eq!(kernel_served, [0, 0, 10], "the kernel run's paths");
        assert_eq!(generic_served, [0, 10, 0], "the generic run's paths");
        assert_eq!(
            kernel.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            generic.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "kernel {kernel:?}, generic {generic:?}"
        );
        assert_ne!(kernel, Net::new(&device).values(), "nothing moved");
    }
}

/// The fused CPU passes run on descent's team (the caller and helpers that stay awake between
/// passes) or, with the team switched off, on rayon's pool: the same bits, for the element-wise
/// step (AdamW), Adafactor's factored passes on every CPU device, and L-BFGS's host vector
/// passes; the pass counters prove each run took its way. (One test: the switch is global.)
#[test]
fn the_team_and_rayons_pool_give_the_same_steps() {
    // Eight tasks of the fused loop per update: a parallel pass each.
    let n = 8 * descent::kernel::zip::CHUNK - 5;
    let adamw = |device: &Device| {
        let optim = AdamWConfig::new().with_weight_decay(0.1).build();
        let mut theta = Tensor::<1>::from_data(TensorData::new(data(3, n), [n]), device);
        let mut state = None;
        for s in 0..4 {
            let g = Tensor::<1>::from_data(TensorData::new(data(s + 11, n), [n]), device);
            let (t, st) = optim.step(0.01, theta, g, state.take());
            theta = t;
            state = st;
        }
        bits(theta.into_data().iter::<f32>())
    };
    for device in descent::device::cpu_devices() {
        let what = format!("{device:?}, AdamW");
        // Four updates, one pass each.
        let passes = same_on_team_and_rayon(&what, || adamw(&device));
        assert_eq!(passes, 4, "{what}: passes on rayon's pool");
        // Three passes per update, over row blocks of the 700 × 300 matrix.
        let what = format!("{device:?}, Adafactor");
        let passes = same_on_team_and_rayon(&what, || {
            let (theta, served) = adafactor_run(Kernel::Auto, [700, 300], &device, 3);
            assert_eq!(served[0], 3, "{what}: the fused passes ran");
            bits(theta)
        });
        assert_eq!(passes, 9, "{what}: passes on rayon's pool");
    }
    // L-BFGS on a 100k-dimensional quadratic: dozens of host vector passes per iteration.
    let m = 100_000;
    let passes = same_on_team_and_rayon("L-BFGS", || {
        let mut lbfgs = LbfgsConfig::new().with_max_iter(5).init();
        let mut x: Vec<f64> = (0..m).map(|i| (i % 17) as f64 / 4.0).collect();
        lbfgs.step_flat(1.0, &mut x, |x| {
            let w = |i: usize| 1.0 + (i % 5) as f64;
            let f = x.iter().enumerate().map(|(i, v)| w(i) * v * v).sum::<f64>() / 2.0;
            (f, x.iter().enumerate().map(|(i, v)| w(i) * v).collect())
        });
        x.iter().map(|v| v.to_bits()).collect()
    });
    assert!(passes >= 20, "L-BFGS: {passes} passes on rayon's pool");
}

fn bits(values: impl IntoIterator<Item = f32>) -> Vec<u64> {
    values.into_iter().map(|v| u64::from(v.to_bits())).collect()
}

/// Runs `run` with descent's team on (until one of its passes ran on the team: another test's
/// pass can hold the team for a moment, and this one then runs on rayon's pool) and off, checks
/// that both give the same bits and that the run with the team off ran every pass on rayon's
/// pool; returns how many passes that was.
fn same_on_team_and_rayon(what: &str, run: impl Fn() -> Vec<u64>) -> u64 {
    use descent::kernel::team;
    let before = team::passes();
    let mut on_team = run();
    for _ in 0..20 {
        if team::passes()[0] > before[0] {
            break;
        }
        on_team = run();
    }
    assert!(
        team::passes()[0] > before[0],
        "{what}: no pass ran on the team"
    );
    team::set_enabled(false);
    let before = team::passes();
    let on_rayon = run();
    let after = team::passes();
    team::set_enabled(true);
    assert_eq!(
        after[0] - before[0],
        0,
        "{what}: with the team off, no pass on the team"
    );
    assert!(after[1] > before[1], "{what}: no pass on rayon's pool");
    assert_eq!(on_team.len(), on_rayon.len());
    for (i, (a, b)) in on_team.iter().zip(&on_rayon).enumerate() {
        assert_eq!(a, b, "{what}[{i}]: team {a:#x}, rayon {b:#x}");
    }
    after[1] - before[1]
}

/// The fused step places a large parameter's new state buffers far, modulo 4096, from the
/// parameter's and the gradient's and from each other's (the processor's 4K-alias check would
/// otherwise take one stream's loads for another's stores: AdamW at 10M took 8–11 ms instead
/// of 6–7), and the placed states step like any other: the same bits as the generic path; on
/// every CPU device.
#[test]
fn new_state_buffers_start_apart_from_the_parameter_and_gradient() {
    use descent::kernel::buffer;
    let n = 1 << 17;
    for device in descent::device::cpu_devices() {
        let step = |kernel: Kernel| {
            let optim = AdamWConfig::new().with_kernel(kernel).build();
            let mut theta = Tensor::<1>::from_data(TensorData::new(data(5, n), [n]), &device);
            let mut state: Option<AdamState<1>> = None;
            let mut offsets = Vec::new();
            for s in 0..3 {
                let g = Tensor::<1>::from_data(TensorData::new(data(s + 21, n), [n]), &device);
                let around = [
                    buffer::window_offset(&buffer::buffer(theta.clone())),
                    buffer::window_offset(&buffer::buffer(g.clone())),
                ];
                let (t, st) = optim.step(0.01, theta, g, state.take());
                let st = st.expect("a state");
                let states = [&st.exp_avg, &st.exp_avg_sq]
                    .map(|t| buffer::window_offset(&buffer::buffer(t.clone())));
                if s == 0 {
                    offsets = around.to_vec();
                    offsets.extend(states);
                } else if kernel == Kernel::Auto {
                    // The steps after the first update the placed states in place.
                    assert_eq!(states, [offsets[2], offsets[3]], "{device:?}: step {s}");
                }
                theta = t;
                state = Some(st);
            }
            (
                theta.into_data().iter::<f32>().collect::<Vec<f32>>(),
                offsets,
            )
        };
        let (fused, offsets) = step(Kernel::Auto);
        let (generic, _) = step(Kernel::Generic);
        let distance = |a: usize, b: usize| {
            let d = a.abs_diff(b);
            d.min(buffer::ALIAS_WINDOW - d)
        };
        for (i, &a) in offsets.iter().enumerate() {
            for &b in &offsets[i + 1..] {
                if i == 0 && b == offsets[1] {
                    continue; // θ and g: the caller's buffers
                }
                assert!(
                    distance(a, b) >= buffer::ALIAS_WINDOW / 8,
                    "{device:?}: offsets {offsets:?} modulo 4096: {a} and {b} too close"
                );
            }
        }
        for (i, (a, b)) in fused.iter().zip(&generic).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{device:?}[{i}]: fused {a}, generic {b}"
            );
        }
    }
}
