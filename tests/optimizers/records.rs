//! Save an optimizer and its schedule mid-training, load them into fresh ones, continue: the
//! parameters must be exactly those of an uninterrupted run (on every device for the
//! element-wise optimizers).

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::ModuleOptimizer;
use burn::tensor::DType;
use descent::optimizers::*;

use crate::common::{Net, data, device, mse_grads};

type Factory = fn() -> ModuleOptimizer;

fn optimizers() -> Vec<(&'static str, Factory)> {
    vec![
        ("sgd", || {
            SgdConfig::new()
                .with_momentum(0.9)
                .with_nesterov(true)
                .init()
        }),
        ("adagrad", || {
            AdagradConfig::new().with_lr_decay(0.01).init()
        }),
        ("rmsprop", || {
            RmsPropConfig::new()
                .with_centered(true)
                .with_momentum(0.5)
                .init()
        }),
        ("adam", || AdamConfig::new().with_amsgrad(true).init()),
        ("adamw", || AdamWConfig::new().init()),
        ("adamax", || AdamaxConfig::new().init()),
        ("nadam", || NAdamConfig::new().init()),
        ("radam", || RAdamConfig::new().init()),
        ("adadelta", || AdadeltaConfig::new().init()),
        ("lion", || LionConfig::new().init()),
        ("ema_momentum", || EmaMomentumConfig::new().init()),
        // A bf16 state must come back in bf16 (a reload made it f32 once: the rest of the
        // run then rounded differently).
        ("adam, bf16 state", || {
            AdamConfig::new().with_state_dtype(Some(DType::BF16)).init()
        }),
        ("sgd momentum, bf16 state", || {
            SgdConfig::new()
                .with_momentum(0.9)
                .with_state_dtype(Some(DType::BF16))
                .init()
        }),
    ]
}

fn schedule() -> Box<dyn LrScheduler> {
    Box::new(SequentialLr::new(
        vec![
            Box::new(LinearLrConfig::new(0.05).with_total_iters(3).init()),
            Box::new(
                CosineAnnealingLrConfig::new(0.05, 6)
                    .with_eta_min(0.001)
                    .init(),
            ),
        ],
        vec![3],
    ))
}

/// On every device: flex, ndarray where built, and wgpu where it runs (there the element-wise
/// optimizers step through descent's CubeCL kernel, in place, and the states go through bytes
/// from its outputs).
#[test]
fn optimizer_and_schedule_resume_exactly() {
    for device in crate::devices::every_device() {
        resume_exactly(&device.autodiff());
    }
}

fn resume_exactly(device: &burn::tensor::Device) {
    let device = device.clone();
    let (x, y) = data(&device);
    for (name, make) in optimizers() {
        if name.contains("bf16") && !device.supports_dtype(DType::BF16) {
            continue; // ndarray has no bf16
        }
        let (total, cut) = (8, 3);
        // Uninterrupted.
        let mut net = Net::new(&device);
        let (mut optim, mut sched) = (make(), schedule());
        for _ in 0..total {
            let grads = mse_grads(&net, x.clone(), y.clone());
            net = optim.step(sched.step(), net, grads);
        }
        let expected = net.values();

        // Interrupted after `cut` steps; optimizer and schedule go through bytes.
        let mut net = Net::new(&device);
        let (mut optim, mut sched) = (make(), schedule());
        for _ in 0..cut {
            let grads = mse_grads(&net, x.clone(), y.clone());
            net = optim.step(sched.step(), net, grads);
        }
        let optim_bytes = optim.into_bytes().expect("optimizer record");
        let sched_bytes = sched.to_record().into_bytes().expect("schedule record");
        drop((optim, sched));

        let mut optim = make().from_bytes(optim_bytes).expect("optimizer loads");
        let mut sched = schedule();
        sched.load_record(LrSchedulerRecord::from_bytes(sched_bytes).expect("schedule loads"));
        for _ in cut..total {
            let grads = mse_grads(&net, x.clone(), y.clone());
            net = optim.step(sched.step(), net, grads);
        }
        assert_eq!(
            net.values(),
            expected,
            "{name} {device:?}: resumed run differs"
        );
        assert_ne!(
            Net::new(&device).values(),
            expected,
            "{name} {device:?}: nothing was trained"
        );
    }
}

