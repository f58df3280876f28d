//! A linear support-vector machine: hinge loss plus an L2 penalty on two blobs, trained with
//! mini-batch SGD; the boundary and the margins drawn over the data.
//!
//! `cargo run --release --example svm_hinge -- [--device flex|ndarray|wgpu] [--quick]`

use burn::tensor::Tensor;
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::metrics::accuracy;
use descent::lab::models::LinearModel;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::synthetic;
use descent::lab::train::{Batch, Trainer};
use descent::losses::{Reduction, Regularizer, hinge};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{ConstantLrConfig, SgdConfig};

/// Hinge loss + L2 (a linear SVM) on two blobs.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// L2 penalty λ on the weights.
    #[arg(long, default_value_t = 0.01)]
    lambda: f64,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("svm_hinge")?;
    let device = args.common.device()?;
    let mut data = synthetic::two_blobs(if args.common.quick { 50 } else { 200 }, args.common.seed);
    // ANCHOR: train
    for y in data.y.iter_mut() {
        *y = 2.0 * *y - 1.0; // classes as ±1
    }
    let (train, test) = data.split(0.3, args.common.seed);
    let epochs = if args.common.quick { 5 } else { 50 };
    let l2 = Regularizer::l2(args.lambda)?;
    let schedule: Box<dyn Schedule> = Box::new(ConstantLrConfig::new(0.05).with_factor(1.0).init());
    let config = args.common.train_config("svm_hinge", epochs, 16);
    let mut trainer = Trainer::new(config, SgdConfig::new().init(), schedule);
    let loss = |m: &LinearModel, b: &Batch| {
        l2.add_to(
            hinge(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean),
            m,
        )
    };
    let model = LinearModel::new(2, 1, true, &device);
    let model = args.common.resume(&mut trainer, model)?;
    let model = trainer.fit(model, &train, None, &loss, &device)?;
    // ANCHOR_END: train

    let n = test.len();
    let score: Tensor<1> = model.forward(test.x_tensor(&device)).reshape([n]);
    let pred: Vec<usize> = score
        .into_data()
        .iter::<f32>()
        .map(|s| usize::from(s >= 0.0))
        .collect();
    let truth: Vec<usize> = test.y.iter().map(|y| usize::from(*y > 0.0)).collect();
    let w: Vec<f64> = model
        .linear
        .weight
        .val()
        .into_data()
        .iter::<f64>()
        .collect();
    let b = model.linear.bias.as_ref().map_or(0.0, |b| {
        b.val().into_data().iter::<f64>().next().unwrap_or(0.0)
    });
    println!(
        "test accuracy {:.3}; w = ({:.3}, {:.3}), b = {b:.3}, margin width 2/‖w‖ = {:.3}",
        accuracy(&pred, &truth),
        w[0],
        w[1],
        2.0 / (w[0] * w[0] + w[1] * w[1]).sqrt()
    );
    let line = |level: f64| -> Vec<(f64, f64)> {
        (-50..=50)
            .map(|i| i as f64 / 10.0)
            .map(|x| (x, (level - b - w[0] * x) / w[1]))
            .filter(|(_, y)| y.abs() < 5.0)
            .collect()
    };
    let files = render(
        &LineChart {
            title: "Linear SVM (hinge + L2): boundary and margins".into(),
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            series: vec![
                Series::new("w·x + b = 0", line(0.0)),
                Series::new("w·x + b = +1", line(1.0)),
                Series::new("w·x + b = −1", line(-1.0)),
            ],
            scatter: vec![
                Series::new("class −1", data.points_of_class(-1.0)),
                Series::new("class +1", data.points_of_class(1.0)),
            ],
            ..Default::default()
        },
        &out,
        "boundary",
    )?;
    report_figures(&files);
    Ok(())
}
