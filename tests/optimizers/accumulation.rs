//! Gradient accumulation, clipping and loss scaling over a whole module.

use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use descent::optimizers::*;

use crate::common::{Net, data, device, mse_grads, rows};

#[test]
fn k_accumulated_micro_batches_give_the_step_of_one_batch_k_times_larger() {
    let device = device();
    let (x, y) = data(&device);
    for k in [2, 4] {
        let micro = 8 / k;
        // One batch of 8.
        let mut big = Net::new(&device);
        let mut optim = AdamConfig::new().init();
        for _ in 0..3 {
            let grads = mse_grads(&big, x.clone(), y.clone());
            big = optim.step(0.05, big, grads);
        }
        // k micro-batches of 8 / k, accumulated.
        let mut small = Net::new(&device);
        let mut optim = AdamConfig::new().init();
        let mut acc = GradAccumulator::new(k);
        let mut steps = 0;
        while steps < 3 {
            for j in 0..k {
                let r = j * micro..(j + 1) * micro;
                acc.accumulate(&small, mse_grads(&small, rows(&x, r.clone()), rows(&y, r)));
            }
            assert!(acc.is_ready());
            let grads = acc.take(&small);
            assert_eq!(acc.count(), 0);
            small = optim.step(0.05, small, grads);
            steps += 1;
        }
        for (a, b) in big.values().iter().zip(small.values()) {
            assert!((a - b).abs() < 1e-6, "k = {k}: {a} vs {b}");
        }
        assert_ne!(big.values(), Net::new(&device).values());
    }
}

fn grads_of(net: &Net, w: Vec<f32>, b: Vec<f32>) -> GradientsParams {
    let inner = net.w.val().device().inner();
    let mut g = GradientsParams::new();
    g.register(
        net.w.id,
        Tensor::<2>::from_data(TensorData::new(w, [3, 2]), &inner),
    );
    g.register(
        net.b.id,
        Tensor::<1>::from_data(TensorData::new(b, [2]), &inner),
    );
    g
}

fn values(net: &Net, g: &GradientsParams) -> Vec<f32> {
    let mut v: Vec<f32> = g
        .get::<2>(net.w.id)
        .unwrap()
        .into_data()
        .iter::<f32>()
        .collect();
    v.extend(g.get::<1>(net.b.id).unwrap().into_data().iter::<f32>());
    v
}

#[test]
fn clipping_is_over_all_parameters_together_and_returns_the_norm() {
    let net = Net::new(&device());
    let w = vec![3.0, 0.0, 0.0, 0.0, 0.0, -4.0];
    let b = vec![0.0, 12.0];
    // ‖g‖₂ = √(9 + 16 + 144) = 13, ‖g‖∞ = 12, ‖g‖₁ = 19.
    let g = grads_of(&net, w.clone(), b.clone());
    assert!((grad_norm(&net, &g, NormType::L2) - 13.0).abs() < 1e-5);
    assert!((grad_norm(&net, &g, NormType::Inf) - 12.0).abs() < 1e-6);
    assert!((grad_norm(&net, &g, NormType::P(1.0)) - 19.0).abs() < 1e-5);

    let mut g = grads_of(&net, w.clone(), b.clone());
    let norm = clip_grad_norm(&net, &mut g, 6.5, NormType::L2);
    assert!((norm - 13.0).abs() < 1e-5);
    let clipped = values(&net, &g);
    let coef = 6.5 / (13.0 + 1e-6);
    for (c, v) in clipped.iter().zip(w.iter().chain(&b)) {
        assert!(
            (c - v * coef as f32).abs() < 1e-5,
            "{c} vs {}",
            v * coef as f32
        );
    }
    assert!((grad_norm(&net, &g, NormType::L2) - 6.5).abs() < 1e-4);

    // Under the limit nothing changes.
    let mut g = grads_of(&net, w.clone(), b.clone());
    clip_grad_norm(&net, &mut g, 100.0, NormType::L2);
    assert_eq!(
        values(&net, &g),
        w.iter().chain(&b).copied().collect::<Vec<_>>()
    );

    let mut g = grads_of(&net, w, b);
    clip_grad_value(&net, &mut g, 3.5);
    assert_eq!(
        values(&net, &g),
        vec![3.0, 0.0, 0.0, 0.0, 0.0, -3.5, 0.0, 3.5]
    );
}

#[test]
fn grad_scaler_skips_non_finite_steps_and_adapts_its_scale() {
    let device = device();
    let (x, y) = data(&device);
    let mut scaler = GradScalerConfig::new()
        .with_init_scale(1024.0)
        .with_growth_interval(2)
        .init();
    let mut optim = SgdConfig::new().init();
    let mut net = Net::new(&device);

    // A scaled loss gives S times the gradient; unscaling gives it back.
    let plain = mse_grads(&net, x.clone(), y.clone());
    let loss = scaler.scale_loss((net.forward(x.clone()) - y.clone()).square().mean());
    let scaled = GradientsParams::from_grads(loss.backward(), &net);
    let unscaled = scaler.unscale(&net, scaled);
    assert!(!unscaled.found_inf);
    for (a, b) in values(&net, &unscaled.grads)
        .iter()
        .zip(values(&net, &plain))
    {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    let before = net.values();
    let (next, stepped) = scaler.step(&mut optim, 0.1, net, unscaled);
    net = next;
    assert!(stepped);
    assert_ne!(net.values(), before);

    // An inf gradient: the step is skipped and the scale backs off.
    let g = grads_of(
        &net,
        vec![f32::INFINITY, 0.0, 0.0, 0.0, 0.0, 0.0],
        vec![0.0, 0.0],
    );
    let before = net.values();
    let unscaled = scaler.unscale(&net, g);
    assert!(unscaled.found_inf);
    let (next, stepped) = scaler.step(&mut optim, 0.1, net, unscaled);
    net = next;
    assert!(!stepped);
    assert_eq!(net.values(), before);
    assert_eq!(scaler.scale(), 512.0);

    // Two good steps in a row: it grows back.
    for _ in 0..2 {
        let g = mse_grads(&net, x.clone(), y.clone());
        let unscaled = scaler.unscale(&net, g);
        net = scaler.step(&mut optim, 0.1, net, unscaled).0;
    }
    assert_eq!(scaler.scale(), 1024.0);
}

#[test]
fn a_disabled_grad_scaler_does_nothing() {
    let device = device();
    let (x, y) = data(&device);
    let mut scaler = GradScalerConfig::new().with_enabled(false).init();
    assert_eq!(scaler.scale(), 1.0);
    let net = Net::new(&device);
    let loss = (net.forward(x.clone()) - y.clone()).square().mean();
    let scaled = scaler.scale_loss(loss.clone());
    assert_eq!(scaled.into_scalar::<f32>(), loss.into_scalar::<f32>());
    let unscaled = scaler.unscale(&net, mse_grads(&net, x, y));
    assert!(!unscaled.found_inf);
    let (_, stepped) = scaler.step(&mut SgdConfig::new().init(), 0.1, net, unscaled);
    assert!(stepped);
    scaler.update(true);
    assert_eq!(scaler.scale(), 1.0);
}
