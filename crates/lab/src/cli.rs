//! The options every example takes, and how an example ends: a one-line error and exit
//! status 2 on bad input, never a stack trace.

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::Device;

use crate::train::{TrainConfig, Trainer};

/// What an example's `run` returns: any error becomes one line on stderr and exit status 2.
pub type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Runs an example's body: on an error, prints `error: <message>` and exits with status 2
/// (clap's own errors, for flags it cannot parse, exit with 2 too).
pub fn main(run: impl FnOnce() -> CliResult<()>) {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

/// A value parser for counts that must be at least 1 (`--epochs`, `--samples`).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// The devices an example runs on.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceName {
    /// Burn's pure-Rust CPU backend.
    Flex,
    /// The ndarray CPU backend.
    Ndarray,
    /// A GPU through wgpu (or software Vulkan).
    Wgpu,
}

impl DeviceName {
    /// The name [`crate::device::device`] takes.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceName::Flex => "flex",
            DeviceName::Ndarray => "ndarray",
            DeviceName::Wgpu => "wgpu",
        }
    }
}

impl std::fmt::Display for DeviceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--device`, `--seed`, `--out`, `--quick`, `--checkpoint`, `--resume`: shared by every
/// example (flatten it into the example's own `clap` parser).
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Device: flex (CPU, default), ndarray (CPU) or wgpu (GPU or software Vulkan).
    #[arg(long, value_enum, default_value_t = DeviceName::Flex)]
    pub device: DeviceName,
    /// Seed of the data and of the shuffles.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Folder for the figures (default: `out/<example>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Tiny data and few epochs: checks that everything runs, in seconds.
    #[arg(long)]
    pub quick: bool,
    /// Save a checkpoint after every epoch under DIR (a folder per training run).
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Resume every training run from its newest checkpoint under --checkpoint DIR.
    #[arg(long, requires = "checkpoint")]
    pub resume: bool,
}

impl Common {
    /// The folder for `example`'s figures, created and checked writable now, before any
    /// training, so that a bad `--out` does not waste a run.
    pub fn out_dir(&self, example: &str) -> CliResult<PathBuf> {
        let dir = self
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("out").join(example));
        let unwritable = |e: std::io::Error| format!("--out {}: {e}", dir.display());
        std::fs::create_dir_all(&dir).map_err(unwritable)?;
        let probe = dir.join(format!(".descent-write-probe-{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(unwritable)?;
        std::fs::remove_file(&probe).map_err(unwritable)?;
        Ok(dir)
    }

    /// The training device (autodiff on), its random generator seeded with `--seed` so that
    /// parameter initialisation is reproducible.
    ///
    /// # Errors
    /// When the device cannot start, with the reason.
    pub fn device(&self) -> CliResult<Device> {
        let device = crate::device::device(self.device.as_str())
            .map_err(|e| format!("--device {}: {e}", self.device))?
            .autodiff();
        device.seed(self.seed);
        Ok(device)
    }

    /// A training configuration for the run called `run`: `epochs` epochs of `batch_size`,
    /// `--seed`, and with `--checkpoint DIR` a checkpoint after every epoch in `DIR/run`.
    pub fn train_config(&self, run: &str, epochs: usize, batch_size: usize) -> TrainConfig {
        TrainConfig {
            seed: self.seed,
            checkpoint: self.checkpoint.as_ref().map(|dir| dir.join(slug(run))),
            ..TrainConfig::new(epochs, batch_size)
        }
    }

    /// With `--resume`, `trainer` and `model` as the newest checkpoint of `trainer`'s run left
    /// them (see [`Trainer::restore`]); otherwise `model` as it is.
    pub fn resume<M: Module + Clone>(&self, trainer: &mut Trainer<M>, model: M) -> CliResult<M> {
        match (trainer.config().checkpoint.clone(), self.resume) {
            (Some(dir), true) => Ok(trainer.restore(&dir, model)?),
            _ => Ok(model),
        }
    }
}

/// `run` as a folder name: letters and digits, other characters as `_`.
fn slug(run: &str) -> String {
    run.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Prints where the figures went.
pub fn report_figures(files: &[PathBuf]) {
    println!("\nfigures:");
    for f in files {
        println!("  {}", f.display());
    }
}

/// `--optimizer`, `--lr`, `--optimizer-options`: the optimizer of an example that trains with
/// one, built by name through [`registry`](descent_optimizers::registry) (flatten it into the
/// example's parser; each example gives its own default).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OptimizerArgs {
    /// Optimizer by PyTorch's name: sgd, adam, adamw, rmsprop, adagrad, adamax, nadam, radam,
    /// adadelta, lion, ema_momentum (default: the example's).
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate (default: the example's).
    #[arg(long)]
    pub lr: Option<f64>,
    /// More keyword arguments of the optimizer, as JSON, e.g. '{"betas": [0.9, 0.99]}'.
    #[arg(long)]
    pub optimizer_options: Option<String>,
}

impl OptimizerArgs {
    /// The optimizer the flags name, else `default` with `default_options`, and the learning
    /// rate (`--lr`, else `default_lr`).
    pub fn build(
        &self,
        default: &str,
        default_options: serde_json::Value,
        default_lr: f64,
    ) -> Result<(burn::optim::ModuleOptimizer, f64), String> {
        let name = self.optimizer.as_deref().unwrap_or(default);
        let mut options = match (&self.optimizer_options, &self.optimizer) {
            (Some(json), _) => serde_json::from_str(json)
                .map_err(|e| format!("--optimizer-options: not a JSON object: {e}"))?,
            (None, Some(_)) => serde_json::json!({}),
            (None, None) => default_options,
        };
        options["lr"] = self.lr.unwrap_or(default_lr).into();
        let built = descent_optimizers::registry::optimizer(name, &options)
            .map_err(|e| format!("--optimizer {name}: {e}"))?;
        Ok((built.optimizer, built.lr))
    }
}
