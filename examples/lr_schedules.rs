//! Every learning-rate schedule of `descent-optimizers`, plotted over the same 100 steps.
//!
//! `cargo run --release --example lr_schedules -- [--quick]`

use burn::lr_scheduler::LrScheduler;
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::plot::{LineChart, Series, render};
use descent::optimizers::*;

/// Learning-rate schedules side by side.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Steps to plot.
    #[arg(long, default_value_t = 100)]
    steps: u64,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("lr_schedules")?;
    let steps = args.steps;
    let lr = 0.1;
    let mut plateau = ReduceLrOnPlateauConfig::new(lr)
        .with_patience(5)
        .with_factor(0.5)
        .init();
    // ANCHOR: step_cosine
    let schedules: Vec<(&str, Box<dyn LrScheduler>)> = vec![
        (
            "step_lr (25, γ 0.5)",
            Box::new(StepLrConfig::new(lr, 25).with_gamma(0.5).init()),
        ),
        (
            "multi_step_lr (30, 60, 80)",
            Box::new(
                MultiStepLrConfig::new(lr, vec![30, 60, 80])
                    .with_gamma(0.5)
                    .init(),
            ),
        ),
        (
            "exponential_lr (γ 0.97)",
            Box::new(ExponentialLrConfig::new(lr, 0.97).init()),
        ),
        (
            "cosine_annealing_lr",
            Box::new(CosineAnnealingLrConfig::new(lr, steps).init()),
        ),
        (
            "warm restarts (T₀ 20, ×2)",
            Box::new(
                CosineAnnealingWarmRestartsConfig::new(lr, 20)
                    .with_t_mult(2)
                    .init(),
            ),
        ),
        // ANCHOR_END: step_cosine
        (
            "linear_lr warm-up",
            Box::new(
                LinearLrConfig::new(lr)
                    .with_start_factor(0.1)
                    .with_total_iters(20)
                    .init(),
            ),
        ),
        (
            "constant_lr (⅓ for 20)",
            Box::new(ConstantLrConfig::new(lr).with_total_iters(20).init()),
        ),
        (
            "polynomial_lr (p 2)",
            Box::new(
                PolynomialLrConfig::new(lr)
                    .with_total_iters(steps)
                    .with_power(2.0)
                    .init(),
            ),
        ),
        (
            "one_cycle_lr",
            Box::new(OneCycleLrConfig::new(lr, steps).init()),
        ),
        (
            "cyclic_lr (triangular2)",
            Box::new(
                CyclicLrConfig::new(0.01, lr)
                    .with_step_size_up(10)
                    .with_mode(CyclicMode::Triangular2)
                    .init(),
            ),
        ),
        (
            "warmup_cosine (Optax)",
            Box::new(WarmupCosineConfig::new(0.0, lr, 10, steps).init()),
        ),
        // ANCHOR: warmup
        (
            "sequential: warm-up, cosine",
            Box::new(SequentialLr::new(
                vec![
                    Box::new(
                        LinearLrConfig::new(lr)
                            .with_start_factor(0.01)
                            .with_total_iters(10)
                            .init(),
                    ),
                    Box::new(CosineAnnealingLrConfig::new(lr, steps - 10).init()),
                ],
                vec![10],
            )),
        ),
        // ANCHOR_END: warmup
        (
            "lambda_lr (0.5·(1 + cos πt/100))",
            Box::new(LambdaLr::new(lr, move |t| {
                0.5 * (1.0 + (std::f64::consts::PI * t as f64 / steps as f64).cos())
            })),
        ),
        (
            "multiplicative_lr (×0.98)",
            Box::new(MultiplicativeLr::new(lr, |_| 0.98)),
        ),
        (
            "chained: constant ⅓ × exponential",
            Box::new(ChainedScheduler::new(
                vec![
                    Box::new(ConstantLrConfig::new(lr).with_total_iters(20).init()),
                    Box::new(ExponentialLrConfig::new(lr, 0.98).init()),
                ],
                lr,
            )),
        ),
        (
            "swalr (to 0.02 in 30, cos)",
            Box::new(SwalrConfig::new(lr, 0.02).with_anneal_epochs(30).init()),
        ),
    ];
    let mut series = Vec::new();
    for (name, mut s) in schedules {
        let points: Vec<(f64, f64)> = (0..steps).map(|t| (t as f64, s.step())).collect();
        println!(
            "{name:<30} first {:.4}, last {:.2e}",
            points[0].1,
            points[points.len() - 1].1
        );
        series.push(Series::new(name, points));
    }
    // ANCHOR: plateau
    // ReduceLROnPlateau is fed a loss that stops improving after step 30.
    let points: Vec<(f64, f64)> = (0..steps)
        .map(|t| {
            let lr = LrScheduler::step(&mut plateau);
            plateau.report(if t < 30 { 1.0 / (t + 1) as f64 } else { 0.03 });
            (t as f64, lr)
        })
        .collect();
    series.push(Series::new("reduce_lr_on_plateau", points));
    // ANCHOR_END: plateau

    let mut files = Vec::new();
    // Three panels' worth of lines would crowd one chart: split them.
    for (i, part) in series.chunks(series.len().div_ceil(3)).enumerate() {
        files.extend(render(
            &LineChart {
                title: format!("Learning-rate schedules ({}/3)", i + 1),
                x_label: "step".into(),
                y_label: "learning rate".into(),
                series: part.to_vec(),
                ..Default::default()
            },
            &out,
            &format!("schedules_{}", i + 1),
        )?);
    }
    report_figures(&files);
    Ok(())
}
