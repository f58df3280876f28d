//! What the conformance cases cannot say about the PyTorch-parity additions (Muon, Adafactor,
//! ASGD, Rprop, the closure schedules, SWALR, ChainedScheduler, AveragedModel): bad input,
//! the Muon + AdamW pairing, Muon's bfloat16 iteration, records.

use burn::module::Module;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{Tensor, TensorData};
use descent::optimizers::registry::Schedule;
use descent::optimizers::*;

use crate::common::{Net, data, device, mse_grads};
use crate::messages::{assert_mentions, panic_message};

fn err<T>(r: OptimResult<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn invalid_hyperparameters_of_the_parity_optimizers_are_rejected() {
    assert_mentions(
        &err(RpropConfig::new().with_etas((1.2, 0.5)).try_init()),
        &["rprop", "etas", "etaminus"],
    );
    assert_mentions(
        &err(RpropConfig::new().with_step_sizes((1.0, 0.1)).try_init()),
        &["rprop", "step_sizes"],
    );
    assert_mentions(
        &err(AdafactorConfig::new().with_beta2_decay(0.5).try_init()),
        &["adafactor", "beta2_decay", "<= 0"],
    );
    assert_mentions(
        &err(AdafactorConfig::new().with_d(0.5).try_init()),
        &["adafactor", "d", ">= 1"],
    );
    assert_mentions(
        &err(MuonConfig::new().with_ns_steps(100).try_init()),
        &["muon", "ns_steps", "< 100"],
    );
    assert_mentions(
        &err(AsgdConfig::new().with_alpha(-1.0).try_init()),
        &["asgd", "alpha"],
    );
    assert_mentions(
        &err(SwalrConfig::new(0.1, -0.05).try_init()),
        &["swalr", "swa_lr"],
    );
    assert_mentions(
        &err(ChainedScheduler::try_new(Vec::new(), 0.1)),
        &["chained_scheduler", "schedulers", "empty"],
    );
    let net = Net::new(&device());
    assert_mentions(
        &err(AveragedModel::try_new(&net, Averaging::Ema { decay: 1.5 })),
        &["averaged_model", "decay", "[0, 1]"],
    );
    let plateau: Box<dyn Schedule> = Box::new(ReduceLrOnPlateauConfig::new(0.1).init());
    assert_mentions(
        &err(ChainedScheduler::try_new(vec![plateau], 0.1)),
        &["chained_scheduler", "reduce_lr_on_plateau"],
    );
}

/// Muon is for matrices: a vector parameter stops the step with a message that names Muon,
/// the shape and the remedy.
#[test]
fn muon_refuses_a_vector_and_pairs_with_adamw_in_one_call() {
    let device = device();
    let (x, y) = data(&device);
    let net = Net::new(&device);
    let grads = mse_grads(&net, x.clone(), y.clone());
    let mut muon = MuonConfig::new().init();
    let msg = panic_message(move || {
        muon.step(0.02, net, grads);
    });
    assert_mentions(&msg, &["muon", "2-D", "[2]", "AdamW", "muon_with_adamw"]);

    // The pairing: W (a matrix) moves as Muon alone moves it, b as AdamW alone moves it.
    let net = Net::new(&device);
    let grads = mse_grads(&net, x.clone(), y.clone());
    let mut both =
        muon_with_adamw(&net, &MuonConfig::new(), &AdamWConfig::new(), &[]).expect("a pairing");
    let paired = both.step(0.02, net, grads);

    let inner = device.clone().inner();
    let net = Net::new(&device);
    let mut g = mse_grads(&net, x, y);
    let gw: Tensor<2> = g.remove(net.w.id).expect("grad of w");
    let gb: Tensor<1> = g.remove(net.b.id).expect("grad of b");
    let (w, _) =
        MuonConfig::new()
            .build()
            .step(0.02, net.w.val().inner(), gw.to_device(&inner), None);
    let (b, _) =
        AdamWConfig::new()
            .build()
            .step(0.02, net.b.val().inner(), gb.to_device(&inner), None);
    let close = |a: Vec<f32>, b: Vec<f32>| {
        a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-6) && a.len() == b.len()
    };
    assert!(close(
        paired.w.val().into_data().iter::<f32>().collect(),
        w.into_data().iter::<f32>().collect()
    ));
    assert!(close(
        paired.b.val().into_data().iter::<f32>().collect(),
        b.into_data().iter::<f32>().collect()
    ));
    // Excluding every matrix leaves nothing for Muon: an error, not a silent AdamW run.
    assert_mentions(
        &err(muon_with_adamw(
            &Net::new(&device),
            &MuonConfig::new(),
            &AdamWConfig::new(),
            &[""],
        )),
        &["muon", "module", "weight matrix"],
    );
}

