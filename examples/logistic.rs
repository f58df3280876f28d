//! Logistic regression on the seed notebook's two Gaussian blobs: BCE from logits, full-batch
//! gradient descent, the decision boundary drawn over the data.
//!
//! `cargo run --release --example logistic -- [--device flex|ndarray|wgpu] [--quick]`

use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::metrics::{Binary, accuracy, roc_auc};
use descent::lab::models::LinearModel;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::synthetic;
use descent::lab::train::{Batch, Trainer};
use descent::losses::{Reduction, binary_cross_entropy_with_logits};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{ConstantLrConfig, SgdConfig};

/// Logistic regression (BCE) on two blobs.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("logistic")?;
    let device = args.common.device()?;
    let data = synthetic::two_blobs(if args.common.quick { 50 } else { 200 }, args.common.seed);
    let (train, test) = data.split(0.3, args.common.seed);
    // ANCHOR: train
    let epochs = if args.common.quick { 20 } else { 200 };
    let schedule: Box<dyn Schedule> = Box::new(ConstantLrConfig::new(0.5).with_factor(1.0).init());
    let config = args.common.train_config("logistic", epochs, usize::MAX);
    let mut trainer = Trainer::new(config, SgdConfig::new().init(), schedule);
    let loss = |m: &LinearModel, b: &Batch| {
        binary_cross_entropy_with_logits(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean)
    };
    let model = LinearModel::new(2, 1, true, &device);
    let model = args.common.resume(&mut trainer, model)?;
    let model = trainer.fit(model, &train, None, &loss, &device)?;
    // ANCHOR_END: train

    let n = test.len();
    let logits: Tensor<1> = model.forward(test.x_tensor(&device)).reshape([n]);
    let p: Vec<f32> = sigmoid(logits).into_data().iter::<f32>().collect();
    let b = Binary::at(&p, &test.y, 0.5);
    let pred: Vec<usize> = p.iter().map(|p| usize::from(*p >= 0.5)).collect();
    let truth: Vec<usize> = test.y.iter().map(|y| *y as usize).collect();
    println!(
        "test: accuracy {:.3}, precision {:.3}, recall {:.3}, F1 {:.3}, ROC-AUC {:.3}; final train loss {:.4}",
        accuracy(&pred, &truth),
        b.precision(),
        b.recall(),
        b.f1(),
        roc_auc(&p, &test.y),
        trainer
            .history()
            .epoch_loss
            .last()
            .copied()
            .unwrap_or(f64::NAN)
    );

    let w: Vec<f32> = model
        .linear
        .weight
        .val()
        .into_data()
        .iter::<f32>()
        .collect();
    let bias = model.linear.bias.as_ref().map_or(0.0, |b| {
        b.val().into_data().iter::<f32>().next().unwrap_or(0.0)
    });
    // Boundary: w0 x + w1 y + b = 0.
    let boundary: Vec<(f64, f64)> = (-50..=50)
        .map(|i| i as f64 / 10.0)
        .map(|x| (x, -(w[0] as f64 * x + bias as f64) / w[1] as f64))
        .filter(|(_, y)| y.abs() < 5.0)
        .collect();
    let mut files = render(
        &LineChart {
            title: "Logistic regression: decision boundary".into(),
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            series: vec![Series::new("boundary p = 0.5", boundary)],
            scatter: vec![
                Series::new("class 0", data.points_of_class(0.0)),
                Series::new("class 1", data.points_of_class(1.0)),
            ],
            ..Default::default()
        },
        &out,
        "boundary",
    )?;
    files.extend(render(
        &LineChart {
            title: "Logistic regression: BCE per epoch".into(),
            x_label: "epoch".into(),
            y_label: "BCE".into(),
            series: vec![Series::indexed(
                "full-batch GD, lr 0.5",
                &trainer.history().epoch_loss,
            )],
            ..Default::default()
        },
        &out,
        "loss_curve",
    )?);
    report_figures(&files);
    Ok(())
}
