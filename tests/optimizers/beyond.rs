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
