//! descent's optimizers through Burn's `ModuleOptimizer::step_multi` on two CPU devices (flex
//! and ndarray): gradients from a replica on each device, each parameter's gradients summed on
//! the device Burn shards it to and stepped there, give the same parameters as one device's
//! step on the summed gradients.
//!
//! With descent's `clip_grad_norm_multi` (global-norm clipping of the summed gradients) and
//! `GradAccumulator` on each device, the numbers are again one device's.
//!
//! Needs both CPU backends (`--features ndarray`, as the README's test command has); without
//! it the test is reported as ignored, with the reason.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, MultiGradientsParams};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor, TensorData};
use descent::losses::{Reduction, mse_loss};
use descent::optimizers::{
    GradAccumulator, NormType, clip_grad_norm, clip_grad_norm_multi, registry,
};
use serde_json::json;

#[derive(Module, Debug)]
struct Net {
    a: Linear,
    b: Linear,
}

impl Net {
    fn new(device: &Device) -> Self {
        Self {
            a: LinearConfig::new(6, 8).init(device),
            b: LinearConfig::new(8, 1).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.b.forward(tanh(self.a.forward(x)))
    }

    /// Every parameter's values, in a fixed order.
    fn values(&self) -> Vec<Vec<f32>> {
        let data = |t: TensorData| t.try_to_vec::<f32>().expect("f32 values");
        vec![
            data(self.a.weight.val().into_data()),
            data(self.a.bias.as_ref().expect("bias").val().into_data()),
            data(self.b.weight.val().into_data()),
            data(self.b.bias.as_ref().expect("bias").val().into_data()),
        ]
    }

    /// A model whose parameters `step_multi` shards over both of two devices (Burn picks the
    /// device by the parameter id's parity; ids are random, so draw until both occur).
    fn sharded(device: &Device) -> Self {
        loop {
            let net = Self::new(device);
            let ids = [
                net.a.weight.id,
                net.a.bias.as_ref().expect("bias").id,
                net.b.weight.id,
                net.b.bias.as_ref().expect("bias").id,
            ];
            let odd = ids.iter().filter(|id| id.val() % 2 == 1).count();
            if odd > 0 && odd < ids.len() {
                return net;
            }
        }
    }

    /// The devices the parameters live on.
    fn devices(&self) -> Vec<Device> {
        vec![
            self.a.weight.val().device(),
            self.a.bias.as_ref().expect("bias").val().device(),
            self.b.weight.val().device(),
            self.b.bias.as_ref().expect("bias").val().device(),
        ]
    }
}

/// Eight rows of a smooth target, different for every step and half.
fn batch(step: usize, half: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let rows = 8;
    let x: Vec<f32> = (0..rows * 6)
        .map(|i| (((i * 37 + step * 11 + half * 5) % 29) as f32 / 14.5 - 1.0) * 0.8)
        .collect();
    let y: Vec<f32> = x
        .chunks(6)
        .map(|r| r[0] * r[1] - r[2].sin() + 0.3)
        .collect();
    (
        Tensor::from_data(TensorData::new(x, [rows, 6]), device),
        Tensor::from_data(TensorData::new(y, [rows, 1]), device),
    )
}

/// Gradients of the summed squared error of `net` on its batch.
fn grads(net: &Net, (x, y): (Tensor<2>, Tensor<2>)) -> GradientsParams {
    let loss = mse_loss(net.forward(x), y, Reduction::Sum);
    GradientsParams::from_grads(loss.backward(), net)
}

/// `ga + gb`, parameter by parameter, on `device` (without autodiff).
fn summed(
    net: &Net,
    mut ga: GradientsParams,
    mut gb: GradientsParams,
    device: &Device,
) -> GradientsParams {
    let mut out = GradientsParams::new();
    for id in [net.a.weight.id, net.b.weight.id] {
        let a: Tensor<2> = ga.remove(id).expect("a weight gradient");
        let b: Tensor<2> = gb.remove(id).expect("a weight gradient");
        out.register(id, a.to_device(device) + b.to_device(device));
    }
    for bias in [&net.a.bias, &net.b.bias] {
        let id = bias.as_ref().expect("bias").id;
        let a: Tensor<1> = ga.remove(id).expect("a bias gradient");
        let b: Tensor<1> = gb.remove(id).expect("a bias gradient");
        out.register(id, a.to_device(device) + b.to_device(device));
    }
    out
}

#[test]
#[cfg_attr(
    not(feature = "ndarray"),
    ignore = "needs two CPU devices: build with --features ndarray"
)]
fn step_multi_on_two_devices_equals_one_device_step_on_summed_gradients() {
    let cpus = descent::device::cpu_devices();
    assert!(cpus.len() >= 2, "two CPU devices expected, got {cpus:?}");
    let (inner0, inner1) = (cpus[0].clone(), cpus[1].clone());
    let (d0, d1) = (inner0.clone().autodiff(), inner1.clone().autodiff());
    let cases = [
        (
            "sgd",
            json!({"lr": 0.05, "momentum": 0.9, "nesterov": true}),
        ),
        ("adam", json!({"lr": 0.01})),
        ("adamw", json!({"lr": 0.01, "weight_decay": 0.1})),
        ("rmsprop", json!({"lr": 0.01, "centered": true})),
        ("adagrad", json!({"lr": 0.05})),
        ("lion", json!({"lr": 0.001})),
    ];
    for (name, options) in cases {
        let configured = || registry::optimizer(name, &options).unwrap_or_else(|e| panic!("{e}"));
        let lr = configured().lr;
        let (mut multi, mut single) = (configured().optimizer, configured().optimizer);
        let start = Net::sharded(&d0);
        let (mut m, mut s) = (start.clone(), start.clone());
        let mut sharded = false;
        for step in 0..4 {
            // Multi-device: a replica of the model on each device, its own half of the batch.
            let ga = grads(&m.clone().fork(&d0), batch(step, 0, &d0));
            let gb = grads(&m.clone().fork(&d1), batch(step, 1, &d1));
            let both = MultiGradientsParams {
                grads: vec![(ga, inner0.clone()), (gb, inner1.clone())],
            };
            m = multi.step_multi(lr, m, both);
            sharded |= m.devices().iter().any(|d| *d == d1 || *d == inner1);
            // One device: the same two gradients, summed on the first device.
            let ga = grads(&s.clone().fork(&d0), batch(step, 0, &d0));
            let gb = grads(&s.clone().fork(&d1), batch(step, 1, &d1));
            let g = summed(&s, ga, gb, &inner0);
            s = single.step(lr, s, g);
            let (mv, sv) = (m.values(), s.values());
            for (k, (a, b)) in mv.iter().zip(&sv).enumerate() {
                let worst = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    worst <= 1e-6,
                    "{name}, step {step}, parameter {k}: multi-device differs from one device \
                     by {worst}"
                );
            }
        }
        assert!(
            sharded,
            "{name}: no parameter was stepped on the second device (the test would prove nothing)"
        );
        let moved = start.values().iter().zip(m.values()).any(|(a, b)| a != &b);
        assert!(moved, "{name}: the parameters did not move");
    }
}

