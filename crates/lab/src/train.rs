//! The training loop: shuffled mini-batches per epoch, any loss, optimizer and schedule,
//! a progress bar, loss history, validation, early stopping, checkpoint and resume.
//!
//! An epoch is: [`Trainer::shuffled`] row order, one optimizer step per mini-batch
//! ([`Trainer::step`]), the validation loss ([`Trainer::validate`]) reported to the schedule
//! (a plateau schedule acts on it) and to early stopping ([`Trainer::track_best`]).

use std::path::{Path, PathBuf};

use burn::lr_scheduler::LrSchedulerRecord;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Int, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use descent_optimizers::registry::Schedule;

use crate::data::Dataset;

/// What can go wrong saving or resuming a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A model, optimizer or schedule record could not be written or read.
    #[error("{what} ({path}): {message}")]
    Record {
        /// What the record holds: `model`, `optimizer`, `schedule` or `progress`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

impl TrainError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn record(what: &'static str, path: &Path, message: impl std::fmt::Debug) -> Self {
        Self::Record {
            what,
            path: path.to_path_buf(),
            message: format!("{message:?}"),
        }
    }
}

/// A mini-batch on the device: features, targets `[n, 1]` and targets as class indices.
pub struct Batch {
    /// Features `[n, features]`.
    pub x: Tensor<2>,
    /// Targets `[n, 1]`.
    pub y: Tensor<2>,
    /// Targets as class indices `[n]`.
    pub classes: Tensor<1, Int>,
}

impl Batch {
    /// The whole of `data` as one batch.
    pub fn of(data: &Dataset, device: &Device) -> Self {
        Self {
            x: data.x_tensor(device),
            y: data.y_tensor(device),
            classes: data.y_classes(device),
        }
    }
}

/// How to train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Rows per mini-batch (the whole set when larger: full-batch gradient descent).
    pub batch_size: usize,
    /// Seed of the per-epoch shuffles.
    pub seed: u64,
    /// Stop after this many epochs without a better validation loss (and keep the best
    /// model); `None` trains every epoch.
    pub patience: Option<usize>,
    /// Show a progress bar with the running loss.
    pub progress: bool,
}

impl TrainConfig {
    /// `epochs` epochs of mini-batches of `batch_size`, seed 0, no early stopping, no bar.
    pub fn new(epochs: usize, batch_size: usize) -> Self {
        Self {
            epochs,
            batch_size,
            seed: 0,
            patience: None,
            progress: false,
        }
    }
}

/// What training recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Loss of every optimizer step (on its mini-batch).
    pub step_loss: Vec<f64>,
    /// Learning rate of every step.
    pub step_lr: Vec<f64>,
    /// Mean training loss of every epoch.
    pub epoch_loss: Vec<f64>,
    /// Validation loss after every epoch (when there is a validation set).
    pub val_loss: Vec<f64>,
    /// Epoch (from 0) of the best validation loss.
    pub best_epoch: Option<usize>,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
}

#[derive(Serialize, Deserialize)]
struct Progress {
    history: History,
    epoch: usize,
    bad_epochs: usize,
    best_val: Option<f64>,
}

/// Trains a model epoch by epoch; holds the optimizer, the schedule (stepped once per
/// optimizer step, and told the validation loss after each epoch) and the history, and can
/// save all of it with the model and resume.
pub struct Trainer<M> {
    config: TrainConfig,
    optim: ModuleOptimizer,
    schedule: Box<dyn Schedule>,
    history: History,
    epoch: usize,
    bad_epochs: usize,
    best: Option<(f64, M)>,
}

impl<M: Module + Clone> Trainer<M> {
    /// A trainer with an optimizer and a schedule (a constant rate is `ConstantLr` with
    /// factor 1; `ReduceLrOnPlateau` watches the validation loss, or the training loss without
    /// a validation set).
    pub fn new(config: TrainConfig, optim: ModuleOptimizer, schedule: Box<dyn Schedule>) -> Self {
        Self {
            config,
            optim,
            schedule,
            history: History::default(),
            epoch: 0,
            bad_epochs: 0,
            best: None,
        }
    }

