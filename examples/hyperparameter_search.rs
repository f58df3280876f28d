//! Hyperparameter search (lesson 6 of the seed curriculum): grid search against random search
//! over the learning rate × batch size of SGD on the diabetes data, each configuration scored
//! by k-fold cross-validation; the grid as a heat map, and the best score found against the
//! number of configurations tried.
//!
//! ```text
//! score(η, B) = (1/k) Σ_folds  validation MSE after training on the other k − 1 folds
//! grid:    η ∈ {10⁻³ … 10⁻¹} (log-spaced) × B ∈ {4 … 64};   random: the same budget, η
//!          log-uniform in [10⁻³, 10⁻¹], B log-uniform in {4 … 64}
//! ```
//!
//! `cargo run --release --example hyperparameter_search -- [--device flex|ndarray|wgpu] [--quick]`

use burn::tensor::Device;
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::data::Dataset;
use descent::lab::models::LinearModel;
use descent::lab::plot::{Contour, LineChart, Series, render};
use descent::lab::real;
use descent::lab::train::{Batch, TrainConfig, Trainer};
use descent::losses::{Reduction, mse_loss};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{ConstantLrConfig, SgdConfig};

/// Grid and random search with k-fold cross-validation.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

/// A deterministic uniform sampler (a 64-bit LCG).
struct Draw(u64);

impl Draw {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

// ANCHOR: score
/// The k-fold cross-validated MSE of SGD at rate `lr` and batch `batch` (diverged: +∞).
fn score(data: &Dataset, k: usize, lr: f64, batch: usize, epochs: usize, device: &Device) -> f64 {
    let n = data.len();
    let mut total = 0.0;
    for fold in 0..k {
        let (val_idx, train_idx): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % k == fold);
        let (train, val) = (data.subset(&train_idx), data.subset(&val_idx));
        let schedule: Box<dyn Schedule> =
            Box::new(ConstantLrConfig::new(lr).with_factor(1.0).init());
        let config = TrainConfig {
            progress: false,
            ..TrainConfig::new(epochs, batch)
        };
        let mut trainer =
            Trainer::new(config, SgdConfig::new().with_checks(false).init(), schedule);
        let loss = |m: &LinearModel, b: &Batch| {
            mse_loss(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean)
        };
        let model = LinearModel::new(data.features, 1, true, device);
        let Ok(model) = trainer.fit(model, &train, None, &loss, device) else {
            return f64::INFINITY;
        };
        let v = loss(&model, &Batch::of(&val, device)).into_scalar::<f64>();
        if !v.is_finite() {
            return f64::INFINITY;
        }
        total += v;
    }
    total / k as f64
}
// ANCHOR_END: score

fn main() {
    cli::main(|| example(Args::parse()));
}

fn example(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("hyperparameter_search")?;
    let device = args.common.device()?.autodiff();
    let mut data = real::diabetes();
    let (mean, std) = data.moments();
    data.standardize_with(&mean, &std);
    // Disease progression in hundreds, so that the MSE is of order 1.
    for y in &mut data.y {
        *y /= 100.0;
    }
    let (k, epochs, side) = if args.common.quick {
        (3, 2, 3)
    } else {
        (5, 20, 6)
    };
    let lrs: Vec<f64> = (0..side)
        .map(|i| 10f64.powf(-3.0 + 2.0 * i as f64 / (side - 1) as f64))
        .collect();
    let batches: Vec<usize> = (0..side)
        .map(|i| (4.0 * 16f64.powf(i as f64 / (side - 1) as f64)).round() as usize)
        .collect();

    // Grid search.
    let mut grid = vec![vec![0.0; side]; side];
    let mut grid_trials = Vec::new();
    for (i, &lr) in lrs.iter().enumerate() {
        for (j, &batch) in batches.iter().enumerate() {
            let s = score(&data, k, lr, batch, epochs, &device);
            grid[i][j] = s;
            grid_trials.push(s);
        }
    }
    // ANCHOR: random
    // Random search with the same budget.
    let mut draw = Draw(args.common.seed.wrapping_add(3));
    let mut random_trials = Vec::new();
    let mut random_points = Vec::new();
    for _ in 0..side * side {
        let lr = 10f64.powf(-3.0 + 2.0 * draw.uniform());
        let batch = (4.0 * 16f64.powf(draw.uniform())).round() as usize;
        let s = score(&data, k, lr, batch, epochs, &device);
        random_trials.push(s);
        random_points.push((lr.log10(), (batch as f64).log2(), s));
    }
    // ANCHOR_END: random
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (gi, gj) = (0..side)
        .flat_map(|i| (0..side).map(move |j| (i, j)))
        .min_by(|a, b| grid[a.0][a.1].total_cmp(&grid[b.0][b.1]))
        .unwrap_or((0, 0));
    let r = random_points
        .iter()
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .copied()
        .unwrap_or((0.0, 0.0, f64::NAN));
    println!(
        "{k}-fold cross-validated MSE of SGD, {epochs} epochs, {} configurations each:",
        side * side
    );
    println!(
        "  grid search:   best {:.4} at η = {:.1e}, batch {}",
        best(&grid_trials),
        lrs[gi],
        batches[gj]
    );
    println!(
        "  random search: best {:.4} at η = {:.1e}, batch {}",
        best(&random_trials),
        10f64.powf(r.0),
        2f64.powf(r.1).round()
    );

    // Heat map of the grid (log10 η across, log2 B up).
    let (lx, ly) = (
        (lrs[0].log10(), lrs[side - 1].log10()),
        (
            (batches[0] as f64).log2(),
            (batches[side - 1] as f64).log2(),
        ),
    );
    let cell = |x: f64, lo: f64, hi: f64| {
        (((x - lo) / (hi - lo)) * (side - 1) as f64)
            .round()
            .clamp(0.0, (side - 1) as f64) as usize
    };
    let f = |x: f64, y: f64| grid[cell(x, lx.0, lx.1)][cell(y, ly.0, ly.1)].min(1e3);
    let mut files = render(
        &Contour {
            title: format!("Grid search: {k}-fold CV MSE over learning rate × batch size"),
            x_label: "log10 learning rate".into(),
            y_label: "log2 batch size".into(),
            x: lx,
            y: ly,
            f: &f,
            log: true,
            paths: Vec::new(),
        },
        &out,
        "grid_heatmap",
    )?;
    let best_so_far = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .scan(f64::INFINITY, |b, x| {
                *b = b.min(*x);
                Some(b.min(1e3))
            })
            .collect()
    };
    files.extend(render(
        &LineChart {
            title: "Best cross-validated MSE against configurations tried".into(),
            x_label: "configurations tried".into(),
            y_label: "best MSE so far".into(),
            series: vec![
                Series::indexed("grid search (row by row)", &best_so_far(&grid_trials)),
                Series::indexed("random search", &best_so_far(&random_trials)),
            ],
            log_y: true,
            ..Default::default()
        },
        &out,
        "best_so_far",
    )?);
    report_figures(&files);
    Ok(())
}
