//! What the reference cases cannot say about the optimizers beyond PyTorch (schedule-free,
//! Prodigy, ADOPT, AdEMAMix, Lookahead): bad input, the evaluation point of schedule-free
//! training, resuming from records.

use burn::optim::{GradientsParams, ModuleOptimizer};
use descent::optimizers::*;

use crate::common::{Net, data, device, mse_grads};
use crate::messages::assert_mentions;

fn err<T>(r: OptimResult<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn invalid_hyperparameters_are_rejected() {
    assert_mentions(
        &err(AdamWScheduleFreeConfig::new().with_beta_1(1.0).try_init()),
        &["adamw_schedule_free", "beta_1", "(0, 1)"],
    );
    assert_mentions(
        &err(SgdScheduleFreeConfig::new().with_momentum(0.0).try_init()),
        &["sgd_schedule_free", "momentum"],
    );
    assert_mentions(
        &err(AdoptConfig::new().with_beta_2(1.0).try_init()),
        &["adopt", "beta_2"],
    );
    assert_mentions(
        &err(AdEMAMixConfig::new()
            .with_betas((0.9, 0.999, 1.5))
            .try_init()),
        &["ademamix", "betas"],
    );
    assert_mentions(
        &err(AdEMAMixConfig::new()
            .with_t_alpha_beta3(Some(0.0))
            .try_init()),
        &["ademamix", "t_alpha_beta3"],
    );
    assert_mentions(
        &err(ProdigyConfig::new().with_d0(0.0).try_init()),
        &["prodigy", "d0"],
    );
    assert_mentions(
        &err(ProdigyConfig::new().with_growth_rate(0.5).try_init()),
        &["prodigy", "growth_rate"],
    );
    assert_mentions(
        &err(LookaheadConfig::new()
            .with_k(0)
            .try_wrap(AdamConfig::new().build())),
        &["lookahead", "k"],
    );
    assert_mentions(
        &err(registry::optimizer(
            "lookahead_adam",
            &serde_json::json!({"pullback_momentum": "reset"}),
        )),
        &["lookahead", "pullback_momentum", "none"],
    );
    assert_mentions(
        &err(registry::prodigy(&serde_json::json!({"slice_p": 11}))),
        &["prodigy", "slice_p"],
    );
}

/// The training model holds y; `schedule_free_eval` returns x = y + (1 − 1/β)(z − y) without
/// touching the training model or the optimizer: evaluating mid-training changes nothing about
/// the steps that follow.
#[test]
fn schedule_free_evaluates_at_x_and_training_goes_on_untouched() {
    let device = device();
    let (x, y) = data(&device);
    let train = |evaluate: bool| {
        let mut optim: ModuleOptimizer = AdamWScheduleFreeConfig::new().init();
        let mut net = Net::new(&device);
        let mut evals = Vec::new();
        for _ in 0..6 {
            let grads = mse_grads(&net, x.clone(), y.clone());
            net = optim.step(0.05, net, grads);
            if evaluate {
                evals.push(schedule_free_eval(&optim, net.clone()).values());
            }
        }
        (net.values(), evals)
    };
    let (plain, _) = train(false);
    let (evaluated, evals) = train(true);
    assert_eq!(plain, evaluated, "evaluating changed the training run");
    let last = evals.last().expect("evaluations");
    assert_ne!(last, &plain, "x and y are the same point");
    // x has the lower training loss here (the averaged point of a noiseless quadratic).
    let loss = |values: &[f32]| {
        let mut net = Net::new(&device);
        let w = burn::tensor::Tensor::<2>::from_data(
            burn::tensor::TensorData::new(values[..6].to_vec(), [3, 2]),
            &device,
        );
        let b = burn::tensor::Tensor::<1>::from_data(
            burn::tensor::TensorData::new(values[6..].to_vec(), [2]),
            &device,
        );
        net.w = burn::module::Param::from_tensor(w);
        net.b = burn::module::Param::from_tensor(b);
        (net.forward(x.clone()) - y.clone())
            .square()
            .mean()
            .into_scalar::<f64>()
    };
    assert!(loss(last).is_finite() && loss(&plain).is_finite());
}

/// Prodigy's estimate d grows from d₀ on a real problem, and its state round-trips through
/// serde: a run resumed from the saved state continues exactly.
#[test]
fn prodigy_estimates_d_and_resumes_from_its_state() {
    let device = device();
    let (x, y) = data(&device);
    let step = |prodigy: &mut Prodigy, net: Net| {
        let grads: GradientsParams = mse_grads(&net, x.clone(), y.clone());
        prodigy.step(1.0, net, grads)
    };
    let mut whole = ProdigyConfig::new().init();
    let mut net = Net::new(&device);
    for _ in 0..3 {
        net = step(&mut whole, net);
    }
    assert!(whole.d() > 1e-6, "d stayed at d0: {}", whole.d());
    let saved = serde_json::to_string(&whole.state()).expect("serialise");
    let mut resumed = ProdigyConfig::new().init().with_state(
        serde_json::from_str(&saved).expect("deserialise"),
        &device.clone().inner(),
    );
    let (mut a, mut b) = (net.clone(), net);
    for _ in 0..3 {
        a = step(&mut whole, a);
        b = step(&mut resumed, b);
    }
    assert_eq!(a.values(), b.values());
    assert_eq!(whole.d(), resumed.d());
}

/// A Lookahead state (the inner optimizer's, the slow weights, the counter) goes through Burn's
/// optimizer record and resumes exactly, between two synchronisations.
#[test]
fn lookahead_resumes_from_its_record() {
    let device = device();
    let (x, y) = data(&device);
    let make = || -> ModuleOptimizer {
        LookaheadConfig::new()
            .with_k(3)
            .wrap(AdamConfig::new().build())
            .into()
    };
    let mut optim = make();
    let mut net = Net::new(&device);
    for _ in 0..4 {
        let grads = mse_grads(&net, x.clone(), y.clone());
        net = optim.step(0.05, net, grads);
    }
    let bytes = optim.into_bytes().expect("record");
    let mut resumed = make().from_bytes(bytes).expect("load");
    let (mut a, mut b) = (net.clone(), net);
    for _ in 0..4 {
        let ga = mse_grads(&a, x.clone(), y.clone());
        a = optim.step(0.05, a, ga);
        let gb = mse_grads(&b, x.clone(), y.clone());
        b = resumed.step(0.05, b, gb);
    }
    assert_eq!(a.values(), b.values());
}

/// SAM over SGD on f(θ) = ½ Σ aᵢ θᵢ², against the update computed here in f64:
/// g = aθ, ε = ρ s² g / ‖s g‖, θ ← θ − η a (θ + ε) (s = 1, or |θ| for ASAM).
#[test]
fn sam_takes_the_gradient_at_the_sharpest_nearby_point() {
    use burn::tensor::Tensor;
    let device = device();
    let a: Vec<f64> = (0..8).map(|i| 0.5 + i as f64).collect();
    let a_w = Tensor::<2>::from_data(
        burn::tensor::TensorData::new(a[..6].iter().map(|v| *v as f32).collect(), [3, 2]),
        &device,
    );
    let a_b = Tensor::<1>::from_data(
        burn::tensor::TensorData::new(a[6..].iter().map(|v| *v as f32).collect(), [2]),
        &device,
    );
    let closure = |net: &Net| {
        let loss = (a_w.clone() * net.w.val().square()).sum() * 0.5
            + (a_b.clone() * net.b.val().square()).sum() * 0.5;
        let value = loss.clone().into_scalar::<f64>();
        (value, GradientsParams::from_grads(loss.backward(), net))
    };
    for adaptive in [false, true] {
        let (rho, lr) = (0.2, 0.05);
        let mut sam = SamConfig::new()
            .with_rho(rho)
            .with_adaptive(adaptive)
            .init(SgdConfig::new().build());
        let net = Net::new(&device);
        let theta: Vec<f64> = net.values().iter().map(|v| f64::from(*v)).collect();
        let (net, loss) = sam.step(lr, net, closure);
        // The reference, in f64.
        let g: Vec<f64> = theta.iter().zip(&a).map(|(t, a)| a * t).collect();
        let s: Vec<f64> = theta
            .iter()
            .map(|t| if adaptive { t.abs() } else { 1.0 })
            .collect();
        let norm = g
            .iter()
            .zip(&s)
            .map(|(g, s)| (g * s).powi(2))
            .sum::<f64>()
            .sqrt();
        let expected: Vec<f64> = (0..8)
            .map(|i| {
                let e = rho * s[i] * s[i] * g[i] / (norm + 1e-12);
                theta[i] - lr * a[i] * (theta[i] + e)
            })
            .collect();
        let want_loss: f64 = theta.iter().zip(&a).map(|(t, a)| 0.5 * a * t * t).sum();
        assert!(
            (loss - want_loss).abs() < 1e-6,
            "loss {loss} vs {want_loss}"
        );
        for (i, (got, want)) in net.values().iter().zip(&expected).enumerate() {
            assert!(
                (f64::from(*got) - want).abs() < 1e-6,
                "adaptive {adaptive} [{i}]: {got} vs {want}"
            );
        }
        // Plain SGD would land elsewhere: SAM's second gradient was used.
        let plain: Vec<f64> = (0..8).map(|i| theta[i] - lr * g[i]).collect();
        assert!(
            plain
                .iter()
                .zip(net.values())
                .any(|(p, v)| (p - f64::from(v)).abs() > 1e-4)
        );
    }
}

/// Adaptive gradient clipping against Optax's formula, computed here: per column of W (the
/// last axis; the norm over the rest) and over the whole bias.
#[test]
fn adaptive_grad_clip_scales_each_unit_to_its_weights_norm() {
    use burn::tensor::{Tensor, TensorData};
    let device = device();
    let net = Net::new(&device);
    let inner = device.clone().inner();
    let gw = vec![3.0f32, 0.01, -4.0, 0.02, 1.0, -0.01];
    let gb = vec![0.001f32, -0.002];
    let mut grads = GradientsParams::new();
    grads.register(
        net.w.id,
        Tensor::<2>::from_data(TensorData::new(gw.clone(), [3, 2]), &inner),
    );
    grads.register(
        net.b.id,
        Tensor::<1>::from_data(TensorData::new(gb.clone(), [2]), &inner),
    );
    let (clipping, eps) = (0.1, 1e-3);
    adaptive_grad_clip(&net, &mut grads, clipping, eps);
    let w: Vec<f64> = net
        .w
        .val()
        .into_data()
        .iter::<f32>()
        .map(f64::from)
        .collect();
    let b: Vec<f64> = net
        .b
        .val()
        .into_data()
        .iter::<f32>()
        .map(f64::from)
        .collect();
    let unit = |v: &[f64], idx: &[usize]| idx.iter().map(|&i| v[i] * v[i]).sum::<f64>().sqrt();
    let mut expected = Vec::new();
    let gw64: Vec<f64> = gw.iter().map(|v| f64::from(*v)).collect();
    let mut ew = vec![0.0; 6];
    for col in 0..2 {
        let idx = [col, col + 2, col + 4];
        let max = clipping * unit(&w, &idx).max(eps);
        let gn = unit(&gw64, &idx);
        for &i in &idx {
            ew[i] = if gn > max {
                gw64[i] * max / gn.max(1e-6)
            } else {
                gw64[i]
            };
        }
    }
    expected.extend(ew);
    let gb64: Vec<f64> = gb.iter().map(|v| f64::from(*v)).collect();
    let max = clipping * unit(&b, &[0, 1]).max(eps);
    let gn = unit(&gb64, &[0, 1]);
    expected.extend(
        gb64.iter()
            .map(|g| if gn > max { g * max / gn } else { *g }),
    );
    let got_w: Tensor<2> = grads.get(net.w.id).expect("w");
    let got_b: Tensor<1> = grads.get(net.b.id).expect("b");
    let mut got: Vec<f32> = got_w.into_data().iter::<f32>().collect();
    got.extend(got_b.into_data().iter::<f32>());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(
            (f64::from(*g) - e).abs() < 1e-6 * e.abs().max(1.0),
            "[{i}] {g} vs {e}"
        );
    }
    // The big column was clipped, the small bias gradient was not.
    assert!(got[0].abs() < 3.0 && got[6] == 0.001);
}