    /// The history so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Epochs done.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Trains until `config.epochs` epochs are done or early stopping ends it; returns the
    /// trained model (the best one on validation when early stopping is on).
    pub fn fit<L>(
        &mut self,
        model: M,
        train: &Dataset,
        val: Option<&Dataset>,
        loss: &L,
        device: &Device,
    ) -> M
    where
        L: Fn(&M, &Batch) -> Tensor<1>,
    {
        let remaining = self.config.epochs.saturating_sub(self.epoch);
        self.fit_epochs(model, train, val, loss, device, remaining)
    }

    /// Trains at most `epochs` more epochs (see [`fit`](Self::fit)).
    pub fn fit_epochs<L>(
        &mut self,
        mut model: M,
        train: &Dataset,
        val: Option<&Dataset>,
        loss: &L,
        device: &Device,
        epochs: usize,
    ) -> M
    where
        L: Fn(&M, &Batch) -> Tensor<1>,
    {
        let batch_size = self.config.batch_size.clamp(1, train.len().max(1));
        let bar = self.progress_bar(epochs * train.len().div_ceil(batch_size));
        let val_batch = val.map(|v| Batch::of(v, device));
        for _ in 0..epochs {
            if self.history.stopped_early {
                break;
            }
            let mut total = 0.0;
            for rows in self.shuffled(train.len()).chunks(batch_size) {
                let batch = Batch::of(&train.subset(rows), device);
                let (next, value) = self.step(model, &batch, loss);
                model = next;
                total += value * rows.len() as f64;
                bar.inc(1);
                bar.set_message(format!("epoch {} loss {value:.5}", self.epoch + 1));
            }
            let epoch_loss = total / train.len().max(1) as f64;
            self.history.epoch_loss.push(epoch_loss);
            let watched = match &val_batch {
                Some(vb) => {
                    let v = self.validate(&model, vb, loss);
                    self.track_best(v, &model);
                    v
                }
                None => epoch_loss,
            };
            self.schedule.report(watched);
            self.epoch += 1;
        }
        bar.finish_and_clear();
        match (&self.best, self.config.patience) {
            (Some((_, best)), Some(_))
                if self.history.stopped_early || self.epoch >= self.config.epochs =>
            {
                best.clone()
            }
            _ => model,
        }
    }

