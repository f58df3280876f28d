//! Batch size and learning rate on the seed notebook's 200-point regression: SGD with batch 1,
//! mini-batches of 32 and full-batch GD (loss curves on a log scale, parameter trajectories on
//! the MSE surface), then a learning-rate sweep of full-batch GD showing convergence and
//! divergence.
//!
//! `cargo run --release --example batch_size_lr -- [--quick]`

use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::data::Dataset;
use descent::lab::models::LinearModel;
use descent::lab::plot::{Contour, LineChart, Series, render};
use descent::lab::synthetic;
use descent::lab::train::{Batch, Trainer};
use descent::losses::{Reduction, mse_loss};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{ConstantLrConfig, SgdConfig};

/// Batch size and learning-rate effects on SGD.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

/// A run's loss after each epoch and its path through (w, b).
type Run = (Vec<f64>, Vec<(f64, f64)>);

/// Trains with `batch` and `lr` for `epochs`, one epoch at a time so that (w, b) is recorded
/// (from the checkpoint on with `--resume`).
fn train(
    common: &Common,
    data: &Dataset,
    batch: usize,
    lr: f64,
    epochs: usize,
    device: &burn::tensor::Device,
) -> CliResult<Run> {
    // ANCHOR: train
    let schedule: Box<dyn Schedule> = Box::new(ConstantLrConfig::new(lr).with_factor(1.0).init());
    let config = common.train_config(&format!("batch {batch} lr {lr}"), epochs, batch);
    let mut trainer = Trainer::new(config, SgdConfig::new().init(), schedule);
    let loss =
        |m: &LinearModel, b: &Batch| mse_loss(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean);
    let mut model = LinearModel::new(1, 1, true, device);
    model = common.resume(&mut trainer, model)?;
    let mut path = vec![(0.0, 0.0)];
    while trainer.epoch() < epochs {
        model = trainer.fit_epochs(model, data, None, &loss, device, 1)?;
        let (w, b) = model.scalar_params();
        if !(w.is_finite() && b.is_finite()) {
            break;
        }
        path.push((w as f64, b as f64));
    }
    // ANCHOR_END: train
    // Loss over the whole set after each epoch.
    let full = Batch::of(data, device);
    let mut losses = trainer.history().epoch_loss.clone();
    if let Some(last) = losses.last_mut() {
        *last = loss(&model, &full).into_scalar::<f64>();
    }
    Ok((losses, path))
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("batch_size_lr")?;
    let device = args.common.device()?;
    let data = synthetic::seed_regression(args.common.seed);
    let epochs = if args.common.quick { 5 } else { 50 };
    let mut curves = Vec::new();
    let mut paths = Vec::new();
    println!("{:<18} {:>12}", "batch", "final MSE");
    // ANCHOR: batches
    for (name, batch, lr) in [
        ("SGD, batch 1", 1, 0.01),
        ("mini-batch 32", 32, 0.05),
        ("full batch 200", 200, 0.1),
    ] {
        let (losses, path) = train(&args.common, &data, batch, lr, epochs, &device)?;
        // ANCHOR_END: batches
        println!(
            "{name:<18} {:>12.5}",
            losses.last().copied().unwrap_or(f64::NAN)
        );
        curves.push(Series::indexed(format!("{name}, lr {lr}"), &losses));
        paths.push(Series::new(name, path));
    }
    let mut files = render(
        &LineChart {
            title: "MSE per epoch by batch size".into(),
            x_label: "epoch".into(),
            y_label: "MSE".into(),
            series: curves,
            log_y: true,
            ..Default::default()
        },
        &out,
        "batch_size_curves",
    )?;
    let mse = |w: f64, b: f64| {
        data.x
            .iter()
            .zip(&data.y)
            .map(|(x, y)| (w * *x as f64 + b - *y as f64).powi(2))
            .sum::<f64>()
            / data.len() as f64
    };
    files.extend(render(
        &Contour {
            title: "(w, b) trajectories on the MSE surface".into(),
            x_label: "w".into(),
            y_label: "b".into(),
            x: (-0.5, 2.0),
            y: (-1.5, 0.5),
            f: &mse,
            log: true,
            paths,
        },
        &out,
        "trajectories",
    )?);

    // ANCHOR: sweep
    // The largest stable rate of full-batch GD on MSE is 2 / λ_max of the Hessian 2·E[x xᵀ].
    println!("\nlearning-rate sweep, full-batch GD, {epochs} epochs:");
    let mut sweep = Vec::new();
    for lr in [0.01, 0.05, 0.1, 0.3, 0.33, 0.36] {
        let (losses, _) = train(&args.common, &data, 200, lr, epochs, &device)?;
        let last = losses.last().copied().unwrap_or(f64::NAN);
        let verdict = if !last.is_finite() || last > losses[0] {
            "diverges"
        } else {
            "converges"
        };
        println!("  lr {lr:<5} final MSE {last:>12.4e}  {verdict}");
        sweep.push(Series::indexed(format!("lr {lr}"), &losses));
    }
    // ANCHOR_END: sweep
    files.extend(render(
        &LineChart {
            title: "Full-batch GD: learning-rate sweep".into(),
            x_label: "epoch".into(),
            y_label: "MSE".into(),
            series: sweep,
            log_y: true,
            ..Default::default()
        },
        &out,
        "lr_sweep",
    )?);
    report_figures(&files);
    Ok(())
}
