//! Newton's method and the Hessian (lesson 5 of the seed curriculum): Hessian-vector products
//! from autodiff gradients, Newton's method with the Hessian they build, beside gradient descent
//! and L-BFGS, on the quadratic bowl ½(x² + 10y²) and on Rosenbrock (1 − x)² + 100(y − x²)²;
//! paths on the contours and the loss per iteration (Newton's quadratic convergence).
//!
//! ```text
//! H v ≈ (∇f(θ + r v) − ∇f(θ − r v)) / 2r      (central differences of autodiff gradients)
//! H = [H e₁, H e₂];   Newton:  θ ← θ − H⁻¹ ∇f(θ)   (a gradient step where H is not positive)
//! ```
//!
//! `cargo run --release --example newton -- [--device flex|ndarray|wgpu] [--quick]`

use burn::tensor::{Device, Tensor};
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::plot::{Contour, LineChart, Series, render};
use descent::optimizers::LbfgsConfig;

/// Newton's method, gradient descent and L-BFGS.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

/// A test function of (x, y).
#[derive(Clone, Copy)]
enum Problem {
    Bowl,
    Rosenbrock,
}

impl Problem {
    fn name(self) -> &'static str {
        match self {
            Problem::Bowl => "bowl",
            Problem::Rosenbrock => "rosenbrock",
        }
    }

    fn start(self) -> [f64; 2] {
        match self {
            Problem::Bowl => [3.5, 3.5],
            Problem::Rosenbrock => [-1.5, 2.0],
        }
    }

    /// f on the host (for the contours).
    fn value(self, x: f64, y: f64) -> f64 {
        match self {
            Problem::Bowl => 0.5 * (x * x + 10.0 * y * y),
            Problem::Rosenbrock => (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
        }
    }

    /// f as Burn tensor operations of θ = (x, y), for autodiff.
    fn tensor(self, p: Tensor<1>) -> Tensor<1> {
        let x = p.clone().slice(0..1);
        let y = p.slice(1..2);
        match self {
            Problem::Bowl => (x.square() + y.square().mul_scalar(10.0)).mul_scalar(0.5),
            Problem::Rosenbrock => {
                x.clone().neg().add_scalar(1.0).square()
                    + (y - x.square()).square().mul_scalar(100.0)
            }
        }
    }

    /// f and ∇f at `p` through Burn's autodiff.
    fn grad(self, p: [f64; 2], device: &Device) -> (f64, [f64; 2]) {
        let t = Tensor::<1>::from_floats([p[0] as f32, p[1] as f32], device).require_grad();
        let f = self.tensor(t.clone());
        let value = f.clone().into_scalar::<f64>();
        let grads = f.backward();
        let g: Vec<f64> = t
            .grad(&grads)
            .map(|g| g.into_data().iter::<f64>().collect())
            .unwrap_or_else(|| vec![0.0, 0.0]);
        (value, [g[0], g[1]])
    }

    // ANCHOR: hvp
    /// `H v` by central differences of the autodiff gradient.
    fn hvp(self, p: [f64; 2], v: [f64; 2], device: &Device) -> [f64; 2] {
        let r = 1e-2;
        let (_, up) = self.grad([p[0] + r * v[0], p[1] + r * v[1]], device);
        let (_, down) = self.grad([p[0] - r * v[0], p[1] - r * v[1]], device);
        [(up[0] - down[0]) / (2.0 * r), (up[1] - down[1]) / (2.0 * r)]
    }
    // ANCHOR_END: hvp
}

/// A run: the iterates, f after each step, and the steps to reach f < 1e-8.
struct Run {
    path: Vec<(f64, f64)>,
    values: Vec<f64>,
    steps: Option<usize>,
}

const TARGET: f64 = 1e-8;

fn record(run: &mut Run, p: [f64; 2], f: f64, step: usize) {
    run.path.push((p[0], p[1]));
    run.values.push(f.max(1e-16));
    if run.steps.is_none() && f < TARGET {
        run.steps = Some(step);
    }
}

fn newton(problem: Problem, max_steps: usize, device: &Device) -> Run {
    let mut p = problem.start();
    let mut run = Run {
        path: vec![(p[0], p[1])],
        values: vec![problem.value(p[0], p[1])],
        steps: None,
    };
    // ANCHOR: newton
    for step in 1..=max_steps {
        let (_, g) = problem.grad(p, device);
        let (c0, c1) = (
            problem.hvp(p, [1.0, 0.0], device),
            problem.hvp(p, [0.0, 1.0], device),
        );
        // H = [[a, b], [b, d]] (symmetrised: the two differences agree up to rounding).
        let (a, b, d) = (c0[0], 0.5 * (c0[1] + c1[0]), c1[1]);
        let det = a * d - b * b;
        let dir = if a > 0.0 && det > 0.0 {
            [(d * g[0] - b * g[1]) / det, (a * g[1] - b * g[0]) / det]
        } else {
            [1e-3 * g[0], 1e-3 * g[1]]
        };
        p = [p[0] - dir[0], p[1] - dir[1]];
        record(&mut run, p, problem.value(p[0], p[1]), step);
        if run.steps.is_some() {
            break;
        }
    }
    // ANCHOR_END: newton
    run
}