    /// A progress bar over `steps` optimizer steps (hidden unless `config.progress`).
    fn progress_bar(&self, steps: usize) -> ProgressBar {
        if !self.config.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}")
                .expect("a valid template"),
        );
        bar
    }

    /// The rows `0..n` in this epoch's order: a shuffle seeded by the seed and the epoch, so
    /// that a resumed run takes the same batches.
    pub fn shuffled(&self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        let seed = self.config.seed ^ (self.epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        order
    }

    /// One optimizer step on `batch` at the schedule's next rate; returns the model and the
    /// batch's loss (recorded in the history).
    pub fn step<L>(&mut self, model: M, batch: &Batch, loss: &L) -> (M, f64)
    where
        L: Fn(&M, &Batch) -> Tensor<1>,
    {
        let value = loss(&model, batch);
        let scalar = value.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(value.backward(), &model);
        let lr = self.schedule.step();
        let model = self.optim.step(lr, model, grads);
        self.history.step_loss.push(scalar);
        self.history.step_lr.push(lr);
        (model, scalar)
    }

    /// The loss on the validation batch, recorded in the history.
    pub fn validate<L>(&mut self, model: &M, val: &Batch, loss: &L) -> f64
    where
        L: Fn(&M, &Batch) -> Tensor<1>,
    {
        let v = loss(model, val).into_scalar::<f64>();
        self.history.val_loss.push(v);
        v
    }

    /// Keeps `model` when `val_loss` is the best so far, and stops training after
    /// `config.patience` epochs without a better one.
    pub fn track_best(&mut self, val_loss: f64, model: &M) {
        if self.best.as_ref().is_none_or(|(b, _)| val_loss < *b) {
            self.best = Some((val_loss, model.clone()));
            self.history.best_epoch = Some(self.epoch);
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.config.patience.is_some_and(|p| self.bad_epochs >= p) {
            self.history.stopped_early = true;
        }
    }

    /// Saves the model, the optimizer, the schedule and the progress under `dir`.
    pub fn save(&self, dir: &Path, model: &M) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir).map_err(TrainError::io(dir))?;
        save_model(model, &dir.join("model.bpk"))?;
        if let Some((_, best)) = &self.best {
            save_model(best, &dir.join("best.bpk"))?;
        }
        let path = dir.join("optimizer.bpk");
        let optim = self
            .optim
            .into_bytes()
            .map_err(|e| TrainError::record("optimizer", &path, e))?;
        std::fs::write(&path, &optim[..]).map_err(TrainError::io(&path))?;
        let path = dir.join("schedule.bpk");
        let sched = self
            .schedule
            .to_record()
            .into_bytes()
            .map_err(|e| TrainError::record("schedule", &path, e))?;
        std::fs::write(&path, &sched[..]).map_err(TrainError::io(&path))?;
        let progress = Progress {
            history: self.history.clone(),
            epoch: self.epoch,
            bad_epochs: self.bad_epochs,
            best_val: self.best.as_ref().map(|(v, _)| *v),
        };
        let path = dir.join("progress.json");
        let json = serde_json::to_string(&progress)
            .map_err(|e| TrainError::record("progress", &path, e))?;
        std::fs::write(&path, json).map_err(TrainError::io(&path))
    }

    /// Resumes from a checkpoint saved by [`save`](Self::save): `model`, `optim` and
    /// `schedule` are fresh ones of the same shape and configuration; returns the trainer and
    /// the model as they were saved.
    pub fn resume(
        dir: &Path,
        config: TrainConfig,
        optim: ModuleOptimizer,
        mut schedule: Box<dyn Schedule>,
        model: M,
    ) -> Result<(Self, M), TrainError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(TrainError::io(&path))
        };
        let model = load_model(model, &dir.join("model.bpk"))?;
        let path = dir.join("optimizer.bpk");
        let optim = optim
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(read("optimizer.bpk")?))
            .map_err(|e| TrainError::record("optimizer", &path, e))?;
        let path = dir.join("schedule.bpk");
        let record = LrSchedulerRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(read(
            "schedule.bpk",
        )?))
        .map_err(|e| TrainError::record("schedule", &path, e))?;
        schedule.load_record(record);
        let path = dir.join("progress.json");
        let progress: Progress = serde_json::from_slice(&read("progress.json")?)
            .map_err(|e| TrainError::record("progress", &path, e))?;
        let best = match progress.best_val {
            Some(v) => Some((v, load_model(model.clone(), &dir.join("best.bpk"))?)),
            None => None,
        };
        Ok((
            Self {
                config,
                optim,
                schedule,
                history: progress.history,
                epoch: progress.epoch,
                bad_epochs: progress.bad_epochs,
                best,
            },
            model,
        ))
    }
}

fn save_model<M: Module>(model: &M, path: &Path) -> Result<(), TrainError> {
    let mut store = BurnpackStore::from_file(path).overwrite(true);
    model
        .save_into(&mut store)
        .map_err(|e| TrainError::record("model", path, e))
}

fn load_model<M: Module>(mut model: M, path: &Path) -> Result<M, TrainError> {
    let mut store = BurnpackStore::from_file(path);
    model
        .load_from(&mut store)
        .map_err(|e| TrainError::record("model", path, e))?;
    Ok(model)
}
