//! The loss landscape of a trained network (lesson 5 of the seed curriculum): the loss along
//! the straight line from the initial to the trained weights, and on a 2-D slice through the
//! trained weights along two random filter-normalised directions (Li et al. 2018, "Visualizing
//! the Loss Landscape of Neural Nets").
//!
//! ```text
//! 1-D:  L(θ₀ + α (θ₁ − θ₀)),   α ∈ [−0.5, 1.5]
//! 2-D:  L(θ₁ + a d₁ + b d₂),   dᵢ ~ N(0, I), each unit (column of a weight matrix) rescaled to
//!       the norm of θ₁'s, biases left out (dᵢ = 0 there)
//! ```
//!
//! `cargo run --release --example landscape -- [--device flex|ndarray|wgpu] [--quick]`

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Distribution, Tensor};
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::data::Dataset;
use descent::lab::models::Mlp;
use descent::lab::plot::{Contour, LineChart, Series, render};
use descent::lab::real;
use descent::lab::train::{Batch, Trainer};
use descent::losses::{Reduction, cross_entropy};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{AdamConfig, ConstantLrConfig};

/// Loss landscapes of a trained MLP.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

/// Every float tensor of a module, in visiting order, with its shape.
fn params<M: Module>(model: &M) -> Vec<Tensor<2>> {
    struct Collect(Vec<Tensor<2>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val().inner();
            let dims = t.dims();
            // Matrices as they are, vectors as one row (so a "unit" is a column throughout).
            let shaped: Tensor<2> = match D {
                2 => t.reshape([dims[0], dims[1]]),
                _ => t.reshape([1, dims.iter().product::<usize>()]),
            };
            self.0.push(shaped);
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// `model` with its float tensors replaced, in visiting order.
fn with_params<M: Module>(model: M, values: &[Tensor<2>]) -> M {
    struct Set<'a>(std::slice::Iter<'a, Tensor<2>>);
    impl ModuleMapper for Set<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, t, mapper) = param.consume();
            let next = self.0.next().expect("one value per tensor").clone();
            Param::from_mapped_value(id, next.reshape(t.dims()).to_device(&t.device()), mapper)
        }
    }
    model.map(&mut Set(values.iter()))
}

// ANCHOR: direction
/// A random direction, filter-normalised to `theta`: per column `c`,
/// `d[:, c] ← d[:, c] · ‖θ[:, c]‖ / ‖d[:, c]‖`; zero for the biases (one-row tensors).
fn direction(theta: &[Tensor<2>], device: &Device) -> Vec<Tensor<2>> {
    theta
        .iter()
        .map(|t| {
            let [rows, cols] = t.dims();
            if rows == 1 {
                return t.zeros_like();
            }
            let d = Tensor::<2>::random([rows, cols], Distribution::Normal(0.0, 1.0), device);
            let norm = |x: Tensor<2>| x.square().sum_dim(0).sqrt();
            d.clone() * (norm(t.clone()) / norm(d).clamp_min(1e-12))
        })
        .collect()
}
// ANCHOR_END: direction

fn loss(model: &Mlp, data: &Batch) -> f64 {
    cross_entropy(
        model.forward(data.x.clone()),
        data.classes.clone(),
        Reduction::Mean,
    )
    .into_scalar::<f64>()
}

fn main() {
    cli::main(|| example(Args::parse()));
}

