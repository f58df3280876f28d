//! L-BFGS on real problems: the Rosenbrock valley on host vectors, and least squares on a
//! Burn module through its closure.

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
        (
            value,
            burn::optim::GradientsParams::from_grads(loss.backward(), &m),
        )
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
