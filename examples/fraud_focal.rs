//! Fraud detection on imbalanced data: the same small MLP trained with BCE, class-weighted
//! BCE (`pos_weight = n_neg / n_pos`) and sigmoid focal loss, compared on a held-out set.
//!
//! ```sh
//! cargo run --release --example fraud_focal                      # synthetic, ~1% fraud
//! cargo run --release --example fraud_focal -- --csv creditcard.csv
//! cargo run --release --example fraud_focal -- --quick --device wgpu
//! ```

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, OptimizerArgs, report_figures};
use descent::lab::data::Dataset;
use descent::lab::metrics::{Binary, pr_auc, pr_curve, recall_at_precision, roc_auc};
use descent::lab::models::Mlp;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::train::{Batch, TrainConfig, Trainer};
use descent::lab::{credit_card, synthetic};
use descent::losses::{BinaryCrossEntropyWithLogitsLossConfig, SigmoidFocalLossConfig};
use descent::optimizers::CosineAnnealingLrConfig;

/// BCE vs class-weighted BCE vs focal loss on imbalanced data.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The optimizer (default AdamW at 0.01, cosine-annealed).
    #[command(flatten)]
    optimizer: OptimizerArgs,
    /// The public credit-card-fraud CSV (Time, V1..V28, Amount, Class) instead of synthetic data.
    #[arg(long)]
    csv: Option<std::path::PathBuf>,
    /// Synthetic transactions (default 20000; 6000 with --quick).
    #[arg(long, value_parser = cli::at_least_one)]
    samples: Option<usize>,
    /// Training epochs (default 20; 4 with --quick).
    #[arg(long, value_parser = cli::at_least_one)]
    epochs: Option<usize>,
}

/// The precision at which recall is compared.
const PRECISION_LEVEL: f64 = 0.5;

struct Outcome {
    name: &'static str,
    scores: Vec<f32>,
    epoch_loss: Vec<f64>,
}

