//! The fused one-pass steps on flex and ndarray give the numbers of the generic
//! tensor-operation path, for every optimizer and every variant, over several steps.

use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor, TensorData};
use descent::optimizers::*;

fn data(seed: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 - 2.0)
        .collect()
}

/// θ after `steps` steps of `optim` on `device`, with varying gradients.
fn run<O: Optimizer>(optim: &O, device: &Device, steps: u32) -> Vec<f32> {
    let n = 300;
    let mut theta = Tensor::<2>::from_data(TensorData::new(data(1, n), [15, 20]), device);
    let mut state = None;
    for s in 0..steps {
        let g = Tensor::<2>::from_data(TensorData::new(data(s + 7, n), [15, 20]), device);
        let (t, st) = optim.step(0.01, theta, g, state.take());
        theta = t;
        state = st;
    }
    theta.into_data().iter::<f32>().collect()
}

fn same<O: Optimizer>(name: &str, optim: O) {
    #[allow(deprecated)]
    let generic = run(&optim, &Device::ndarray(), 12);
    let fused = run(&optim, &Device::flex(), 12);
    for (i, (a, b)) in fused.iter().zip(&generic).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
            "{name}[{i}]: fused {a}, generic {b}"
        );
    }
    assert_ne!(fused, data(1, 300), "{name}: nothing moved");
}

#[test]
fn fused_steps_match_the_generic_path() {
    same("sgd", SgdConfig::new().with_weight_decay(0.1).build());
    same(
        "sgd momentum",
        SgdConfig::new()
            .with_momentum(0.9)
            .with_dampening(0.2)
            .build(),
    );
    same(
        "sgd nesterov",
        SgdConfig::new()
            .with_momentum(0.8)
            .with_nesterov(true)
            .with_maximize(true)
            .build(),
    );
    same(
        "adagrad",
        AdagradConfig::new()
            .with_lr_decay(0.1)
            .with_initial_accumulator_value(0.2)
            .build(),
    );
    for (centered, momentum) in [(false, 0.0), (true, 0.0), (false, 0.9), (true, 0.9)] {
        same(
            "rmsprop",
            RmsPropConfig::new()
                .with_centered(centered)
                .with_momentum(momentum)
                .with_weight_decay(0.01)
                .build(),
        );
    }
    same("adam", AdamConfig::new().with_weight_decay(0.1).build());
    same(
        "adam amsgrad",
        AdamConfig::new()
            .with_amsgrad(true)
            .with_maximize(true)
            .build(),
    );
    same("adamw", AdamWConfig::new().with_amsgrad(true).build());
    same(
        "adamax",
        AdamaxConfig::new().with_weight_decay(0.05).build(),
    );
    same("nadam", NAdamConfig::new().with_weight_decay(0.05).build());
    same(
        "nadamw",
        NAdamConfig::new()
            .with_weight_decay(0.05)
            .with_decoupled_weight_decay(true)
            .build(),
    );
    // RAdam: 12 steps cross from the un-rectified (ρₜ ≤ 5) to the rectified branch.
    same("radam", RAdamConfig::new().with_weight_decay(0.05).build());
    same(
        "radamw",
        RAdamConfig::new()
            .with_weight_decay(0.05)
            .with_decoupled_weight_decay(true)
            .build(),
    );
    same(
        "adadelta",
        AdadeltaConfig::new().with_weight_decay(0.01).build(),
    );
    same("lion", LionConfig::new().build());
    same(
        "ema_momentum",
        EmaMomentumConfig::new().with_weight_decay(0.01).build(),
    );
}