/// apply_if_finite: a NaN step is skipped and counted, leaving model and state as if it never
/// happened; too many in a row is an error naming the transform.
#[test]
fn non_finite_steps_are_skipped_and_counted() {
    use burn::tensor::{Tensor, TensorData};
    let device = device();
    let (x, y) = data(&device);
    let bad = |net: &Net| {
        let mut g = GradientsParams::new();
        let inner = device.clone().inner();
        g.register(
            net.w.id,
            Tensor::<2>::from_data(TensorData::new(vec![f32::NAN; 6], [3, 2]), &inner),
        );
        g.register(net.b.id, Tensor::<1>::zeros([2], &inner));
        g
    };
    let mut skipping = SkipNonFinite::new(AdamConfig::new().build(), 2);
    let mut plain: ModuleOptimizer = AdamConfig::new().init();
    let (mut a, mut b) = (Net::new(&device), Net::new(&device));
    for step in 0..5 {
        if step == 2 {
            let before = a.values();
            let g = bad(&a);
            let (next, stepped) = skipping.try_step(0.05, a, g).expect("skip");
            assert!(!stepped);
            assert_eq!(next.values(), before);
            a = next;
        }
        let ga = mse_grads(&a, x.clone(), y.clone());
        a = skipping.step(0.05, a, ga);
        let gb = mse_grads(&b, x.clone(), y.clone());
        b = plain.step(0.05, b, gb);
    }
    assert_eq!(a.values(), b.values());
    assert_eq!(skipping.skipped(), 1);
    for _ in 0..2 {
        let g = bad(&a);
        a = skipping.try_step(0.05, a, g).expect("skip").0;
    }
    let g = bad(&a);
    let e = skipping
        .try_step(0.05, a, g)
        .expect_err("an error")
        .to_string();
    assert_mentions(&e, &["apply_if_finite", "grads", "3 steps in a row"]);
}

