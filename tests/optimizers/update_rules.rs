//! Update rules checked by hand on one or two steps, through Burn's per-tensor `Optimizer`
//! trait (the optimizers PyTorch lacks, and the seed notes' worked example).

use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor};
use descent::optimizers::*;

fn scalar(v: f32, device: &Device) -> Tensor<1> {
    Tensor::from_floats([v], device)
}

/// Runs `optim` from θ = `start` over the gradients `grads`, returning θ after each step.
fn run<O: Optimizer>(optim: &O, lr: f64, start: f32, grads: &[f32]) -> Vec<f32> {
    let device = Device::flex();
    let mut theta = scalar(start, &device);
    let mut state = None;
    grads
        .iter()
        .map(|g| {
            let (t, s) = optim.step(lr, theta.clone(), scalar(*g, &device), state.take());
            theta = t;
            state = s;
            theta.clone().into_scalar::<f32>()
        })
        .collect()
}

fn close(actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() < 1e-6, "{actual:?} vs {expected:?}");
    }
}

#[test]
fn ema_momentum_averages_gradients_from_zero() {
    // v₁ = 0.1·2 = 0.2, θ₁ = 1 − 0.1·0.2; v₂ = 0.9·0.2 + 0.1·2 = 0.38, θ₂ = θ₁ − 0.038.
    let optim = EmaMomentumConfig::new().with_beta(0.9).build();
    close(&run(&optim, 0.1, 1.0, &[2.0, 2.0]), &[0.98, 0.942]);
}

#[test]
fn lion_steps_by_the_sign_of_the_interpolated_momentum() {
    // u₁ = sign(0.1·0.5) = 1; m₁ = 0.01·0.5 = 0.005; u₂ = sign(0.9·0.005 − 0.2) = −1.
    let optim = LionConfig::new().with_weight_decay(0.0).build();
    close(&run(&optim, 0.1, 1.0, &[0.5, -2.0]), &[0.9, 1.0]);
    // Decoupled decay: θ₁ = 1 − 0.1 (1 + 0.1·1).
    let optim = LionConfig::new().with_weight_decay(0.1).build();
    close(&run(&optim, 0.1, 1.0, &[0.5]), &[0.89]);
}

#[test]
fn seed_linear_regression_step_with_sgd() {
    // Loss (w x + b − y)², x = 2, y = 5, w = 1, b = 0: ∂w = 2(2 − 5)·2 = −12, ∂b = −6.
    let optim = SgdConfig::new().build();
    close(&run(&optim, 0.1, 1.0, &[-12.0]), &[2.2]);
    close(&run(&optim, 0.1, 0.0, &[-6.0]), &[0.6]);
}

#[test]
fn sgd_momentum_first_step_takes_the_raw_gradient() {
    // b₁ = g (no dampening on the first step), b₂ = 0.9 b₁ + (1 − 0.5) g.
    let optim = SgdConfig::new()
        .with_momentum(0.9)
        .with_dampening(0.5)
        .build();
    close(&run(&optim, 0.1, 0.0, &[1.0, 1.0]), &[-0.1, -0.24]);
}

#[test]
fn maximize_climbs() {
    let optim = AdamConfig::new().with_maximize(true).build();
    let up = run(&optim, 0.1, 0.0, &[1.0, 1.0]);
    assert!(up[0] > 0.0 && up[1] > up[0], "{up:?}");
}
