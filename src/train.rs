//! descent inside burn-train (`--features train`): a classifier whose training step is a
//! descent loss, and the lab's data sets as burn-train data loaders. A descent optimizer goes
//! into burn-train's `Learner` as the [`ModuleOptimizer`](burn::optim::ModuleOptimizer) its
//! `init()` returns, and a descent schedule as itself (every schedule is an
//! [`LrScheduler`](burn::lr_scheduler::LrScheduler)) or inside a
//! [`ModuleLrScheduler`](burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler) with
//! parameter groups:
//!
//! ```text
//! Learner::new(Classifier::new(mlp, loss), AdamWConfig::new().init(), WarmupCosineConfig::new(…).init()?)
//! ```
//!
//! burn-train steps the schedule, then the optimizer, once per batch, as
//! [`Trainer::step`](descent_lab::train::Trainer::step) does, so the same batches in the same
//! order give the same parameters through either loop.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::tensor::Device;
use burn_train::logger::{
    EvaluationProgressLogger, InMemoryMetricLogger, MetricLogger, TrainingProgressLogger,
};
use burn_train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn_train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn_train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, default_renderer,
};
use burn_train::{ClassificationOutput, InferenceStep, Interrupter, TrainOutput, TrainStep};
use descent_lab::data::Dataset;
use descent_lab::models::Mlp;
use descent_lab::train::Batch;
use descent_losses::CrossEntropyLoss;

/// A multi-layer perceptron trained on the mean of a descent [`CrossEntropyLoss`] (class
/// weights, label smoothing, `ignore_index` as configured):
///
/// ```text
/// ℓ = CE(mlp(x), class)     (burn-train's training and validation step)
/// ```
#[derive(Module, Debug)]
pub struct Classifier {
    /// The network: features → class logits.
    pub mlp: Mlp,
    /// The loss (not a parameter).
    #[module(skip)]
    pub loss: CrossEntropyLoss,
}

impl Classifier {
    /// A classifier of `mlp`'s logits under `loss`.
    pub fn new(mlp: Mlp, loss: CrossEntropyLoss) -> Self {
        Self { mlp, loss }
    }

    /// The loss of `batch` and the logits and classes burn-train's metrics read.
    pub fn classify(&self, batch: Batch) -> ClassificationOutput {
        let logits = self.mlp.forward(batch.x);
        let loss = self.loss.forward(logits.clone(), batch.classes.clone());
        ClassificationOutput::new(loss, logits, batch.classes)
    }
}

impl TrainStep for Classifier {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, batch: Batch) -> TrainOutput<ClassificationOutput> {
        let output = self.classify(batch);
        TrainOutput::new(self, output.loss.backward(), output)
    }
}

impl InferenceStep for Classifier {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, batch: Batch) -> ClassificationOutput {
        self.classify(batch)
    }
}

/// One row of a lab [`Dataset`]: its features and its target.
#[derive(Clone, Debug)]
pub struct Row {
    /// The features.
    pub x: Vec<f32>,
    /// The target (a class index for classification).
    pub y: f32,
}

/// Stacks [`Row`]s into the lab's [`Batch`] on the loader's device.
#[derive(Clone, Debug)]
pub struct RowBatcher {
    features: usize,
}

impl Batcher<Row, Batch> for RowBatcher {
    fn batch(&self, rows: Vec<Row>, device: &Device) -> Batch {
        let y = rows.iter().map(|r| r.y).collect();
        let x = rows.into_iter().flat_map(|r| r.x).collect();
        Batch::of(&Dataset::new(x, y, self.features), device)
    }
}

/// A burn-train data loader over `data`'s rows in mini-batches of `batch_size` (the last one
/// shorter), on `device`: in order when `shuffle` is `None` (the batches
/// [`Trainer::step`](descent_lab::train::Trainer::step) would take from the same rows),
/// otherwise shuffled each epoch by burn-train from that seed.
pub fn loader(
    data: &Dataset,
    batch_size: usize,
    shuffle: Option<u64>,
    device: &Device,
) -> Arc<dyn DataLoader<Batch>> {
    let rows = (0..data.len())
        .map(|i| Row {
            x: data.row(i).to_vec(),
            y: data.y[i],
        })
        .collect();
    let builder = DataLoaderBuilder::new(RowBatcher {
        features: data.features,
    })
    .batch_size(batch_size.max(1))
    .set_device(device.clone());
    match shuffle {
        Some(seed) => builder.shuffle(seed),
        None => builder,
    }
    .build(InMemDataset::new(rows))
}

/// A metric logger whose values can be read after `launch` (burn-train moves its loggers into
/// the training): a cloneable handle on one [`InMemoryMetricLogger`] and the epochs it saw.
#[derive(Clone, Default)]
pub struct SharedLog {
    inner: Arc<Mutex<Logged>>,
}

#[derive(Default)]
struct Logged {
    log: InMemoryMetricLogger,
    /// The epochs logged, in order (a resumed run starts after its checkpoint's).
    epochs: Vec<usize>,
}

