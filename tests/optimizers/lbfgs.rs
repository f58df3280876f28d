//! L-BFGS on real problems: the Rosenbrock valley on host vectors, and least squares on a
//! Burn module through its closure.

use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use descent::optimizers::*;

use crate::common::{Net, data, device, mse_grads};

fn rosenbrock(x: &[f64]) -> (f64, Vec<f64>) {
    let (a, b) = (x[0], x[1]);
    let f = 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2);
    let g = vec![
        -400.0 * a * (b - a * a) - 2.0 * (1.0 - a),
        200.0 * (b - a * a),
    ];
    (f, g)
}

#[test]
fn strong_wolfe_lbfgs_finds_the_rosenbrock_minimum() {
    let mut lbfgs = LbfgsConfig::new()
        .with_max_iter(200)
        .with_line_search(LineSearch::StrongWolfe)
        .init();
    let mut x = vec![-1.5, 2.0];
    let start = lbfgs.step_flat(1.0, &mut x, rosenbrock);
    assert!(start > 10.0);
    assert!(
        (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
        "{x:?}"
    );
    assert!(
        lbfgs.state().func_evals < 200,
        "{} evaluations",
        lbfgs.state().func_evals
    );
}

#[test]
fn lbfgs_solves_least_squares_on_a_module() {
    let device = device();
    let (x, y) = data(&device);
    let mut lbfgs = LbfgsConfig::new()
        .with_max_iter(50)
        .with_line_search(LineSearch::StrongWolfe)
        .init();
    let net = Net::new(&device);
    let initial = mse_grads(&net, x.clone(), y.clone());
    let start_norm = grad_norm(&net, &initial, NormType::L2);
    let (net, first_loss) = lbfgs.step(1.0, net, |m: Net| {
        let loss = (m.forward(x.clone()) - y.clone()).square().mean();
        let value = loss.clone().into_scalar::<f64>();
        (value, GradientsParams::from_grads(loss.backward(), &m))
    });
    let end = mse_grads(&net, x.clone(), y.clone());
    let end_norm = grad_norm(&net, &end, NormType::L2);
    let end_loss = (net.forward(x) - y).square().mean().into_scalar::<f64>();
    assert!(
        end_norm < 1e-3 * start_norm,
        "gradient norm {start_norm} -> {end_norm}"
    );
    assert!(end_loss < first_loss, "{first_loss} -> {end_loss}");
}

/// `step` writes each evaluation's parameters into the buffers of the previous evaluation's
/// module: a module the caller still holds (the one passed in, or one the closure kept) must
/// keep its values, and the step must equal the same step on host vectors.
#[test]
fn lbfgs_step_leaves_the_modules_it_was_given_untouched() {
    for device in descent::device::cpu_devices()
        .into_iter()
        .map(|d| d.autodiff())
    {
        let (x, y) = data(&device);
        let config = LbfgsConfig::new().with_max_iter(6).with_history_size(3);
        let net = Net::new(&device);
        let before = net.values();
        let mut seen: Vec<(Net, Vec<f32>)> = Vec::new();
        let mut lbfgs = config.init();
        let mut steps = Vec::new();
        let mut current = net.clone();
        for _ in 0..2 {
            let (next, loss) = lbfgs.step(0.5, current, |m: Net| {
                seen.push((m.clone(), m.values()));
                let out = (m.forward(x.clone()) - y.clone()).square().mean();
                let value = out.clone().into_scalar::<f64>();
                (value, GradientsParams::from_grads(out.backward(), &m))
            });
            steps.push(loss);
            current = next;
        }
        assert_eq!(net.values(), before, "the module passed in was overwritten");
        assert!(seen.len() >= 8, "{} evaluations", seen.len());
        for (i, (m, values)) in seen.iter().enumerate() {
            assert_eq!(
                &m.values(),
                values,
                "evaluation {i}'s module was overwritten"
            );
        }

        // The same two steps on host vectors, with the gradient from the module.
        let mut flat = LbfgsConfig::new()
            .with_max_iter(6)
            .with_history_size(3)
            .init();
        let mut p: Vec<f64> = before.iter().map(|v| f64::from(*v)).collect();
        for (k, expected) in steps.iter().enumerate() {
            let loss = flat.step_flat(0.5, &mut p, |v| {
                // w is [3, 2] and b is [2], in that order, as `Net::values`.
                let v: Vec<f32> = v.iter().map(|v| *v as f32).collect();
                let w = Tensor::<2>::from_data(TensorData::new(v[..6].to_vec(), [3, 2]), &device);
                let b = Tensor::<1>::from_data(TensorData::new(v[6..].to_vec(), [2]), &device);
                let (w, b) = (w.require_grad(), b.require_grad());
                let out = (x.clone().matmul(w.clone()) + b.clone().unsqueeze() - y.clone())
                    .square()
                    .mean();
                let value = out.clone().into_scalar::<f64>();
                let grads = out.backward();
                let mut g: Vec<f64> = Vec::new();
                for t in [
                    w.grad(&grads).unwrap().flatten::<1>(0, 1),
                    b.grad(&grads).unwrap(),
                ] {
                    g.extend(t.into_data().iter::<f32>().map(f64::from));
                }
                (value, g)
            });
            assert_eq!(loss, *expected, "step {k}");
            // A module holds f32: the next step starts from the rounded values.
            p.iter_mut().for_each(|v| *v = f64::from(*v as f32));
        }
        let got: Vec<f64> = current.values().iter().map(|v| f64::from(*v)).collect();
        assert_eq!(got, p);
    }
}
