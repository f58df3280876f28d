//! Bad hyperparameters are rejected when built; a bad learning rate or a NaN gradient stops
//! the step; every message names the optimizer (or schedule) and the argument.

use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use descent::optimizers::*;

use crate::common::{Net, data, device, mse_grads};
use crate::messages::{assert_mentions, panic_message};

fn err<T>(r: OptimResult<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn invalid_hyperparameters_are_rejected_when_built() {
    assert_mentions(
        &err(AdamConfig::new().with_beta_1(1.0).try_init()),
        &["adam", "beta_1", "[0, 1)"],
    );
    assert_mentions(
        &err(AdamWConfig::new().with_beta_2(-0.1).try_init()),
        &["adamw", "beta_2"],
    );
    assert_mentions(
        &err(NAdamConfig::new().with_beta_2(1.5).try_init()),
        &["nadam", "beta_2"],
    );
    assert_mentions(
        &err(RAdamConfig::new().with_eps(-1.0).try_init()),
        &["radam", "eps"],
    );
    assert_mentions(
        &err(SgdConfig::new().with_nesterov(true).try_init()),
        &["sgd", "nesterov", "momentum > 0"],
    );
    assert_mentions(
        &err(SgdConfig::new()
            .with_momentum(0.9)
            .with_dampening(0.1)
            .with_nesterov(true)
            .try_init()),
        &["sgd", "nesterov", "dampening"],
    );
    assert_mentions(
        &err(SgdConfig::new().with_momentum(-0.5).try_init()),
        &["sgd", "momentum"],
    );
    assert_mentions(
        &err(SgdConfig::new().with_weight_decay(f64::NAN).try_init()),
        &["sgd", "weight_decay"],
    );
    assert_mentions(
        &err(RmsPropConfig::new().with_alpha(1.5).try_init()),
        &["rmsprop", "alpha"],
    );
    assert_mentions(
        &err(AdagradConfig::new().with_lr_decay(-1.0).try_init()),
        &["adagrad", "lr_decay"],
    );
    assert_mentions(
        &err(AdadeltaConfig::new().with_rho(2.0).try_init()),
        &["adadelta", "rho"],
    );
    assert_mentions(
        &err(LionConfig::new().with_beta_1(1.2).try_init()),
        &["lion", "beta_1"],
    );
    assert_mentions(
        &err(LbfgsConfig::new().with_history_size(0).try_init()),
        &["lbfgs", "history_size"],
    );
    assert_mentions(
        &err(GradScalerConfig::new().with_backoff_factor(1.5).try_init()),
        &["grad_scaler", "backoff_factor"],
    );
    assert_mentions(
        &err(GradAccumulator::try_new(0)),
        &["grad_accumulator", "k"],
    );
    let msg = panic_message(|| {
        AdamConfig::new().with_beta_1(2.0).init();
    });
    assert_mentions(&msg, &["adam", "beta_1"]);
}

#[test]
fn schedules_with_zero_period_are_rejected() {
    assert_mentions(
        &err(StepLrConfig::new(0.1, 0).try_init()),
        &["step_lr", "step_size"],
    );
    assert_mentions(
        &err(CosineAnnealingLrConfig::new(0.1, 0).try_init()),
        &["cosine_annealing_lr", "t_max"],
    );
    assert_mentions(
        &err(CosineAnnealingWarmRestartsConfig::new(0.1, 0).try_init()),
        &["cosine_annealing_warm_restarts", "t_0"],
    );
    assert_mentions(
        &err(OneCycleLrConfig::new(1.0, 0).try_init()),
        &["one_cycle_lr", "total_steps"],
    );
    assert_mentions(
        &err(CyclicLrConfig::new(0.1, 1.0)
            .with_step_size_up(0)
            .with_step_size_down(Some(0))
            .try_init()),
        &["cyclic_lr", "step_size_up"],
    );
    assert_mentions(
        &err(WarmupCosineConfig::new(0.0, 1.0, 10, 10).try_init()),
        &["warmup_cosine", "decay_steps"],
    );
    assert_mentions(
        &err(StepLrConfig::new(-0.1, 5).try_init()),
        &["step_lr", "lr"],
    );
    assert_mentions(
        &err(LinearLrConfig::new(0.1).with_start_factor(0.0).try_init()),
        &["linear_lr", "start_factor"],
    );
    assert_mentions(
        &err(ReduceLrOnPlateauConfig::new(0.1)
            .with_factor(1.0)
            .try_init()),
        &["reduce_lr_on_plateau", "factor"],
    );
    let msg = panic_message(|| {
        SequentialLr::new(vec![Box::new(ConstantLrConfig::new(0.1).init())], vec![3]);
    });
    assert_mentions(&msg, &["sequential_lr", "milestones"]);
}

#[test]
fn negative_learning_rate_stops_the_step() {
    let device = device();
    let (x, y) = data(&device);
    for (name, mut optim) in [
        ("sgd", SgdConfig::new().init()),
        ("adam", AdamConfig::new().init()),
        ("rmsprop", RmsPropConfig::new().init()),
    ] {
        let net = Net::new(&device);
        let grads = mse_grads(&net, x.clone(), y.clone());
        let msg = panic_message(move || {
            optim.step(-0.1, net, grads);
        });
        assert_mentions(&msg, &[name, "lr", "-0.1"]);
    }
    let msg = panic_message(|| {
        LbfgsConfig::new()
            .init()
            .step_flat(-1.0, &mut [1.0], |x| (x[0] * x[0], vec![2.0 * x[0]]));
    });
    assert_mentions(&msg, &["lbfgs", "lr"]);
}

#[test]
fn nan_gradients_without_a_scaler_stop_the_step() {
    let device = device();
    let net = Net::new(&device);
    let mut grads = GradientsParams::new();
    let inner = device.clone().inner();
    grads.register(
        net.w.id,
        Tensor::<2>::from_data(
            TensorData::new(vec![0.1f32, f32::NAN, 0.0, 0.0, 0.0, 0.0], [3, 2]),
            &inner,
        ),
    );
    let mut optim = AdamConfig::new().init();
    let msg = panic_message(move || {
        optim.step(0.01, net, grads);
    });
    assert_mentions(&msg, &["adam", "grad", "finite"]);

    // The L-BFGS closure's loss is checked too.
    let msg = panic_message(|| {
        LbfgsConfig::new()
            .init()
            .step_flat(1.0, &mut [1.0], |_| (f64::NAN, vec![1.0]));
    });
    assert_mentions(&msg, &["lbfgs", "loss", "finite"]);
}

/// Adafactor's fused factored pass checks every gradient too: a NaN among whole four-column
/// groups and one in a row's tail both stop the step, naming the optimizer; the same step with
/// a finite value there does not.
#[test]
fn adafactor_finds_non_finite_gradients_in_every_column() {
    use burn::optim::Optimizer;
    for device in descent::device::cpu_devices() {
        for (cols, at) in [(8, 5), (6, 5)] {
            let step = |bad: f32| {
                let theta = Tensor::<2>::ones([3, cols], &device);
                let mut g = vec![0.5f32; 3 * cols];
                g[cols + at] = bad;
                let g = Tensor::<2>::from_data(TensorData::new(g, [3, cols]), &device);
                AdafactorConfig::new().build().step(0.01, theta, g, None).0
            };
            let msg = panic_message(move || {
                step(f32::NAN);
            });
            assert_mentions(&msg, &["adafactor", "grad", "finite"]);
            let moved = step(3.0).into_data().iter::<f32>().collect::<Vec<f32>>();
            assert!(
                moved.iter().all(|v| v.is_finite()),
                "{device:?}: a finite gradient passes"
            );
        }
    }
}

/// Off the CPU devices the finite check is deferred: a non-finite gradient is found by a
/// later read-back (every `DEFERRED_CHECKS` updates, or `check_pending_grads`), not lost.
/// With an interval of 1 every gradient is checked; with the default interval the parameter
/// it leaves non-finite is found a few updates later, also for Lion, whose update is a sign.
/// Runs on wgpu; `DESCENT_REQUIRE_WGPU=1` (set by CI) makes a missing adapter a failure.
#[test]
fn nan_gradients_off_the_cpu_are_found_by_the_deferred_check() {
    let Some(device) = crate::devices::wgpu().map(|d| d.autodiff()) else {
        return;
    };
    let inner = device.clone().inner();
    let bad_grads = move |net: &Net, bad: f32, inner: &burn::tensor::Device| {
        let mut grads = GradientsParams::new();
        grads.register(
            net.w.id,
            Tensor::<2>::from_data(
                TensorData::new(vec![0.1f32, bad, 0.0, 0.0, 0.0, 0.0], [3, 2]),
                inner,
            ),
        );
        grads
    };
    // Interval 1: finite gradients pass the read-back, a NaN one fails the next one.
    let net = Net::new(&device);
    let mut optim = AdamConfig::new().with_check_interval(1).init();
    let (x, y) = data(&device);
    let grads = mse_grads(&net, x, y);
    let net = optim.step(0.01, net, grads);
    check_pending_grads();
    let grads = bad_grads(&net, f32::NAN, &inner);
    let msg = panic_message(move || {
        let _ = optim.step(0.01, net, grads);
        check_pending_grads();
    });
    assert_mentions(&msg, &["adam", "grad", "finite"]);
    // The default interval: the periodic read-back finds the parameter a NaN gradient (SGD)
    // or an infinite one (Lion: sign(±inf) is finite, its momentum is not) left behind.
    let limit = 64 * FINITE_CHECK_INTERVAL as usize + DEFERRED_CHECKS;
    for (name, bad) in [("sgd", f32::NAN), ("lion", f32::INFINITY)] {
        let device = device.clone();
        let msg = panic_message(move || {
            let mut optim = match name {
                "sgd" => SgdConfig::new().init(),
                _ => LionConfig::new().init(),
            };
            let net = Net::new(&device);
            let grads = bad_grads(&net, bad, &device.clone().inner());
            let mut net = optim.step(0.01, net, grads);
            for _ in 0..limit {
                let (x, y) = data(&device);
                let grads = mse_grads(&net, x, y);
                net = optim.step(0.01, net, grads);
            }
        });
        assert_mentions(&msg, &[name, "parameter", "finite"]);
    }
}

#[test]
fn invalid_clipping_arguments_panic_with_their_name() {
    let device = device();
    let (x, y) = data(&device);
    let net = Net::new(&device);
    let mut grads = mse_grads(&net, x, y);
    let msg = panic_message(|| {
        clip_grad_norm(&net, &mut grads, -1.0, NormType::L2);
    });
    assert_mentions(&msg, &["clip_grad_norm", "max_norm"]);
    let msg = panic_message(|| {
        grad_norm(&net, &grads, NormType::P(0.0));
    });
    assert_mentions(&msg, &["norm_type"]);
}

/// The registry builds every optimizer and schedule by PyTorch's names; an unknown name, an
/// unknown option or one of the wrong type is an error naming it, and the defaults are the
/// configs' (PyTorch's).
#[test]
fn the_registry_names_what_it_cannot_build() {
    use descent::optimizers::registry;
    use serde_json::json;
    for name in registry::optimizer_names() {
        let built = registry::optimizer(name, &json!({})).expect(name);
        assert!(built.lr > 0.0, "{name}: default lr {}", built.lr);
    }
    assert_eq!(registry::optimizer("adamw", &json!({})).unwrap().lr, 1e-3);
    assert_eq!(
        registry::optimizer("adamw", &json!({"lr": 0.3}))
            .unwrap()
            .lr,
        0.3
    );
    assert_mentions(
        &err(registry::optimizer("adamm", &json!({}))),
        &["optimizer", "adamm", "adamw"],
    );
    assert_mentions(
        &err(registry::optimizer("adam", &json!({"bettas": [0.9, 0.99]}))),
        &["adam", "unknown", "bettas"],
    );
    assert_mentions(
        &err(registry::optimizer("adam", &json!({"eps": "small"}))),
        &["adam", "eps", "small"],
    );
    // A hyperparameter the registry passes on is still checked by the config.
    assert_mentions(
        &err(registry::optimizer("adam", &json!({"betas": [1.5, 0.999]}))),
        &["adam", "beta_1", "[0, 1)"],
    );
    assert_mentions(
        &err(registry::schedule("step_lr", &json!({"lr": 0.1}))),
        &["step_lr", "step_size", "required"],
    );
    assert_mentions(
        &err(registry::schedule(
            "cyclic_lr",
            &json!({"base_lr": 0.1, "max_lr": 1.0, "mode": "zigzag"}),
        )),
        &["cyclic_lr", "mode", "zigzag", "triangular"],
    );
    assert_mentions(
        &err(registry::schedule(
            "step_lr",
            &json!({"step_size": 3, "last_epoch": 4}),
        )),
        &["step_lr", "last_epoch"],
    );
    let mut lbfgs = registry::lbfgs(&json!({"line_search_fn": "strong_wolfe"})).unwrap();
    assert_eq!(lbfgs.1, 1.0);
    let mut x = [3.0];
    let loss = lbfgs
        .0
        .step_flat(1.0, &mut x, |x| (x[0] * x[0], vec![2.0 * x[0]]));
    assert_eq!(loss, 9.0);
    assert!(
        x[0].abs() < 1e-6,
        "strong-Wolfe L-BFGS solves x² in one step: {x:?}"
    );
}

/// A state loaded for a parameter of another shape (another model, a reordered one) stops
/// the step with the optimizer's name and both shapes, on the fused and the generic path,
/// instead of broadcasting or reading out of bounds.
#[test]
fn a_state_of_another_shape_is_refused() {
    use burn::optim::Optimizer;
    let device = device();
    for kernel in [Kernel::Auto, Kernel::Generic] {
        let adam = AdamConfig::new().with_kernel(kernel).build();
        let p = Tensor::<2>::zeros([3, 2], &device);
        let (_, state) = adam.step(
            0.1,
            Tensor::<2>::zeros([1, 2], &device),
            Tensor::<2>::ones([1, 2], &device),
            None,
        );
        let g = Tensor::<2>::ones([3, 2], &device);
        let msg = panic_message(move || {
            let _ = adam.step(0.1, p, g, state);
        });
        assert_mentions(&msg, &["adam", "state", "[3, 2]", "[1, 2]"]);
    }
}

/// A parameter with no element is stepped (nothing to do) on both kernels, and the infinity
/// norm of gradients that include an empty one is the others' maximum: no panic from Burn's
/// empty reductions.
#[test]
fn empty_parameters_and_gradients_are_handled() {
    use burn::module::{Module, Param};
    use burn::optim::Optimizer;
    let device = device();
    for kernel in [Kernel::Auto, Kernel::Generic] {
        let adam = AdamConfig::new().with_kernel(kernel).build();
        let p = Tensor::<2>::zeros([0, 3], &device);
        let (p, state) = adam.step(0.1, p, Tensor::<2>::zeros([0, 3], &device), None);
        assert_eq!(p.dims(), [0, 3]);
        let (p, _) = adam.step(0.1, p, Tensor::<2>::zeros([0, 3], &device), state);
        assert_eq!(p.dims(), [0, 3]);
    }
    #[derive(Module, Debug)]
    struct Two {
        a: Param<Tensor<1>>,
        b: Param<Tensor<1>>,
    }
    let two = Two {
        a: Param::from_tensor(Tensor::from_floats([1.0, -3.0], &device)),
        b: Param::from_tensor(Tensor::<1>::zeros([0], &device)),
    };
    let mut grads = GradientsParams::new();
    grads.register(
        two.a.id,
        Tensor::<1>::from_floats([0.5, -2.0], &device.clone().inner()),
    );
    grads.register(two.b.id, Tensor::<1>::zeros([0], &device.clone().inner()));
    assert_eq!(grad_norm(&two, &grads, NormType::Inf), 2.0);
    let norm = clip_grad_norm(&two, &mut grads, 1.0, NormType::L2);
    assert!((norm - 4.25f64.sqrt()).abs() < 1e-6, "{norm}");
}

/// f16 and bf16 parameters are stepped in f32 (ε = 1e-8 underflows to 0 in f16, which left
/// ±inf and NaN after one Adam step) and come back in their dtype, with an f32 state.
#[test]
fn half_precision_parameters_are_stepped_in_f32() {
    use burn::optim::Optimizer;
    use burn::tensor::DType;
    let device = device().inner();
    let start = [0.5f32, -0.25, 0.0, 1.0];
    let grad = [1e-3f32, -2e-3, 0.0, 4e-4];
    let adam = AdamConfig::new().build();
    let (reference, _) = adam.step(
        0.01,
        Tensor::<1>::from_floats(start, &device),
        Tensor::<1>::from_floats(grad, &device),
        None,
    );
    let reference: Vec<f32> = reference.into_data().iter::<f32>().collect();
    for dtype in [DType::F16, DType::BF16] {
        let p = Tensor::<1>::from_floats(start, &device).cast(dtype);
        let g = Tensor::<1>::from_floats(grad, &device).cast(dtype);
        let (p, state) = adam.step(0.01, p, g, None);
        assert_eq!(p.dtype(), dtype);
        assert_eq!(state.expect("a state").exp_avg.dtype(), DType::F32);
        for (a, r) in p.into_data().iter::<f32>().zip(&reference) {
            assert!(
                a.is_finite() && (a - r).abs() < 1e-2,
                "{dtype:?}: {a} vs {r}"
            );
        }
    }
}

/// Misuse of the accumulator and the loss scaler is an error naming it, not a silent no-op.
#[test]
fn accumulator_and_scaler_misuse_is_an_error() {
    let device = device();
    let net = Net::new(&device);
    let msg = panic_message(|| {
        GradAccumulator::new(2).take(&net);
    });
    assert_mentions(&msg, &["grad_accumulator", "take", "accumulate"]);
    assert_mentions(
        &err(GradScalerConfig::new().with_init_scale(f64::NAN).try_init()),
        &["grad_scaler", "init_scale"],
    );
    let scaler = GradScalerConfig::new().init();
    let state = GradScalerState {
        scale: f64::NAN,
        growth_tracker: 0,
    };
    assert_mentions(
        &err(scaler.clone().try_with_state(state)),
        &["grad_scaler", "state.scale"],
    );
    // Backing off at every step takes the scale to 0, where no step can ever be taken.
    let mut scaler = GradScalerConfig::new().with_init_scale(1e-300).init();
    let msg = panic_message(move || {
        for _ in 0..100 {
            scaler.update(true);
        }
    });
    assert_mentions(&msg, &["grad_scaler", "scale reached 0"]);
}

/// `CosineAnnealingWarmRestarts` finds the period of any step in closed form: the same rates
/// as walking the periods one by one, and at step 2⁴⁰ in no time.
#[test]
fn warm_restarts_reach_any_step_in_closed_form() {
    for t_mult in [1u64, 2, 3] {
        let s = CosineAnnealingWarmRestartsConfig::new(0.1, 5)
            .with_t_mult(t_mult)
            .with_eta_min(0.01)
            .init();
        let (mut t_cur, mut t_i) = (0u64, 5u64);
        for t in 0..2000u64 {
            let expected = 0.01
                + (0.1 - 0.01) * (1.0 + (std::f64::consts::PI * t_cur as f64 / t_i as f64).cos())
                    / 2.0;
            assert!(
                (s.lr_at(t) - expected).abs() < 1e-12,
                "T_mult {t_mult}, step {t}: {} vs {expected}",
                s.lr_at(t)
            );
            t_cur += 1;
            if t_cur == t_i {
                t_cur = 0;
                t_i *= t_mult;
            }
        }
        let start = std::time::Instant::now();
        let lr = s.lr_at(1 << 40);
        assert!(lr.is_finite() && (0.01..=0.1).contains(&lr), "{lr}");
        assert!(start.elapsed() < std::time::Duration::from_millis(50));
    }
}

/// An optimizer's panic points at the caller's line, not at the library's.
#[test]
fn optimizer_panics_point_at_the_caller() {
    use crate::messages::panic_site;
    let (msg, file) = panic_site(|| {
        AdamConfig::new().with_beta_1(2.0).init();
    });
    assert_mentions(&msg, &["adam", "beta_1"]);
    assert!(file.ends_with("errors.rs"), "reported at {file}");
}
