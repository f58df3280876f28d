//! Backpropagation by hand (lesson 4 of the seed curriculum): a two-layer network's gradients
//! written out by the chain rule, against Burn's autodiff; a gradient check with
//! `descent::gradcheck`; how the finite-difference error depends on the step h (truncation
//! against rounding); and training with the hand-written gradients.
//!
//! ```text
//! z = X W₁ + b₁,   h = tanh z,   ŷ = h W₂ + b₂,   L = mean((ŷ − y)²)
//! ∂L/∂ŷ = 2(ŷ − y)/N
//! ∂L/∂W₂ = hᵀ ∂L/∂ŷ,   ∂L/∂b₂ = Σ_rows ∂L/∂ŷ,   ∂L/∂h = ∂L/∂ŷ W₂ᵀ
//! ∂L/∂z = ∂L/∂h ⊙ (1 − h²),   ∂L/∂W₁ = Xᵀ ∂L/∂z,   ∂L/∂b₁ = Σ_rows ∂L/∂z
//! ```
//!
//! `cargo run --release --example backprop -- [--device flex|ndarray|wgpu] [--quick]`

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use clap::Parser;
use descent::gradcheck::{GradCheck, gradcheck};
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::plot::{LineChart, Series, render};

/// The chain rule by hand against autodiff.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

/// The network's parameters: `W₁ [2, H]`, `b₁ [H]`, `W₂ [H, 1]`, `b₂ [1]`.
#[derive(Clone)]
struct Net {
    w1: Tensor<2>,
    b1: Tensor<1>,
    w2: Tensor<2>,
    b2: Tensor<1>,
}