fn scores(model: &Mlp, data: &Dataset, device: &Device) -> Vec<f32> {
    let n = data.len();
    let logits: Tensor<1> = model.forward(data.x_tensor(device)).reshape([n]);
    sigmoid(logits).detach().into_data().iter::<f32>().collect()
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("fraud_focal")?;
    let device = args.common.device()?;
    let quick = args.common.quick;
    let seed = args.common.seed;

    let data = match &args.csv {
        Some(path) => {
            let loaded = credit_card::load(path)?;
            for bad in loaded.bad_rows.iter().take(10) {
                eprintln!("skipped {bad}");
            }
            if loaded.bad_rows.len() > 10 {
                eprintln!("... and {} more bad rows", loaded.bad_rows.len() - 10);
            }
            loaded.data
        }
        None => {
            let n = args.samples.unwrap_or(if quick { 6000 } else { 20_000 });
            synthetic::fraud(n, 0.01, seed)
        }
    };
    let (mut train, mut test) = data.split(0.3, seed);
    for (set, part) in [("training", &train), ("test", &test)] {
        let pos = part.positives();
        if pos == 0 || pos == part.len() {
            return Err(format!(
                "the {set} split holds {pos} fraud rows of {}: comparing losses needs both \
                 classes in both splits (a larger or more balanced file)",
                part.len()
            )
            .into());
        }
    }
    let (mean, std) = train.moments();
    train.standardize_with(&mean, &std);
    test.standardize_with(&mean, &std);
    let (pos, neg) = (train.positives(), train.len() - train.positives());
    println!(
        "data: {} train rows ({pos} fraud, {:.2}%), {} test rows ({} fraud); device {}",
        train.len(),
        100.0 * pos as f64 / train.len() as f64,
        test.len(),
        test.positives(),
        args.common.device
    );

    let epochs = args.epochs.unwrap_or(if quick { 4 } else { 20 });
    let batch_size = 256;
    let steps = epochs * train.len().div_ceil(batch_size);
    // ANCHOR: losses
    let bce = BinaryCrossEntropyWithLogitsLossConfig::new().init();
    let weighted = BinaryCrossEntropyWithLogitsLossConfig::new()
        .with_pos_weight(Some(vec![neg as f64 / pos as f64]))
        .init();
    let focal = SigmoidFocalLossConfig::new()
        .with_alpha(0.75)
        .with_gamma(2.0)
        .init();
    // ANCHOR_END: losses

    let mut outcomes = Vec::new();
    for name in ["bce", "weighted bce", "focal"] {
        let config = TrainConfig {
            progress: !quick,
            ..args.common.train_config(name, epochs, batch_size)
        };
        // ANCHOR: train
        let (optim, lr) = args.optimizer.build("adamw", serde_json::json!({}), 0.01)?;
        let schedule = Box::new(CosineAnnealingLrConfig::new(lr, steps as u64).init());
        let mut trainer = Trainer::new(config, optim, schedule);
        let model = Mlp::new(train.features, &[16], 1, &device);
        let model = args.common.resume(&mut trainer, model)?;
        let loss = |m: &Mlp, b: &Batch| {
            let n = b.y.dims()[0];
            let logits: Tensor<1> = m.forward(b.x.clone()).reshape([n]);
            let y: Tensor<1> = b.y.clone().reshape([n]);
            match name {
                "bce" => bce.forward(logits, y),
                "weighted bce" => weighted.forward(logits, y),
                _ => focal.forward(logits, y),
            }
        };
        let model = trainer.fit(model, &train, None, &loss, &device)?;
        // ANCHOR_END: train
        outcomes.push(Outcome {
            name,
            scores: scores(&model, &test, &device),
            epoch_loss: trainer.history().epoch_loss.clone(),
        });
    }

    println!(
        "\n{:<13} {:>9} {:>7} {:>6} {:>7} {:>8} {:>12}",
        "loss", "precision", "recall", "F1", "PR-AUC", "ROC-AUC", "recall@P≥0.5"
    );
    let mut recall_at = Vec::new();
    for o in &outcomes {
        let b = Binary::at(&o.scores, &test.y, 0.5);
        let r = recall_at_precision(&o.scores, &test.y, PRECISION_LEVEL);
        recall_at.push(r);
        println!(
            "{:<13} {:>9.3} {:>7.3} {:>6.3} {:>7.3} {:>8.3} {:>12.3}",
            o.name,
            b.precision(),
            b.recall(),
            b.f1(),
            pr_auc(&o.scores, &test.y),
            roc_auc(&o.scores, &test.y),
            r
        );
    }
    println!(
        "(precision, recall and F1 at threshold 0.5; recall@P≥0.5: best recall at precision ≥ 0.5)"
    );

    let mut files = render(
        &LineChart {
            title: "Precision-recall on the held-out set".into(),
            x_label: "recall".into(),
            y_label: "precision".into(),
            series: outcomes
                .iter()
                .map(|o| {
                    Series::new(
                        o.name,
                        pr_curve(&o.scores, &test.y)
                            .into_iter()
                            .map(|(r, p, _)| (r, p))
                            .collect(),
                    )
                })
                .collect(),
            ..Default::default()
        },
        &out,
        "pr_curves",
    )?;
    files.extend(render(
        &LineChart {
            title: "Training loss per epoch".into(),
            x_label: "epoch".into(),
            y_label: "mean loss".into(),
            series: outcomes
                .iter()
                .map(|o| Series::indexed(o.name, &o.epoch_loss))
                .collect(),
            log_y: true,
            ..Default::default()
        },
        &out,
        "loss_curves",
    )?);
    report_figures(&files);

    if quick && args.csv.is_none() {
        // The claim this example exists to show, checked where CI runs it.
        let best_other = recall_at[1].max(recall_at[2]);
        assert!(
            best_other > recall_at[0],
            "weighted BCE or focal loss should beat BCE on recall at precision ≥ {PRECISION_LEVEL}: {recall_at:?}"
        );
        println!(
            "check: recall at precision ≥ {PRECISION_LEVEL}: weighted/focal {best_other:.3} > BCE {:.3}",
            recall_at[0]
        );
    }
    Ok(())
}
