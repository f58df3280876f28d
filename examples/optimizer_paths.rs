//! Optimizers on the ill-conditioned quadratic f(x, y) = ½(a x² + b y²), a = 1, b = 10 and
//! b = 100, from (3.5, 3.5): their paths drawn on the contours, and a table of the steps each
//! needs to reach f < 1e-6.
//!
//! `cargo run --release --example optimizer_paths -- [--quick]`

use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor};
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::plot::{Contour, Series, render};
use descent::optimizers::*;

/// Optimizer paths on an ill-conditioned quadratic.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Most steps per optimizer.
    #[arg(long, default_value_t = 5000)]
    max_steps: usize,
}

const START: [f32; 2] = [3.5, 3.5];

/// The iterates of a run and the steps it took to reach the target (if it did).
type Run = (Vec<(f64, f64)>, Option<usize>);
const TARGET: f64 = 1e-6;

fn f(b: f64, p: &[f32]) -> f64 {
    0.5 * ((p[0] as f64).powi(2) + b * (p[1] as f64).powi(2))
}

// ANCHOR: run
/// Runs `optim` from the start, returning the path and the steps to reach f < 1e-6.
fn run<O: Optimizer>(optim: &O, lr: f64, b: f64, max_steps: usize, device: &Device) -> Run {
    let mut x = Tensor::<1>::from_floats(START, device);
    let mut state = None;
    let mut path = vec![(START[0] as f64, START[1] as f64)];
    for step in 1..=max_steps {
        let grad = x.clone() * Tensor::<1>::from_floats([1.0, b as f32], device);
        let (next, s) = optim.step(lr, x, grad, state.take());
        x = next;
        state = s;
        let p: Vec<f32> = x.to_data().iter::<f32>().collect();
        if !p.iter().all(|v| v.is_finite()) {
            return (path, None);
        }
        path.push((p[0] as f64, p[1] as f64));
        if f(b, &p) < TARGET {
            return (path, Some(step));
        }
    }
    (path, None)
}
// ANCHOR_END: run

fn lbfgs(b: f64, max_steps: usize) -> Run {
    let mut opt = LbfgsConfig::new()
        .with_max_iter(1)
        .with_line_search(LineSearch::StrongWolfe)
        .init();
    let mut x = vec![START[0] as f64, START[1] as f64];
    let mut path = vec![(x[0], x[1])];
    for step in 1..=max_steps {
        opt.step_flat(1.0, &mut x, |p| {
            (0.5 * (p[0] * p[0] + b * p[1] * p[1]), vec![p[0], b * p[1]])
        });
        path.push((x[0], x[1]));
        if 0.5 * (x[0] * x[0] + b * x[1] * x[1]) < TARGET {
            return (path, Some(step));
        }
    }
    (path, None)
}

fn main() {
    cli::main(|| example(Args::parse()));
}

fn example(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("optimizer_paths")?;
    let device = descent::device::device(args.common.device.as_str())?;
    let max_steps = if args.common.quick {
        300
    } else {
        args.max_steps
    };
    let mut files = Vec::new();
    for b in [10.0, 100.0] {
        // ANCHOR: first_order
        // Plain GD is stable for lr < 2/b; each rate is a reasonable choice for this b.
        let gd_lr = 1.8 / b;
        let runs: Vec<(&str, Run)> = vec![
            (
                "GD",
                run(&SgdConfig::new().build(), gd_lr, b, max_steps, &device),
            ),
            (
                "momentum 0.9",
                run(
                    &SgdConfig::new().with_momentum(0.9).build(),
                    0.2 / b,
                    b,
                    max_steps,
                    &device,
                ),
            ),
            (
                "Nesterov 0.9",
                run(
                    &SgdConfig::new()
                        .with_momentum(0.9)
                        .with_nesterov(true)
                        .build(),
                    0.2 / b,
                    b,
                    max_steps,
                    &device,
                ),
            ),
            // ANCHOR_END: first_order
            // ANCHOR: adaptive
            (
                "AdaGrad",
                run(&AdagradConfig::new().build(), 1.0, b, max_steps, &device),
            ),
            (
                "RMSProp",
                run(&RmsPropConfig::new().build(), 0.01, b, max_steps, &device),
            ),
            (
                "Adam",
                run(&AdamConfig::new().build(), 0.1, b, max_steps, &device),
            ),
            ("L-BFGS", lbfgs(b, max_steps)),
        ];
        // ANCHOR_END: adaptive
        println!("\nf = ½(x² + {b} y²) from (3.5, 3.5): steps to f < 1e-6 (at most {max_steps})");
        println!("{:<14} {:>8}", "optimizer", "steps");
        for (name, (_, steps)) in &runs {
            println!(
                "{name:<14} {:>8}",
                steps.map_or("not reached".to_string(), |s| s.to_string())
            );
        }
        let func = move |x: f64, y: f64| 0.5 * (x * x + b * y * y);
        files.extend(render(
            &Contour {
                title: format!("Optimizer paths on ½(x² + {b}y²)"),
                x_label: "x".into(),
                y_label: "y".into(),
                x: (-4.0, 4.0),
                y: (-4.0, 4.0),
                f: &func,
                log: true,
                paths: runs
                    .into_iter()
                    .map(|(name, (path, _))| {
                        Series::new(name, path.into_iter().take(200).collect())
                    })
                    .collect(),
            },
            &out,
            &format!("paths_b{b}"),
        )?);
    }
    report_figures(&files);
    Ok(())
}
