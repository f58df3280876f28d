//! Checkpoint → resume (model, optimizer, schedule, history) gives exactly the history and
//! the model of an uninterrupted run.

use burn::tensor::Device;
use descent::lab::data::Dataset;
use descent::lab::models::Mlp;
use descent::lab::synthetic;
use descent::lab::train::{Batch, TrainConfig, Trainer};
use descent::losses::{Reduction, binary_cross_entropy_with_logits};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{
    AdamWConfig, CosineAnnealingLrConfig, PlateauMode, ReduceLrOnPlateauConfig, SgdConfig,
};

fn schedule() -> Box<dyn Schedule> {
    Box::new(CosineAnnealingLrConfig::new(0.05, 40).init())
}

/// Two blobs split into training and validation sets, the validation labels flipped: the
/// better the model fits the training set, the worse it does on validation.
fn flipped_validation(seed: u64) -> (Dataset, Dataset) {
    let (train, mut val) = synthetic::two_blobs(40, seed).split(0.25, seed);
    for y in val.y.iter_mut() {
        *y = 1.0 - *y;
    }
    (train, val)
}

/// Binary cross-entropy of the model's logits.
fn bce(m: &Mlp, b: &Batch) -> burn::tensor::Tensor<1> {
    binary_cross_entropy_with_logits(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean)
}

fn values(m: &Mlp) -> Vec<f32> {
    m.layers
        .iter()
        .flat_map(|l| l.weight.val().into_data().iter::<f32>().collect::<Vec<_>>())
        .collect()
}

#[test]
fn resume_from_a_checkpoint_gives_the_uninterrupted_history() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let data = synthetic::two_blobs(40, 7);
    let (train, val) = data.split(0.25, 7);
    let config = TrainConfig {
        seed: 3,
        patience: Some(50),
        ..TrainConfig::new(6, 16)
    };
    let loss = |m: &Mlp, b: &Batch| {
        binary_cross_entropy_with_logits(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean)
    };
    let fresh = || Mlp::new(2, &[8], 1, &device);

    // The same initial weights for both runs.
    let init = fresh();
    let dir = std::env::temp_dir().join(format!("descent-checkpoint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let mut a = Trainer::new(config.clone(), AdamWConfig::new().init(), schedule());
    let model_a = a.fit(init.clone(), &train, Some(&val), &loss, &device);

    let mut b = Trainer::new(config.clone(), AdamWConfig::new().init(), schedule());
    let half = b.fit_epochs(init, &train, Some(&val), &loss, &device, 3);
    b.save(&dir, &half).expect("checkpoint saved");
    drop(b);
    let (mut c, model) =
        Trainer::resume(&dir, config, AdamWConfig::new().init(), schedule(), fresh())
            .expect("checkpoint loads");
    assert_eq!(c.epoch(), 3);
    let model_c = c.fit(model, &train, Some(&val), &loss, &device);

    assert_eq!(c.history(), a.history());
    assert_eq!(a.history().epoch_loss.len(), 6);
    assert_eq!(a.history().step_loss.len(), 6 * 60_usize.div_ceil(16));
    assert_eq!(values(&model_c), values(&model_a));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn early_stopping_stops_and_keeps_the_best_model() {
    let device = Device::flex().autodiff();
    device.seed(5);
    // Validation labels flipped: training must stop after `patience` epochs.
    let (train, val) = flipped_validation(11);
    let config = TrainConfig {
        seed: 1,
        patience: Some(2),
        ..TrainConfig::new(50, 8)
    };
    let loss = bce;
    let schedule: Box<dyn Schedule> = Box::new(CosineAnnealingLrConfig::new(0.05, 10_000).init());
    let mut t = Trainer::new(config, AdamWConfig::new().init(), schedule);
    let best = t.fit(
        Mlp::new(2, &[8], 1, &device),
        &train,
        Some(&val),
        &loss,
        &device,
    );
    let h = t.history();
    assert!(h.stopped_early, "{h:?}");
    assert!(
        h.epoch_loss.len() < 10,
        "stopped after {} epochs",
        h.epoch_loss.len()
    );
    let best_epoch = h.best_epoch.expect("a best epoch");
    let best_val = h.val_loss[best_epoch];
    assert!(h.val_loss.iter().all(|v| *v >= best_val));
    let again = loss(&best, &Batch::of(&val, &device)).into_scalar::<f64>();
    assert!(
        (again - best_val).abs() < 1e-6,
        "the returned model is the best one: {again} vs {best_val}"
    );
}

/// A plateau schedule inside the trainer is told the validation loss after every epoch: with
/// a validation set the model cannot improve on (flipped labels), the rate drops by `factor`,
/// between epochs, once `patience` epochs pass without a better loss.
#[test]
fn the_trainer_feeds_a_plateau_schedule_its_validation_loss() {
    let device = Device::flex().autodiff();
    device.seed(9);
    let (train, val) = flipped_validation(13);
    let config = TrainConfig {
        seed: 2,
        ..TrainConfig::new(8, 16)
    };
    let loss = bce;
    let plateau = ReduceLrOnPlateauConfig::new(0.1)
        .with_mode(PlateauMode::Min)
        .with_patience(1)
        .with_factor(0.5)
        .init();
    let mut t = Trainer::new(config, SgdConfig::new().init(), Box::new(plateau));
    t.fit(
        Mlp::new(2, &[8], 1, &device),
        &train,
        Some(&val),
        &loss,
        &device,
    );
    let h = t.history();
    let per_epoch = h.step_lr.len() / 8;
    let first = h.step_lr[0];
    let last = h.step_lr[h.step_lr.len() - 1];
    assert_eq!(first, 0.1);
    assert!(
        last < first,
        "the validation loss rose every epoch, so the rate must have dropped: {:?}",
        h.step_lr.iter().step_by(per_epoch).collect::<Vec<_>>()
    );
    // Each drop is a factor of 0.5, taken between epochs (constant within one).
    for epoch in h.step_lr.chunks(per_epoch) {
        assert!(epoch.iter().all(|lr| *lr == epoch[0]), "{epoch:?}");
        let k = (0.1 / epoch[0]).log2();
        assert!(
            (k - k.round()).abs() < 1e-9,
            "lr {} is not 0.1·0.5^k",
            epoch[0]
        );
    }
}
