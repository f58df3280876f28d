//! descent inside burn-train's `Learner` (`--features train`): the same batches through
//! burn-train and through descent's own loop give the same parameters, with descent's
//! optimizers and schedules (parameter groups too); a run resumed from burn-train's
//! checkpoint equals an uninterrupted one (descent's optimizer and schedule records survive
//! its burnpack files); and burn-train's `MultiDevice` strategy on flex + ndarray, with the
//! optimizer on the main device or sharded, equals one device's step on the summed gradients.

use burn::lr_scheduler::constant::ConstantLr;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::module::ParamGroup;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::tensor::{Device, TensorData};
use burn_train::logger::InMemoryMetricLogger;
use burn_train::metric::LossMetric;
use burn_train::{ExecutionStrategy, Learner, MultiDeviceOptim, SupervisedTraining};
use descent::lab::data::Dataset;
use descent::lab::models::Mlp;
use descent::lab::synthetic;
use descent::lab::train::{Batch, TrainConfig, Trainer};
use descent::losses::CrossEntropyLossConfig;
use descent::optimizers::registry::Schedule;
use descent::optimizers::{
    AdamWConfig, CosineAnnealingLrConfig, LionConfig, SgdConfig, StepLrConfig, WarmupCosineConfig,
};
use descent::train::{Classifier, loader};

const BATCH: usize = 16;

/// A fresh optimizer of one kind (each loop gets its own state).
type MakeOptimizer = fn() -> ModuleOptimizer;

/// 96 points in three blobs, rows in blob order interleaved (class = row mod 3).
fn data() -> Dataset {
    synthetic::blobs(32, &[(0.0, 0.0), (2.0, 2.0), (-2.0, 2.0)], 0.8, 7)
}

fn classifier(device: &Device) -> Classifier {
    let loss = CrossEntropyLossConfig::new()
        .with_label_smoothing(0.1)
        .with_weight(Some(vec![1.0, 2.0, 0.5]))
        .init();
    Classifier::new(Mlp::new(2, &[8], 3, device), loss)
}

/// Every parameter's values, layer by layer (weight, bias).
fn values(model: &Classifier) -> Vec<Vec<f32>> {
    let data = |t: TensorData| t.convert::<f32>().try_to_vec::<f32>().expect("f32 values");
    model
        .mlp
        .layers
        .iter()
        .flat_map(|l| {
            [
                data(l.weight.val().into_data()),
                data(l.bias.as_ref().expect("bias").val().into_data()),
            ]
        })
        .collect()
}

/// Asserts that `got` is `want` within `tolerance` (largest absolute difference) and that
/// training moved `want` away from `init` (by more than 10⁻², so that equal results are not
/// two runs that did nothing); prints both numbers.
fn trained_alike(
    label: &str,
    got: &[Vec<f32>],
    want: &[Vec<f32>],
    init: &[Vec<f32>],
    tolerance: f32,
) {
    let moved = max_diff(want, init);
    let diff = max_diff(got, want);
    eprintln!("{label}: {diff:e} apart (the parameters moved {moved})");
    assert!(
        moved > 1e-2,
        "{label}: the parameters did not move ({moved})"
    );
    assert!(
        diff <= tolerance,
        "{label}: {diff} apart (tolerance {tolerance})"
    );
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

/// burn-train, quietly: no renderer output beyond the plain one, no log files, metrics in
/// memory, `epochs` epochs over `train` in order.
fn training(
    dir: &std::path::Path,
    train: &Dataset,
    epochs: usize,
    device: &Device,
) -> SupervisedTraining<Classifier> {
    SupervisedTraining::new(
        dir,
        loader(train, BATCH, None, device),
        loader(train, BATCH, None, device),
    )
    .num_epochs(epochs)
    .metric_train_numeric(LossMetric::new())
    .with_metric_logger(InMemoryMetricLogger::new())
    .with_application_logger(None)
    .renderer(Box::new(descent::train::EpochLines::default()))
}

/// The batches burn-train's loader takes from `train`, in order.
fn batches(train: &Dataset, device: &Device) -> Vec<Batch> {
    (0..train.len())
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|rows| Batch::of(&train.subset(rows), device))
        .collect()
}

