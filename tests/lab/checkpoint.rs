//! Checkpoint → resume (model, optimizer, schedule, history) gives exactly the history and
//! the model of an uninterrupted run; a process killed while saving leaves the last completed
//! checkpoint usable; a damaged checkpoint, or one of another model, optimizer or schedule, is
//! refused with an error naming what differs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use descent::lab::data::Dataset;
use descent::lab::models::Mlp;
use descent::lab::synthetic;
use descent::lab::train::{Batch, TrainConfig, TrainError, Trainer};
use descent::losses::{Reduction, binary_cross_entropy_with_logits};
use descent::optimizers::registry::Schedule;
use descent::optimizers::{
    AdamWConfig, CosineAnnealingLrConfig, PlateauMode, ReduceLrOnPlateauConfig, SgdConfig,
};

use crate::messages::assert_mentions;

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
fn bce(m: &Mlp, b: &Batch) -> Tensor<1> {
    binary_cross_entropy_with_logits(m.forward(b.x.clone()), b.y.clone(), Reduction::Mean)
}

/// A fingerprint of a model's weights (CRC-32 of their bytes).
fn fp(v: &[f32]) -> u32 {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    crc32fast::hash(&bytes)
}

fn values(m: &Mlp) -> Vec<f32> {
    m.layers
        .iter()
        .flat_map(|l| l.weight.val().into_data().iter::<f32>().collect::<Vec<_>>())
        .collect()
}

/// A fresh folder for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("descent-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The entries of a checkpoint folder, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn resume_from_a_checkpoint_gives_the_uninterrupted_history() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let (train, val) = synthetic::two_blobs(40, 7).split(0.25, 7);
    let config = TrainConfig {
        seed: 3,
        patience: Some(50),
        ..TrainConfig::new(6, 16)
    };
    let fresh = || Mlp::new(2, &[8], 1, &device);

    // The same initial weights for both runs.
    let init = fresh();
    let dir = temp_dir("resume");

    let mut a = Trainer::new(config.clone(), AdamWConfig::new().init(), schedule());
    let model_a = a
        .fit(init.clone(), &train, Some(&val), &bce, &device)
        .unwrap();

    let mut b = Trainer::new(config.clone(), AdamWConfig::new().init(), schedule());
    let half = b
        .fit_epochs(init, &train, Some(&val), &bce, &device, 3)
        .unwrap();
    b.save(&dir, &half).expect("checkpoint saved");
    drop(b);
    let (mut c, model) =
        Trainer::resume(&dir, config, AdamWConfig::new().init(), schedule(), fresh())
            .expect("checkpoint loads");
    assert_eq!(c.epoch(), 3);
    // The resumed model is in memory: the files can go.
    std::fs::remove_dir_all(&dir).unwrap();
    let model_c = c.fit(model, &train, Some(&val), &bce, &device).unwrap();

    assert_eq!(c.history(), a.history());
    assert_eq!(a.history().epoch_loss.len(), 6);
    assert_eq!(a.history().step_loss.len(), 6 * 60_usize.div_ceil(16));
    assert_eq!(values(&model_c), values(&model_a));
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
    let schedule: Box<dyn Schedule> = Box::new(CosineAnnealingLrConfig::new(0.05, 10_000).init());
    let mut t = Trainer::new(config, AdamWConfig::new().init(), schedule);
    let model = Mlp::new(2, &[8], 1, &device);
    let best = t.fit(model, &train, Some(&val), &bce, &device).unwrap();
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
    let again = bce(&best, &Batch::of(&val, &device)).into_scalar::<f64>();
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
    let plateau = ReduceLrOnPlateauConfig::new(0.1)
        .with_mode(PlateauMode::Min)
        .with_patience(1)
        .with_factor(0.5)
        .init();
    let mut t = Trainer::new(config, SgdConfig::new().init(), Box::new(plateau));
    let model = Mlp::new(2, &[8], 1, &device);
    t.fit(model, &train, Some(&val), &bce, &device).unwrap();
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

/// Every weight of `model` set from a hash of its position: an initialisation that does not
/// draw from the device's generator (which the other tests of this process share).
fn hashed(model: Mlp) -> Mlp {
    struct Hashed(u64);
    impl ModuleMapper for Hashed {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| {
                let n = t.shape().num_elements();
                let values: Vec<f32> = (0..n)
                    .map(|i| {
                        self.0 = self
                            .0
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(i as u64);
                        ((self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
                    })
                    .collect();
                Tensor::from_data(TensorData::new(values, t.shape()), &t.device()).require_grad()
            })
        }
    }
    model.map(&mut Hashed(21))
}

