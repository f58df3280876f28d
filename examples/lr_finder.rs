//! The learning-rate range test (Smith, 2017): train with an exponentially increasing rate,
//! plot the loss against the rate and suggest the rate where the loss falls fastest.
//!
//! `cargo run --release --example lr_finder -- [--device flex|ndarray|wgpu] [--quick]`

use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::models::Mlp;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::real;
use descent::lab::train::{Batch, Trainer};
use descent::losses::{Reduction, cross_entropy};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{ExponentialLrConfig, SgdConfig};

/// Learning-rate range test on iris with a small MLP.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Smallest rate.
    #[arg(long, default_value_t = 1e-5)]
    start: f64,
    /// Largest rate.
    #[arg(long, default_value_t = 10.0)]
    end: f64,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("lr_finder")?;
    let device = args.common.device()?;
    let mut data = real::iris();
    let (mean, std) = data.moments();
    data.standardize_with(&mean, &std);
    // ANCHOR: range_test
    let steps: usize = if args.common.quick { 30 } else { 150 };
    let batch = 16;
    let batches = data.len().div_ceil(batch);
    let epochs = steps.div_ceil(batches);
    let gamma = (args.end / args.start).powf(1.0 / (steps as f64 - 1.0));
    let schedule: Box<dyn Schedule> = Box::new(ExponentialLrConfig::new(args.start, gamma).init());
    let config = args.common.train_config("lr_finder", epochs, batch);
    let mut trainer = Trainer::new(config, SgdConfig::new().with_momentum(0.9).init(), schedule);
    let loss = |m: &Mlp, b: &Batch| {
        cross_entropy(m.forward(b.x.clone()), b.classes.clone(), Reduction::Mean)
    };
    let model = Mlp::new(4, &[16], 3, &device);
    let model = args.common.resume(&mut trainer, model)?;
    trainer.fit(model, &data, None, &loss, &device)?;
    // ANCHOR_END: range_test

    let h = trainer.history();
    // Exponentially smoothed loss, stopped once it blows up (4× its best).
    let mut smooth = Vec::new();
    let (mut avg, mut best) = (0.0, f64::INFINITY);
    for (i, l) in h.step_loss.iter().enumerate().take(steps) {
        avg = 0.9 * avg + 0.1 * l;
        let s = avg / (1.0 - 0.9f64.powi(i as i32 + 1));
        if !s.is_finite() || s > 4.0 * best {
            break;
        }
        best = best.min(s);
        smooth.push((h.step_lr[i], s));
    }
    // ANCHOR: suggestion
    // Steepest descent of the smoothed loss in log(lr).
    let suggestion = smooth
        .windows(2)
        .map(|w| ((w[1].1 - w[0].1) / (w[1].0.ln() - w[0].0.ln()), w[0].0))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, lr)| lr);
    // ANCHOR_END: suggestion
    match suggestion {
        Some(lr) => {
            println!("suggested learning rate: {lr:.3e} (steepest fall of the smoothed loss)")
        }
        None => println!("no suggestion: the loss never fell"),
    }
    let files = render(
        &LineChart {
            title: "Learning-rate range test (iris, MLP, SGD + momentum)".into(),
            x_label: "log10 learning rate".into(),
            y_label: "smoothed loss".into(),
            series: vec![Series::new(
                "loss",
                smooth.iter().map(|(lr, l)| (lr.log10(), *l)).collect(),
            )],
            ..Default::default()
        },
        &out,
        "lr_finder",
    )?;
    report_figures(&files);
    Ok(())
}
