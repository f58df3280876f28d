//! Peak resident memory of an Adam step at 10M parameters (three tensors: 4096×2048,
//! 2048, 1024×1570) on the CPU devices, against parameters + gradients + state.
//!
//! `cargo bench --bench memory` (Linux: reads `VmRSS`/`VmHWM` from `/proc/self/status` and
//! resets the peak through `/proc/self/clear_refs`). For each device it prints the resident
//! memory before the step, the peak during it, and the peak's excess over what the step must
//! hold (parameters, gradients and Adam's two moments), next to the largest tensor's size: the
//! goal is an excess of at most one tensor.
//!
//! On wgpu (`--features wgpu`) the device allocator's own accounting stands in for resident
//! memory: each variant (descent's CubeCL kernel, the same rule as tensor operations, Burn's
//! Adam) runs in a fresh process and prints the most bytes its pools ever held as pages, next
//! to what the step must hold.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};

#[derive(Module, Debug)]
struct Params {
    w: Param<Tensor<2>>,
    b: Param<Tensor<1>>,
    e: Param<Tensor<2>>,
}

const W: [usize; 2] = [4096, 2048];
const B: usize = 2048;
const E: [usize; 2] = [1024, 1570];

fn status(field: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let line = text
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} not in /proc/self/status"));
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a number of kB");
    kb / 1024.0
}

/// Resets `VmHWM` to the current resident size.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("/proc/self/clear_refs (Linux)");
}

fn grads(p: &Params, device: &Device) -> GradientsParams {
    let init = Distribution::Normal(0.0, 0.01);
    let mut g = GradientsParams::new();
    g.register(p.w.id, Tensor::<2>::random(W, init, device));
    g.register(p.b.id, Tensor::<1>::random([B], init, device));
    g.register(p.e.id, Tensor::<2>::random(E, init, device));
    g
}

/// Five Adam steps on wgpu with `label`'s optimizer, in this process; prints the pools' peak.
fn gpu(label: &str) {
    let device = descent::device::device("wgpu")
        .unwrap_or_else(|e| panic!("{e}"))
        .autodiff();
    let kernel = match label {
        "descent" => descent::kernel::Kernel::Auto,
        _ => descent::kernel::Kernel::Generic,
    };
    let mut optim = match label {
        "burn" => AdamConfig::new().init(),
        _ => descent::optimizers::AdamConfig::new()
            .with_kernel(kernel)
            .init(),
    };
    let init = Distribution::Normal(0.0, 0.1);
    let mut p = Params {
        w: Param::from_tensor(Tensor::random(W, init, &device)),
        b: Param::from_tensor(Tensor::random([B], init, &device)),
        e: Param::from_tensor(Tensor::random(E, init, &device)),
    };
    for _ in 0..5 {
        let g = grads(&p, &device);
        p = optim.step(1e-3, p, g);
        let _ = p.b.val().slice(0..1).into_scalar::<f32>();
    }
    let inner = device.inner();
    let pools = inner.memory_pool_report().unwrap_or_default();
    let peak: u64 = pools.iter().map(|r| r.page_size * r.pages_peak).sum();
    let in_use = inner.memory_pool_usage().map_or(0, |u| u.bytes_in_use);
    let n = W[0] * W[1] + B + E[0] * E[1];
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let need = (4 * n * 4) as u64; // parameters, gradients, two moments
    println!(
        "wgpu     {label:16} pools' peak {:7.0} MiB (in use after the steps {:5.0}); the step \
         must hold {:5.0} MiB: peak +{:5.0} MiB over it (largest tensor {:.0} MiB)",
        mib(peak),
        mib(in_use),
        mib(need),
        mib(peak) - mib(need),
        mib((W[0] * W[1] * 4) as u64)
    );
}

fn main() {
    if let Ok(label) = std::env::var("DESCENT_MEMORY_GPU") {
        gpu(&label);
        return;
    }
    let n = W[0] * W[1] + B + E[0] * E[1];
    let mib = |elements: usize| (elements * 4) as f64 / (1024.0 * 1024.0);
    println!(
        "Adam step, {n} parameters: parameters {:.0} MiB, gradients {:.0}, moments {:.0}; \
         largest tensor {:.0} MiB",
        mib(n),
        mib(n),
        mib(2 * n),
        mib(W[0] * W[1])
    );
    for name in descent::device::built_devices() {
        if name == "wgpu" {
            continue;
        }
        let device = descent::device::device(name)
            .unwrap_or_else(|e| panic!("{e}"))
            .autodiff();
        for (label, make) in [
            (
                "descent",
                Box::new(|| {
                    descent::optimizers::registry::optimizer("adam", &serde_json::json!({}))
                        .expect("adam")
                        .optimizer
                }) as Box<dyn Fn() -> ModuleOptimizer>,
            ),
            ("burn", Box::new(|| AdamConfig::new().init())),
        ] {
            let init = Distribution::Normal(0.0, 0.1);
            let mut p = Params {
                w: Param::from_tensor(Tensor::random(W, init, &device)),
                b: Param::from_tensor(Tensor::random([B], init, &device)),
                e: Param::from_tensor(Tensor::random(E, init, &device)),
            };
            let mut optim = make();
            // The first step allocates the moments; measure the steady state after it.
            let g = grads(&p, &device);
            p = optim.step(1e-3, p, g);
            let mut worst: f64 = 0.0;
            let mut before = 0.0;
            for _ in 0..3 {
                let g = grads(&p, &device);
                before = status("VmRSS:");
                reset_peak();
                p = optim.step(1e-3, p, g);
                let _ = p.b.val().slice(0..1).into_scalar::<f32>();
                worst = worst.max(status("VmHWM:") - before);
            }
            // `before` holds parameters, gradients and moments (and the process's own).
            println!(
                "{name:8} {label:8} resident before the step {before:7.0} MiB, peak during it \
                 +{worst:5.0} MiB over that (goal: at most {:.0} MiB, one tensor)",
                mib(W[0] * W[1])
            );
            drop(optim);
            drop(p);
        }
    }
    if descent::device::device("wgpu").is_ok() {
        // Each variant in a fresh process: the pools' peak is for the life of the device.
        for label in ["descent", "descent_generic", "burn"] {
            let status = std::process::Command::new(std::env::current_exe().expect("this bench"))
                .env("DESCENT_MEMORY_GPU", label)
                .status()
                .expect("a child process");
            assert!(status.success(), "{label} on wgpu failed");
        }
    }
}
