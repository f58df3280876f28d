//! The seed notes' worked examples: one gradient step by hand, checked to the digit.

use burn::tensor::{Device, Tensor};
use descent::losses::*;

fn device() -> Device {
    descent::device::device("flex")
        .expect("flex starts")
        .autodiff()
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f32>() as f64
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Linear regression, squared error, x = 2, y = 5, w = 1, b = 0, lr = 0.1:
/// ŷ = 2, ∂L/∂w = 2(ŷ - y)x = -12, ∂L/∂b = 2(ŷ - y) = -6, so w = 2.2 and b = 0.6.
#[test]
fn linear_regression_one_gradient_step() {
    let device = device();
    let w = Tensor::<1>::from_floats([1.0], &device).require_grad();
    let b = Tensor::<1>::from_floats([0.0], &device).require_grad();
    let x = Tensor::<1>::from_floats([2.0], &device);
    let y = Tensor::<1>::from_floats([5.0], &device);
    let loss = mse_loss(x.mul(w.clone()).add(b.clone()), y, Reduction::Mean);
    let grads = loss.backward();
    let lr = 0.1;
    let w1 = scalar(&w) - lr * scalar(&w.grad(&grads).unwrap());
    let b1 = scalar(&b) - lr * scalar(&b.grad(&grads).unwrap());
    assert!(close(w1, 2.2), "w = {w1}");
    assert!(close(b1, 0.6), "b = {b1}");
}

/// Logistic regression, BCE on logits, x = 1, y = 1, w = b = 0, lr = 0.5:
/// σ(0) = 0.5, ∂L/∂w = (σ - y)x = -0.5, ∂L/∂b = -0.5, so w = b = 0.25.
#[test]
fn logistic_regression_one_gradient_step() {
    let device = device();
    let w = Tensor::<1>::from_floats([0.0], &device).require_grad();
    let b = Tensor::<1>::from_floats([0.0], &device).require_grad();
    let x = Tensor::<1>::from_floats([1.0], &device);
    let y = Tensor::<1>::from_floats([1.0], &device);
    let loss =
        binary_cross_entropy_with_logits(x.mul(w.clone()).add(b.clone()), y, Reduction::Mean);
    assert!(
        close(scalar(&loss), core::f64::consts::LN_2),
        "loss = {}",
        scalar(&loss)
    );
    let grads = loss.backward();
    let lr = 0.5;
    let w1 = scalar(&w) - lr * scalar(&w.grad(&grads).unwrap());
    let b1 = scalar(&b) - lr * scalar(&b.grad(&grads).unwrap());
    assert!(close(w1, 0.25), "w = {w1}");
    assert!(close(b1, 0.25), "b = {b1}");
}

/// The Huber derivative: ∂L/∂ŷ = r inside |r| ≤ δ and δ·sign(r) outside, with r = ŷ - y.
#[test]
fn huber_derivative_is_clipped_residual() {
    let device = device();
    let delta = 1.0;
    let residuals: [f64; 7] = [-3.0, -1.0, -0.4, 0.0, 0.25, 0.999, 2.5];
    let pred = Tensor::<1>::from_floats(residuals, &device).require_grad();
    let target = Tensor::<1>::zeros([residuals.len()], &device);
    let loss = huber_loss(pred.clone(), target, delta, Reduction::Sum);
    let grad: Vec<f64> = pred
        .grad(&loss.backward())
        .unwrap()
        .to_data()
        .iter::<f64>()
        .collect();
    for (r, g) in residuals.iter().zip(grad) {
        let want = if r.abs() <= delta {
            *r
        } else {
            delta * r.signum()
        };
        assert!(close(g, want), "r = {r}: dL/dr = {g}, expected {want}");
    }
    // And the value: ½r² inside, δ(|r| - ½δ) outside.
    let value = huber_loss(
        Tensor::<1>::from_floats([0.5, 3.0], &device),
        Tensor::<1>::zeros([2], &device),
        delta,
        Reduction::None,
    );
    let v: Vec<f64> = value.to_data().iter::<f64>().collect();
    assert!(close(v[0], 0.125) && close(v[1], 2.5), "huber values {v:?}");
}

/// MSE, MAE and Huber on the same residuals: the robust losses grow linearly on the outlier.
#[test]
fn outlier_sensitivity_of_mse_mae_huber() {
    let device = device();
    let pred = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 14.0], &device);
    let target = Tensor::<1>::from_floats([1.5, 2.0, 2.0, 4.0], &device);
    let mse = scalar(&mse_loss(pred.clone(), target.clone(), Reduction::Mean));
    let mae = scalar(&l1_loss(pred.clone(), target.clone(), Reduction::Mean));
    let huber = scalar(&huber_loss(pred, target, 1.0, Reduction::Mean));
    // Residuals -0.5, 0, 1, 10.
    assert!(close(mse, (0.25 + 0.0 + 1.0 + 100.0) / 4.0), "mse {mse}");
    assert!(close(mae, (0.5 + 0.0 + 1.0 + 10.0) / 4.0), "mae {mae}");
    assert!(
        close(huber, (0.125 + 0.0 + 0.5 + 9.5) / 4.0),
        "huber {huber}"
    );
}
