#![allow(missing_docs)] // criterion_group! generates an undocumented function.
//! One optimizer step over 10 thousand, 1 million and 10 million parameters (three tensors of
//! realistic shapes), on flex and ndarray (and wgpu with `DESCENT_BENCH_DEVICES=...,wgpu`),
//! each of this project's optimizers side by side with Burn's built-in equivalent, in the same
//! criterion group `step/<optimizer>/<device>/<size>`.
//!
//! `cargo bench --bench optimizers` then `cargo run --release --example bench_report`.
//! `DESCENT_BENCH_SIZES=10k,1M` and `DESCENT_BENCH_OPTIMIZERS=adam,sgd` narrow the run.
//! L-BFGS (`step/lbfgs/...`) is timed as one `step` from fresh parameters on a smooth convex
//! loss, its closure evaluated through autodiff, since its step is not a gradient update.

#[path = "support/env.rs"]
mod env;

use std::time::Duration;

use burn::module::{Module, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use descent::optimizers as ours;
use env::list;

/// Three parameters: a weight matrix, a bias and an embedding-like block.
#[derive(Module, Debug)]
struct Params {
    w: Param<Tensor<2>>,
    b: Param<Tensor<1>>,
    e: Param<Tensor<2>>,
}

/// `(name, weight shape, bias length, block shape)` adding up to the size.
const SIZES: [(&str, [usize; 2], usize, [usize; 2]); 3] = [
    ("10k", [96, 96], 96, [8, 86]),
    ("1M", [1024, 768], 768, [200, 1064]),
    ("10M", [4096, 2048], 2048, [1024, 1570]),
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
    let (_, w, b, e) = *size;
    let init = Distribution::Normal(0.0, 0.1);
    let p = Params {
        w: Param::from_tensor(Tensor::random(w, init, device)),
        b: Param::from_tensor(Tensor::random([b], init, device)),
        e: Param::from_tensor(Tensor::random(e, init, device)),
    };
    let g = Grads(
        Tensor::random(w, init, device),
        Tensor::random([b], init, device),
        Tensor::random(e, init, device),
    );
    (p, g)
}

type Factory = fn() -> ModuleOptimizer;

/// Each optimizer of this project and, where Burn has one, Burn's with the same
/// hyperparameters.
fn optimizers() -> Vec<(&'static str, Factory, Option<Factory>)> {
    use burn::optim as burn_optim;
    vec![
        (
            "sgd",
            || ours::SgdConfig::new().init(),
            Some(|| burn_optim::SgdConfig::new().init()),
        ),
        (
            "momentum",
            || ours::SgdConfig::new().with_momentum(0.9).init(),
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
            || ours::AdagradConfig::new().init(),
            Some(|| burn_optim::AdaGradConfig::new().with_epsilon(1e-10).init()),
        ),
        (
            "rmsprop",
            || ours::RmsPropConfig::new().init(),
            Some(|| {
                burn_optim::RmsPropConfig::new()
                    .with_momentum(0.0)
                    .with_epsilon(1e-8)
                    .init()
            }),
        ),
        (
            "adam",
            || ours::AdamConfig::new().init(),
            Some(|| burn_optim::AdamConfig::new().with_epsilon(1e-8).init()),
        ),
        (
            "adamw",
            || ours::AdamWConfig::new().init(),
            Some(|| {
                burn_optim::AdamWConfig::new()
                    .with_epsilon(1e-8)
                    .with_weight_decay(1e-2)
                    .init()
            }),
        ),
        (
            "lion",
            || ours::LionConfig::new().with_weight_decay(0.0).init(),
            Some(|| burn_optim::LionConfig::new().init()),
        ),
        ("adamax", || ours::AdamaxConfig::new().init(), None),
        ("nadam", || ours::NAdamConfig::new().init(), None),
        ("radam", || ours::RAdamConfig::new().init(), None),
        ("adadelta", || ours::AdadeltaConfig::new().init(), None),
        (
            "ema_momentum",
            || ours::EmaMomentumConfig::new().init(),
            None,
        ),
    ]
}

/// Blocks until `p` has been computed (matters on wgpu, which runs asynchronously).
fn sync(p: &Params) {
    let _ = p.b.val().slice(0..1).into_scalar::<f32>();
}

fn bench(c: &mut Criterion) {
    let devices = list("DESCENT_BENCH_DEVICES", "flex,ndarray");
    let sizes = list("DESCENT_BENCH_SIZES", "10k,1M,10M");
    let names = list("DESCENT_BENCH_OPTIMIZERS", "all");
    let wanted = |name: &str| names[0] == "all" || names.iter().any(|n| n == name);
    if let Ok(k) = std::env::var("DESCENT_BENCH_CHECK_INTERVAL") {
        ours::set_finite_check_interval(k.parse().expect("DESCENT_BENCH_CHECK_INTERVAL: a u32"));
    }
    for device_name in &devices {
        let device = descent::device::device(device_name)
            .unwrap_or_else(|e| panic!("{e}"))
            .autodiff();
        for size in SIZES.iter().filter(|s| sizes.iter().any(|n| n == s.0)) {
            for (name, ours, burns) in optimizers() {
                if !wanted(name) {
                    continue;
                }
                let mut group = c.benchmark_group(format!("step/{name}/{device_name}/{}", size.0));
                group
                    .sample_size(10)
                    .warm_up_time(Duration::from_millis(500))
                    .measurement_time(Duration::from_secs(2));
                let mut run = |label: &str, make: Factory| {
                    let (p, g) = params(size, &device);
                    let mut optim = make();
                    let grads = g.of(&p);
                    let mut p = Some(optim.step(1e-3, p, grads)); // states exist from here on
                    group.bench_function(label, |bench| {
                        bench.iter(|| {
                            let params = p.take().expect("params");
                            let grads = g.of(&params);
                            let next = optim.step(1e-3, params, grads);
                            sync(&next);
                            p = Some(next);
                        })
                    });
                };
                run("descent", ours);
                if !matches!(device_name.as_str(), "flex" | "ndarray") {
                    // Off the CPU devices the finite check is a sampled reduction and a
                    // periodic read-back; time the step without it too.
                    ours::set_finite_checks(false);
                    run("descent_unchecked", ours);
                    ours::set_finite_checks(true);
                }
                if let Some(b) = burns {
                    run("burn", b);
                }
                group.finish();
            }
            if wanted("lbfgs") {
                lbfgs(c, device_name, size, &device);
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

criterion_group!(benches, bench);
criterion_main!(benches);
