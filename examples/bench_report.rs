//! Reads criterion's results (after `cargo bench`) and prints one table: benchmark, this
//! project's time, Burn's time, the ratio (Burn's / ours: above 1 means we are faster), and,
//! given the JSON of `benches/pytorch_reference.py` run on the same machine, PyTorch's CPU
//! time and its ratio (PyTorch's / ours), and for the losses this project's time with its
//! input checks off.
//!
//! `cargo run --release --example bench_report -- [--dir target/criterion]
//! [--pytorch pytorch.json] [--markdown]`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::Value;

/// Criterion results as one comparison table.
#[derive(Parser, Debug)]
struct Args {
    /// Criterion's output folder (default: $CARGO_TARGET_DIR/criterion or target/criterion).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Timings of `benches/pytorch_reference.py` (its `--out` file) for a PyTorch column.
    #[arg(long)]
    pytorch: Option<PathBuf>,
    /// Print a Markdown table.
    #[arg(long)]
    markdown: bool,
}

/// PyTorch's time for a criterion group (`step/adam/flex/10M` → `step/adam/torch/10M`): the
/// fused implementation where PyTorch has one, else foreach; with the variant's name.
fn pytorch_time(torch: &Value, group: &str) -> Option<(f64, String)> {
    let mut parts: Vec<&str> = group.split('/').collect();
    if !matches!(parts.as_slice(), ["step", _, _, _] | ["loss", _, _]) {
        return None;
    }
    parts[2] = "torch"; // the device part
    let entry = torch.get("results")?.get(parts.join("/"))?;
    ["pytorch_fused", "pytorch_foreach", "pytorch"]
        .iter()
        .find_map(|k| {
            let v = entry.get(*k)?.as_f64()?;
            Some((
                v,
                k.trim_start_matches("pytorch")
                    .trim_start_matches('_')
                    .to_string(),
            ))
        })
}

/// Every `new/` result under `dir`: (group, function) → mean time in ns.
fn results(dir: &Path, out: &mut BTreeMap<String, BTreeMap<String, f64>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let read = |f: &str| -> Option<Value> {
                serde_json::from_str(&std::fs::read_to_string(path.join(f)).ok()?).ok()
            };
            if let (Some(bench), Some(est)) = (read("benchmark.json"), read("estimates.json")) {
                let group = bench["group_id"].as_str().unwrap_or_default().to_string();
                let function = bench["function_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if let Some(mean) = est["mean"]["point_estimate"].as_f64() {
                    out.entry(group).or_default().insert(function, mean);
                }
            }
        } else {
            results(&path, out);
        }
    }
}

fn human(ns: f64) -> String {
    match ns {
        n if n >= 1e9 => format!("{:.2} s", n / 1e9),
        n if n >= 1e6 => format!("{:.2} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.1} µs", n / 1e3),
        n => format!("{n:.0} ns"),
    }
}

fn main() {
    let args = Args::parse();
    let dir = args.dir.unwrap_or_else(|| {
        PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
            .join("criterion")
    });
    let mut all = BTreeMap::new();
    results(&dir, &mut all);
    if all.is_empty() {
        eprintln!(
            "no criterion results under {}; run `cargo bench` first",
            dir.display()
        );
        std::process::exit(1);
    }
    let torch: Value = match &args.pytorch {
        None => Value::Null,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("--pytorch {}: {e}", path.display()));
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("--pytorch {}: not JSON: {e}", path.display()))
        }
    };
    if let Some(meta) = torch.get("meta") {
        println!("PyTorch: {meta}");
    }
    if args.markdown {
        println!(
            "| benchmark | descent | Burn | Burn / descent | PyTorch | PyTorch / descent | descent, checks off |"
        );
        println!("|---|---|---|---|---|---|---|");
    } else {
        println!(
            "{:<36} {:>10} {:>10} {:>8} {:>20} {:>8} {:>11}",
            "benchmark", "descent", "Burn", "Burn/d", "PyTorch", "PyT/d", "checks off"
        );
    }
    for (group, fns) in &all {
        let ours = fns.get("descent").copied();
        let burn = fns.get("burn").copied();
        let show = |v: Option<f64>| v.map_or("—".to_string(), human);
        let ratio = match (ours, burn) {
            (Some(o), Some(b)) => format!("{:.2}×", b / o),
            _ => "—".into(),
        };
        let unchecked = show(fns.get("descent_unchecked").copied());
        let (torch_time, torch_ratio) = match (pytorch_time(&torch, group), ours) {
            (Some((t, variant)), Some(o)) => (
                if variant.is_empty() {
                    human(t)
                } else {
                    format!("{} ({variant})", human(t))
                },
                format!("{:.2}×", t / o),
            ),
            _ => ("—".to_string(), "—".to_string()),
        };
        if args.markdown {
            println!(
                "| {group} | {} | {} | {ratio} | {torch_time} | {torch_ratio} | {unchecked} |",
                show(ours),
                show(burn)
            );
        } else {
            println!(
                "{group:<36} {:>10} {:>10} {:>8} {:>20} {:>8} {:>11}",
                show(ours),
                show(burn),
                ratio,
                torch_time,
                torch_ratio,
                unchecked
            );
        }
    }
}
