//! Training with burn-train's `Learner`: a descent loss in the training step (cross-entropy
//! with label smoothing), a descent optimizer (AdamW) and descent schedules in a
//! `ModuleLrScheduler` (Optax's warm-up + cosine for the hidden layers, a constant lower rate
//! for the output layer, a parameter group), burn-train's metrics (loss, accuracy, learning
//! rate), its checkpoints (one per epoch; `--resume` goes on from the newest) and its terminal
//! dashboard (plain lines when the output is not a terminal).
//!
//! The data: red wine quality (1599 wines, 11 measurements, quality 3–8 as six classes).
//!
//! `cargo run --release --features train --example learner -- [--device flex|ndarray|wgpu] [--quick] [--checkpoint DIR [--resume]]`

use std::path::Path;

use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::module::{Module, ParamGroup};
use burn::tensor::Tensor;
use burn_train::logger::FileMetricLogger;
use burn_train::metric::store::Split;
use burn_train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn_train::{Learner, SupervisedTraining};
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::data::Dataset;
use descent::lab::metrics::accuracy;
use descent::lab::models::Mlp;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::real;
use descent::losses::CrossEntropyLossConfig;
use descent::optimizers::{AdamWConfig, ConstantLrConfig, WarmupCosineConfig};
use descent::train::{Classifier, SharedLog, loader, renderer};

/// A wine-quality classifier trained by burn-train with descent's loss, optimizer and schedules.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Training epochs (default 30; 3 with --quick).
    #[arg(long)]
    epochs: Option<usize>,
    /// Rows per mini-batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

/// Quality 3–8 as classes 0–5, the measurements standardised on the training rows.
fn wine(quick: bool, seed: u64) -> (Dataset, Dataset) {
    let mut data = real::winequality();
    for y in &mut data.y {
        *y -= 3.0;
    }
    let (mut train, mut valid) = data.split(0.2, seed);
    if quick {
        train = train.subset(&(0..320).collect::<Vec<_>>());
        valid = valid.subset(&(0..128).collect::<Vec<_>>());
    }
    let (mean, std) = train.moments();
    train.standardize_with(&mean, &std);
    valid.standardize_with(&mean, &std);
    (train, valid)
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("learner")?;
    let device = args.common.device()?;
    let seed = args.common.seed;
    let (train, valid) = wine(args.common.quick, seed);
    let epochs = args
        .epochs
        .unwrap_or(if args.common.quick { 3 } else { 30 });
    let steps = (epochs * train.len().div_ceil(args.batch_size)) as u64;

    // ANCHOR: learner
    let loss = CrossEntropyLossConfig::new()
        .with_label_smoothing(0.05)
        .try_init()?;
    let model = Classifier::new(Mlp::new(train.features, &[64, 64], 6, &device), loss);
    let optimizer = AdamWConfig::new().with_weight_decay(1e-2).try_init()?;
    // The hidden layers warm up to 3e-3 and decay by a cosine; the output layer (the Mlp's
    // third Linear, path `mlp.layers.2.…`) stays at 1e-3.
    let hidden = WarmupCosineConfig::new(0.0, 3e-3, steps / 10, steps).try_init()?;
    let head = ConstantLrConfig::new(1e-3).with_factor(1.0).try_init()?;
    let schedule =
        ModuleLrScheduler::new(hidden).with_group(ParamGroup::from_predicate("layers.2"), head);

    let log = SharedLog::new();
    let dir = args
        .common
        .checkpoint
        .clone()
        .unwrap_or_else(|| out.clone());
    let mut training = SupervisedTraining::new(
        &dir,
        loader(&train, args.batch_size, Some(seed), &device),
        loader(&valid, args.batch_size, None, &device),
    )
    .num_epochs(epochs)
    .metric_train_numeric(LossMetric::new())
    .metric_valid_numeric(LossMetric::new())
    .metric_train_numeric(AccuracyMetric::new())
    .metric_valid_numeric(AccuracyMetric::new())
    .metric_train_numeric(LearningRateMetric::new())
    .with_metric_logger(log.clone())
    .with_metric_logger(FileMetricLogger::new(&dir))
    .with_default_checkpointers()
    .summary();
    let mut resumed = None;
    if args.common.resume
        && let Some(epoch) = newest_checkpoint(&dir.join("checkpoint"))
    {
        println!("resuming after epoch {epoch} from {}", dir.display());
        training = training.checkpoint(epoch);
        resumed = Some(epoch);
    }
    let plain_or_dashboard = renderer(training.interrupter(), resumed);
    let training = training.renderer(plain_or_dashboard);
    let result = training.launch(Learner::new(model, optimizer, schedule));
    // ANCHOR_END: learner
    if let Some(stop) = &result.interrupted {
        println!("training stopped early: {stop:?}");
    }
    drop(result.renderer); // prints burn-train's summary

    let model = result.model.valid();
    let n = valid.len();
    let on = model.devices()[0].clone();
    let logits: Tensor<2> = model.mlp.forward(valid.x_tensor(&on));
    let pred: Vec<usize> = logits
        .argmax(1)
        .reshape([n])
        .into_data()
        .iter::<i64>()
        .map(|c| c as usize)
        .collect();
    let truth: Vec<usize> = valid.y.iter().map(|y| *y as usize).collect();
    let majority = (0..6)
        .map(|c| truth.iter().filter(|t| **t == c).count())
        .max()
        .unwrap_or(0) as f64
        / n.max(1) as f64;

    let per_epoch = |name: &str, split: Split| {
        let points: Vec<(f64, f64)> = log
            .per_epoch(name, split)
            .into_iter()
            .map(|(epoch, v)| (epoch as f64, v))
            .collect();
        points
    };
    let ends = |points: &[(f64, f64)]| {
        let value = |p: Option<&(f64, f64)>| p.map_or(f64::NAN, |p| p.1);
        (value(points.first()), value(points.last()))
    };
    let train_loss = per_epoch("Loss", Split::Train);
    let valid_loss = per_epoch("Loss", Split::Valid);
    let train_acc = per_epoch("Accuracy", Split::Train);
    let valid_acc = per_epoch("Accuracy", Split::Valid);
    let ((t0, t1), (v0, v1)) = (ends(&train_loss), ends(&valid_loss));
    println!(
        "validation: accuracy {:.3} (majority class {majority:.3}); loss per epoch: train {t0:.4} → {t1:.4}, valid {v0:.4} → {v1:.4}",
        accuracy(&pred, &truth),
    );
    println!("checkpoints and burn-train's logs: {}", dir.display());

    let mut files = render(
        &LineChart {
            title: "burn-train Learner, descent AdamW + cross-entropy: loss".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series: vec![
                Series::new("train", train_loss.clone()),
                Series::new("validation", valid_loss.clone()),
            ],
            ..Default::default()
        },
        &out,
        "learner_loss",
    )?;
    files.extend(render(
        &LineChart {
            title: "burn-train Learner: accuracy (%)".into(),
            x_label: "epoch".into(),
            y_label: "accuracy (%)".into(),
            series: vec![
                Series::new("train", train_acc),
                Series::new("validation", valid_acc),
            ],
            ..Default::default()
        },
        &out,
        "learner_accuracy",
    )?);
    report_figures(&files);
    Ok(())
}

/// The newest epoch with a model checkpoint (`model-<epoch>.bpk`) in `dir`.
fn newest_checkpoint(dir: &Path) -> Option<usize> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()
        })
        .max()
}