/// PyTorch runs Newton–Schulz in bfloat16; `ns_precision = Full` runs it in f32. The two
/// differ by bfloat16's rounding (about 2⁻⁹ relative), and only by that.
#[test]
fn muon_bfloat16_iteration_rounds_like_bfloat16() {
    let device = device().inner();
    let values: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 7.0).collect();
    let p = || Tensor::<2>::from_data(TensorData::new(values.clone(), [4, 6]), &device);
    let g = || {
        Tensor::<2>::from_data(
            TensorData::new(values.iter().rev().copied().collect::<Vec<_>>(), [4, 6]),
            &device,
        )
    };
    let step = |precision| {
        let (p, _) = MuonConfig::new()
            .with_ns_precision(precision)
            .with_weight_decay(0.0)
            .build()
            .step(1.0, p(), g(), None);
        (p - self::p_start(&values, &device))
            .into_data()
            .iter::<f32>()
            .collect::<Vec<_>>()
    };
    let (bf16, full) = (step(NsPrecision::Bfloat16), step(NsPrecision::Full));
    let largest = full.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = bf16
        .iter()
        .zip(&full)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff > 0.0, "the bfloat16 iteration rounded nothing");
    assert!(
        diff < 0.05 * largest,
        "bfloat16 and full differ by {diff} of {largest}"
    );
}

fn p_start(values: &[f32], device: &burn::tensor::Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(values.to_vec(), [4, 6]), device)
}

/// The rate schedules added for parity resume from their records where they stopped.
#[test]
fn parity_schedules_resume_from_their_records() {
    let fresh: Vec<Box<dyn Schedule>> = vec![
        Box::new(SwalrConfig::new(0.1, 0.05).with_anneal_epochs(5).init()),
        Box::new(MultiplicativeLr::new(0.1, |e| 0.9 + 0.001 * e as f64)),
        Box::new(LambdaLr::new(0.1, |e| 0.5f64.powi(e as i32))),
        Box::new(ChainedScheduler::new(
            vec![
                Box::new(
                    ConstantLrConfig::new(0.1)
                        .with_factor(0.5)
                        .with_total_iters(3)
                        .init(),
                ),
                Box::new(ExponentialLrConfig::new(0.1, 0.9).init()),
            ],
            0.1,
        )),
    ];
    for mut s in fresh {
        let mut copy = s.clone();
        let all: Vec<f64> = (0..12).map(|_| s.step()).collect();
        for _ in 0..5 {
            copy.step();
        }
        let record = copy.to_record();
        let mut resumed = s.clone_schedule();
        // A schedule of the same kind, advanced elsewhere: reset by the record to step 5.
        resumed.load_record(record);
        let rest: Vec<f64> = (5..12).map(|_| resumed.step()).collect();
        assert_eq!(rest, all[5..], "{}", s.name());
    }
}

/// An averaged model folds in models of its own architecture only; ASGD's average is read
/// as a model.
#[test]
fn averaged_models_check_the_architecture_and_asgd_gives_its_average() {
    let device = device();
    let net = Net::new(&device);
    let mut avg = AveragedModel::new(&net, Averaging::Swa);
    avg.update_parameters(&net);
    assert_eq!(avg.n_averaged(), 1);
    assert_eq!(avg.model().values(), net.values());

    #[derive(Module, Debug)]
    struct Other {
        w: burn::module::Param<Tensor<2>>,
    }
    let other = Other {
        w: burn::module::Param::from_tensor(Tensor::zeros([3, 2], &device)),
    };
    let mut avg = AveragedModel::new(&other, Averaging::Swa);
    let msg = panic_message(move || {
        avg.update_parameters(&Other {
            w: burn::module::Param::from_tensor(Tensor::zeros([2, 3], &device)),
        })
    });
    assert_mentions(&msg, &["averaged_model", "[3, 2]", "[2, 3]"]);

    // ASGD with t0 = 0: μ = 1 for steps 1 and 2 (ax copies θ), then 1/2: ax₃ = (θ₂ + θ₃)/2.
    let device = crate::common::device();
    let (x, y) = data(&device);
    let mut optim = AsgdConfig::new().with_t0(0.0).init();
    let mut net = Net::new(&device);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let grads: GradientsParams = mse_grads(&net, x.clone(), y.clone());
        net = optim.step(0.1, net, grads);
        seen.push(net.values());
    }
    let average = asgd_average(&optim, net).values();
    for (i, a) in average.iter().enumerate() {
        let mean = (seen[1][i] + seen[2][i]) / 2.0;
        assert!((a - mean).abs() < 1e-6, "ax[{i}] = {a}, mean {mean}");
    }
}

