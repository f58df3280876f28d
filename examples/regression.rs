//! Linear regression on the diabetes data set (442 patients, 10 variables): MSE loss,
//! mini-batch SGD against Adam, evaluated on a held-out set.
//!
//! `cargo run --release --example regression -- [--device flex|ndarray|wgpu] [--quick]`

use burn::optim::ModuleOptimizer;
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::metrics::{mae, mse, r2};
use descent::lab::models::LinearModel;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::real;
use descent::lab::train::{Batch, Trainer};
use descent::losses::{Reduction, mse_loss};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{AdamConfig, ConstantLrConfig, SgdConfig};

/// MSE regression with mini-batch SGD and Adam on real data.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("regression")?;
    let device = args.common.device()?;
    let data = real::diabetes();
    let (mut train, mut test) = data.split(0.25, args.common.seed);
    let (mean, std) = train.moments();
    train.standardize_with(&mean, &std);
    test.standardize_with(&mean, &std);
    // Standardise the target too, so that one learning rate suits both optimizers.
    let (y_mean, y_std) = {
        let m = train.y.iter().sum::<f32>() / train.len() as f32;
        let s = (train.y.iter().map(|y| (y - m).powi(2)).sum::<f32>() / train.len() as f32).sqrt();
        (m, s)
    };
    for y in train.y.iter_mut().chain(test.y.iter_mut()) {
        *y = (*y - y_mean) / y_std;
    }
    println!(
        "diabetes: {} train rows, {} test rows, {} features",
        train.len(),
        test.len(),
        train.features
    );

    let epochs = if args.common.quick { 5 } else { 100 };
    // ANCHOR: optimizers
    let runs: [(&str, ModuleOptimizer, f64); 2] = [
        ("SGD (batch 32)", SgdConfig::new().init(), 0.01),
        ("Adam (batch 32)", AdamConfig::new().init(), 0.01),
    ];
    // ANCHOR_END: optimizers
    let mut curves = Vec::new();
    println!(
        "\n{:<16} {:>9} {:>9} {:>7}",
        "optimizer", "test MSE", "test MAE", "R²"
    );
    for (name, optim, lr) in runs {
        let schedule: Box<dyn Schedule> =
            Box::new(ConstantLrConfig::new(lr).with_factor(1.0).init());
        let config = args.common.train_config(name, epochs, 32);
        let mut trainer = Trainer::new(config, optim, schedule);
        let model = LinearModel::new(train.features, 1, true, &device);
        let model = args.common.resume(&mut trainer, model)?;
        // ANCHOR: loss
        let loss = |m: &LinearModel, b: &Batch| {
            mse_loss(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean)
        };
        let model = trainer.fit(model, &train, None, &loss, &device)?;
        // ANCHOR_END: loss
        let pred: Vec<f32> = model
            .forward(test.x_tensor(&device))
            .into_data()
            .iter::<f32>()
            .collect();
        // Metrics in the target's own units.
        let unscale = |v: &[f32]| v.iter().map(|y| y * y_std + y_mean).collect::<Vec<f32>>();
        let (p, t) = (unscale(&pred), unscale(&test.y));
        println!(
            "{name:<16} {:>9.1} {:>9.2} {:>7.3}",
            mse(&p, &t),
            mae(&p, &t),
            r2(&p, &t)
        );
        curves.push(Series::indexed(name, &trainer.history().epoch_loss));
    }
    let files = render(
        &LineChart {
            title: "Diabetes: training MSE per epoch (standardised target)".into(),
            x_label: "epoch".into(),
            y_label: "MSE".into(),
            series: curves,
            log_y: true,
            ..Default::default()
        },
        &out,
        "loss_curves",
    )?;
    report_figures(&files);
    Ok(())
}
