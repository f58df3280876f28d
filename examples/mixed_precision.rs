//! Mixed precision: the same network trained in f32, and in f16 (forward and backward in f16,
//! the loss in f32, Adam over f32 master weights) without and with dynamic loss scaling
//! (`GradScaler`, `torch.amp.GradScaler`'s rules).
//!
//! Without scaling, the gradients below f16's smallest subnormal (2⁻²⁴ ≈ 6·10⁻⁸) round to zero
//! and those below its smallest normal (2⁻¹⁴ ≈ 6·10⁻⁵) keep fewer than 10 bits: the example
//! measures both, on a fixed batch after every epoch, against the f32 gradients at the same
//! weights. With the loss scaled by S (2¹⁶ to start, halved on an overflow, doubled after
//! `growth_interval` good steps), the gradients leave that range, and the run reaches the f32
//! run's accuracy.
//!
//! `cargo run --release --example mixed_precision -- [--device flex|wgpu] [--quick]`

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{DType, Device, Int, Tensor};
use clap::Parser;
use descent::kernel::as_dtype;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::data::Dataset;
use descent::lab::models::Mlp;
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::synthetic;
use descent::losses::{Reduction, cross_entropy};
use descent::optimizers::flat::grads_into;
use descent::optimizers::{AdamConfig, GradScaler, GradScalerConfig, MasterWeights, cast_params};

/// f32 against f16 without and with loss scaling.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Training epochs (default 12; 3 with --quick).
    #[arg(long)]
    epochs: Option<usize>,
    /// The half dtype: f16 (default; 5 exponent bits, where scaling matters) or bf16.
    #[arg(long, default_value = "f16")]
    dtype: String,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

/// One training run's recipe.
struct Recipe {
    name: &'static str,
    dtype: DType,
    scaler: Option<GradScaler>,
}

/// What a run measured.
struct Outcome {
    name: &'static str,
    accuracy: f64,
    /// Per epoch: the share of the f32 gradient's nonzero entries that are zero in the run's
    /// dtype, on the probe batch.
    zeroed: Vec<f64>,
    /// Per epoch: the share that are subnormal in the run's dtype (fewer than its full bits),
    /// as stored (scaled).
    subnormal: Vec<f64>,
    skipped: usize,
    scale: f64,
}

const BATCH: usize = 256;
const LR: f64 = 1e-3;

/// Six overlapping Gaussian classes in the plane: an MLP's accuracy tops out near the Bayes
/// rate, so runs compare on a stable number.
fn data(n: usize, seed: u64) -> Dataset {
    let centers: Vec<(f32, f32)> = (0..6)
        .map(|k| {
            let a = k as f32 * std::f32::consts::TAU / 6.0;
            (2.0 * a.cos(), 2.0 * a.sin())
        })
        .collect();
    synthetic::blobs(n / 6, &centers, 0.9, seed)
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("mixed_precision")?;
    let device = args.common.device()?;
    let quick = args.common.quick;
    let half = match args.dtype.as_str() {
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        other => return Err(format!("--dtype: expected f16 or bf16, got {other:?}").into()),
    };
    let seed = args.common.seed;
    let epochs = args.epochs.unwrap_or(if quick { 3 } else { 12 });
    let (train, valid) = data(if quick { 6_000 } else { 60_000 }, seed).split(0.2, seed);
    let init = Mlp::new(2, &[128, 128, 128, 128], 6, &device);

    // ANCHOR: recipes
    let recipes = vec![
        Recipe {
            name: "f32",
            dtype: DType::F32,
            scaler: None,
        },
        Recipe {
            name: "half, no scaling",
            dtype: half,
            scaler: None,
        },
        Recipe {
            name: "half + GradScaler",
            dtype: half,
            scaler: Some(
                GradScalerConfig::new()
                    .with_growth_interval(200)
                    .try_init()?,
            ),
        },
    ];
    // ANCHOR_END: recipes
    let mut outcomes = Vec::new();
    for recipe in recipes {
        let o = train_run(recipe, &init, &train, &valid, epochs, seed, &device);
        println!(
            "{:<18} accuracy {:.2} %   gradients zeroed {:>6.2} %, subnormal {:>6.2} % (last epoch)   skipped steps {}   final scale {}",
            o.name,
            100.0 * o.accuracy,
            100.0 * o.zeroed.last().copied().unwrap_or(0.0),
            100.0 * o.subnormal.last().copied().unwrap_or(0.0),
            o.skipped,
            o.scale,
        );
        outcomes.push(o);
    }
    let f32_acc = outcomes[0].accuracy;
    let scaled = outcomes[2].accuracy;
    println!(
        "half + GradScaler vs f32: {:+.2} percentage points",
        100.0 * (scaled - f32_acc)
    );

    let series = |f: fn(&Outcome) -> &Vec<f64>| {
        outcomes[1..]
            .iter()
            .map(|o| {
                let v: Vec<f64> = f(o).iter().map(|x| 100.0 * x).collect();
                Series::indexed(o.name, &v)
            })
            .collect::<Vec<_>>()
    };
    let mut files = render(
        &LineChart {
            title: format!(
                "{:?} gradients that round to zero (% of the f32 gradient's nonzeros)",
                half
            ),
            x_label: "epoch".into(),
            y_label: "zeroed (%)".into(),
            series: series(|o| &o.zeroed),
            ..Default::default()
        },
        &out,
        "mixed_precision_zeroed",
    )?;
    files.extend(render(
        &LineChart {
            title: format!("{:?} gradients that are subnormal (fewer bits)", half),
            x_label: "epoch".into(),
            y_label: "subnormal (%)".into(),
            series: series(|o| &o.subnormal),
            ..Default::default()
        },
        &out,
        "mixed_precision_subnormal",
    )?);
    report_figures(&files);
    Ok(())
}

