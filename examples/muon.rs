//! Muon against AdamW on the same network: an MLP (11 → 128 → 128 → 1) regressing red-wine
//! quality, trained once with AdamW everywhere and once with Muon on the hidden weight
//! matrices and AdamW on the rest (biases and the output layer), both at the same rate:
//! Muon's `match_rms_adamw` adjustment lets it reuse AdamW's learning rate and weight decay.
//! Prints the final losses and plots both loss curves.
//!
//! `cargo run --release --example muon -- [--device flex|ndarray|wgpu] [--quick]`

use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::models::Mlp;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::real;
use descent::lab::train::{Batch, Trainer};
use descent::losses::{Reduction, mse_loss};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{
    AdamWConfig, AdjustLr, CosineAnnealingLrConfig, MuonConfig, muon_with_adamw,
};

/// AdamW vs Muon + AdamW on one network.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The learning rate of both runs (cosine-annealed to 0).
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("muon")?;
    let device = args.common.device()?;
    let (mut train, mut test) = real::winequality().split(0.25, args.common.seed);
    let (mean, std) = train.moments();
    train.standardize_with(&mean, &std);
    test.standardize_with(&mean, &std);
    let epochs = if args.common.quick { 3 } else { 40 };
    let batch = 64;
    let steps = (epochs * train.len().div_ceil(batch)) as u64;
    let loss = |m: &Mlp, b: &Batch| mse_loss(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean);
    // ANCHOR: optimizers
    let adamw = AdamWConfig::new().with_weight_decay(0.1);
    let muon = MuonConfig::new()
        .with_adjust_lr_fn(Some(AdjustLr::MatchRmsAdamw))
        .with_weight_decay(0.1);
    // ANCHOR_END: optimizers

    let mut curves = Vec::new();
    println!(
        "{:<16} {:>12} {:>12}",
        "optimizer", "train MSE", "held-out MSE"
    );
    for name in ["AdamW", "Muon + AdamW"] {
        // The same initial weights for both runs.
        let model = Mlp::new(11, &[128, 128], 1, &device);
        // ANCHOR: partition
        let optim = if name == "AdamW" {
            adamw.try_init().map_err(|e| e.to_string())?
        } else {
            // Muon for layers.0 and layers.1's weights; AdamW for the biases and layers.2.
            muon_with_adamw(&model, &muon, &adamw, &["layers.2"]).map_err(|e| e.to_string())?
        };
        // ANCHOR_END: partition
        let schedule: Box<dyn Schedule> =
            Box::new(CosineAnnealingLrConfig::new(args.lr, steps).init());
        let config = args.common.train_config(name, epochs, batch);
        let mut trainer = Trainer::new(config, optim, schedule);
        let model = args.common.resume(&mut trainer, model)?;
        trainer.fit(model, &train, Some(&test), &loss, &device)?;
        let h = trainer.history();
        let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
        println!(
            "{name:<16} {:>12.4} {:>12.4}",
            last(&h.epoch_loss),
            last(&h.val_loss)
        );
        curves.push(Series::indexed(format!("{name}: train"), &h.epoch_loss));
        curves.push(Series::indexed(format!("{name}: held out"), &h.val_loss));
    }
    let files = render(
        &LineChart {
            title: "Wine quality MLP: AdamW vs Muon + AdamW (same rate)".into(),
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
