//! `descent::gradcheck` on descent's own losses, the fused ones (whose gradients are written by
//! hand and attached as a custom autodiff operation) first, and on a deliberately wrong custom
//! gradient, which it must catch.

use burn::tensor::{Device, Int, Tensor, TensorData};
use descent::gradcheck::{GradCheck, gradcheck};
use descent::losses::*;

fn device() -> Device {
    Device::flex().autodiff()
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 - 2.0)
        .collect()
}

fn matrix(rows: usize, cols: usize, seed: u32, device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(values(rows * cols, seed), [rows, cols]),
        device,
    )
}

#[test]
fn the_fused_losses_gradients_match_finite_differences() {
    let device = device();
    let logits = matrix(4, 5, 3, &device);
    let classes = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 3, 4, 1], [4]), &device);
    let check = GradCheck::default();
    gradcheck(
        |x| cross_entropy(x, classes.clone(), Reduction::Mean),
        logits.clone(),
        check,
    )
    .unwrap_or_else(|e| panic!("cross_entropy: {e}"));
    let target = matrix(4, 5, 9, &device).greater_elem(0.0).float();
    gradcheck(
        |x| sigmoid_focal_loss(x, target.clone(), 0.25, 2.0, Reduction::Sum),
        logits.clone(),
        check,
    )
    .unwrap_or_else(|e| panic!("sigmoid_focal_loss: {e}"));
    let y = matrix(4, 5, 11, &device);
    gradcheck(
        |x| mse_loss(x, y.clone(), Reduction::Mean),
        logits.clone(),
        check,
    )
    .unwrap_or_else(|e| panic!("mse_loss: {e}"));
    // Unreduced: every output element takes part (a random cotangent).
    gradcheck(
        |x| {
            BinaryCrossEntropyWithLogitsLossConfig::new()
                .init()
                .forward_no_reduction(x, target.clone())
        },
        logits,
        check,
    )
    .unwrap_or_else(|e| panic!("binary_cross_entropy_with_logits: {e}"));
}

#[test]
fn composite_losses_gradients_match_finite_differences() {
    let device = device();
    let check = GradCheck::default();
    let x = matrix(3, 4, 5, &device);
    let y = matrix(3, 4, 7, &device).mul_scalar(3.0);
    // |x − y| stays away from δ = 1 and from 0 for these values? Checked by the test itself:
    // a kink within h of an element would fail it.
    gradcheck(
        |x| huber_loss(x, y.clone(), 1.0, Reduction::Mean),
        x.clone(),
        check,
    )
    .unwrap_or_else(|e| panic!("huber_loss: {e}"));
    let embeddings = matrix(4, 3, 13, &device);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 0, 1, 1], [4]), &device);
    gradcheck(
        |e| ntxent(e, labels.clone(), 0.5, Reduction::Mean),
        embeddings,
        check,
    )
    .unwrap_or_else(|e| panic!("ntxent: {e}"));
}

/// A custom gradient that is wrong by 10% on one element is caught, at that element.
#[test]
fn a_wrong_custom_gradient_is_caught() {
    use descent::kernel::grad::with_grad;
    let device = device();
    let x = matrix(2, 3, 17, &device);
    // f(x) = Σ x², gradient 2x, except element 4, whose gradient is 10% too large.
    let wrong = |x: Tensor<2>| {
        let inner = x.clone().inner();
        let value = inner.clone().square().sum();
        let mut g: Vec<f32> = inner
            .clone()
            .mul_scalar(2.0)
            .into_data()
            .iter::<f32>()
            .collect();
        g[4] *= 1.1;
        let g = Tensor::<2>::from_data(TensorData::new(g, [2, 3]), &inner.device());
        with_grad(&x, Tensor::from_inner(value), Tensor::from_inner(g))
    };
    let err = gradcheck(wrong, x.clone(), GradCheck::default()).expect_err("caught");
    assert_eq!(err.index, 4);
    assert!(err.to_string().contains("input element 4"), "{err}");
    // The right one passes.
    let right = |x: Tensor<2>| x.square().sum();
    let report = gradcheck(right, x, GradCheck::default()).expect("2x");
    assert!(report.max_abs_error < 1e-3, "{}", report.max_abs_error);
}