fn example(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("landscape")?;
    let device = args.common.device()?;
    let (mut train, mut test): (Dataset, Dataset) = real::iris().split(0.3, args.common.seed);
    let (mean, std) = train.moments();
    train.standardize_with(&mean, &std);
    test.standardize_with(&mean, &std);
    let epochs = if args.common.quick { 10 } else { 100 };
    let model = Mlp::new(4, &[16], 3, &device.clone().autodiff());
    let theta0 = params(&model);
    let schedule: Box<dyn Schedule> = Box::new(ConstantLrConfig::new(1e-2).with_factor(1.0).init());
    let mut trainer = Trainer::new(
        args.common.train_config("landscape", epochs, 16),
        AdamConfig::new().init(),
        schedule,
    );
    let ce = |m: &Mlp, b: &Batch| {
        cross_entropy(m.forward(b.x.clone()), b.classes.clone(), Reduction::Mean)
    };
    let trained = trainer.fit(model, &train, None, &ce, &device.clone().autodiff())?;
    let theta1 = params(&trained);
    let plain = trained.valid();
    let (train_all, test_all) = (Batch::of(&train, &device), Batch::of(&test, &device));

    // 1-D: the straight line from the initial to the trained weights.
    let mut line_train = Vec::new();
    let mut line_test = Vec::new();
    let points = if args.common.quick { 9 } else { 41 };
    // ANCHOR: line
    for k in 0..points {
        let alpha = -0.5 + 2.0 * k as f64 / (points - 1) as f64;
        let theta: Vec<Tensor<2>> = theta0
            .iter()
            .zip(&theta1)
            .map(|(a, b)| a.clone() + (b.clone() - a.clone()).mul_scalar(alpha))
            .collect();
        let m = with_params(plain.clone(), &theta);
        line_train.push((alpha, loss(&m, &train_all)));
        line_test.push((alpha, loss(&m, &test_all)));
    }
    // ANCHOR_END: line
    let at = |v: &[(f64, f64)], a: f64| {
        v.iter()
            .min_by(|x, y| (x.0 - a).abs().total_cmp(&(y.0 - a).abs()))
            .map_or(f64::NAN, |p| p.1)
    };
    println!(
        "along θ₀ → θ₁: training loss {:.3} at α = 0, {:.4} at α = 1, {:.3} at α = 1.5",
        at(&line_train, 0.0),
        at(&line_train, 1.0),
        at(&line_train, 1.5)
    );
    let mut files = render(
        &LineChart {
            title: "Cross-entropy from the initial (α = 0) to the trained (α = 1) weights".into(),
            x_label: "α".into(),
            y_label: "cross-entropy".into(),
            series: vec![
                Series::new("training set", line_train),
                Series::new("held out", line_test),
            ],
            log_y: true,
            ..Default::default()
        },
        &out,
        "interpolation",
    )?;

    // 2-D: a filter-normalised slice through θ₁.
    let (d1, d2) = (direction(&theta1, &device), direction(&theta1, &device));
    let n = if args.common.quick { 7 } else { 31 };
    let span = 1.0;
    let coord = |i: usize| -span + 2.0 * span * i as f64 / (n - 1) as f64;
    let mut grid = vec![vec![0.0; n]; n];
    for (i, row) in grid.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            let (a, b) = (coord(i), coord(j));
            let theta: Vec<Tensor<2>> = theta1
                .iter()
                .zip(d1.iter().zip(&d2))
                .map(|(t, (u, v))| t.clone() + u.clone().mul_scalar(a) + v.clone().mul_scalar(b))
                .collect();
            *cell = loss(&with_params(plain.clone(), &theta), &train_all);
        }
    }
    println!(
        "2-D slice: loss {:.4} at the trained weights, {:.3} at the slice's corners (mean)",
        grid[n / 2][n / 2],
        (grid[0][0] + grid[0][n - 1] + grid[n - 1][0] + grid[n - 1][n - 1]) / 4.0
    );
    // Bilinear interpolation of the grid for the contour's pixels.
    let f = |a: f64, b: f64| {
        let s = |x: f64| ((x + span) / (2.0 * span) * (n - 1) as f64).clamp(0.0, (n - 1) as f64);
        let (x, y) = (s(a), s(b));
        let (i, j) = (
            (x.floor() as usize).min(n - 2),
            (y.floor() as usize).min(n - 2),
        );
        let (fx, fy) = (x - i as f64, y - j as f64);
        let top = grid[i][j] * (1.0 - fy) + grid[i][j + 1] * fy;
        let bottom = grid[i + 1][j] * (1.0 - fy) + grid[i + 1][j + 1] * fy;
        top * (1.0 - fx) + bottom * fx
    };
    files.extend(render(
        &Contour {
            title: "Training loss on a filter-normalised slice through the trained weights".into(),
            x_label: "a (direction 1)".into(),
            y_label: "b (direction 2)".into(),
            x: (-span, span),
            y: (-span, span),
            f: &f,
            log: true,
            paths: vec![Series::new("trained weights", vec![(0.0, 0.0)])],
        },
        &out,
        "slice",
    )?);
    report_figures(&files);
    Ok(())
}
