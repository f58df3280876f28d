//! Saddle points, plateaus and gradient noise (lesson 5 of the seed curriculum): how gradient
//! descent, momentum and Adam leave the saddle of f = x² − y² and cross the plateau of
//! f = 1 − exp(−(x² + y²)/2); how gradient noise (what mini-batches add) frees a run stuck
//! exactly on the saddle's ridge; and the variance of a mini-batch gradient against the batch
//! size, beside the 1/B law.
//!
//! ```text
//! saddle:   ∇f = (2x, −2y): y grows as (1 + 2η)ᵗ from where it starts, and not at all from 0
//! plateau:  ∇f = (x, y) e^{−r²/2}: vanishingly small far from the bowl
//! noise:    g̃ = g + σ ξ,  ξ ~ N(0, I)
//! batches:  Var[ḡ_B] = Var[gᵢ] / B  (sampling with replacement)
//! ```
//!
//! `cargo run --release --example saddles -- [--device flex|ndarray|wgpu] [--quick]`

use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor};
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::plot::{Contour, LineChart, Series, render};
use descent::lab::synthetic;
use descent::optimizers::{AdamConfig, SgdConfig};

/// Saddles, plateaus and noise.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

/// A 2-D test function and its gradient.
#[derive(Clone, Copy)]
enum Surface {
    Saddle,
    Plateau,
}

impl Surface {
    fn value(self, x: f64, y: f64) -> f64 {
        match self {
            Surface::Saddle => x * x - y * y,
            Surface::Plateau => 1.0 - (-(x * x + y * y) / 2.0).exp(),
        }
    }

    fn grad(self, x: f64, y: f64) -> [f64; 2] {
        match self {
            Surface::Saddle => [2.0 * x, -2.0 * y],
            Surface::Plateau => {
                let e = (-(x * x + y * y) / 2.0).exp();
                [x * e, y * e]
            }
        }
    }

    /// Whether a run has left the start's neighbourhood (saddle: |y| > 1.5; plateau: inside
    /// the bowl, f < 0.05).
    fn escaped(self, x: f64, y: f64) -> bool {
        match self {
            Surface::Saddle => y.abs() > 1.5,
            Surface::Plateau => self.value(x, y) < 0.05,
        }
    }
}

/// A tiny deterministic normal sampler (Box–Muller on a 64-bit LCG).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The path of `optim` on `surface` from `start` (gradient noise σ), and the step it escaped.
fn run<O: Optimizer>(
    optim: &O,
    lr: f64,
    surface: Surface,
    start: [f32; 2],
    sigma: f64,
    steps: usize,
    device: &Device,
) -> (Vec<(f64, f64)>, Option<usize>) {
    let mut noise = Noise(7);
    let mut p = Tensor::<1>::from_floats(start, device);
    let mut state = None;
    let mut path = vec![(start[0] as f64, start[1] as f64)];
    // ANCHOR: noisy_step
    for step in 1..=steps {
        let (x, y) = *path.last().expect("a point");
        let g = surface.grad(x, y);
        let g = [g[0] + sigma * noise.normal(), g[1] + sigma * noise.normal()];
        let grad = Tensor::<1>::from_floats([g[0] as f32, g[1] as f32], device);
        let (next, s) = optim.step(lr, p, grad, state.take());
        p = next;
        state = s;
        let v: Vec<f32> = p.to_data().iter::<f32>().collect();
        let (x, y) = (v[0] as f64, v[1] as f64);
        path.push((x, y));
        if surface.escaped(x, y) {
            return (path, Some(step));
        }
    }
    // ANCHOR_END: noisy_step
    (path, None)
}

fn main() {
    cli::main(|| example(Args::parse()));
}