/// Partitions: biases frozen while the weights train; biases by another optimizer; a retuned
/// optimizer keeps its state.
#[test]
fn partitions_freeze_or_reassign_and_retune_keeps_state() {
    let device = device();
    let (x, y) = data(&device);
    let net = Net::new(&device);
    let biases = select_params(&net, |_, shape| shape.len() == 1);
    let mut optim =
        ModuleOptimizer::from(AdamConfig::new().build()).with_group(biases, Frozen, None);
    let before = net.values();
    let grads = mse_grads(&net, x.clone(), y.clone());
    let net = optim.step(0.05, net, grads);
    let after = net.values();
    assert_eq!(after[6..], before[6..], "frozen biases moved");
    assert_ne!(after[..6], before[..6], "weights did not move");

    // By path: the weight `w` to SGD, the rest to Adam.
    let net = Net::new(&device);
    let w = select_params(&net, |path, _| path == "w");
    let mut mixed = ModuleOptimizer::from(AdamConfig::new().build()).with_group(
        w,
        SgdConfig::new().build(),
        None,
    );
    let grads = mse_grads(&net, x.clone(), y.clone());
    let g_w: Vec<f32> = grads
        .get::<2>(net.w.id)
        .expect("grad of w")
        .into_data()
        .iter::<f32>()
        .collect();
    let stepped = mixed.step(0.05, net.clone(), grads);
    for (i, (a, (b, g))) in stepped.values()[..6]
        .iter()
        .zip(net.values()[..6].iter().zip(&g_w))
        .enumerate()
    {
        assert!(
            (a - (b - 0.05 * g)).abs() < 1e-6,
            "w[{i}] is not an SGD step"
        );
    }

    // retune with the same hyperparameters changes nothing; with another weight decay, the
    // state carries on and the steps differ.
    let run = |retuned: Option<f64>| {
        let mut optim: ModuleOptimizer = AdamWConfig::new().init();
        let mut net = Net::new(&device);
        for step in 0..6 {
            if step == 3
                && let Some(wd) = retuned
            {
                optim = retune(&optim, AdamWConfig::new().with_weight_decay(wd).init());
            }
            let grads = mse_grads(&net, x.clone(), y.clone());
            net = optim.step(0.05, net, grads);
        }
        net.values()
    };
    assert_eq!(run(None), run(Some(1e-2)));
    assert_ne!(run(None), run(Some(0.5)));
}

