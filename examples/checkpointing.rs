//! Gradient checkpointing (the seed glossary's entry): keep fewer activations for the backward
//! pass and recompute them instead, trading time for memory. The same deep MLP is trained for a
//! few steps with Burn's autodiff as it is and with its gradient checkpointing
//! (`device.autodiff().gradient_checkpointing()`: memory-bound operations such as activations
//! are recomputed, matrix products keep their outputs), each in its own process, so that each
//! peak resident memory is its own. Both must give the same losses.
//!
//! ```text
//! without: the backward pass reads every saved activation
//! with:    it recomputes what was not saved from the nearest saved input
//! ```
//!
//! `cargo run --release --example checkpointing -- [--device flex|ndarray|wgpu] [--quick]`

use std::process::Command;
use std::time::Instant;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Distribution, Tensor};
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::plot::{LineChart, Series, render};
use descent::losses::{Reduction, mse_loss};
use descent::optimizers::SgdConfig;

/// Time and peak memory with and without gradient checkpointing.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Internal: run one variant in this process and print its measurements.
    #[arg(long, hide = true)]
    variant: Option<String>,
}

/// A deep MLP with GELU between its layers: much activation memory per parameter.
#[derive(Module, Debug)]
struct Deep {
    layers: Vec<Linear>,
}

impl Deep {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.layers.iter().fold(x, |h, l| gelu(l.forward(h)))
    }
}

/// One variant's measurements: milliseconds per step, peak resident MiB, the losses.
struct Measured {
    ms: Vec<f64>,
    peak_mib: Option<f64>,
    losses: Vec<f64>,
}

/// The process's peak resident memory (`VmHWM`), where /proc has it.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn measure(device: &Device, quick: bool, seed: u64) -> Measured {
    let (width, depth, batch, steps) = if quick {
        (128, 4, 128, 3)
    } else {
        (1024, 8, 1024, 8)
    };
    burn::tensor::Tensor::<1>::from_floats([seed as f32], device); // the device is up
    let layers = (0..depth)
        .map(|_| LinearConfig::new(width, width).init(device))
        .collect();
    let mut model = Deep { layers };
    let x = Tensor::<2>::random([batch, width], Distribution::Normal(0.0, 1.0), device);
    let y = Tensor::<2>::random([batch, width], Distribution::Normal(0.0, 1.0), device);
    let mut optim = SgdConfig::new().init();
    let mut out = Measured {
        ms: Vec::new(),
        peak_mib: None,
        losses: Vec::new(),
    };
    // ANCHOR: step
    for _ in 0..steps {
        let start = Instant::now();
        let loss = mse_loss(model.forward(x.clone()), y.clone(), Reduction::Mean);
        let value = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.01, model, grads);
        // Wait for the device before reading the clock.
        let _ = model.layers[0]
            .weight
            .val()
            .slice([0..1, 0..1])
            .into_scalar::<f32>();
        out.ms.push(start.elapsed().as_secs_f64() * 1e3);
        out.losses.push(value);
    }
    // ANCHOR_END: step
    out.peak_mib = peak_mib();
    out
}

fn main() {
    cli::main(|| example(Args::parse()));
}

fn example(args: Args) -> CliResult<()> {
    if let Some(variant) = &args.variant {
        // The child: one variant, measured in this process.
        // ANCHOR: device
        let base = args.common.device()?.autodiff();
        let device = if variant == "checkpointed" {
            base.gradient_checkpointing()
        } else {
            base
        };
        // ANCHOR_END: device
        let m = measure(&device, args.common.quick, args.common.seed);
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:e}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        println!(
            "RESULT {} {} {}",
            m.peak_mib.map_or("nan".into(), |p| p.to_string()),
            list(&m.ms),
            list(&m.losses)
        );
        return Ok(());
    }
    let out = args.common.out_dir("checkpointing")?;
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let mut results = Vec::new();
    for variant in ["plain", "checkpointed"] {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--variant",
            variant,
            "--device",
            args.common.device.as_str(),
        ]);
        cmd.args(["--seed", &args.common.seed.to_string()]);
        if args.common.quick {
            cmd.arg("--quick");
        }
        let output = cmd
            .output()
            .map_err(|e| format!("running {variant}: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .ok_or_else(|| {
                format!(
                    "the {variant} run printed no result: {}",
                    String::from_utf8_lossy(&output.stderr)
                )
            })?;
        let parts: Vec<&str> = line.split(' ').collect();
        let nums = |s: &str| {
            s.split(',')
                .filter_map(|v| v.parse::<f64>().ok())
                .collect::<Vec<f64>>()
        };
        let peak: f64 = parts[0].parse().unwrap_or(f64::NAN);
        results.push((variant, peak, nums(parts[1]), nums(parts[2])));
    }
    let median = |v: &[f64]| {
        let mut s = v[1.min(v.len() - 1)..].to_vec(); // the first step warms up
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    println!(
        "{:<14} {:>16} {:>18}",
        "autodiff", "peak memory MiB", "ms per step (median)"
    );
    for (variant, peak, ms, _) in &results {
        println!("{variant:<14} {peak:>16.0} {:>18.1}", median(ms));
    }
    let (a, b) = (&results[0].3, &results[1].3);
    let same = a
        .iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= 1e-5 * x.abs().max(1.0));
    println!(
        "losses {} (first {:.6}, last {:.6})",
        if same {
            "identical in both runs"
        } else {
            "DIFFER between the runs"
        },
        a[0],
        a[a.len() - 1]
    );
    if !same {
        return Err("gradient checkpointing changed the losses"
            .to_string()
            .into());
    }
    let files = render(
        &LineChart {
            title: "Time per training step, without and with gradient checkpointing".into(),
            x_label: "step".into(),
            y_label: "ms".into(),
            series: results
                .iter()
                .map(|(v, peak, ms, _)| Series::indexed(format!("{v} (peak {peak:.0} MiB)"), ms))
                .collect(),
            ..Default::default()
        },
        &out,
        "step_time",
    )?;
    report_figures(&files);
    Ok(())
}
