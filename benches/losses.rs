#![allow(missing_docs)] // criterion_group! generates an undocumented function.
//! Loss forward + backward: cross-entropy [4096 × 1000], BCE-with-logits and sigmoid focal
//! [1M], MSE [1M], CTC (T = 100, N = 32, C = 30, S = 30), this project's losses side by side
//! with Burn's built-in ones, on flex and ndarray (`DESCENT_BENCH_DEVICES` to change), in
//! groups `loss/<loss>/<device>` (a criterion filter picks some: `-- loss/ctc`).
//!
//! `cargo bench --bench losses` then `cargo run --release --example bench_report`.

#[path = "support/env.rs"]
mod env;

use std::time::Duration;

use burn::nn::loss as burn_loss;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use criterion::{Criterion, criterion_group, criterion_main};
use descent::losses::*;
use env::{cpu_devices, list};

/// Runs `f(checks)` as "descent" (input checks on, the default) and "descent_unchecked"
/// (checks off).
fn both(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, f: impl Fn(bool)) {
    g.bench_function("descent", |b| b.iter(|| f(true)));
    g.bench_function("descent_unchecked", |b| b.iter(|| f(false)));
}

/// Backward of `loss`, then a read of the input's gradient to wait for the work.
fn backward<const D: usize>(loss: Tensor<1>, input: &Tensor<D>) {
    let grads = loss.backward();
    let g = input.grad(&grads).expect("a gradient");
    let _ = g.flatten::<1>(0, D - 1).slice(0..1).into_scalar::<f32>();
}

fn bench(c: &mut Criterion) {
    for name in list("DESCENT_BENCH_DEVICES", &cpu_devices()) {
        let device: Device = descent::device::device(&name)
            .unwrap_or_else(|e| panic!("{e}"))
            .autodiff();
        let inner = device.clone().inner();

        let logits = Tensor::<2>::random([4096, 1000], Distribution::Normal(0.0, 1.0), &inner);
        let classes = Tensor::<1, Int>::random([4096], Distribution::Uniform(0.0, 1000.0), &inner);
        let x1 = Tensor::<1>::random([1 << 20], Distribution::Normal(0.0, 2.0), &inner);
        let y1 = Tensor::<1>::random([1 << 20], Distribution::Bernoulli(0.3), &inner);
        let y1_int = y1.clone().int();
        let t1 = Tensor::<1>::random([1 << 20], Distribution::Normal(0.0, 1.0), &inner);
        let leaf2 = |t: &Tensor<2>| Tensor::<2>::from_data(t.to_data(), &device).require_grad();
        let leaf1 = |t: &Tensor<1>| Tensor::<1>::from_data(t.to_data(), &device).require_grad();
        let on = |t: &Tensor<1>| Tensor::<1>::from_data(t.to_data(), &device);
        let on_int = |t: &Tensor<1, Int>| Tensor::<1, Int>::from_data(t.to_data(), &device);
        let setup = |g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>| {
            g.sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3));
        };

        let mut g = c.benchmark_group(format!("loss/cross_entropy_4096x1000/{name}"));
        setup(&mut g);
        let (x, y) = (leaf2(&logits), on_int(&classes));
        both(&mut g, |checks| {
            let ce = CrossEntropyLossConfig::new().with_checks(checks).init();
            backward(ce.forward(x.clone(), y.clone()), &x)
        });
        let burn_ce = burn_loss::CrossEntropyLossConfig::new().init(&device);
        g.bench_function("burn", |b| {
            b.iter(|| backward(burn_ce.forward(x.clone(), y.clone()), &x))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("loss/bce_with_logits_1M/{name}"));
        setup(&mut g);
        let (x, y, yi) = (leaf1(&x1), on(&y1), on_int(&y1_int));
        both(&mut g, |checks| {
            let bce = BinaryCrossEntropyWithLogitsLossConfig::new().with_checks(checks);
            backward(bce.init().forward(x.clone(), y.clone()), &x)
        });
        let burn_bce = burn_loss::BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(&device);
        g.bench_function("burn", |b| {
            b.iter(|| backward(burn_bce.forward(x.clone(), yi.clone()), &x))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("loss/sigmoid_focal_1M/{name}"));
        setup(&mut g);
        both(&mut g, |checks| {
            let focal = SigmoidFocalLossConfig::new().with_checks(checks).init();
            backward(focal.forward(x.clone(), y.clone()), &x)
        });
        g.finish();

        let mut g = c.benchmark_group(format!("loss/mse_1M/{name}"));
        setup(&mut g);
        let t = on(&t1);
        both(&mut g, |checks| {
            let mse = MseLossConfig::new().with_checks(checks).init();
            backward(mse.forward(x.clone(), t.clone()), &x)
        });
        let burn_mse = burn_loss::MseLoss::new();
        g.bench_function("burn", |b| {
            b.iter(|| {
                backward(
                    burn_mse.forward(x.clone(), t.clone(), burn_loss::Reduction::Mean),
                    &x,
                )
            })
        });
        g.finish();

        // CTC: log_softmax outputs [T, N, C], padded targets [N, S] without the blank, input
        // lengths 80..=100 and target lengths 15..=30 (every alignment possible).
        let (steps, batch, classes, width) = (100, 32, 30, 30);
        let lp = burn::tensor::activation::log_softmax(
            Tensor::<3>::random(
                [steps, batch, classes],
                Distribution::Normal(0.0, 1.0),
                &inner,
            ),
            2,
        );
        let targets = Tensor::<2, Int>::random(
            [batch, width],
            Distribution::Uniform(1.0, classes as f64),
            &inner,
        );
        let lengths =
            |v: Vec<i64>| Tensor::<1, Int>::from_data(TensorData::new(v, [batch]), &device);
        let il = lengths((0..batch as i64).map(|i| 100 - (i * 7) % 21).collect());
        let tl = lengths((0..batch as i64).map(|i| 30 - (i * 5) % 16).collect());
        let x = Tensor::<3>::from_data(lp.to_data(), &device).require_grad();
        let y = Tensor::<2, Int>::from_data(targets.to_data(), &device);
        let mut g = c.benchmark_group(format!("loss/ctc_100x32x30/{name}"));
        setup(&mut g);
        both(&mut g, |checks| {
            let ctc = CtcLossConfig::new().with_checks(checks).init();
            backward(
                ctc.forward(x.clone(), y.clone(), il.clone(), tl.clone()),
                &x,
            )
        });
        let burn_ctc = burn_loss::CTCLossConfig::new().init();
        g.bench_function("burn", |b| {
            b.iter(|| {
                let loss = burn_ctc.forward_with_reduction(
                    x.clone(),
                    y.clone(),
                    il.clone(),
                    tl.clone(),
                    burn_loss::Reduction::Mean,
                );
                backward(loss, &x)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
