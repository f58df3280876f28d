//! Properties every loss must have: autodiff gradients equal to finite differences,
//! non-negativity, zero at a perfect prediction, finiteness at logits of ±100.

use burn::tensor::{Device, Tensor};
use descent::losses::*;
use proptest::prelude::*;

use crate::catalog::{C, N, Prediction, Rng, Target, catalog, prediction, targets, tensor};

fn flex() -> Device {
    descent::device::device("flex").expect("flex starts")
}

fn value(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

#[test]
fn autodiff_gradients_match_central_differences() {
    let plain = flex();
    let ad = plain.clone().autodiff();
    let mut rng = Rng(7);
    for spec in catalog() {
        for point in 0..3 {
            let z: Vec<f64> = rng.uniforms(N * C).iter().map(|u| 4.0 * u - 2.0).collect();
            let x = prediction(spec.prediction, &z);
            let u = rng.uniforms(N * C);
            let x_ad = tensor(&x, &ad).require_grad();
            let loss = (spec.f)(x_ad.clone(), &targets(spec.target, &u, &ad));
            let grad: Vec<f64> = x_ad
                .grad(&loss.backward())
                .expect("gradient")
                .to_data()
                .iter::<f64>()
                .collect();
            let t = targets(spec.target, &u, &plain);
            let h = 2e-3;
            for j in 0..N * C {
                let mut up = x.clone();
                up[j] += h;
                let mut down = x.clone();
                down[j] -= h;
                let fd = (value((spec.f)(tensor(&up, &plain), &t))
                    - value((spec.f)(tensor(&down, &plain), &t)))
                    / (2.0 * h);
                assert!(
                    (fd - grad[j]).abs() <= 2e-2 * (1.0 + grad[j].abs()),
                    "{} point {point} x[{j}] = {}: autodiff {} vs finite difference {fd}",
                    spec.name,
                    x[j],
                    grad[j]
                );
            }
        }
    }
}

#[test]
fn zero_at_a_perfect_prediction() {
    let device = flex();
    let mut rng = Rng(11);
    for spec in catalog().into_iter().filter(|s| s.zero_at_target) {
        let t = targets(spec.target, &rng.uniforms(N * C), &device);
        let loss = value((spec.f)(t.real.clone(), &t));
        assert!(
            loss.abs() < 1e-5,
            "{}: loss {loss} at input = target",
            spec.name
        );
    }
}

#[test]
fn near_zero_at_confident_correct_logits() {
    let device = flex();
    let classes = Tensor::<1, burn::tensor::Int>::from_ints([0, 2, 1, 2], &device);
    let one_hot = classes.clone().one_hot::<2>(C).float();
    let logits = one_hot.clone().mul_scalar(60.0).sub_scalar(30.0);
    let signs = one_hot.clone().mul_scalar(2.0).sub_scalar(1.0);
    let r = Reduction::Sum;
    let cases = [
        (
            "cross_entropy",
            cross_entropy(logits.clone(), classes.clone(), r),
        ),
        (
            "softmax_focal_loss",
            softmax_focal_loss(logits.clone(), classes.clone(), 2.0, r),
        ),
        (
            "multi_margin_loss",
            multi_margin_loss(logits.clone(), classes.clone(), r),
        ),
        (
            "sparse_categorical_cross_entropy",
            sparse_categorical_cross_entropy(one_hot.clone(), classes.clone(), r),
        ),
        (
            "binary_cross_entropy_with_logits",
            binary_cross_entropy_with_logits(logits.clone(), one_hot.clone(), r),
        ),
        (
            "sigmoid_focal_loss",
            sigmoid_focal_loss(logits.clone(), one_hot.clone(), 0.25, 2.0, r),
        ),
        (
            "soft_margin_loss",
            soft_margin_loss(logits.clone(), signs.clone(), r),
        ),
        (
            "multilabel_soft_margin_loss",
            multilabel_soft_margin_loss(logits.clone(), one_hot.clone(), r),
        ),
        (
            "kl_div",
            kl_div(
                crate::catalog::tensor(
                    &prediction(Prediction::LogProbability, &[0.0; N * C]),
                    &device,
                ),
                Tensor::full([N, C], 1.0 / C as f64, &device),
                r,
            ),
        ),
    ];
    for (name, loss) in cases {
        let v = value(loss);
        assert!(
            v.abs() < 1e-4,
            "{name}: loss {v} at a confident correct prediction"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn non_negative(z in proptest::collection::vec(-6.0f64..6.0, N * C), u in proptest::collection::vec(0.0f64..1.0, N * C)) {
        let device = flex();
        for spec in catalog().into_iter().filter(|s| s.non_negative) {
            let x = tensor(&prediction(spec.prediction, &z), &device);
            let loss = value((spec.f)(x, &targets(spec.target, &u, &device)));
            prop_assert!(loss >= -1e-5, "{}: loss {} < 0", spec.name, loss);
        }
    }

    #[test]
    fn finite_at_logits_of_plus_minus_100(signs in proptest::collection::vec(any::<bool>(), N * C), u in proptest::collection::vec(0.0f64..1.0, N * C)) {
        let device = flex().autodiff();
        let z: Vec<f64> = signs.iter().map(|s| if *s { 100.0 } else { -100.0 }).collect();
        for spec in catalog().into_iter().filter(|s| s.prediction == Prediction::Real && s.target != Target::Counts) {
            let x = tensor(&z, &device).require_grad();
            let loss = (spec.f)(x.clone(), &targets(spec.target, &u, &device));
            let v = value(loss.clone());
            prop_assert!(v.is_finite(), "{}: loss {} at logits ±100", spec.name, v);
            let grad = x.grad(&loss.backward()).expect("gradient");
            let bad = grad.to_data().iter::<f64>().find(|g| !g.is_finite());
            prop_assert!(bad.is_none(), "{}: gradient {:?} at logits ±100", spec.name, bad);
        }
    }
}

#[test]
fn focal_with_gamma_zero_and_no_alpha_is_bce_with_logits() {
    let device = flex();
    let mut rng = Rng(3);
    let x = tensor(
        &rng.uniforms(N * C)
            .iter()
            .map(|u| 8.0 * u - 4.0)
            .collect::<Vec<_>>(),
        &device,
    );
    let t = targets(Target::Binary, &rng.uniforms(N * C), &device).real;
    let focal = value(sigmoid_focal_loss(
        x.clone(),
        t.clone(),
        -1.0,
        0.0,
        Reduction::Mean,
    ));
    let bce = value(binary_cross_entropy_with_logits(x, t, Reduction::Mean));
    assert!((focal - bce).abs() < 1e-6, "focal {focal} vs bce {bce}");
}

#[test]
fn regularizer_penalises_every_parameter_with_its_gradient() {
    use burn::nn::{Linear, LinearConfig};
    let device = flex().autodiff();
    let model: Linear = LinearConfig::new(3, 2).init(&device);
    let reg = Regularizer::elastic_net(0.1, 0.2).expect("valid coefficients");
    let penalty = reg.penalty(&model).expect("a model with parameters");
    let w = model.weight.val();
    let b = model.bias.as_ref().expect("bias").val();
    let expected = value(
        w.clone()
            .abs()
            .sum()
            .add(b.clone().abs().sum())
            .mul_scalar(0.1),
    ) + value(
        w.clone()
            .square()
            .sum()
            .add(b.clone().square().sum())
            .mul_scalar(0.2),
    );
    assert!((value(penalty.clone()) - expected).abs() < 1e-5);
    let grads = penalty.backward();
    let gw: Vec<f64> = w
        .grad(&grads)
        .expect("weight gradient")
        .to_data()
        .iter::<f64>()
        .collect();
    for (g, v) in gw.iter().zip(w.to_data().iter::<f64>()) {
        let want = 0.1 * v.signum() + 0.4 * v;
        assert!((g - want).abs() < 1e-5, "d/dw = {g}, expected {want}");
    }
    let composite = reg.add_to(Tensor::<1>::from_floats([1.5], &device), &model);
    assert!((value(composite) - (1.5 + expected)).abs() < 1e-5);
    assert!(
        Regularizer::l1(0.0)
            .expect("zero is valid")
            .penalty(&model)
            .is_none()
    );
}
