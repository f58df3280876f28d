//! The training loop: shuffled mini-batches per epoch, any loss, optimizer and schedule,
//! a progress bar, loss history, validation, early stopping, checkpoint and resume.
//!
//! An epoch is: [`Trainer::shuffled`] row order, one optimizer step per mini-batch
//! ([`Trainer::step`]), the validation loss ([`Trainer::validate`]) reported to the schedule
//! (a plateau schedule acts on it) and to early stopping ([`Trainer::track_best`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::lr_scheduler::LrSchedulerRecord;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Int, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use descent_optimizers::registry::Schedule;

use crate::checkpoint::Checkpoints;
use crate::data::Dataset;

/// What can go wrong training, saving or resuming a checkpoint.
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
    /// A checkpoint file is missing, truncated or altered (its length or checksum differs
    /// from the manifest's).
    #[error(
        "damaged checkpoint: {path}: {reason} (remove this checkpoint's folder to resume from the one before)"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// There is no checkpoint to resume from.
    #[error("no checkpoint in {0} to resume from")]
    NoCheckpoint(PathBuf),
    /// The checkpoint was saved from another model, optimizer or schedule than the one given.
    #[error("checkpoint {path}: the {what} differs: {detail}")]
    Mismatch {
        /// The checkpoint's folder.
        path: PathBuf,
        /// `model`, `optimizer`, `schedule` or `progress`.
        what: &'static str,
        /// What was saved and what was given.
        detail: String,
    },
    /// A data set to train or validate on holds no row.
    #[error("{0} set holds no row: there is nothing to train on")]
    Empty(&'static str),
}