fn gradient_descent(problem: Problem, lr: f64, max_steps: usize, device: &Device) -> Run {
    let mut p = problem.start();
    let mut run = Run {
        path: vec![(p[0], p[1])],
        values: vec![problem.value(p[0], p[1])],
        steps: None,
    };
    for step in 1..=max_steps {
        let (_, g) = problem.grad(p, device);
        p = [p[0] - lr * g[0], p[1] - lr * g[1]];
        record(&mut run, p, problem.value(p[0], p[1]), step);
        if run.steps.is_some() {
            break;
        }
    }
    run
}

fn lbfgs(problem: Problem, max_steps: usize) -> Run {
    let mut p = problem.start();
    let mut run = Run {
        path: vec![(p[0], p[1])],
        values: vec![problem.value(p[0], p[1])],
        steps: None,
    };
    // ANCHOR: lbfgs
    let mut optim = LbfgsConfig::new()
        .with_max_iter(1)
        .with_line_search(descent::optimizers::LineSearch::StrongWolfe)
        .init();
    for step in 1..=max_steps {
        optim.step_flat(1.0, &mut p, |x| {
            let (x, y) = (x[0], x[1]);
            match problem {
                Problem::Bowl => (problem.value(x, y), vec![x, 10.0 * y]),
                Problem::Rosenbrock => (
                    problem.value(x, y),
                    vec![
                        -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                        200.0 * (y - x * x),
                    ],
                ),
            }
        });
        record(&mut run, p, problem.value(p[0], p[1]), step);
        if run.steps.is_some() {
            break;
        }
    }
    // ANCHOR_END: lbfgs
    run
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("newton")?;
    let device = args.common.device()?.autodiff();
    let max_steps = if args.common.quick { 200 } else { 20_000 };
    let mut files = Vec::new();

    // The Hessian from Hessian-vector products against the closed form, at Rosenbrock's start.
    let (x, y) = (-1.5, 2.0);
    let exact = [1200.0 * x * x - 400.0 * y + 2.0, -400.0 * x, 200.0];
    let rb = Problem::Rosenbrock;
    let (c0, c1) = (
        rb.hvp([x, y], [1.0, 0.0], &device),
        rb.hvp([x, y], [0.0, 1.0], &device),
    );
    println!(
        "Rosenbrock's Hessian at (−1.5, 2): from Hessian-vector products [[{:.1}, {:.1}], [{:.1}, {:.1}]], \
         exact [[{}, {}], [{}, {}]]",
        c0[0], c0[1], c1[0], c1[1], exact[0], exact[1], exact[1], exact[2]
    );

    println!(
        "\n{:<12} {:<18} {:>18} {:>12}",
        "problem", "method", "steps to f < 1e-8", "final f"
    );
    for (problem, lr, view) in [
        (Problem::Bowl, 0.18, ((-4.0, 4.0), (-4.0, 4.0))),
        (Problem::Rosenbrock, 1e-3, ((-2.0, 2.0), (-1.0, 3.0))),
    ] {
        let runs = [
            ("Newton", newton(problem, max_steps, &device)),
            ("L-BFGS", lbfgs(problem, max_steps)),
            (
                "gradient descent",
                gradient_descent(problem, lr, max_steps, &device),
            ),
        ];
        for (name, r) in &runs {
            let steps = r.steps.map_or(format!("> {max_steps}"), |s| s.to_string());
            let last = r.values.last().copied().unwrap_or(f64::NAN);
            println!(
                "{:<12} {:<18} {:>18} {:>12.2e}",
                problem.name(),
                name,
                steps,
                last
            );
        }
        let label = |name: &str| {
            if name == "gradient descent" {
                format!("{name}, lr {lr}")
            } else {
                name.to_string()
            }
        };
        files.extend(render(
            &Contour {
                title: format!("{}: Newton, L-BFGS and gradient descent", problem.name()),
                x_label: "x".into(),
                y_label: "y".into(),
                x: view.0,
                y: view.1,
                f: &|x, y| problem.value(x, y),
                log: true,
                paths: runs
                    .iter()
                    .map(|(n, r)| Series::new(label(n), r.path.clone()))
                    .collect(),
            },
            &out,
            &format!("{}_paths", problem.name()),
        )?);
        files.extend(render(
            &LineChart {
                title: format!("{}: f per iteration", problem.name()),
                x_label: "iteration".into(),
                y_label: "f".into(),
                series: runs
                    .iter()
                    .map(|(n, r)| {
                        let shown = &r.values[..r.values.len().min(60)];
                        Series::indexed(label(n), shown)
                    })
                    .collect(),
                log_y: true,
                ..Default::default()
            },
            &out,
            &format!("{}_convergence", problem.name()),
        )?);
    }
    report_figures(&files);
    Ok(())
}
