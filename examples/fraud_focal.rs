//! Fraud detection on imbalanced data: the same logistic model trained with BCE,
//! class-weighted BCE (`pos_weight = n_neg / n_pos`) and sigmoid focal loss.
//!
//! `cargo run --release --example fraud_focal -- --device flex --seed 42`

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData, activation::sigmoid};
use descent::losses::{BinaryCrossEntropyWithLogitsLossConfig, Reduction, SigmoidFocalLossConfig};

/// Command-line options (`--device`, `--seed`, `--steps`, `--samples`).
#[derive(Debug)]
struct Args {
    /// Device: flex, ndarray or wgpu.
    device: String,
    /// Seed of the synthetic data.
    seed: u64,
    /// Full-batch training steps per loss.
    steps: usize,
    /// Number of transactions.
    samples: usize,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Args {
            device: "flex".into(),
            seed: 42,
            steps: 300,
            samples: 20_000,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
            match flag.as_str() {
                "--device" => args.device = value()?,
                "--seed" => args.seed = number(value()?)?,
                "--steps" => args.steps = number(value()?)? as usize,
                "--samples" => args.samples = number(value()?)? as usize,
                "-h" | "--help" => {
                    println!(
                        "fraud_focal [--device flex|ndarray|wgpu] [--seed N] [--steps N] [--samples N]"
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}; try --help")),
            }
        }
        Ok(args)
    }
}

const FEATURES: usize = 8;
const INFORMATIVE: usize = 4;

/// SplitMix64 with Box–Muller normals: reproducible data without a dependency.
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * core::f64::consts::PI * v).cos()
    }
}

/// About 1% positives; positives are shifted by 1.6 on the first features, every feature noisy.
fn make_data(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(seed);
    let mut x = Vec::with_capacity(n * FEATURES);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let fraud = rng.uniform() < 0.01;
        for f in 0..FEATURES {
            let shift = if fraud && f < INFORMATIVE { 1.6 } else { 0.0 };
            x.push((rng.normal() + shift) as f32);
        }
        y.push(if fraud { 1.0 } else { 0.0 });
    }
    (x, y)
}

#[derive(Module, Debug)]
struct Logistic {
    linear: Linear,
}

impl Logistic {
    fn forward(&self, x: Tensor<2>) -> Tensor<1> {
        let n = x.dims()[0];
        self.linear.forward(x).reshape([n])
    }
}

fn train(
    kind: &str,
    x: &Tensor<2>,
    y: &Tensor<1>,
    pos_weight: f64,
    steps: usize,
    device: &Device,
) -> Logistic {
    let mut model = Logistic {
        linear: LinearConfig::new(FEATURES, 1).init(device),
    };
    let mut optim = AdamConfig::new().init();
    let bce = BinaryCrossEntropyWithLogitsLossConfig::new()
        .init()
        .expect("valid");
    let weighted = BinaryCrossEntropyWithLogitsLossConfig::new()
        .with_pos_weight(Some(vec![pos_weight]))
        .init()
        .expect("valid");
    let focal = SigmoidFocalLossConfig::new()
        .with_alpha(0.75)
        .with_gamma(2.0)
        .with_reduction(Reduction::Mean)
        .init()
        .expect("valid");
    for _ in 0..steps {
        let logits = model.forward(x.clone());
        let loss = match kind {
            "bce" => bce.forward(logits, y.clone()),
            "weighted bce" => weighted.forward(logits, y.clone()),
            _ => focal.forward(logits, y.clone()),
        };
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.05, model, grads);
    }
    model
}

fn main() {
    let args = Args::parse().unwrap_or_else(|e| {
        eprintln!("fraud_focal: {e}");
        std::process::exit(2);
    });
    let device = descent::device::device(&args.device).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let train_device = device.clone().autodiff();
    let (xs, ys) = make_data(args.samples, args.seed);
    let split = args.samples * 7 / 10;
    let tensor2 = |v: &[f32], d: &Device| {
        Tensor::<2>::from_data(
            TensorData::new(v.to_vec(), [v.len() / FEATURES, FEATURES]),
            d,
        )
    };
    let x_train = tensor2(&xs[..split * FEATURES], &train_device);
    let y_train = Tensor::<1>::from_data(
        TensorData::new(ys[..split].to_vec(), [split]),
        &train_device,
    );
    let x_test = tensor2(&xs[split * FEATURES..], &train_device);
    let y_test = &ys[split..];
    let positives = ys[..split].iter().filter(|v| **v > 0.5).count().max(1);
    let pos_weight = (split - positives) as f64 / positives as f64;
    println!(
        "{} transactions, {} fraudulent in training ({:.2}%), device {}",
        args.samples,
        positives,
        100.0 * positives as f64 / split as f64,
        args.device
    );
    println!(
        "{:<14} {:>9} {:>7} {:>6}",
        "loss", "precision", "recall", "F1"
    );
    for kind in ["bce", "weighted bce", "focal"] {
        let model = train(
            kind,
            &x_train,
            &y_train,
            pos_weight,
            args.steps,
            &train_device,
        );
        let p: Vec<f32> = sigmoid(model.forward(x_test.clone()).detach())
            .to_data()
            .try_to_vec::<f32>()
            .expect("f32 probabilities");
        let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
        for (p, y) in p.iter().zip(y_test) {
            match (*p >= 0.5, *y > 0.5) {
                (true, true) => tp += 1.0,
                (true, false) => fp += 1.0,
                (false, true) => fn_ += 1.0,
                _ => {}
            }
        }
        let precision: f64 = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        let recall: f64 = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        println!("{kind:<14} {precision:>9.3} {recall:>7.3} {f1:>6.3}");
    }
}