/// The run the crash test kills and resumes: an MLP of 66 thousand parameters on a small data
/// set, AdamW with a cosine schedule, a checkpoint after every epoch, the newest 2 kept.
fn crash_run(dir: Option<&Path>, epochs: usize) -> (Trainer<Mlp>, Mlp, Dataset, Device) {
    let device = Device::flex().autodiff();
    device.seed(21);
    let train = synthetic::two_blobs(24, 21);
    let config = TrainConfig {
        seed: 21,
        checkpoint: dir.map(Path::to_path_buf),
        keep_last: 2,
        ..TrainConfig::new(epochs, 24)
    };
    let sched = Box::new(CosineAnnealingLrConfig::new(0.01, 10_000).init());
    let trainer = Trainer::new(config, AdamWConfig::new().init(), sched);
    let model = hashed(Mlp::new(2, &[256, 256], 1, &device));
    (trainer, model, train, device)
}

/// The child of [`a_process_killed_while_saving_leaves_the_last_completed_checkpoint`]:
/// trains and checkpoints every epoch until it is killed. Runs only when that test starts it.
#[test]
#[ignore = "started by a_process_killed_while_saving_leaves_the_last_completed_checkpoint"]
fn crash_child_trains_until_killed() {
    let Ok(dir) = std::env::var("DESCENT_CRASH_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let (mut trainer, mut model, train, device) = crash_run(Some(&dir), 100_000);
    if dir.join("resume").exists() {
        model = trainer
            .restore(&dir, model)
            .expect("the last checkpoint loads");
    }
    let log = dir.with_extension("log");
    loop {
        model = trainer
            .fit_epochs(model, &train, None, &bce, &device, 1)
            .expect("an epoch trains and saves");
        // The epochs whose save has returned, with a fingerprint of their model.
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        writeln!(f, "{} {:08x}", trainer.epoch(), fp(&values(&model))).unwrap();
    }
}

/// `kill -9` of a train-and-save loop, 20 times over, 14 of them while a save is being written
/// (its hidden folder exists) and 6 at random moments: every time the newest checkpoint loads
/// and is one of the run's own epochs (its model equals an uninterrupted run's at that epoch,
/// and one more epoch from it equals the uninterrupted run's next one: model, optimizer,
/// schedule and progress come from one save); the next child resumes from it, and the next
/// save removes what the killed ones left behind.
#[test]
fn a_process_killed_while_saving_leaves_the_last_completed_checkpoint() {
    let dir = temp_dir("crash");
    // The uninterrupted run, epoch by epoch.
    let (mut trainer, mut model, train, device) = crash_run(None, 100_000);
    let mut reference = vec![Vec::new()];
    let mut extend = |upto: usize, reference: &mut Vec<Vec<f32>>| {
        while reference.len() <= upto {
            model = trainer
                .fit_epochs(model.clone(), &train, None, &bce, &device, 1)
                .unwrap();
            reference.push(values(&model));
        }
    };
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let log = dir.with_extension("log");
    let _ = std::fs::remove_file(&log);
    let (mut resumed, mut interrupted, mut attempts) = (0, 0, 0);
    for attempt in 0..40 {
        if resumed == 20 {
            break;
        }
        attempts += 1;
        let child = Command::new(&exe)
            .args([
                "--exact",
                "checkpoint::crash_child_trains_until_killed",
                "--ignored",
                "--test-threads=1",
            ])
            .env("DESCENT_CRASH_DIR", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut child = child;
        let start = Instant::now();
        let saving = || entries(&dir).iter().any(|e| e.starts_with(".tmp-"));
        if attempt % 10 < 7 {
            // While a save is being written: as soon as its hidden folder shows, or a
            // millisecond or two later.
            while !saving() && start.elapsed() < Duration::from_secs(120) {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("attempt {attempt}: the child ended by itself: {status}");
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_micros(rng % 2000));
        } else {
            std::thread::sleep(Duration::from_millis(200 + rng % 600));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if saving() {
            interrupted += 1;
        }

        let completed = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
            .max();
        let (mut t, fresh, _, _) = crash_run(None, 100_000);
        let m = match (t.restore(&dir, fresh), completed) {
            (Ok(m), _) => m,
            // Killed before any save of the run finished: nothing to resume yet.
            (Err(TrainError::NoCheckpoint(_)), None) => continue,
            (Err(e), _) => panic!("attempt {attempt}: {e}"),
        };
        let epoch = t.epoch();
        // The last save that returned, or the one after it (killed between its rename and
        // the log line).
        let last = completed.unwrap_or(0);
        assert!(
            epoch == last || epoch == last + 1,
            "attempt {attempt}: resumed epoch {epoch}, the last completed save was {last}"
        );
        extend(epoch + 1, &mut reference);
        let v = values(&m);
        assert!(
            v == reference[epoch],
            "attempt {attempt}: the model of epoch {epoch} differs from the uninterrupted run's"
        );
        let next = t.fit_epochs(m, &train, None, &bce, &device, 1).unwrap();
        assert!(
            values(&next) == reference[epoch + 1],
            "attempt {attempt}: one epoch on from epoch {epoch} differs from the uninterrupted \
             run's (optimizer and schedule state)"
        );
        resumed += 1;
        std::fs::write(dir.join("resume"), b"").unwrap();
    }
    assert_eq!(resumed, 20);
    eprintln!(
        "{resumed} resumes in {attempts} kills, {interrupted} of them while a save was half-written"
    );
    // Every epoch any child saved, resumed or not, is the uninterrupted run's.
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let (epoch, print) = line.split_once(' ').unwrap();
        let epoch: usize = epoch.parse().unwrap();
        extend(epoch, &mut reference);
        assert_eq!(
            print,
            format!("{:08x}", fp(&reference[epoch])),
            "the child's epoch {epoch}"
        );
    }
    assert!(
        interrupted >= 10,
        "only {interrupted} kills caught a save half-written"
    );
    // The next save removes what killed saves left behind; 2 checkpoints are kept.
    let (mut t, fresh, _, _) = crash_run(Some(&dir), 100_000);
    let m = t.restore(&dir, fresh).unwrap();
    t.save(&dir, &m).unwrap();
    let left: Vec<String> = entries(&dir)
        .into_iter()
        .filter(|e| e != "resume")
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|e| e.starts_with("ckpt-")), "{left:?}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// A small run saved once, and the folder of its checkpoint.
fn saved(test: &str) -> (PathBuf, PathBuf, Device) {
    let device = Device::flex().autodiff();
    device.seed(4);
    let (train, _) = synthetic::two_blobs(20, 4).split(0.25, 4);
    let mut t = Trainer::new(
        TrainConfig::new(4, 8),
        AdamWConfig::new().init(),
        schedule(),
    );
    let m = t
        .fit_epochs(
            Mlp::new(2, &[4], 1, &device),
            &train,
            None,
            &bce,
            &device,
            2,
        )
        .unwrap();
    let dir = temp_dir(test);
    let ckpt = t.save(&dir, &m).unwrap();
    (dir, ckpt, device)
}

fn resume_err(dir: &Path, device: &Device) -> String {
    let config = TrainConfig::new(4, 8);
    let model = Mlp::new(2, &[4], 1, device);
    match Trainer::resume(dir, config, AdamWConfig::new().init(), schedule(), model) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Any flipped byte, truncated file or edited progress is found before anything is loaded.
#[test]
fn a_damaged_checkpoint_is_refused_naming_the_file() {
    let (dir, ckpt, device) = saved("damaged");
    let model = ckpt.join("model.bpk");
    let bytes = std::fs::read(&model).unwrap();
    for at in [0, bytes.len() / 2, bytes.len() - 1] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        std::fs::write(&model, &flipped).unwrap();
        assert_mentions(&resume_err(&dir, &device), &["damaged", "model.bpk", "CRC"]);
    }
    std::fs::write(&model, &bytes).unwrap();
    let optim = ckpt.join("optimizer.bpk");
    let len = std::fs::metadata(&optim).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&optim)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    assert_mentions(
        &resume_err(&dir, &device),
        &["damaged", "optimizer.bpk", "bytes"],
    );
    let (dir, ckpt, device) = saved("progress");
    let progress = ckpt.join("progress.json");
    let text = std::fs::read_to_string(&progress).unwrap();
    std::fs::write(&progress, text.replace("\"epoch\":2", "\"epoch\":9")).unwrap();
    assert_mentions(&resume_err(&dir, &device), &["damaged", "progress.json"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_mentions(&resume_err(&dir, &device), &["no checkpoint"]);
}

/// Resuming into another optimizer, schedule or model shape is an error naming what differs,
/// not a silently dropped state.
#[test]
fn a_checkpoint_of_another_setup_is_refused_naming_what_differs() {
    let (dir, _, device) = saved("setup");
    let config = TrainConfig::new(4, 8);
    let err = |r: Result<(Trainer<Mlp>, Mlp), TrainError>| match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };
    let model = || Mlp::new(2, &[4], 1, &device);
    let sgd = SgdConfig::new().with_momentum(0.9).init();
    let e = err(Trainer::resume(
        &dir,
        config.clone(),
        sgd,
        schedule(),
        model(),
    ));
    assert_mentions(&e, &["optimizer", "differs", "tensors"]);
    let plateau = Box::new(ReduceLrOnPlateauConfig::new(0.1).init());
    let e = err(Trainer::resume(
        &dir,
        config.clone(),
        AdamWConfig::new().init(),
        plateau,
        model(),
    ));
    assert_mentions(
        &e,
        &["schedule", "cosine_annealing_lr", "reduce_lr_on_plateau"],
    );
    let wider = Mlp::new(2, &[5], 1, &device);
    let e = err(Trainer::resume(
        &dir,
        config,
        AdamWConfig::new().init(),
        schedule(),
        wider,
    ));
    assert_mentions(&e, &["model", "shapes", "[2,4]", "[2,5]"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn training_on_no_row_is_an_error() {
    let device = Device::flex().autodiff();
    let empty = synthetic::two_blobs(10, 1).subset(&[]);
    let mut t = Trainer::new(TrainConfig::new(2, 8), SgdConfig::new().init(), schedule());
    let model = Mlp::new(2, &[4], 1, &device);
    let e = t.fit(model, &empty, None, &bce, &device).unwrap_err();
    assert_mentions(&e.to_string(), &["training", "no row"]);
}