#[test]
fn plateau_schedule_resumes_exactly() {
    let config = ReduceLrOnPlateauConfig::new(0.1)
        .with_patience(1)
        .with_factor(0.5);
    let metrics = [1.0, 0.9, 0.95, 0.97, 0.96, 0.99, 0.98, 0.97];
    let mut a = config.init();
    let run = |s: &mut ReduceLrOnPlateau, m: &[f64]| -> Vec<f64> {
        m.iter()
            .map(|v| {
                let lr = LrScheduler::step(s);
                s.report(*v);
                lr
            })
            .collect()
    };
    let all = run(&mut a, &metrics);
    let mut b = config.init();
    let mut first = run(&mut b, &metrics[..4]);
    let bytes = b.to_record().into_bytes().unwrap();
    let mut c = config.init();
    c.load_record(LrSchedulerRecord::from_bytes(bytes).unwrap());
    first.extend(run(&mut c, &metrics[4..]));
    assert_eq!(first, all);
    assert!(all.last().unwrap() < &0.1, "the rate was reduced: {all:?}");
}

#[test]
fn lbfgs_and_grad_scaler_states_round_trip_through_serde() {
    let quadratic = |x: &[f64]| {
        let f = 0.5 * (x[0] * x[0] + 10.0 * x[1] * x[1]);
        (f, vec![x[0], 10.0 * x[1]])
    };
    let config = LbfgsConfig::new()
        .with_max_iter(2)
        .with_line_search(LineSearch::StrongWolfe);
    let mut a = config.init();
    let mut xa = vec![3.0, -2.0];
    for _ in 0..3 {
        a.step_flat(1.0, &mut xa, quadratic);
    }
    let mut b = config.init();
    let mut xb = vec![3.0, -2.0];
    b.step_flat(1.0, &mut xb, quadratic);
    let json = serde_json::to_string(b.state()).unwrap();
    let mut c = config
        .init()
        .with_state(serde_json::from_str(&json).unwrap());
    for _ in 0..2 {
        c.step_flat(1.0, &mut xb, quadratic);
    }
    assert_eq!(xa, xb);

    let mut s = GradScalerConfig::new().with_growth_interval(2).init();
    s.update(false);
    let json = serde_json::to_string(&s.state()).unwrap();
    let mut t = GradScalerConfig::new()
        .with_growth_interval(2)
        .init()
        .with_state(serde_json::from_str(&json).unwrap());
    s.update(false);
    t.update(false);
    assert_eq!(s.scale(), 131072.0);
    assert_eq!(t.scale(), s.scale());
}

#[test]
fn parameter_groups_take_their_own_optimizer() {
    use burn::module::ParamGroup;
    let device = device();
    let (x, y) = data(&device);
    let net = Net::new(&device);
    // AdamW for everything, plain SGD for the bias.
    let mut optim = AdamWConfig::new().init().with_group(
        ParamGroup::from_ids(vec![net.b.id]),
        SgdConfig::new().build(),
        None,
    );
    let bias_before: Vec<f32> = net.b.val().into_data().iter::<f32>().collect();
    let grads = mse_grads(&net, x.clone(), y.clone());
    let bias_grad: Vec<f32> = grads
        .get::<1>(net.b.id)
        .unwrap()
        .into_data()
        .iter::<f32>()
        .collect();
    let weight_before = net.w.val();
    let net = optim.step(0.1, net, grads);
    let bias_after: Vec<f32> = net.b.val().into_data().iter::<f32>().collect();
    for ((a, b), g) in bias_after.iter().zip(&bias_before).zip(&bias_grad) {
        assert!(
            (a - (b - 0.1 * g)).abs() < 1e-6,
            "SGD on the bias: {a} vs {}",
            b - 0.1 * g
        );
    }
    // Adam's first step moves every weight by about lr (sign of the gradient).
    let moved: Vec<f32> = (net.w.val() - weight_before)
        .abs()
        .into_data()
        .iter::<f32>()
        .collect();
    for m in moved {
        assert!((m - 0.1).abs() < 0.01, "AdamW on the weights moved {m}");
    }
}
