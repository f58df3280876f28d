//! Monitoring training (lesson 6 of the seed curriculum, best practices): the gradient norm of
//! each layer and the size of each update relative to its weights, logged every step and
//! plotted, for a run that explodes and for the same run with gradient-norm clipping.
//!
//! ```text
//! per layer l:   ‖∇W_l‖₂,   ‖ΔW_l‖₂ / ‖W_l‖₂   (rule of thumb: about 1e-3 per step)
//! clipping:      g ← g · min(1, c / ‖g‖₂)      (‖g‖ over every parameter together)
//! ```
//!
//! `cargo run --release --example monitoring -- [--device flex|ndarray|wgpu] [--quick]`

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::models::Mlp;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::real;
use descent::losses::{Reduction, mse_loss};
use descent::optimizers::{NormType, SgdConfig, clip_grad_norm};

/// Gradient norms and update ratios, with and without clipping.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The learning rate (large enough that the unclipped run explodes).
    #[arg(long, default_value_t = 0.5)]
    lr: f64,
    /// The clipping threshold c.
    #[arg(long, default_value_t = 1.0)]
    max_norm: f64,
}

/// One run's log: the loss and, per layer, the weight's gradient norm and update ratio.
struct Log {
    loss: Vec<f64>,
    grad_norm: Vec<Vec<f64>>,
    update_ratio: Vec<Vec<f64>>,
}

fn norm(t: Tensor<2>) -> f64 {
    t.square().sum().sqrt().into_scalar::<f64>()
}

fn main() {
    cli::main(|| example(Args::parse()));
}

fn example(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("monitoring")?;
    let device = args.common.device()?.autodiff();
    let (mut data, _) = real::winequality().split(0.0, args.common.seed);
    let (mean, std) = data.moments();
    data.standardize_with(&mean, &std);
    let x = data.x_tensor(&device);
    let y = data.y_tensor(&device);
    let steps = if args.common.quick { 30 } else { 200 };
    let layers = 3;

    // Both runs start from the same weights.
    let init = Mlp::new(11, &[64, 64], 1, &device);
    let train = |clip: Option<f64>| -> Log {
        let mut model = init.clone();
        let mut optim: ModuleOptimizer = SgdConfig::new()
            .with_momentum(0.9)
            .with_checks(false)
            .init();
        let mut log = Log {
            loss: Vec::new(),
            grad_norm: vec![Vec::new(); layers],
            update_ratio: vec![Vec::new(); layers],
        };
        // ANCHOR: step
        for _ in 0..steps {
            let loss = mse_loss(model.forward(x.clone()), y.clone(), Reduction::Mean);
            let value = loss.clone().into_scalar::<f64>();
            log.loss.push(value);
            if !value.is_finite() || value > 1e12 {
                break;
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            for (l, layer) in model.layers.iter().enumerate() {
                let g = grads.get::<2>(layer.weight.id).map_or(0.0, norm);
                log.grad_norm[l].push(g);
            }
            if let Some(c) = clip {
                clip_grad_norm(&model, &mut grads, c, NormType::L2);
            }
            let before: Vec<Tensor<2>> = model.layers.iter().map(|l| l.weight.val()).collect();
            model = optim.step(args.lr, model, grads);
            for (l, (layer, w)) in model.layers.iter().zip(before).enumerate() {
                let ratio = norm(layer.weight.val() - w.clone()) / norm(w).max(1e-12);
                log.update_ratio[l].push(ratio);
            }
        }
        // ANCHOR_END: step
        log
    };
    let exploding = train(None);
    let clipped = train(Some(args.max_norm));
    let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
    println!(
        "SGD + momentum 0.9 at lr {}: without clipping the loss went {:.3} → {:.3e} in {} steps; \
         clipped at ‖g‖ ≤ {}: {:.3} → {:.4}",
        args.lr,
        exploding.loss[0],
        last(&exploding.loss),
        exploding.loss.len(),
        args.max_norm,
        clipped.loss[0],
        last(&clipped.loss)
    );
    for (l, (g, r)) in clipped
        .grad_norm
        .iter()
        .zip(&clipped.update_ratio)
        .enumerate()
    {
        println!(
            "  clipped run, layer {l}: final ‖∇W‖ {:.3e}, final ‖ΔW‖/‖W‖ {:.2e}",
            last(g),
            last(r)
        );
    }

    let finite = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .map(|x| if x.is_finite() { x.min(1e30) } else { 1e30 })
            .collect()
    };
    let mut files = render(
        &LineChart {
            title: "Loss: an exploding run and the same run clipped".into(),
            x_label: "step".into(),
            y_label: "MSE".into(),
            series: vec![
                Series::indexed("no clipping", &finite(&exploding.loss)),
                Series::indexed(format!("clip_grad_norm {}", args.max_norm), &clipped.loss),
            ],
            log_y: true,
            ..Default::default()
        },
        &out,
        "loss",
    )?;
    for (name, runs) in [
        ("grad_norms", [&exploding, &clipped]),
        ("update_ratios", [&exploding, &clipped]),
    ] {
        let mut series = Vec::new();
        for (label, log) in ["no clipping", "clipped"].iter().zip(runs) {
            let per_layer = if name == "grad_norms" {
                &log.grad_norm
            } else {
                &log.update_ratio
            };
            for (l, v) in per_layer.iter().enumerate() {
                series.push(Series::indexed(format!("{label}, layer {l}"), &finite(v)));
            }
        }
        if name == "update_ratios" {
            series.push(Series::indexed("1e-3 (rule of thumb)", &vec![1e-3; steps]));
        }
        files.extend(render(
            &LineChart {
                title: if name == "grad_norms" {
                    "Gradient norm of each layer's weights (before clipping)".into()
                } else {
                    "Update size relative to the weights, per layer".into()
                },
                x_label: "step".into(),
                y_label: if name == "grad_norms" {
                    "‖∇W‖₂".into()
                } else {
                    "‖ΔW‖ / ‖W‖".into()
                },
                series,
                log_y: true,
                ..Default::default()
            },
            &out,
            name,
        )?);
    }
    report_figures(&files);
    Ok(())
}