/// Trains a copy of `init` by `recipe`; measures the gradients on the first batch of `train`
/// after every epoch and the accuracy on `valid` at the end.
fn train_run(
    mut recipe: Recipe,
    init: &Mlp,
    train: &Dataset,
    valid: &Dataset,
    epochs: usize,
    seed: u64,
    device: &Device,
) -> Outcome {
    // ANCHOR: step
    let mut model = cast_params(init.clone(), recipe.dtype);
    let mut optim: ModuleOptimizer = MasterWeights::new(AdamConfig::new().build()).into();
    let mut skipped = 0;
    let probe = train.subset(&(0..BATCH.min(train.len())).collect::<Vec<_>>());
    let (mut zeroed, mut subnormal) = (Vec::new(), Vec::new());
    for epoch in 0..epochs {
        // This epoch's order: the rows shuffled by the seed and the epoch.
        let (shuffled, _) = train.split(0.0, seed ^ (epoch as u64 + 1));
        let rows: Vec<usize> = (0..shuffled.len()).collect();
        for batch in rows.chunks(BATCH) {
            let batch = shuffled.subset(batch);
            let scale = recipe.scaler.as_ref().map_or(1.0, GradScaler::scale);
            let grads = gradients(&model, &batch, recipe.dtype, scale, device);
            match recipe.scaler.as_mut() {
                Some(scaler) => {
                    let unscaled = scaler.unscale(&model, grads);
                    let (next, stepped) = scaler.step(&mut optim, LR, model, unscaled);
                    model = next;
                    skipped += usize::from(!stepped);
                }
                None => model = optim.step(LR, model, grads),
            }
        }
        if recipe.dtype != DType::F32 {
            let scale = recipe.scaler.as_ref().map_or(1.0, GradScaler::scale);
            let (z, s) = underflow(&model, &probe, recipe.dtype, scale, device);
            zeroed.push(z);
            subnormal.push(s);
        }
    }
    // ANCHOR_END: step
    Outcome {
        name: recipe.name,
        accuracy: accuracy(&model, valid, recipe.dtype, device),
        zeroed,
        subnormal,
        skipped,
        scale: recipe.scaler.as_ref().map_or(1.0, GradScaler::scale),
    }
}

/// The gradients of `scale` × the mean cross-entropy on `batch`: the network in `dtype`, the
/// loss in f32 (mixed precision's rule), the backward pass in `dtype` again.
fn gradients(
    model: &Mlp,
    batch: &Dataset,
    dtype: DType,
    scale: f64,
    device: &Device,
) -> GradientsParams {
    let x = as_dtype(batch.x_tensor(device), dtype);
    let classes: Tensor<1, Int> = batch.y_classes(device);
    let logits = model.forward(x);
    let loss = as_dtype(cross_entropy(logits, classes, Reduction::Mean), DType::F32);
    GradientsParams::from_grads(loss.mul_scalar(scale).backward(), model)
}

/// On `batch`: the share of the f32 gradient's nonzero entries (at the same weights, in f32)
/// that the run's gradients (in `dtype`, with the loss scaled by `scale`) hold as zero, and the
/// share they hold as subnormals.
fn underflow(
    model: &Mlp,
    batch: &Dataset,
    dtype: DType,
    scale: f64,
    device: &Device,
) -> (f64, f64) {
    let wide = cast_params(model.clone(), DType::F32);
    let (mut reference, mut run) = (Vec::new(), Vec::new());
    grads_into(
        &wide,
        &gradients(&wide, batch, DType::F32, 1.0, device),
        &mut reference,
    );
    grads_into(
        model,
        &gradients(model, batch, dtype, scale, device),
        &mut run,
    );
    let smallest_normal = match dtype {
        DType::BF16 => f64::from(f32::MIN_POSITIVE),
        _ => 2f64.powi(-14),
    };
    let (mut nonzero, mut zero, mut sub) = (0usize, 0usize, 0usize);
    for (r, h) in reference.iter().zip(&run) {
        if *r != 0.0 {
            nonzero += 1;
            zero += usize::from(*h == 0.0);
            sub += usize::from(*h != 0.0 && h.abs() < smallest_normal);
        }
    }
    let n = nonzero.max(1) as f64;
    (zero as f64 / n, sub as f64 / n)
}

/// The share of `data`'s rows whose largest logit is their class.
fn accuracy(model: &Mlp, data: &Dataset, dtype: DType, device: &Device) -> f64 {
    let logits = model.forward(as_dtype(data.x_tensor(device), dtype));
    let predicted: Vec<i64> = logits
        .argmax(1)
        .reshape([data.len()])
        .into_data()
        .iter::<i64>()
        .collect();
    let right = predicted
        .iter()
        .zip(&data.y)
        .filter(|(p, y)| **p as f32 == **y)
        .count();
    right as f64 / data.len().max(1) as f64
}
