//! The options every example takes.

use std::path::PathBuf;

use burn::tensor::Device;

/// `--device`, `--seed`, `--out`, `--quick`: shared by every example (flatten it into the
/// example's own `clap` parser).
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Device: flex (CPU, default), ndarray (CPU) or wgpu (GPU or software Vulkan).
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Seed of the data and of the shuffles.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Folder for the figures (default: out/<example>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Tiny data and few epochs: checks that everything runs, in seconds.
    #[arg(long)]
    pub quick: bool,
}

impl Common {
    /// The folder for `example`'s figures.
    pub fn out_dir(&self, example: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("out").join(example))
    }

    /// The training device (autodiff on), its random generator seeded with `--seed` so that
    /// parameter initialisation is reproducible.
    ///
    /// # Panics
    /// When the device name is unknown or it cannot start, with the reason.
    pub fn device(&self) -> Device {
        let device = crate::device::device(&self.device)
            .unwrap_or_else(|e| panic!("{e}"))
            .autodiff();
        device.seed(self.seed);
        device
    }
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
