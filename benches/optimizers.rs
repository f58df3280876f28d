#![allow(missing_docs)] // criterion_group! generates an undocumented function.
//! One optimizer step over 10 thousand, 1 million and 10 million parameters (three tensors of
//! realistic shapes), on flex and ndarray (and wgpu with `DESCENT_BENCH_DEVICES=...,wgpu`),
//! each of this project's optimizers side by side with Burn's built-in equivalent, in the same
//! criterion group `step/<optimizer>/<device>/<size>`.
//!
//! `cargo bench --bench optimizers` then `cargo run --release --example bench_report`.
//! `DESCENT_BENCH_SIZES=10k,1M` and `DESCENT_BENCH_OPTIMIZERS=adam,sgd` narrow the run
//! (`100M` is there too, for GPUs, not run by default);
//! `DESCENT_BENCH_HALF=1` adds `descent_bf16` (bf16 parameters and gradients, f32 state) and
//! `descent_bf16_state` (the state in bf16 too); `DESCENT_BENCH_SIMD_AB=1` adds `descent_sse`, the fused step on four SSE lanes instead of
//! eight AVX lanes (`descent_kernel::zip::set_simd`); `DESCENT_BENCH_TEAM_AB=1` adds
//! `descent_rayon`, its parallel passes on rayon's pool instead of descent's team. Off the CPU devices `descent_unchecked`
//! (no finite check) and `descent_generic` (the rule as tensor operations, fused by Burn,
//! instead of descent's CubeCL kernel) run too.
//! Muon (`step/muon/...`) is timed on the size's two matrices only. L-BFGS (`step/lbfgs/...`) is timed as one `step` from fresh parameters on a smooth convex
//! loss, its closure evaluated through autodiff, since its step is not a gradient update.

#[path = "support/env.rs"]
mod env;

use std::time::{Duration, Instant};