impl Net {
    fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = (x.matmul(self.w1.clone()) + self.b1.clone().unsqueeze()).tanh();
        let out = h.clone().matmul(self.w2.clone()) + self.b2.clone().unsqueeze();
        (h, out)
    }

    fn loss(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
        (self.forward(x).1 - y).square().mean()
    }

    // ANCHOR: backward
    /// The gradients by the chain rule (the formulas at the top).
    fn backward(&self, x: Tensor<2>, y: Tensor<2>) -> Net {
        let n = x.dims()[0] as f64;
        let (h, out) = self.forward(x.clone());
        let d_out = (out - y).mul_scalar(2.0 / n);
        let w2 = h.clone().transpose().matmul(d_out.clone());
        let b2 = d_out.clone().sum_dim(0).flatten(0, 1);
        let d_h = d_out.matmul(self.w2.clone().transpose());
        let d_z = d_h * (h.square().neg().add_scalar(1.0));
        let w1 = x.transpose().matmul(d_z.clone());
        let b1 = d_z.sum_dim(0).flatten(0, 1);
        Net { w1, b1, w2, b2 }
    }
    // ANCHOR_END: backward

    fn flat(&self) -> Vec<Vec<f32>> {
        let v = |t: Tensor<1>| t.into_data().iter::<f32>().collect::<Vec<f32>>();
        vec![
            v(self.w1.clone().flatten(0, 1)),
            v(self.b1.clone()),
            v(self.w2.clone().flatten(0, 1)),
            v(self.b2.clone()),
        ]
    }
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("backprop")?;
    let plain = args.common.device()?;
    let device = plain.clone().autodiff();
    let (n, hidden) = if args.common.quick { (32, 4) } else { (200, 8) };
    // y = sin(2 x₁) + x₂², x uniform in [−1, 1]².
    let x_values: Vec<f32> = (0..2 * n)
        .map(|i| (((i as u64 * 7919 + args.common.seed) % 2000) as f32 / 1000.0) - 1.0)
        .collect();
    let y_values: Vec<f32> = x_values
        .chunks(2)
        .map(|p| (2.0 * p[0]).sin() + p[1] * p[1])
        .collect();
    let x = Tensor::<2>::from_data(TensorData::new(x_values, [n, 2]), &plain);
    let y = Tensor::<2>::from_data(TensorData::new(y_values, [n, 1]), &plain);
    let init = Distribution::Normal(0.0, 0.5);
    let net = Net {
        w1: Tensor::random([2, hidden], init, &plain),
        b1: Tensor::random([hidden], init, &plain),
        w2: Tensor::random([hidden, 1], init, &plain),
        b2: Tensor::random([1], init, &plain),
    };

    // 1. The hand-written gradients against Burn's autodiff.
    let by_hand = net.backward(x.clone(), y.clone()).flat();
    let by_autodiff = autodiff(&net, &x, &y, &device);
    println!("{:<6} {:>14} {:>14}", "param", "max |Δ|", "max |grad|");
    for (name, (a, b)) in ["W1", "b1", "W2", "b2"]
        .iter()
        .zip(by_hand.iter().zip(&by_autodiff))
    {
        let diff = a
            .iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let size = b.iter().map(|v| v.abs()).fold(0f32, f32::max);
        println!("{name:<6} {diff:>14.3e} {size:>14.3e}");
    }

    // ANCHOR: gradcheck
    // 2. descent::gradcheck on the loss as a function of W₁.
    let loss_of_w1 = |w1: Tensor<2>| {
        let net = Net {
            w1,
            b1: net.b1.clone().to_device(&device),
            w2: net.w2.clone().to_device(&device),
            b2: net.b2.clone().to_device(&device),
        };
        net.loss(x.clone().to_device(&device), y.clone().to_device(&device))
    };
    let w1 = net.w1.clone().to_device(&device);
    match gradcheck(loss_of_w1, w1.clone(), GradCheck::default()) {
        Ok(r) => println!(
            "\ngradcheck of ∂L/∂W1: passed, max |error| {:.2e}",
            r.max_abs_error
        ),
        Err(e) => return Err(e.to_string().into()),
    }
    // ANCHOR_END: gradcheck

    // ANCHOR: fd_error
    // 3. The finite-difference error against the step h: O(h²) truncation falls, O(ε/h)
    //    rounding rises; f32 bottoms out near h ≈ 1e-2.
    let mut error = Vec::new();
    for k in 0..=12 {
        let h = 10f64.powf(-0.5 * k as f64);
        let check = GradCheck {
            eps: h,
            atol: f64::INFINITY,
            rtol: 0.0,
        };
        let r = gradcheck(loss_of_w1, w1.clone(), check).map_err(|e| e.to_string())?;
        error.push((h.log10(), r.max_abs_error.max(1e-12)));
    }
    // ANCHOR_END: fd_error
    let best = error
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .copied()
        .unwrap_or((0.0, 0.0));
    println!(
        "smallest finite-difference error {:.2e} at h = 1e{:.1}",
        best.1, best.0
    );
    let mut files = render(
        &LineChart {
            title: "Central differences: error against the step h (f32)".into(),
            x_label: "log10 h".into(),
            y_label: "max |autodiff − finite difference|".into(),
            series: vec![Series::new("∂L/∂W1", error)],
            log_y: true,
            ..Default::default()
        },
        &out,
        "fd_error",
    )?;

    // ANCHOR: train
    // 4. Training with the hand-written gradients (plain gradient descent).
    let steps = if args.common.quick { 20 } else { 500 };
    let lr = 0.2;
    let mut trained = net;
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        losses.push(trained.loss(x.clone(), y.clone()).into_scalar::<f64>());
        let g = trained.backward(x.clone(), y.clone());
        trained = Net {
            w1: trained.w1 - g.w1.mul_scalar(lr),
            b1: trained.b1 - g.b1.mul_scalar(lr),
            w2: trained.w2 - g.w2.mul_scalar(lr),
            b2: trained.b2 - g.b2.mul_scalar(lr),
        };
    }
    // ANCHOR_END: train
    println!(
        "gradient descent with the hand-written gradients: MSE {:.4} → {:.4} in {steps} steps",
        losses[0],
        losses[losses.len() - 1]
    );
    files.extend(render(
        &LineChart {
            title: "Training with the chain rule written by hand".into(),
            x_label: "step".into(),
            y_label: "MSE".into(),
            series: vec![Series::indexed("gradient descent, lr 0.2", &losses)],
            log_y: true,
            ..Default::default()
        },
        &out,
        "training",
    )?);
    report_figures(&files);
    Ok(())
}

/// The same gradients from Burn's autodiff.
fn autodiff(net: &Net, x: &Tensor<2>, y: &Tensor<2>, device: &Device) -> Vec<Vec<f32>> {
    let leaf = |t: Tensor<2>| t.to_device(device).require_grad();
    let leaf1 = |t: Tensor<1>| t.to_device(device).require_grad();
    // ANCHOR: autodiff
    let tracked = Net {
        w1: leaf(net.w1.clone()),
        b1: leaf1(net.b1.clone()),
        w2: leaf(net.w2.clone()),
        b2: leaf1(net.b2.clone()),
    };
    let loss = tracked.loss(x.clone().to_device(device), y.clone().to_device(device));
    let grads = loss.backward();
    // ANCHOR_END: autodiff
    let g2 = |t: &Tensor<2>| -> Vec<f32> {
        t.grad(&grads)
            .map(|g| g.flatten::<1>(0, 1).into_data().iter::<f32>().collect())
            .unwrap_or_default()
    };
    let g1 = |t: &Tensor<1>| -> Vec<f32> {
        t.grad(&grads)
            .map(|g| g.into_data().iter::<f32>().collect())
            .unwrap_or_default()
    };
    vec![
        g2(&tracked.w1),
        g1(&tracked.b1),
        g2(&tracked.w2),
        g1(&tracked.b2),
    ]
}