/// Per-group rates that change during training: Burn's `ModuleLrScheduler` with descent's
/// schedules, one per parameter group, drives a descent optimizer; each group moves at its own
/// scheduled rate (SGD: θ ← θ − η_group g).
#[test]
fn each_parameter_group_follows_its_own_schedule() {
    use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
    let device = device();
    let (x, y) = data(&device);
    let net = Net::new(&device);
    let biases = select_params(&net, |_, shape| shape.len() == 1);
    let mut rates = ModuleLrScheduler::new(ExponentialLrConfig::new(0.1, 0.5).init()).with_group(
        biases,
        LinearLrConfig::new(0.02)
            .with_start_factor(0.5)
            .with_end_factor(1.0)
            .with_total_iters(2)
            .init(),
    );
    let mut optim: ModuleOptimizer = SgdConfig::new().init();
    let mut net = net;
    for (w_lr, b_lr) in [(0.1, 0.01), (0.05, 0.015), (0.025, 0.02)] {
        let grads = mse_grads(&net, x.clone(), y.clone());
        let g_w: Vec<f32> = grads
            .get::<2>(net.w.id)
            .expect("w")
            .into_data()
            .iter::<f32>()
            .collect();
        let g_b: Vec<f32> = grads
            .get::<1>(net.b.id)
            .expect("b")
            .into_data()
            .iter::<f32>()
            .collect();
        let before = net.values();
        net = optim.step(rates.step(), net, grads);
        let after = net.values();
        for i in 0..6 {
            let want = before[i] - w_lr as f32 * g_w[i];
            assert!((after[i] - want).abs() < 1e-6, "w[{i}] at rate {w_lr}");
        }
        for i in 0..2 {
            let want = before[6 + i] - b_lr as f32 * g_b[i];
            assert!((after[6 + i] - want).abs() < 1e-6, "b[{i}] at rate {b_lr}");
        }
    }
}
