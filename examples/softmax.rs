//! Softmax regression on iris (3 species): cross-entropy, SGD with momentum and a cosine
//! schedule, accuracy and confusion matrix on a held-out set.
//!
//! `cargo run --release --example softmax -- [--device flex|ndarray|wgpu] [--quick]`

use burn::tensor::Tensor;
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, OptimizerArgs, report_figures};
use descent::lab::metrics::{accuracy, confusion_matrix};
use descent::lab::models::LinearModel;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::real;
use descent::lab::train::{Batch, Trainer};
use descent::losses::{Reduction, cross_entropy};
use descent::optimizers::CosineAnnealingLrConfig;
use descent::optimizers::registry::Schedule;

/// Multi-class cross-entropy with SGD + momentum and a cosine schedule.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The optimizer (default SGD with momentum 0.9 at 0.1, cosine-annealed).
    #[command(flatten)]
    optimizer: OptimizerArgs,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("softmax")?;
    let device = args.common.device()?;
    let (mut train, mut test) = real::iris().split(0.3, args.common.seed);
    let (mean, std) = train.moments();
    train.standardize_with(&mean, &std);
    test.standardize_with(&mean, &std);
    // ANCHOR: train
    let epochs = if args.common.quick { 5 } else { 60 };
    let batch = 16;
    let steps = (epochs * train.len().div_ceil(batch)) as u64;
    let (optim, lr) = args
        .optimizer
        .build("sgd", serde_json::json!({"momentum": 0.9}), 0.1)?;
    let schedule: Box<dyn Schedule> = Box::new(CosineAnnealingLrConfig::new(lr, steps).init());
    let config = args.common.train_config("softmax", epochs, batch);
    let mut trainer = Trainer::new(config, optim, schedule);
    let loss = |m: &LinearModel, b: &Batch| {
        cross_entropy(m.forward(b.x.clone()), b.classes.clone(), Reduction::Mean)
    };
    let model = LinearModel::new(4, 3, true, &device);
    let model = args.common.resume(&mut trainer, model)?;
    let model = trainer.fit(model, &train, Some(&test), &loss, &device)?;
    // ANCHOR_END: train

    let logits: Tensor<2> = model.forward(test.x_tensor(&device));
    let pred: Vec<usize> = logits
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|c| c as usize)
        .collect();
    let truth: Vec<usize> = test.y.iter().map(|y| *y as usize).collect();
    println!("iris test accuracy {:.3}", accuracy(&pred, &truth));
    println!("confusion matrix (rows: true setosa, versicolor, virginica; columns: predicted):");
    for row in confusion_matrix(&pred, &truth, 3) {
        println!("  {row:?}");
    }
    let h = trainer.history();
    let files = render(
        &LineChart {
            title: "Softmax regression on iris: cross-entropy".into(),
            x_label: "epoch".into(),
            y_label: "cross-entropy".into(),
            series: vec![
                Series::indexed("train", &h.epoch_loss),
                Series::indexed("held out", &h.val_loss),
            ],
            log_y: true,
            ..Default::default()
        },
        &out,
        "loss_curves",
    )?;
    report_figures(&files);
    Ok(())
}