#[test]
fn burn_train_steps_equal_the_trainer() {
    let device = Device::flex().autodiff();
    let train = data();
    let epochs = 2;
    let steps = (epochs * train.len().div_ceil(BATCH)) as u64;
    let cases: [(&str, MakeOptimizer); 3] = [
        ("adamw", || {
            AdamWConfig::new().with_weight_decay(0.05).init()
        }),
        ("sgd (nesterov)", || {
            SgdConfig::new()
                .with_momentum(0.9)
                .with_nesterov(true)
                .init()
        }),
        ("lion", || LionConfig::new().init()),
    ];
    for (name, optimizer) in cases {
        let schedule = || WarmupCosineConfig::new(0.0, 0.05, 3, steps).init();
        let init = classifier(&device);
        let dir = tempdir(name);

        let result = training(&dir, &train, epochs, &device).launch(Learner::new(
            init.clone(),
            optimizer(),
            schedule(),
        ));
        let through_burn_train = values(&result.model);

        let mut trainer = Trainer::new(
            TrainConfig::new(epochs, BATCH),
            optimizer(),
            Box::new(schedule()) as Box<dyn Schedule>,
        );
        let loss = |m: &Classifier, b: &Batch| m.classify(b.clone()).loss;
        let mut model = init.clone();
        for _ in 0..epochs {
            for batch in batches(&train, &device) {
                model = trainer.step(model, &batch, &loss).0;
            }
        }
        assert_eq!(trainer.history().step_loss.len() as u64, steps);
        let through_trainer = values(&model);

        let label = format!("{name}, {steps} steps: burn-train vs Trainer");
        trained_alike(
            &label,
            &through_burn_train,
            &through_trainer,
            &values(&init),
            1e-6,
        );
    }
}

#[test]
fn burn_train_parameter_groups_follow_module_lr_scheduler() {
    let device = Device::flex().autodiff();
    let train = data();
    let epochs = 2;
    // The hidden layer (`layers.0`) frozen at rate 0, the output layer (`layers.1`) on a
    // descent step schedule, the rest (nothing else here) on a descent cosine.
    let schedule = || {
        ModuleLrScheduler::new(CosineAnnealingLrConfig::new(0.05, 12).init())
            .with_group(ParamGroup::from_predicate("layers.0"), ConstantLr::new(0.0))
            .with_group(
                ParamGroup::from_predicate("layers.1"),
                StepLrConfig::new(0.05, 4).with_gamma(0.5).init(),
            )
    };
    let optimizer = || AdamWConfig::new().init();
    let init = classifier(&device);
    let dir = tempdir("groups");
    let result = training(&dir, &train, epochs, &device).launch(Learner::new(
        init.clone(),
        optimizer(),
        schedule(),
    ));
    let through_burn_train = values(&result.model);

    // descent's loop with the same policy: rate per group, then the step.
    let mut optim = optimizer();
    let mut policy = schedule();
    let mut model = init.clone();
    for _ in 0..epochs {
        for batch in batches(&train, &device) {
            let loss = model.classify(batch).loss;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(policy.step(), model, grads);
        }
    }
    let by_hand = values(&model);
    let before = values(&init);

    assert_eq!(
        &through_burn_train[..2],
        &before[..2],
        "the frozen group (layers.0, rate 0) moved"
    );
    let moved = max_diff(&through_burn_train[2..], &before[2..]);
    assert!(moved > 1e-2, "the output layer did not move ({moved})");
    let diff = max_diff(&through_burn_train, &by_hand);
    eprintln!("groups: burn-train vs descent's loop {diff:e} (output layer moved {moved})");
    assert!(
        diff <= 1e-6,
        "burn-train and descent's loop differ by {diff}"
    );
}

#[test]
fn burn_train_resumes_descent_state_from_its_checkpoint() {
    let device = Device::flex().autodiff();
    let train = data();
    let steps = (3 * train.len().div_ceil(BATCH)) as u64;
    let optimizer = || AdamWConfig::new().with_weight_decay(0.05).init();
    let schedule = || WarmupCosineConfig::new(0.0, 0.05, 3, steps).init();
    let init = classifier(&device);

    let straight = tempdir("straight");
    let whole = training(&straight, &train, 3, &device).launch(Learner::new(
        init.clone(),
        optimizer(),
        schedule(),
    ));

    let resumed = tempdir("resumed");
    training(&resumed, &train, 1, &device)
        .with_default_checkpointers()
        .launch(Learner::new(init.clone(), optimizer(), schedule()));
    assert!(resumed.join("checkpoint/optim-1.bpk").is_file());
    // A different initial model: everything must come from the checkpoint.
    let second = training(&resumed, &train, 3, &device)
        .with_default_checkpointers()
        .checkpoint(1)
        .launch(Learner::new(classifier(&device), optimizer(), schedule()));

    let label = "resume: 1 epoch + checkpoint + 2 vs 3 epochs";
    trained_alike(
        label,
        &values(&second.model),
        &values(&whole.model),
        &values(&init),
        1e-6,
    );
}