impl TrainError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
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
#[derive(Clone, Debug)]
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
    /// Checkpoints kept by [`Trainer::save`] (the newest ones; default 2).
    pub keep_last: usize,
    /// Save a checkpoint into this folder after every epoch (see [`Trainer::save`]).
    pub checkpoint: Option<PathBuf>,
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
            keep_last: 2,
            checkpoint: None,
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

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
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
    ///
    /// # Errors
    /// When the training or validation set holds no row.
    pub fn fit<L>(
        &mut self,
        model: M,
        train: &Dataset,
        val: Option<&Dataset>,
        loss: &L,
        device: &Device,
    ) -> Result<M, TrainError>
    where
        L: Fn(&M, &Batch) -> Tensor<1>,
    {
        let remaining = self.config.epochs.saturating_sub(self.epoch);
        self.fit_epochs(model, train, val, loss, device, remaining)
    }

    /// Trains at most `epochs` more epochs (see [`fit`](Self::fit)).
    ///
    /// Each epoch after the first starts by seeding `device`'s random generator from the seed
    /// and the epoch (dropout and other random operations), so that a run resumed from a
    /// checkpoint draws the same numbers as an uninterrupted one. The first epoch draws from
    /// the generator as the caller left it (a lazily initialised model takes its initial
    /// weights from it at the first forward pass).
    pub fn fit_epochs<L>(
        &mut self,
        mut model: M,
        train: &Dataset,
        val: Option<&Dataset>,
        loss: &L,
        device: &Device,
        epochs: usize,
    ) -> Result<M, TrainError>
    where
        L: Fn(&M, &Batch) -> Tensor<1>,
    {
        if train.is_empty() {
            return Err(TrainError::Empty("training"));
        }
        if val.is_some_and(Dataset::is_empty) {
            return Err(TrainError::Empty("validation"));
        }
        let batch_size = self.config.batch_size.clamp(1, train.len().max(1));
        let bar = self.progress_bar(epochs * train.len().div_ceil(batch_size));
        let val_batch = val.map(|v| Batch::of(v, device));
        for _ in 0..epochs {
            if self.history.stopped_early {
                break;
            }
            if self.epoch > 0 {
                device.seed(self.epoch_seed());
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
            if let Some(dir) = &self.config.checkpoint {
                self.save(dir, &model)?;
            }
        }
        bar.finish_and_clear();
        Ok(match (&self.best, self.config.patience) {
            (Some((_, best)), Some(_))
                if self.history.stopped_early || self.epoch >= self.config.epochs =>
            {
                best.clone()
            }
            _ => model,
        })
    }

    /// The seed of this epoch's random numbers (see [`fit_epochs`](Self::fit_epochs)).
    fn epoch_seed(&self) -> u64 {
        self.config.seed ^ (self.epoch as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)
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

    /// Saves the model, the optimizer, the schedule and the progress as the next checkpoint
    /// under `dir` (see [`Checkpoints`]: published by one rename, the newest
    /// `config.keep_last` kept); returns the checkpoint's folder.
    pub fn save(&self, dir: &Path, model: &M) -> Result<PathBuf, TrainError> {
        let current = model_bytes(model, dir)?;
        let best = match &self.best {
            Some((_, best)) => Some(model_bytes(best, dir)?),
            None => None,
        };
        let optim = self
            .optim
            .into_bytes()
            .map_err(|e| TrainError::record("optimizer", dir, e))?;
        let sched = self
            .schedule
            .to_record()
            .into_bytes()
            .map_err(|e| TrainError::record("schedule", dir, e))?;
        let progress = Progress {
            history: self.history.clone(),
            epoch: self.epoch,
            bad_epochs: self.bad_epochs,
            best_val: self.best.as_ref().map(|(v, _)| *v),
        };
        let progress =
            serde_json::to_vec(&progress).map_err(|e| TrainError::record("progress", dir, e))?;
        let mut files: Vec<(&str, &[u8])> = vec![
            (MODEL, &current),
            (OPTIMIZER, &optim[..]),
            (SCHEDULE, &sched[..]),
            (PROGRESS, &progress),
        ];
        if let Some(best) = &best {
            files.push((BEST, best));
        }
        let notes = BTreeMap::from([
            (NOTE_SHAPES.to_string(), shapes(model)),
            (NOTE_SCHEDULE.to_string(), self.schedule.name().to_string()),
            (
                NOTE_OPTIMIZER.to_string(),
                self.optim.to_record().len().to_string(),
            ),
        ]);
        Checkpoints::new(dir, self.config.keep_last).save(&files, &notes)
    }

    /// Resumes from the newest checkpoint under `dir` (saved by [`save`](Self::save)):
    /// `model`, `optim` and `schedule` are fresh ones of the same shape and configuration;
    /// returns the trainer and the model as they were saved.
    ///
    /// Everything is read into memory and verified first: a damaged checkpoint, or one saved
    /// from a model of other shapes, another optimizer or another schedule, is an error naming
    /// what differs (see [`TrainError`]).
    pub fn resume(
        dir: &Path,
        config: TrainConfig,
        optim: ModuleOptimizer,
        schedule: Box<dyn Schedule>,
        model: M,
    ) -> Result<(Self, M), TrainError> {
        let mut trainer = Self::new(config, optim, schedule);
        let model = trainer.restore(dir, model)?;
        Ok((trainer, model))
    }

    /// [`resume`](Self::resume) into this trainer: its optimizer, schedule and progress take
    /// the checkpoint's; returns the checkpoint's model (loaded into `model`).
    pub fn restore(&mut self, dir: &Path, model: M) -> Result<M, TrainError> {
        let mut ckpt = Checkpoints::new(dir, self.config.keep_last)
            .latest()?
            .ok_or_else(|| TrainError::NoCheckpoint(dir.to_path_buf()))?;
        let path = ckpt.path.clone();
        let mismatch = |what, detail: String| TrainError::Mismatch {
            path: path.clone(),
            what,
            detail,
        };
        let note = |key: &str| ckpt.notes.get(key).cloned().unwrap_or_default();
        let (saved, given) = (note(NOTE_SHAPES), shapes(&model));
        if saved != given {
            return Err(mismatch(
                "model",
                format!("saved parameter shapes {saved}, the model given has {given}"),
            ));
        }
        let (saved, given) = (note(NOTE_SCHEDULE), self.schedule.name());
        if saved != given {
            return Err(mismatch(
                "schedule",
                format!("saved from {saved}, the schedule given is {given}"),
            ));
        }
        let mut take = |name: &str| {
            ckpt.files.remove(name).ok_or_else(|| TrainError::Damaged {
                path: path.join(name),
                reason: "is missing from the checkpoint".into(),
            })
        };
        let model_file = take(MODEL)?;
        let optim_file = take(OPTIMIZER)?;
        let sched_file = take(SCHEDULE)?;
        let progress_file = take(PROGRESS)?;
        let model = load_model(model, model_file, &path)?;
        let optim = self
            .optim
            .clone()
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(optim_file))
            .map_err(|e| TrainError::record("optimizer", &path, e))?;
        let (saved, restored) = (note(NOTE_OPTIMIZER), optim.to_record().len().to_string());
        if saved != restored {
            return Err(mismatch(
                "optimizer",
                format!(
                    "the saved state holds {saved} tensors, of which the optimizer given \
                     restores {restored}: it is another optimizer or configuration"
                ),
            ));
        }
        let record = LrSchedulerRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(sched_file))
            .map_err(|e| TrainError::record("schedule", &path, e))?;
        let progress: Progress = serde_json::from_slice(&progress_file)
            .map_err(|e| TrainError::record("progress", &path, e))?;
        let h = &progress.history;
        if h.epoch_loss.len() != progress.epoch || progress.epoch > self.config.epochs {
            return Err(mismatch(
                "progress",
                format!(
                    "epoch {} with {} epoch losses, for a run of {} epochs",
                    progress.epoch,
                    h.epoch_loss.len(),
                    self.config.epochs
                ),
            ));
        }
        let best = match progress.best_val {
            Some(v) => Some((v, load_model(model.clone(), take(BEST)?, &path)?)),
            None => None,
        };
        self.schedule.load_record(record);
        self.optim = optim;
        self.history = progress.history;
        self.epoch = progress.epoch;
        self.bad_epochs = progress.bad_epochs;
        self.best = best;
        Ok(model)
    }
}