/// The largest difference between two models' parameters.
fn max_diff(a: &Net, b: &Net) -> f32 {
    a.values()
        .iter()
        .zip(b.values())
        .flat_map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(x, y)| (x - y).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0f32, f32::max)
}

#[test]
#[cfg_attr(
    not(feature = "ndarray"),
    ignore = "needs two CPU devices: build with --features ndarray"
)]
fn global_norm_clipping_across_devices_equals_one_device() {
    let cpus = descent::device::cpu_devices();
    assert!(cpus.len() >= 2, "two CPU devices expected, got {cpus:?}");
    let (inner0, inner1) = (cpus[0].clone(), cpus[1].clone());
    let (d0, d1) = (inner0.clone().autodiff(), inner1.clone().autodiff());
    for (name, options) in [
        ("sgd", json!({"lr": 0.05, "momentum": 0.9})),
        ("adam", json!({"lr": 0.01})),
    ] {
        let configured = || registry::optimizer(name, &options).unwrap_or_else(|e| panic!("{e}"));
        let lr = configured().lr;
        let (mut multi, mut single) = (configured().optimizer, configured().optimizer);
        let start = Net::sharded(&d0);
        let (mut m, mut s) = (start.clone(), start);
        for step in 0..4 {
            let ga = grads(&m.clone().fork(&d0), batch(step, 0, &d0));
            let gb = grads(&m.clone().fork(&d1), batch(step, 1, &d1));
            let mut both = MultiGradientsParams {
                grads: vec![(ga, inner0.clone()), (gb, inner1.clone())],
            };
            let multi_norm = clip_grad_norm_multi(&m, &mut both, 0.5, NormType::L2);
            m = multi.step_multi(lr, m, both);

            let ga = grads(&s.clone().fork(&d0), batch(step, 0, &d0));
            let gb = grads(&s.clone().fork(&d1), batch(step, 1, &d1));
            let mut g = summed(&s, ga, gb, &inner0);
            let norm = clip_grad_norm(&s, &mut g, 0.5, NormType::L2);
            s = single.step(lr, s, g);

            assert!(
                norm > 0.5,
                "{name}, step {step}: clipping inactive (norm {norm})"
            );
            // Each device reduces its own tensors' squares (flex and ndarray sum in different
            // orders), so the norms agree to f32 rounding, not to the bit.
            assert!(
                (multi_norm - norm).abs() <= 1e-6 * norm,
                "{name}, step {step}: norm {multi_norm} across devices, {norm} on one"
            );
            let worst = max_diff(&m, &s);
            assert!(
                worst <= 1e-6,
                "{name}, step {step}: clipped multi-device step differs by {worst}"
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "ndarray"),
    ignore = "needs two CPU devices: build with --features ndarray"
)]
fn gradient_accumulation_on_each_device_equals_one_device() {
    let cpus = descent::device::cpu_devices();
    assert!(cpus.len() >= 2, "two CPU devices expected, got {cpus:?}");
    let (inner0, inner1) = (cpus[0].clone(), cpus[1].clone());
    let (d0, d1) = (inner0.clone().autodiff(), inner1.clone().autodiff());
    let configured = || registry::optimizer("adam", &json!({"lr": 0.01})).expect("adam");
    let lr = configured().lr;
    let (mut multi, mut single) = (configured().optimizer, configured().optimizer);
    let start = Net::sharded(&d0);
    let (mut m, mut s) = (start.clone(), start);
    for step in 0..3 {
        // Two micro-batches per device, averaged on each device, then summed by step_multi.
        let (mut acc0, mut acc1) = (GradAccumulator::new(2), GradAccumulator::new(2));
        for micro in 0..2 {
            let (r0, r1) = (m.clone().fork(&d0), m.clone().fork(&d1));
            acc0.accumulate(&r0, grads(&r0, batch(4 * step + micro, 0, &d0)));
            acc1.accumulate(&r1, grads(&r1, batch(4 * step + micro, 1, &d1)));
        }
        assert!(acc0.is_ready() && acc1.is_ready());
        let (g0, g1) = (acc0.take(&m), acc1.take(&m));
        let both = MultiGradientsParams {
            grads: vec![(g0, inner0.clone()), (g1, inner1.clone())],
        };
        m = multi.step_multi(lr, m, both);

        // One device: each micro-step's two halves summed, averaged over the micro-batches.
        let mut acc = GradAccumulator::new(2);
        for micro in 0..2 {
            let ga = grads(&s.clone().fork(&d0), batch(4 * step + micro, 0, &d0));
            let gb = grads(&s.clone().fork(&d1), batch(4 * step + micro, 1, &d1));
            acc.accumulate(&s, summed(&s, ga, gb, &inner0));
        }
        let g = acc.take(&s);
        s = single.step(lr, s, g);
        let worst = max_diff(&m, &s);
        assert!(
            worst <= 1e-6,
            "step {step}: accumulated multi-device step differs by {worst}"
        );
    }
}