impl SharedLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Metric `name` on `split` for each epoch this log saw, as `(epoch, value)` with the
    /// value aggregated as burn-train does: the epoch's final value where one was logged,
    /// otherwise the mean of its entries weighted by their counts (`NaN` when the metric has
    /// no entry in that epoch).
    pub fn per_epoch(&self, name: &str, split: Split) -> Vec<(usize, f64)> {
        let mut logged = self.lock();
        let epochs = logged.epochs.clone();
        epochs
            .into_iter()
            .enumerate()
            .map(|(i, epoch)| {
                // The in-memory logger counts epochs from 1 in the order it saw them.
                let points = logged
                    .log
                    .read_numeric(name, i + 1, &split)
                    .unwrap_or_default();
                (epoch, aggregate(&points))
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Logged> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One epoch's entries as burn-train aggregates them (see [`SharedLog::per_epoch`]).
fn aggregate(points: &[NumericEntry]) -> f64 {
    if let Some(NumericEntry::Final(v)) = points.last() {
        return *v;
    }
    let (sum, n) = points.iter().fold((0.0, 0usize), |(s, n), p| match p {
        NumericEntry::Value(v) | NumericEntry::Final(v) => (s + v, n + 1),
        NumericEntry::Aggregated {
            aggregated_value,
            count,
        } => (s + aggregated_value * *count as f64, n + count),
    });
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

impl MetricLogger for SharedLog {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let mut logged = self.lock();
        if logged.epochs.last() != Some(&epoch) {
            logged.epochs.push(epoch);
        }
        logged.log.log(update, epoch, split);
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        let mut logged = self.lock();
        match logged.epochs.iter().position(|e| *e == epoch) {
            Some(i) => logged.log.read_numeric(name, i + 1, split),
            None => Ok(Vec::new()),
        }
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.lock().log.log_metric_definition(definition);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        self.lock().log.log_epoch_summary(summary);
    }
}

/// burn-train's terminal dashboard when standard output is a terminal, otherwise
/// [`EpochLines`] (one line per epoch, for logs and CI); `interrupter` is the training's
/// (`SupervisedTraining::interrupter()`), so that the dashboard's stop key stops it.
pub fn renderer(interrupter: Interrupter, checkpoint: Option<usize>) -> Box<dyn MetricsRenderer> {
    if std::io::stdout().is_terminal() {
        default_renderer(interrupter, checkpoint)
    } else {
        Box::new(EpochLines::default())
    }
}

/// A plain burn-train renderer: after each epoch's validation, one line with every metric's
/// epoch value as burn-train formats it,
///
/// ```text
/// epoch 2/30  train: Accuracy 41.25 %, Learning Rate 2.30e-3, Loss 1.52  valid: Accuracy 43.75 %, Loss 1.49
/// ```
#[derive(Default)]
pub struct EpochLines {
    names: HashMap<MetricId, String>,
    train: BTreeMap<String, String>,
    valid: BTreeMap<String, String>,
    epoch: usize,
    epochs: usize,
}

impl EpochLines {
    fn record(&mut self, state: MetricState, valid: bool) {
        let entry = match state {
            MetricState::Generic(e) | MetricState::Numeric(e, _) => e,
        };
        let name = self
            .names
            .get(&entry.metric_id)
            .cloned()
            .unwrap_or_else(|| format!("{:?}", entry.metric_id));
        // burn-train formats a metric as "epoch <value> - batch <value>": keep the epoch's.
        let formatted = entry.serialized_entry.formatted;
        let value = formatted
            .split(" - batch")
            .next()
            .unwrap_or(&formatted)
            .trim_start_matches("epoch ")
            .to_string();
        let split = if valid {
            &mut self.valid
        } else {
            &mut self.train
        };
        split.insert(name, value);
    }

    /// Prints the epoch just done (at the next epoch's start, or the end of training).
    fn flush(&mut self) {
        if self.train.is_empty() && self.valid.is_empty() {
            return;
        }
        let mut line = format!(
            "epoch {}/{}  train: {}",
            self.epoch,
            self.epochs,
            Self::line(&self.train)
        );
        if !self.valid.is_empty() {
            line.push_str(&format!("  valid: {}", Self::line(&self.valid)));
        }
        println!("{line}");
        self.train.clear();
        self.valid.clear();
        self.epoch += 1;
    }

    fn line(split: &BTreeMap<String, String>) -> String {
        split
            .iter()
            .map(|(name, value)| format!("{name} {value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl MetricsRendererTraining for EpochLines {
    fn update_train(&mut self, state: MetricState) {
        self.record(state, false);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state, true);
    }
}

impl MetricsRendererEvaluation for EpochLines {
    fn update_test(&mut self, _name: EvaluationName, state: MetricState) {
        self.record(state, true);
    }
}

impl TrainingProgressLogger for EpochLines {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        label: Option<&str>,
    ) {
        // `starting_epoch` counts from 1.
        self.epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
        println!(
            "{}: epochs {}..={total_epochs}",
            label.unwrap_or("training"),
            self.epoch
        );
    }

    fn update_epoch(&mut self, _epoch: usize) {}

    fn start_split(&mut self, split: &str, _total_items: usize) {
        if split == "train" {
            self.flush();
        }
    }

    fn update_split(&mut self, _items_processed: usize) {}

    fn end_split(&mut self) {}

    fn end(&mut self) {
        self.flush();
    }

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for EpochLines {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, _name: &str, _total_items: usize) {}

    fn update_test_progress(&mut self, _items_processed: usize) {}

    fn end_test(&mut self) {
        println!("test: {}", Self::line(&self.valid));
        self.valid.clear();
    }

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for EpochLines {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }
}
