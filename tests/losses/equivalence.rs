//! MSE, BCE-with-logits, sigmoid focal and cross-entropy are written once and run two ways:
//! fused over the CPU buffers, and as tensor operations (the generic path, every device). On
//! flex and on ndarray both must give the same values and input gradients and the same errors;
//! the path counters prove which path served each call.

use burn::tensor::{Device, Distribution, Int, Tensor};
use descent::kernel::paths::{self, Path};
use descent::losses::*;

use crate::messages::assert_mentions;

fn devices() -> Vec<Device> {
    descent::device::cpu_devices()
}

/// Value and input gradient of `loss(kernel, x)` at `x` on the autodiff device `ad`, and that
/// the call was served by the path `kernel` asks for (and only by it).
fn run<const D: usize>(
    kernel: Kernel,
    ad: &Device,
    x: &Tensor<D>,
    loss: &dyn Fn(Kernel, Tensor<D>) -> Tensor<1>,
) -> (Vec<f32>, Vec<f32>) {
    let before = [paths::count(Path::Fused), paths::count(Path::Generic)];
    let leaf = Tensor::<D>::from_data(x.to_data(), ad).require_grad();
    let out = loss(kernel, leaf.clone());
    let served = [
        paths::count(Path::Fused) - before[0],
        paths::count(Path::Generic) - before[1],
    ];
    let (taken, other) = match kernel {
        Kernel::Auto => (served[0], served[1]),
        Kernel::Generic => (served[1], served[0]),
    };
    assert!(
        taken >= 1 && other == 0,
        "{kernel:?}: the calls were served by {served:?} (fused, generic)"
    );
    let grads = out.backward();
    let g = leaf.grad(&grads).expect("a gradient for the input");
    (
        out.to_data().try_to_vec::<f32>().unwrap(),
        g.to_data().try_to_vec::<f32>().unwrap(),
    )
}

fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (&u, &v)) in a.iter().zip(b).enumerate() {
        let tol = 2e-5 + 2e-5 * v.abs().max(u.abs());
        assert!(
            (u - v).abs() <= tol,
            "{what}[{i}]: fused {u} vs generic {v}"
        );
    }
}

/// Both paths on `x`, compared; the gradient must not be all zeros (the test would then
/// prove nothing).
fn agree<const D: usize>(what: &str, x: Tensor<D>, loss: &dyn Fn(Kernel, Tensor<D>) -> Tensor<1>) {
    agree_on(what, &x.device().autodiff(), x, loss)
}

/// [`agree`] on the autodiff device `ad`.
fn agree_on<const D: usize>(
    what: &str,
    ad: &Device,
    x: Tensor<D>,
    loss: &dyn Fn(Kernel, Tensor<D>) -> Tensor<1>,
) {
    let (v1, g1) = run(Kernel::Auto, ad, &x, loss);
    let (v0, g0) = run(Kernel::Generic, ad, &x, loss);
    assert_close(&format!("{what} value"), &v1, &v0);
    assert_close(&format!("{what} grad"), &g1, &g0);
    assert!(g1.iter().any(|&g| g != 0.0), "{what}: zero gradient");
}

#[test]
fn fused_losses_match_the_generic_path() {
    for d in devices() {
        // 1003 elements: not a multiple of the vector width or of a parallel chunk.
        let n = 1003;
        let x = Tensor::<1>::random([n], Distribution::Normal(0.0, 4.0), &d);
        let soft = Tensor::<1>::random([n], Distribution::Uniform(0.0, 1.0), &d);
        let hard = Tensor::<1>::random([n], Distribution::Bernoulli(0.3), &d);
        let real = Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), &d);
        let big = x.clone().mul_scalar(30.0); // saturated logits
        for reduction in [Reduction::Mean, Reduction::Sum] {
            let tag = format!("{d:?} {reduction:?}");
            let t = real.clone();
            agree(&format!("mse {tag}"), x.clone(), &|k, x| {
                let t = Tensor::from_data(t.to_data(), &x.device());
                let mse = MseLossConfig::new()
                    .with_reduction(reduction)
                    .with_kernel(k);
                mse.init().forward(x, t)
            });
            for (name, y) in [("hard", &hard), ("soft", &soft)] {
                let y = y.clone();
                let on = |x: &Tensor<1>| Tensor::<1>::from_data(y.to_data(), &x.device());
                for (w, pw) in [(None, None), (Some(vec![0.7]), Some(vec![3.0]))] {
                    let bce = BinaryCrossEntropyWithLogitsLossConfig::new()
                        .with_weight(w.clone())
                        .with_pos_weight(pw)
                        .with_reduction(reduction);
                    for (xs, xv) in [("x", &x), ("saturated x", &big)] {
                        agree(
                            &format!("bce {name} {xs} {w:?} {tag}"),
                            xv.clone(),
                            &|k, x| {
                                let y = on(&x);
                                bce.clone().with_kernel(k).init().forward(x, y)
                            },
                        );
                    }
                }
                for (alpha, gamma) in [(0.25, 2.0), (-1.0, 0.5), (0.6, 0.0), (0.25, 3.0)] {
                    let focal = SigmoidFocalLossConfig::new()
                        .with_alpha(alpha)
                        .with_gamma(gamma)
                        .with_reduction(reduction);
                    for (xs, xv) in [("x", &x), ("saturated x", &big)] {
                        agree(
                            &format!("focal α={alpha} γ={gamma} {name} {xs} {tag}"),
                            xv.clone(),
                            &|k, x| {
                                let y = on(&x);
                                focal.clone().with_kernel(k).init().forward(x, y)
                            },
                        );
                    }
                }
            }
            // Cross-entropy: 37 rows of 13 classes, a few ignored, with label smoothing.
            let logits = Tensor::<2>::random([37, 13], Distribution::Normal(0.0, 3.0), &d);
            let mut classes: Vec<i64> = (0..37).map(|i| (i * 7 % 13) as i64).collect();
            classes[3] = -100;
            classes[20] = -100;
            for eps in [0.0, 0.1] {
                let ce = CrossEntropyLossConfig::new()
                    .with_label_smoothing(eps)
                    .with_reduction(reduction);
                let c = classes.clone();
                agree(
                    &format!("cross_entropy ε={eps} {tag}"),
                    logits.clone(),
                    &|k, x| {
                        let y = Tensor::<1, Int>::from_ints(c.as_slice(), &x.device());
                        ce.clone().with_kernel(k).init().forward(x, y)
                    },
                );
            }
        }
    }
}

