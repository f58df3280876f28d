//! Conformance: replays the PyTorch reference cases (`tests/golden/*.json` and every
//! `*.json` under `$DESCENT_GOLDEN_DIR`) on each device of `$DESCENT_DEVICES`
//! (comma-separated; default `flex,ndarray`; `.ci/run` adds `wgpu`).
//!
//! Prints `DEVICE: N passed, M failed` per device (with how many calls each path served) and
//! every failure; a case of an unknown kind, loss, option or input fails. On wgpu the CubeCL
//! kernel must have served optimizer updates.

mod averaging;
mod golden;
mod losses;
mod optimizers;
mod scalers;
mod schedules;

use burn::tensor::Device;

fn replay(case: &golden::Case, device: &Device) -> Result<(), String> {
    match case.kind.as_str() {
        "loss" => losses::replay(case, device),
        "optimizer" => optimizers::replay(case, device),
        "schedule" => schedules::replay(case),
        "loss_scaler" => scalers::replay(case, device),
        "averaged_model" => averaging::replay(case, device),
        other => Err(format!("unknown case kind {other:?}")),
    }
}

fn devices() -> Vec<String> {
    std::env::var("DESCENT_DEVICES")
        .unwrap_or_else(|_| {
            // Every CPU device built in (ndarray with `--features ndarray`).
            let cpu: Vec<&str> = descent::device::built_devices()
                .into_iter()
                .filter(|d| *d != "wgpu")
                .collect();
            cpu.join(",")
        })
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// How many calls each path has served on this thread (see `descent_kernel::paths`).
fn path_counts() -> [u64; 3] {
    use descent_kernel::paths::{Path, count};
    [
        count(Path::Fused),
        count(Path::Generic),
        count(Path::Kernel),
    ]
}

#[test]
fn golden_cases_match_pytorch() {
    let mut cases = Vec::new();
    for file in golden::case_files() {
        cases.extend(golden::load(&file));
    }
    assert!(!cases.is_empty(), "no golden case found");
    let mut total_failed = 0;
    for name in devices() {
        let device = descent::device::device(&name)
            .unwrap_or_else(|e| panic!("{e}"))
            .autodiff();
        let mut failures = Vec::new();
        let before = path_counts();
        for case in &cases {
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| replay(case, &device)))
                    .unwrap_or_else(|p| {
                        Err(p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .map(|s| format!("panicked: {s}"))
                            .unwrap_or_else(|| "panicked".into()))
                    });
            if let Err(why) = result {
                failures.push(format!("  {}: {why}", case.name));
            }
        }
        let [fused, generic, kernel] = std::array::from_fn(|i| path_counts()[i] - before[i]);
        println!(
            "{name}: {} passed, {} failed (updates and loss calls served: fused {fused}, \
             CubeCL kernel {kernel}, generic {generic})",
            cases.len() - failures.len(),
            failures.len()
        );
        if name == "wgpu" && kernel == 0 {
            failures.push("  the CubeCL kernel served no optimizer update on wgpu".into());
        }
        for f in &failures {
            println!("{f}");
        }
        total_failed += failures.len();
    }
    assert_eq!(total_failed, 0, "golden cases failed (listed above)");
}
