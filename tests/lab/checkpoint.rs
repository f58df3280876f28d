//! Checkpoint → resume (model, optimizer, schedule, history) gives exactly the history and
//! the model of an uninterrupted run.

use burn::lr_scheduler::LrScheduler;
use burn::tensor::Device;
use descent::lab::models::Mlp;
use descent::lab::synthetic;
use descent::lab::train::{Batch, TrainConfig, Trainer};
use descent::losses::{Reduction, binary_cross_entropy_with_logits};
use descent::optimizers::{AdamWConfig, CosineAnnealingLrConfig};

fn schedule() -> Box<dyn LrScheduler> {
    Box::new(CosineAnnealingLrConfig::new(0.05, 40).init())
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
    let data = synthetic::two_blobs(40, 11);
    let (train, mut val) = data.split(0.25, 11);
    // A validation set with its labels flipped: the better the model fits the training set,
    // the worse it does there, so training must stop after `patience` epochs.
    for y in val.y.iter_mut() {
        *y = 1.0 - *y;
    }
    let config = TrainConfig {
        seed: 1,
        patience: Some(2),
        ..TrainConfig::new(50, 8)
    };
    let loss = |m: &Mlp, b: &Batch| {
        binary_cross_entropy_with_logits(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean)
    };
    let schedule: Box<dyn LrScheduler> =
        Box::new(CosineAnnealingLrConfig::new(0.05, 10_000).init());
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