use burn::module::{Module, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{DType, Device, Distribution, Tensor};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use descent::optimizers::{self as ours, StepSettings, registry};
use env::{cpu_devices, list};
use serde_json::{Value, json};

/// Three parameters: a weight matrix, a bias and an embedding-like block.
#[derive(Module, Debug)]
struct Params {
    w: Param<Tensor<2>>,
    b: Param<Tensor<1>>,
    e: Param<Tensor<2>>,
}

/// `(name, weight shape, bias length, block shape)` adding up to the size.
const SIZES: [(&str, [usize; 2], usize, [usize; 2]); 4] = [
    ("10k", [96, 96], 96, [8, 86]),
    ("1M", [1024, 768], 768, [200, 1064]),
    ("10M", [4096, 2048], 2048, [1024, 1570]),
    // Only when asked (`DESCENT_BENCH_SIZES=100M`): for GPUs (benches/scripts/gpu.sh).
    ("100M", [8192, 8192], 8192, [16384, 2004]),
];

/// Gradients for `p` (cheap to rebuild: the tensors are shared).
struct Grads(Tensor<2>, Tensor<1>, Tensor<2>);

impl Grads {
    fn of(&self, p: &Params) -> GradientsParams {
        let mut g = GradientsParams::new();
        g.register(p.w.id, self.0.clone());
        g.register(p.b.id, self.1.clone());
        g.register(p.e.id, self.2.clone());
        g
    }
}

fn params(size: &(&str, [usize; 2], usize, [usize; 2]), device: &Device) -> (Params, Grads) {
    params_as(size, device, DType::F32)
}

/// [`params`] in `dtype` (parameters and gradients).
fn params_as(
    size: &(&str, [usize; 2], usize, [usize; 2]),
    device: &Device,
    dtype: DType,
) -> (Params, Grads) {
    let (_, w, b, e) = *size;
    let init = Distribution::Normal(0.0, 0.1);
    let p = Params {
        w: Param::from_tensor(Tensor::<_>::random(w, init, device).cast(dtype)),
        b: Param::from_tensor(Tensor::<_>::random([b], init, device).cast(dtype)),
        e: Param::from_tensor(Tensor::<_>::random(e, init, device).cast(dtype)),
    };
    let g = Grads(
        Tensor::<_>::random(w, init, device).cast(dtype),
        Tensor::<_>::random([b], init, device).cast(dtype),
        Tensor::<_>::random(e, init, device).cast(dtype),
    );
    (p, g)
}

type Factory = Box<dyn Fn() -> ModuleOptimizer>;

/// Burn's optimizer of the same name.
type BurnFactory = fn() -> ModuleOptimizer;

/// This project's optimizer `name` with PyTorch's options `options`, built through the
/// registry (the per-instance settings as given).
fn ours(name: &'static str, options: Value, settings: StepSettings) -> Factory {
    Box::new(move || {
        let mut options = options.clone();
        options["settings"] = serde_json::to_value(settings).expect("settings as JSON");
        registry::optimizer(name, &options)
            .unwrap_or_else(|e| panic!("{e}"))
            .optimizer
    })
}

/// Each benchmarked optimizer: its label, its registry name and options, and, where Burn has
/// one, Burn's with the same hyperparameters.
fn optimizers() -> Vec<(&'static str, &'static str, Value, Option<BurnFactory>)> {
    use burn::optim as burn_optim;
    vec![
        (
            "sgd",
            "sgd",
            json!({}),
            Some(|| burn_optim::SgdConfig::new().init()),
        ),
        (
            "momentum",
            "sgd",
            json!({"momentum": 0.9}),
            Some(|| {
                burn_optim::SgdConfig::new()
                    .with_momentum(Some(
                        burn_optim::momentum::MomentumConfig::new().with_dampening(0.0),
                    ))
                    .init()
            }),
        ),
        (
            "adagrad",
            "adagrad",
            json!({}),
            Some(|| burn_optim::AdaGradConfig::new().with_epsilon(1e-10).init()),
        ),
        (
            "rmsprop",
            "rmsprop",
            json!({}),
            Some(|| {
                burn_optim::RmsPropConfig::new()
                    .with_momentum(0.0)
                    .with_epsilon(1e-8)
                    .init()
            }),
        ),
        (
            "adam",
            "adam",
            json!({}),
            Some(|| burn_optim::AdamConfig::new().with_epsilon(1e-8).init()),
        ),
        (
            "adamw",
            "adamw",
            json!({}),
            Some(|| {
                burn_optim::AdamWConfig::new()
                    .with_epsilon(1e-8)
                    .with_weight_decay(1e-2)
                    .init()
            }),
        ),
        (
            "lion",
            "lion",
            json!({"weight_decay": 0.0}),
            Some(|| burn_optim::LionConfig::new().init()),
        ),
        (
            "adafactor",
            "adafactor",
            json!({}),
            Some(|| burn_optim::AdafactorConfig::new().init()),
        ),
        ("adamax", "adamax", json!({}), None),
        ("nadam", "nadam", json!({}), None),
        ("radam", "radam", json!({}), None),
        ("adadelta", "adadelta", json!({}), None),
        ("ema_momentum", "ema_momentum", json!({}), None),
    ]
}

/// What a training loop's backward pass does between two steps, untimed: Burn's autodiff
/// frees the graph entries of tensors no longer held (here, each step's parameters, which the
/// step registers as graph roots) only at a `backward()`. Without it, a benchmark of steps
/// alone keeps every step's entries: the process grew by about 150 MB per second of 10k
/// steps (Burn's optimizers and descent's alike), and the steps timed after many others ran
/// slower (Adam 10M: 6.5 ms alone, 8–11.6 ms after the 1M groups).
fn release_graphs(device: &Device) {
    let _ = Tensor::<1>::zeros([1], device)
        .require_grad()
        .sum()
        .backward();
}

/// Blocks until `p` has been computed (matters on wgpu, which runs asynchronously).
fn sync(p: &Params) {
    let _ = p.b.val().slice(0..1).into_scalar::<f32>();
}

fn bench(c: &mut Criterion) {
    let devices = list("DESCENT_BENCH_DEVICES", &cpu_devices());
    let sizes = list("DESCENT_BENCH_SIZES", "10k,1M,10M");
    let names = list("DESCENT_BENCH_OPTIMIZERS", "all");
    let wanted = |name: &str| names[0] == "all" || names.iter().any(|n| n == name);
    let mut settings = StepSettings::new();
    if let Ok(k) = std::env::var("DESCENT_BENCH_CHECK_INTERVAL") {
        settings.check_interval = k.parse().expect("DESCENT_BENCH_CHECK_INTERVAL: a u32");
    }
    for device_name in &devices {
        let device = descent::device::device(device_name)
            .unwrap_or_else(|e| panic!("{e}"))
            .autodiff();
        for size in SIZES.iter().filter(|s| sizes.iter().any(|n| n == s.0)) {
            for (name, registered, options, burns) in optimizers() {
                if !wanted(name) {
                    continue;
                }
                let mut group = c.benchmark_group(format!("step/{name}/{device_name}/{}", size.0));
                group
                    .sample_size(10)
                    .warm_up_time(Duration::from_millis(500))
                    .measurement_time(Duration::from_secs(2));
                let mut run_as = |label: &str, make: &dyn Fn() -> ModuleOptimizer, dtype| {
                    let (p, g) = params_as(size, &device, dtype);
                    let mut optim = make();
                    let grads = g.of(&p);
                    let mut p = Some(optim.step(1e-3, p, grads)); // states exist from here on
                    group.bench_function(label, |bench| {
                        bench.iter_custom(|iters| {
                            let mut timed = Duration::ZERO;
                            for _ in 0..iters {
                                let params = p.take().expect("params");
                                let grads = g.of(&params);
                                let start = Instant::now();
                                let next = optim.step(1e-3, params, grads);
                                sync(&next);
                                timed += start.elapsed();
                                p = Some(next);
                                release_graphs(&device);
                            }
                            timed
                        })
                    });
                };
                let mut run = |label: &str, make: &dyn Fn() -> ModuleOptimizer| {
                    run_as(label, make, DType::F32)
                };
                run("descent", &ours(registered, options.clone(), settings));
                if std::env::var("DESCENT_BENCH_SIMD_AB").is_ok() {
                    // The same step on four SSE lanes instead of eight AVX lanes.
                    let simd = descent::kernel::zip::simd();
                    descent::kernel::zip::set_simd(descent::kernel::zip::Simd::Sse);
                    run("descent_sse", &ours(registered, options.clone(), settings));
                    descent::kernel::zip::set_simd(simd);
                }
                if std::env::var("DESCENT_BENCH_TEAM_AB").is_ok() {
                    // The same step with its parallel passes on rayon's pool instead of
                    // descent's team (`descent_kernel::team`).
                    descent::kernel::team::set_enabled(false);
                    run(
                        "descent_rayon",
                        &ours(registered, options.clone(), settings),
                    );
                    descent::kernel::team::set_enabled(true);
                }
                if !matches!(device_name.as_str(), "flex" | "ndarray") {
                    // Off the CPU devices the finite check is a sampled reduction and a
                    // periodic read-back; time the step without it too.
                    let unchecked = StepSettings {
                        checks: false,
                        ..settings
                    };
                    run(
                        "descent_unchecked",
                        &ours(registered, options.clone(), unchecked),
                    );
                    // The rule as tensor operations (Burn's fusion) instead of descent's
                    // CubeCL kernel.
                    let generic = StepSettings {
                        kernel: descent::kernel::Kernel::Generic,
                        ..settings
                    };
                    run(
                        "descent_generic",
                        &ours(registered, options.clone(), generic),
                    );
                }
                if let Some(b) = burns {
                    run("burn", &b);
                }
                if std::env::var("DESCENT_BENCH_HALF").is_ok() {
                    // bf16 parameters and gradients, the state in f32 and in bf16.
                    run_as(
                        "descent_bf16",
                        &ours(registered, options.clone(), settings),
                        DType::BF16,
                    );
                    let bf16_state = StepSettings {
                        state_dtype: Some(DType::BF16),
                        ..settings
                    };
                    run_as(
                        "descent_bf16_state",
                        &ours(registered, options.clone(), bf16_state),
                        DType::BF16,
                    );
                }
                group.finish();
            }
            if wanted("lbfgs") {
                lbfgs(c, device_name, size, &device);
            }
            if wanted("muon") {
                muon(c, device_name, size, &device);
            }
        }
    }
}

/// `Σ ½x² + ¼x⁴` over the parameters: smooth, convex, not quadratic (so L-BFGS does not
/// finish in one iteration), and its loss and gradients through autodiff.
fn quartic(p: Params) -> (f64, GradientsParams) {
    let term = |x: Tensor<1>| {
        (x.clone().powi_scalar(2).mul_scalar(0.5) + x.powi_scalar(4).mul_scalar(0.25)).sum()
    };
    let loss = term(p.w.val().flatten(0, 1)) + term(p.b.val()) + term(p.e.val().flatten(0, 1));
    let value = loss.clone().into_scalar::<f64>();
    (value, GradientsParams::from_grads(loss.backward(), &p))
}

/// One L-BFGS `step` (4 iterations at most, 4 pairs of history, no line search) from fresh
/// parameters and a fresh optimizer, on [`quartic`]: this project's against Burn's.
fn lbfgs(
    c: &mut Criterion,
    device_name: &str,
    size: &(&str, [usize; 2], usize, [usize; 2]),
    device: &Device,
) {
    use burn::optim::{LBFGS, LBFGSConfig};
    let mut group = c.benchmark_group(format!("step/lbfgs/{device_name}/{}", size.0));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let (p, _) = params(size, device);
    // A fresh optimizer per step (building one allocates nothing of the parameters' size).
    type Step = fn(Params) -> Params;
    let steps: [(&str, Step); 2] = [
        ("descent", |p| {
            let mut optim = ours::LbfgsConfig::new()
                .with_max_iter(4)
                .with_history_size(4)
                .init();
            optim.step(1.0, p, quartic).0
        }),
        ("burn", |p| {
            let mut optim: LBFGS = LBFGSConfig::new()
                .with_max_iter(4)
                .with_history_size(4)
                .init();
            optim.step(1.0, p, quartic).0
        }),
    ];
    for (label, step) in steps {
        group.bench_function(label, |bench| {
            bench.iter_batched(|| p.clone(), |p| sync(&step(p)), BatchSize::PerIteration)
        });
    }
    group.finish();
}

/// The two matrices of a size's parameters (Muon takes matrices only): 10M is a 4096×2048
/// weight and a 1024×1570 block.
#[derive(Module, Debug)]
struct Matrices {
    w: Param<Tensor<2>>,
    e: Param<Tensor<2>>,
}

/// One Muon step (5 Newton–Schulz steps, no weight decay) on [`Matrices`]: this project's in
/// full precision (Burn's precision, the comparison) and in PyTorch's bfloat16 rounding,
/// beside Burn's.
fn muon(
    c: &mut Criterion,
    device_name: &str,
    size: &(&str, [usize; 2], usize, [usize; 2]),
    device: &Device,
) {
    let mut group = c.benchmark_group(format!("step/muon/{device_name}/{}", size.0));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let (p, g) = params(size, device);
    let p = Matrices { w: p.w, e: p.e };
    let grads = |p: &Matrices| {
        let mut grads = GradientsParams::new();
        grads.register(p.w.id, g.0.clone());
        grads.register(p.e.id, g.2.clone());
        grads
    };
    let variants: [(&str, Factory); 3] = [
        (
            "descent",
            ours(
                "muon",
                json!({"weight_decay": 0.0, "ns_precision": "full"}),
                StepSettings::new(),
            ),
        ),
        (
            "descent_bf16",
            ours("muon", json!({"weight_decay": 0.0}), StepSettings::new()),
        ),
        ("burn", Box::new(|| burn::optim::MuonConfig::new().init())),
    ];
    for (label, make) in variants {
        let mut optim = make();
        let first = grads(&p);
        let mut current = Some(optim.step(1e-3, p.clone(), first));
        group.bench_function(label, |bench| {
            bench.iter(|| {
                let params = current.take().expect("params");
                let g = grads(&params);
                let next = optim.step(1e-3, params, g);
                let _ = next.w.val().slice([0..1, 0..1]).into_scalar::<f32>();
                current = Some(next);
                // Microseconds against a step of 100 ms and more: timed with it.
                release_graphs(device);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
