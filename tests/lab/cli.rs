//! The examples as command-line programs: bad arguments and bad files end with one line on
//! stderr and exit status 2, before any training; never a stack trace.

use std::path::PathBuf;
use std::process::Command;

use crate::messages::assert_mentions;

/// The `fraud_focal` example binary that `cargo test` built beside this test.
fn fraud_focal() -> Command {
    let deps = std::env::current_exe().unwrap();
    let exe = deps
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("examples").join("fraud_focal"))
        .unwrap();
    assert!(
        exe.exists(),
        "{} is missing: `cargo test --workspace` builds the examples",
        exe.display()
    );
    let mut cmd = Command::new(exe);
    cmd.env("RUST_BACKTRACE", "1");
    cmd
}

/// Runs `fraud_focal` with `args`; returns its stderr, which must be one line (clap's own
/// errors may add a usage hint) and the exit status 2.
fn fails(args: &[&str]) -> String {
    let out = fraud_focal().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(!stderr.contains("stack backtrace"), "{args:?}: {stderr}");
    stderr
}

fn temp(name: &str, text: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("descent-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// A credit-card CSV of `rows`, each `Time, V1..V28, Amount` set to `value`, then `Class`.
fn csv(rows: &[(f64, u8)]) -> Vec<u8> {
    let mut s = String::from("Time");
    for i in 1..=28 {
        s.push_str(&format!(",V{i}"));
    }
    s.push_str(",Amount,Class\n");
    for (value, class) in rows {
        for _ in 0..30 {
            s.push_str(&format!("{value},"));
        }
        s.push_str(&format!("{class}\n"));
    }
    s.into_bytes()
}

#[test]
fn bad_flags_are_one_line_errors_with_status_2() {
    let e = fails(&["--device", "cuda"]);
    assert_mentions(&e, &["--device", "cuda", "flex", "ndarray", "wgpu"]);
    let e = fails(&["--epochs", "0"]);
    assert_mentions(&e, &["--epochs", "at least 1"]);
    let e = fails(&["--resume"]);
    assert_mentions(&e, &["--checkpoint"]);
    let e = fails(&["--optimizer", "adamm", "--quick"]);
    assert_mentions(&e, &["error:", "--optimizer adamm", "adamw"]);
    assert_eq!(e.lines().count(), 1, "{e}");
    // A folder that cannot be written is refused before any training.
    let start = std::time::Instant::now();
    let e = fails(&["--out", "/proc/descent-cannot-write-here"]);
    assert_mentions(&e, &["error:", "--out"]);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn bad_files_are_one_line_errors_with_status_2() {
    let e = fails(&["--csv", "/descent/no/such/file.csv"]);
    assert_mentions(&e, &["error:", "credit-card CSV", "file.csv"]);
    assert_eq!(e.lines().count(), 1, "{e}");
    // A file that never ends a line (/dev/zero) is refused, not read until memory runs out.
    let e = fails(&["--csv", "/dev/zero"]);
    assert_mentions(&e, &["error:", "line is longer"]);
    // One row, or one class: nothing to compare losses on.
    let one = temp("one.csv", &csv(&[(0.5, 1)]));
    let e = fails(&["--csv", one.to_str().unwrap()]);
    assert_mentions(&e, &["error:", "split", "both classes"]);
    let rows: Vec<(f64, u8)> = (0..40).map(|i| (i as f64, 0)).collect();
    let single = temp("single.csv", &csv(&rows));
    let e = fails(&["--csv", single.to_str().unwrap()]);
    assert_mentions(&e, &["error:", "fraud rows", "both classes"]);
    for path in [one, single] {
        let _ = std::fs::remove_file(path);
    }
}

/// Values near the ends of f32's range are standardised in f64: the example trains on them
/// and reports finite numbers instead of a NaN blamed on the loss.
#[test]
fn values_near_the_ends_of_f32_train() {
    let rows: Vec<(f64, u8)> = (0..60)
        .map(|i| {
            (
                if i % 2 == 0 { 3.0e38 } else { -3.0e38 },
                u8::from(i % 3 == 0),
            )
        })
        .collect();
    let big = temp("big.csv", &csv(&rows));
    let out = std::env::temp_dir().join(format!("descent-cli-out-{}", std::process::id()));
    let run = fraud_focal()
        .args(["--quick", "--epochs", "1", "--csv", big.to_str().unwrap()])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("NaN"), "{stdout}");
    let _ = std::fs::remove_file(big);
    let _ = std::fs::remove_dir_all(out);
}