/// `update_bn` sets each running statistic to the equal average of its per-batch values
/// (Burn's batch statistics: the mean and the biased variance), whatever the layer's momentum;
/// the weights do not move; without autodiff it is an error, not a silent no-op.
#[test]
fn update_bn_averages_the_batch_statistics() {
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};

    #[derive(Module, Debug)]
    struct Net {
        linear: Linear,
        norm: BatchNorm,
    }
    impl Net {
        fn features(&self, x: Tensor<2>) -> Tensor<2> {
            self.linear.forward(x)
        }
        fn forward(&self, x: Tensor<2>) -> Tensor<2> {
            self.norm.forward(self.features(x))
        }
    }
    let device = device();
    let net = Net {
        linear: LinearConfig::new(3, 4).init(&device),
        norm: BatchNormConfig::new(4).with_momentum(0.3).init(&device),
    };
    let batches: Vec<Tensor<2>> = [(5, 0.0), (8, 1.5), (3, -2.0)]
        .iter()
        .map(|&(n, shift)| {
            let v: Vec<f32> = (0..n * 3)
                .map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0 + shift)
                .collect();
            Tensor::from_data(TensorData::new(v, [n, 3]), &device)
        })
        .collect();
    // The expected statistics, from the features each batch feeds the norm.
    let (mut mean, mut var) = (vec![0.0f64; 4], vec![0.0f64; 4]);
    for x in &batches {
        let f: Vec<f32> = net.features(x.clone()).into_data().iter::<f32>().collect();
        let n = f.len() / 4;
        for c in 0..4 {
            let col: Vec<f64> = (0..n).map(|r| f64::from(f[r * 4 + c])).collect();
            let mu = col.iter().sum::<f64>() / n as f64;
            mean[c] += mu / 3.0;
            var[c] += col.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n as f64 / 3.0;
        }
    }
    let weight: Vec<f32> = net.linear.weight.val().into_data().iter::<f32>().collect();
    let net = update_bn(net, batches.clone(), |m: &Net, x| {
        m.forward(x);
    })
    .expect("update_bn");
    let read = |t: Tensor<1>| t.into_data().iter::<f32>().collect::<Vec<f32>>();
    let (got_mean, got_var) = (
        read(net.norm.running_mean.value()),
        read(net.norm.running_var.value()),
    );
    for c in 0..4 {
        assert!(
            (f64::from(got_mean[c]) - mean[c]).abs() < 1e-4,
            "mean[{c}] {} vs {}",
            got_mean[c],
            mean[c]
        );
        assert!(
            (f64::from(got_var[c]) - var[c]).abs() < 1e-4 * var[c].max(1.0),
            "var[{c}] {} vs {}",
            got_var[c],
            var[c]
        );
    }
    let after: Vec<f32> = net.linear.weight.val().into_data().iter::<f32>().collect();
    assert_eq!(weight, after, "update_bn moved the weights");

    // Off autodiff the norms never update: an error naming update_bn.
    let plain = device.clone().inner();
    let frozen = Net {
        linear: LinearConfig::new(3, 4).init(&plain),
        norm: BatchNormConfig::new(4).init(&plain),
    };
    let batch = Tensor::<2>::zeros([4, 3], &plain).add_scalar(1.0);
    assert_mentions(
        &err(update_bn(frozen, [batch], |m: &Net, x| {
            m.forward(x);
        })),
        &["update_bn", "autodiff", "training mode"],
    );
    assert_mentions(
        &err(update_bn(net, Vec::<Tensor<2>>::new(), |m: &Net, x| {
            m.forward(x);
        })),
        &["update_bn", "batches", "empty"],
    );
}

/// An averaged model resumes from a checkpoint (the averaged module saved as any Burn module,
/// with `n_averaged` beside it) and continues exactly as the one that was never stopped.
#[test]
fn averaged_models_resume_from_a_checkpoint() {
    let device = device();
    let (x, y) = data(&device);
    let mut net = Net::new(&device);
    let mut optim = SgdConfig::new().init();
    let mut models = Vec::new();
    for _ in 0..4 {
        let grads = mse_grads(&net, x.clone(), y.clone());
        net = optim.step(0.1, net, grads);
        models.push(net.clone());
    }
    for averaging in [Averaging::Swa, Averaging::Ema { decay: 0.7 }] {
        let mut whole = AveragedModel::new(&models[0], averaging);
        for m in &models {
            whole.update_parameters(m);
        }
        let mut first = AveragedModel::new(&models[0], averaging);
        for m in &models[..2] {
            first.update_parameters(m);
        }
        let dir = std::env::temp_dir().join(format!("descent-avg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("average.bpk");
        first.model().clone().save_file(&file).expect("save");
        let n = first.n_averaged();
        drop(first);
        let loaded = Net::new(&device).load_file(&file);
        let mut resumed = AveragedModel::from_parts(loaded, averaging, n).expect("resume");
        for m in &models[2..] {
            resumed.update_parameters(m);
        }
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(resumed.n_averaged(), 4);
        let (a, b) = (resumed.model().values(), whole.model().values());
        assert!(
            a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-6),
            "{averaging:?}: {a:?} vs {b:?}"
        );
        assert_ne!(b, models[3].values(), "{averaging:?}: nothing was averaged");
    }
}