const MODEL: &str = "model.bpk";
const BEST: &str = "best.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const SCHEDULE: &str = "schedule.bpk";
const PROGRESS: &str = "progress.json";
const NOTE_SHAPES: &str = "model_shapes";
const NOTE_SCHEDULE: &str = "schedule";
const NOTE_OPTIMIZER: &str = "optimizer_state_tensors";

/// The shapes of `model`'s float parameters in visiting order, as JSON: what a checkpoint must
/// have been saved from to load into `model`.
fn shapes<M: Module>(model: &M) -> String {
    struct Shapes(Vec<Vec<usize>>);
    impl ModuleVisitor for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.shape().to_vec());
        }
    }
    let mut s = Shapes(Vec::new());
    model.visit(&mut s);
    serde_json::to_string(&s.0).expect("shapes serialize")
}

/// `model`'s parameters as burnpack bytes.
fn model_bytes<M: Module>(model: &M, dir: &Path) -> Result<Vec<u8>, TrainError> {
    let mut store = BurnpackStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| TrainError::record("model", dir, e))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| TrainError::record("model", dir, e))?;
    Ok(bytes.to_vec())
}

/// `model` with the parameters of the burnpack `bytes` (held in memory: nothing stays tied to
/// the files).
fn load_model<M: Module>(mut model: M, bytes: Vec<u8>, dir: &Path) -> Result<M, TrainError> {
    let mut store = BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(bytes)));
    model
        .load_from(&mut store)
        .map_err(|e| TrainError::record("model", dir, e))?;
    Ok(model)
}
