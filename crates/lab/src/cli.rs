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
