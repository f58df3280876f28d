//! Shared by the criterion benches (`#[path]`-included): the comma-separated lists of the
//! `DESCENT_BENCH_*` variables.

/// The comma-separated values of the environment variable `var`, or of `default`.
pub fn list(var: &str, default: &str) -> Vec<String> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .collect()
}

/// The CPU devices built in (flex; ndarray with `--features ndarray`), comma-separated: the
/// default of `DESCENT_BENCH_DEVICES`.
#[allow(dead_code)] // not every bench takes devices
pub fn cpu_devices() -> String {
    descent::device::built_devices()
        .into_iter()
        .filter(|d| *d != "wgpu")
        .collect::<Vec<_>>()
        .join(",")
}