fn example(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("saddles")?;
    let device = args.common.device()?;
    let steps = if args.common.quick { 300 } else { 3000 };
    // ANCHOR: optimizers
    let sgd = SgdConfig::new().build();
    let momentum = SgdConfig::new().with_momentum(0.9).build();
    let adam = AdamConfig::new().build();
    // ANCHOR_END: optimizers
    let mut files = Vec::new();
    println!("{:<10} {:<28} {:>14}", "surface", "run", "steps to leave");
    for (surface, start, view) in [
        (Surface::Saddle, [1.0f32, 1e-6], ((-1.5, 1.5), (-2.0, 2.0))),
        (Surface::Plateau, [3.0f32, 3.0], ((-4.0, 4.0), (-4.0, 4.0))),
    ] {
        let name = match surface {
            Surface::Saddle => "saddle",
            Surface::Plateau => "plateau",
        };
        // ANCHOR: runs
        let runs = [
            (
                "gradient descent, η 0.01",
                run(&sgd, 0.01, surface, start, 0.0, steps, &device),
            ),
            (
                "momentum 0.9, η 0.01",
                run(&momentum, 0.01, surface, start, 0.0, steps, &device),
            ),
            (
                "Adam, η 0.01",
                run(&adam, 0.01, surface, start, 0.0, steps, &device),
            ),
        ];
        // ANCHOR_END: runs
        for (label, (_, escaped)) in &runs {
            let s = escaped.map_or(format!("> {steps}"), |s| s.to_string());
            println!("{name:<10} {label:<28} {s:>14}");
        }
        files.extend(render(
            &Contour {
                title: format!("Leaving a {name}: gradient descent, momentum, Adam"),
                x_label: "x".into(),
                y_label: "y".into(),
                x: view.0,
                y: view.1,
                f: &|x, y| surface.value(x, y),
                log: false,
                paths: runs
                    .iter()
                    .map(|(l, (path, _))| Series::new(*l, path.clone()))
                    .collect(),
            },
            &out,
            &format!("{name}_paths"),
        )?);
    }

    // ANCHOR: noise
    // Exactly on the ridge (y = 0) the gradient never points off it: only noise leaves.
    println!();
    for sigma in [0.0, 0.01, 0.1] {
        let (_, escaped) = run(
            &sgd,
            0.01,
            Surface::Saddle,
            [1.0, 0.0],
            sigma,
            steps,
            &device,
        );
        let s = escaped.map_or(format!("> {steps} (stuck)"), |s| s.to_string());
        println!(
            "saddle from (1, 0), gradient descent with gradient noise σ = {sigma:<5}: {s} steps"
        );
    }
    // ANCHOR_END: noise

    // The variance of a mini-batch gradient of MSE against the batch size.
    let data = synthetic::linear(1000, 2.0, 0.5, 1.0, args.common.seed);
    let (w, b) = (0.0f64, 0.0f64);
    // Per-example gradients of (w x + b − y)² with respect to w.
    let per_example: Vec<f64> = data
        .x
        .iter()
        .zip(&data.y)
        .map(|(x, y)| 2.0 * (w * *x as f64 + b - *y as f64) * *x as f64)
        .collect();
    let n = per_example.len() as f64;
    let mean = per_example.iter().sum::<f64>() / n;
    let var_one = per_example.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n;
    let mut noise = Noise(args.common.seed.wrapping_add(11));
    let draws = if args.common.quick { 200 } else { 2000 };
    let mut measured = Vec::new();
    let mut theory = Vec::new();
    // ANCHOR: variance
    println!("\nbatch size   Var[mini-batch gradient]   Var[gᵢ]/B");
    for k in 0..8 {
        let batch = 1usize << k;
        let means: Vec<f64> = (0..draws)
            .map(|_| {
                (0..batch)
                    .map(|_| per_example[(noise.uniform() * n) as usize % per_example.len()])
                    .sum::<f64>()
                    / batch as f64
            })
            .collect();
        let m = means.iter().sum::<f64>() / draws as f64;
        let v = means.iter().map(|g| (g - m).powi(2)).sum::<f64>() / (draws as f64 - 1.0);
        println!("{batch:>10} {v:>26.3} {:>11.3}", var_one / batch as f64);
        measured.push(((batch as f64).log2(), v));
        theory.push(((batch as f64).log2(), var_one / batch as f64));
    }
    // ANCHOR_END: variance
    files.extend(render(
        &LineChart {
            title: "Variance of a mini-batch gradient against the batch size".into(),
            x_label: "log2 batch size".into(),
            y_label: "variance of ∂L/∂w".into(),
            series: vec![
                Series::new("measured over draws", measured),
                Series::new("Var[gᵢ] / B", theory),
            ],
            log_y: true,
            ..Default::default()
        },
        &out,
        "gradient_variance",
    )?);
    report_figures(&files);
    Ok(())
}
