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
