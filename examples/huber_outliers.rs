//! MSE, MAE and Huber fits of a line to data with outliers: the squared loss is pulled
//! toward the outliers, the absolute and Huber losses are not.
//!
//! `cargo run --release --example huber_outliers -- [--device flex|ndarray|wgpu] [--quick]`

use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::models::LinearModel;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::synthetic;
use descent::lab::train::{Batch, Trainer};
use descent::losses::{Reduction, huber_loss, l1_loss, mse_loss};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{AdamConfig, ConstantLrConfig};

/// Robust regression: MSE vs MAE vs Huber.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Fraction of outliers.
    #[arg(long, default_value_t = 0.1)]
    outliers: f64,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("huber_outliers")?;
    let device = args.common.device()?;
    let data = synthetic::line_with_outliers(100, args.outliers, args.common.seed);
    let epochs = if args.common.quick { 50 } else { 1500 };
    let mut lines = Vec::new();
    println!("true line: y = 2.000 x + 1.000");
    for name in ["MSE", "MAE", "Huber (δ = 1)"] {
        let schedule: Box<dyn Schedule> =
            Box::new(ConstantLrConfig::new(0.05).with_factor(1.0).init());
        let config = args.common.train_config(name, epochs, usize::MAX);
        let mut trainer = Trainer::new(config, AdamConfig::new().init(), schedule);
        // ANCHOR: losses
        let loss = |m: &LinearModel, b: &Batch| {
            let pred = m.forward(b.x.clone());
            match name {
                "MSE" => mse_loss(pred, b.y.clone(), Reduction::Mean),
                "MAE" => l1_loss(pred, b.y.clone(), Reduction::Mean),
                _ => huber_loss(pred, b.y.clone(), 1.0, Reduction::Mean),
            }
        };
        // ANCHOR_END: losses
        let model = LinearModel::new(1, 1, true, &device);
        let model = args.common.resume(&mut trainer, model)?;
        let model = trainer.fit(model, &data, None, &loss, &device)?;
        let (w, b) = model.scalar_params();
        println!("{name:<14} y = {w:.3} x + {b:.3}");
        lines.push(Series::new(
            format!("{name}: {w:.2}x + {b:.2}"),
            vec![(-3.0, (-3.0 * w + b) as f64), (3.0, (3.0 * w + b) as f64)],
        ));
    }
    let points = (0..data.len())
        .map(|i| (data.x[i] as f64, data.y[i] as f64))
        .collect();
    let files = render(
        &LineChart {
            title: format!("Fits to a line with {:.0}% outliers", 100.0 * args.outliers),
            x_label: "x".into(),
            y_label: "y".into(),
            series: lines,
            scatter: vec![Series::new("data", points)],
            ..Default::default()
        },
        &out,
        "fits",
    )?;
    report_figures(&files);
    Ok(())
}
