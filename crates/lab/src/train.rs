//! The training loop: shuffled mini-batches per epoch, any loss, optimizer and schedule,
//! a progress bar, loss history, validation, early stopping, checkpoint and resume.

use std::path::Path;

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Int, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;

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
/// optimizer step) and the history, and can save all of it with the model and resume.
pub struct Trainer<M> {
    config: TrainConfig,
    optim: ModuleOptimizer,
    schedule: Box<dyn LrScheduler>,
    history: History,
    epoch: usize,
    bad_epochs: usize,
    best: Option<(f64, M)>,
}

impl<M: Module + Clone> Trainer<M> {
    /// A trainer with an optimizer and a schedule (a constant rate is `ConstantLr` with
    /// factor 1, or any Burn `LrScheduler`).
    pub fn new(
        config: TrainConfig,
        optim: ModuleOptimizer,
        schedule: Box<dyn LrScheduler>,
    ) -> Self {
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
        let batches = train.len().div_ceil(batch_size);
        let bar = if self.config.progress {
            let bar = ProgressBar::new((epochs * batches) as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}")
                    .expect("a valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let val_batch = val.map(|v| Batch::of(v, device));
        for _ in 0..epochs {
            if self.history.stopped_early {
                break;
            }
            let mut order: Vec<usize> = (0..train.len()).collect();
            let seed = self.config.seed ^ (self.epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            order.shuffle(&mut StdRng::seed_from_u64(seed));
            let mut total = 0.0;
            for chunk in order.chunks(batch_size) {
                let batch = Batch::of(&train.subset(chunk), device);
                let value = loss(&model, &batch);
                let scalar = value.clone().into_scalar::<f64>();
                let grads = GradientsParams::from_grads(value.backward(), &model);
                let lr = self.schedule.step();
                model = self.optim.step(lr, model, grads);
                self.history.step_loss.push(scalar);
                self.history.step_lr.push(lr);
                total += scalar * chunk.len() as f64;
                bar.inc(1);
                bar.set_message(format!("epoch {} loss {scalar:.5}", self.epoch + 1));
            }
            self.history
                .epoch_loss
                .push(total / train.len().max(1) as f64);
            if let Some(vb) = &val_batch {
                let v = loss(&model, vb).into_scalar::<f64>();
                self.history.val_loss.push(v);
                let better = self.best.as_ref().is_none_or(|(b, _)| v < *b);
                if better {
                    self.best = Some((v, model.clone()));
                    self.history.best_epoch = Some(self.epoch);
                    self.bad_epochs = 0;
                } else {
                    self.bad_epochs += 1;
                }
                if self.config.patience.is_some_and(|p| self.bad_epochs >= p) {
                    self.history.stopped_early = true;
                }
            }
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

    /// Saves the model, the optimizer, the schedule and the progress under `dir`.
    pub fn save(&self, dir: &Path, model: &M) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        save_model(model, &dir.join("model.bpk"))?;
        if let Some((_, best)) = &self.best {
            save_model(best, &dir.join("best.bpk"))?;
        }
        let optim = self
            .optim
            .into_bytes()
            .map_err(|e| format!("optimizer: {e:?}"))?;
        std::fs::write(dir.join("optimizer.bpk"), &optim[..]).map_err(|e| e.to_string())?;
        let sched = self
            .schedule
            .to_record()
            .into_bytes()
            .map_err(|e| format!("schedule: {e:?}"))?;
        std::fs::write(dir.join("schedule.bpk"), &sched[..]).map_err(|e| e.to_string())?;
        let progress = Progress {
            history: self.history.clone(),
            epoch: self.epoch,
            bad_epochs: self.bad_epochs,
            best_val: self.best.as_ref().map(|(v, _)| *v),
        };
        let json = serde_json::to_string(&progress).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("progress.json"), json).map_err(|e| e.to_string())
    }

    /// Resumes from a checkpoint saved by [`save`](Self::save): `model`, `optim` and
    /// `schedule` are fresh ones of the same shape and configuration; returns the trainer and
    /// the model as they were saved.
    pub fn resume(
        dir: &Path,
        config: TrainConfig,
        optim: ModuleOptimizer,
        mut schedule: Box<dyn LrScheduler>,
        model: M,
    ) -> Result<(Self, M), String> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        let model = load_model(model, &dir.join("model.bpk"))?;
        let optim = optim
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(read("optimizer.bpk")?))
            .map_err(|e| format!("optimizer: {e:?}"))?;
        let record = LrSchedulerRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(read(
            "schedule.bpk",
        )?))
        .map_err(|e| format!("schedule: {e:?}"))?;
        schedule.load_record(record);
        let progress: Progress = serde_json::from_slice(&read("progress.json")?)
            .map_err(|e| format!("progress.json: {e}"))?;
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

fn save_model<M: Module>(model: &M, path: &Path) -> Result<(), String> {
    let mut store = BurnpackStore::from_file(path).overwrite(true);
    model
        .save_into(&mut store)
        .map_err(|e| format!("{}: {e:?}", path.display()))
}

fn load_model<M: Module>(mut model: M, path: &Path) -> Result<M, String> {
    let mut store = BurnpackStore::from_file(path);
    model
        .load_from(&mut store)
        .map_err(|e| format!("{}: {e:?}", path.display()))?;
    Ok(model)
}