#[test]
fn fused_gradients_flow_through_later_operations_and_checkpointing() {
    for d in devices() {
        let x = Tensor::<1>::random([517], Distribution::Normal(0.0, 2.0), &d);
        let y = Tensor::<1>::random([517], Distribution::Bernoulli(0.4), &d);
        let logits = Tensor::<2>::random([9, 7], Distribution::Normal(0.0, 2.0), &d);
        for ad in [
            d.clone().autodiff(),
            d.clone().autodiff().gradient_checkpointing(),
        ] {
            let tag = format!("{ad:?} {:?}", ad.gradient_checkpointing_strategy());
            // An upstream gradient other than 1 (3 + 2L) and two fused losses on one input,
            // whose gradients add up.
            agree_on(
                &format!("3L + L² + mse, {tag}"),
                &ad,
                x.clone(),
                &|k, x| {
                    let y = Tensor::<1>::from_data(y.to_data(), &x.device());
                    let bce = BinaryCrossEntropyWithLogitsLossConfig::new().with_kernel(k);
                    let l = bce.init().forward(x.clone(), y.clone());
                    let mse = MseLossConfig::new()
                        .with_reduction(Reduction::Sum)
                        .with_kernel(k);
                    l.clone()
                        .mul_scalar(3.0)
                        .add(l.powi_scalar(2))
                        .add(mse.init().forward(x, y))
                },
            );
            agree_on(
                &format!("cross_entropy / 4, {tag}"),
                &ad,
                logits.clone(),
                &|k, x| {
                    let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 0, 1], &x.device());
                    let ce = CrossEntropyLossConfig::new().with_kernel(k);
                    ce.init().forward(x, y).div_scalar(4.0)
                },
            );
        }
    }
}

#[test]
fn fused_losses_work_without_autodiff_and_with_a_tracked_target() {
    let d = Device::flex();
    let x = Tensor::<1>::from_floats([-1.0, 0.5, 2.0], &d);
    let y = Tensor::<1>::from_floats([0.0, 1.0, 1.0], &d);
    // No autodiff: the value alone, against BCE-with-logits by hand,
    // ℓ = (1 - y)·x + log(1 + e^{-x}).
    let expected: f64 = [(-1.0f64, 0.0f64), (0.5, 1.0), (2.0, 1.0)]
        .iter()
        .map(|&(x, y)| (1.0 - y) * x + (1.0 + (-x).exp()).ln())
        .sum::<f64>()
        / 3.0;
    let v = binary_cross_entropy_with_logits(x.clone(), y.clone(), Reduction::Mean)
        .into_scalar::<f64>();
    assert!((v - expected).abs() < 1e-6, "{v} vs {expected}");
    // A target that carries a gradient takes the generic path, which differentiates it:
    // ∂ℓ/∂y = -x / n for BCE-with-logits.
    let ad = d.autodiff();
    let xa = Tensor::<1>::from_data(x.to_data(), &ad).require_grad();
    let ya = Tensor::<1>::from_data(y.to_data(), &ad).require_grad();
    let grads = binary_cross_entropy_with_logits(xa, ya.clone(), Reduction::Mean).backward();
    let gy: Vec<f32> = ya
        .grad(&grads)
        .unwrap()
        .to_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (g, x) in gy.iter().zip([-1.0f32, 0.5, 2.0]) {
        assert!(
            (g + x / 3.0).abs() < 1e-6,
            "∂ℓ/∂y = {g}, expected {}",
            -x / 3.0
        );
    }
}

#[test]
fn fused_losses_report_bad_input_as_the_generic_path_does() {
    let ad = Device::flex().autodiff();
    let x = Tensor::<1>::from_floats([0.0, f32::NAN, 1.0], &ad).require_grad();
    let y = Tensor::<1>::from_floats([0.0, 1.0, 1.0], &ad);
    let err = BinaryCrossEntropyWithLogitsLossConfig::new()
        .init()
        .try_forward(x, y.clone())
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["binary_cross_entropy_with_logits", "input", "finite", "[1]"],
    );
    let x = Tensor::<1>::from_floats([0.0, 1.0, 1.0], &ad).require_grad();
    let y = Tensor::<1>::from_floats([0.0, 1.5, 1.0], &ad);
    let err = SigmoidFocalLossConfig::new()
        .init()
        .try_forward(x, y)
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["sigmoid_focal_loss", "target", "[0, 1]", "1.5"],
    );
    let logits = Tensor::<2>::from_floats([[0.0, 1.0], [2.0, 3.0]], &ad).require_grad();
    let err = CrossEntropyLossConfig::new()
        .init()
        .try_forward(logits.clone(), Tensor::<1, Int>::from_ints([0, 2], &ad))
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["cross_entropy", "target", "[0, 2)", "got 2"],
    );
    let err = CrossEntropyLossConfig::new()
        .init()
        .try_forward(logits, Tensor::<1, Int>::from_ints([-100, -100], &ad))
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["cross_entropy", "target", "non-ignored"],
    );
}