#[test]
#[cfg_attr(
    not(feature = "ndarray"),
    ignore = "needs two CPU devices: build with --features ndarray"
)]
fn burn_train_multi_device_equals_one_device_on_summed_gradients() {
    let main = Device::flex().autodiff();
    let second = descent::device::device("ndarray")
        .expect("ndarray is built")
        .autodiff();
    let train = data();
    let epochs = 2;
    for strategy in [
        MultiDeviceOptim::OptimMainDevice,
        MultiDeviceOptim::OptimSharded,
    ] {
        let label = format!("{strategy:?}");
        let optimizer = || AdamWConfig::new().with_weight_decay(0.05).init();
        let schedule = || CosineAnnealingLrConfig::new(0.05, 6).init();
        let init = sharded(&main);
        let dir = tempdir(&label);
        let result = training(&dir, &train, epochs, &main)
            .with_training_strategy(
                ExecutionStrategy::MultiDevice(vec![main.clone(), second.clone()], strategy).into(),
            )
            .launch(Learner::new(init.clone(), optimizer(), schedule()));
        let through_burn_train = values(&result.model);

        let one_device = summed_steps(init.clone(), &train, epochs, &main, optimizer(), schedule());
        let label = format!("{label}: burn-train on flex + ndarray vs one device");
        trained_alike(
            &label,
            &through_burn_train,
            &one_device,
            &values(&init),
            1e-5,
        );
    }
}

/// burn-train's data-parallel strategy (`DistributedDataParallel`: a replica per device, the
/// gradients summed across devices by all-reduce during the backward pass, each replica stepped
/// by its own optimizer) with descent's AdamW on two CUDA devices equals one device's step on
/// the summed gradients. Burn 0.22 runs these collectives on CUDA only (every other cubecl
/// runtime answers all-reduce with "no device transport"): with fewer than two CUDA devices, or
/// without `--features cuda`, the test says so on stderr and steps aside.
#[test]
fn burn_train_data_parallel_on_two_cuda_devices_equals_one_device() {
    let gpus = cuda_devices();
    if gpus.len() < 2 {
        eprintln!(
            "data parallel not run: {} CUDA device(s) found{}; burn-train's all-reduce needs two",
            gpus.len(),
            if cfg!(feature = "cuda") {
                ""
            } else {
                " (CUDA is not built in: --features cuda)"
            }
        );
        return;
    }
    let devices: Vec<Device> = gpus[..2].iter().map(|d| d.clone().autodiff()).collect();
    let main = devices[0].clone();
    let train = data();
    let epochs = 2;
    let optimizer = || AdamWConfig::new().with_weight_decay(0.05).init();
    let schedule = || CosineAnnealingLrConfig::new(0.05, 6).init();
    let init = classifier(&main);
    let dir = tempdir("ddp");
    let strategy = ExecutionStrategy::ddp(
        devices,
        DistributedConfig {
            all_reduce_op: ReduceOperation::Sum,
        },
    );
    let result = training(&dir, &train, epochs, &main)
        .with_training_strategy(strategy.into())
        .launch(Learner::new(init.clone(), optimizer(), schedule()));
    let through_burn_train = values(&result.model);

    let one_device = summed_steps(init.clone(), &train, epochs, &main, optimizer(), schedule());
    let label = "data parallel on two CUDA devices vs one";
    trained_alike(
        label,
        &through_burn_train,
        &one_device,
        &values(&init),
        1e-4,
    );
}

/// The CUDA devices of this machine (none without `--features cuda`).
fn cuda_devices() -> Vec<Device> {
    #[cfg(feature = "cuda")]
    {
        Device::enumerate(burn::tensor::DeviceType::Cuda)
            .into_iter()
            .collect()
    }
    #[cfg(not(feature = "cuda"))]
    {
        Vec::new()
    }
}

/// One device's run on the summed gradients of the two halves of `train` (the halves burn-train's
/// `split_dataloader` gives two devices): batch k of each half, their losses summed (so their
/// gradients are), one step.
fn summed_steps(
    mut model: Classifier,
    train: &Dataset,
    epochs: usize,
    device: &Device,
    mut optim: ModuleOptimizer,
    mut schedule: impl burn::lr_scheduler::LrScheduler,
) -> Vec<Vec<f32>> {
    let half = train.len() / 2;
    let first = train.subset(&(0..half).collect::<Vec<_>>());
    let second = train.subset(&(half..train.len()).collect::<Vec<_>>());
    let (a, b) = (batches(&first, device), batches(&second, device));
    for _ in 0..epochs {
        for (x, y) in a.iter().zip(&b) {
            let loss = model.classify(x.clone()).loss + model.classify(y.clone()).loss;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(schedule.step(), model, grads);
        }
    }
    values(&model)
}

/// A classifier whose parameters Burn's sharded optimizer spreads over both of two devices
/// (it picks the device by the parameter id's parity; ids are random, so draw until both
/// occur).
fn sharded(device: &Device) -> Classifier {
    loop {
        let model = classifier(device);
        let odd = model
            .mlp
            .layers
            .iter()
            .flat_map(|l| [l.weight.id, l.bias.as_ref().expect("bias").id])
            .filter(|id| id.val() % 2 == 1)
            .count();
        if odd > 0 && odd < 2 * model.mlp.layers.len() {
            return model;
        }
    }
}

/// A fresh folder for one burn-train run.
fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "descent-learner-{}-{}",
        std::process::id(),
        name.replace([' ', '(', ')'], "_")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}
