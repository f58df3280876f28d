#!/usr/bin/env bash
# The GPU numbers of issue 16 in one run: one optimizer step on a GPU (wgpu by default) at 10M
# and 100M parameters, descent's CubeCL kernel ("descent", checks on; "descent_unchecked") next to
# the same rule as Burn-fused tensor operations ("descent_generic") and Burn's optimizer
# ("burn"), then each step's time as the memory bandwidth it reaches and as a share of the
# device's peak.
#
#   PEAK_GBPS=4800 benches/scripts/gpu.sh            (H200: 4.8 TB/s; H100 SXM: 3350)
#
# Variables: DEVICE (default wgpu; any name of descent::device::device), FEATURES (default
# wgpu), DESCENT_BENCH_OPTIMIZERS (default adam,adamw,sgd,momentum), DESCENT_BENCH_SIZES
# (default 10M,100M). Bytes moved per parameter per step, as the kernel reads and writes them:
# SGD 12 (θ, g read; θ written), momentum and AdaGrad 20 (+ one slot read and written), Adam and
# AdamW 28 (+ two slots). The step also includes the sampled finite check ("descent") and
# ModuleOptimizer's own work; "descent_unchecked" leaves the check out.
set -euo pipefail
cd "$(dirname "$0")/../.."
device=${DEVICE:-wgpu}
features=${FEATURES:-wgpu}
export DESCENT_BENCH_DEVICES=$device
export DESCENT_BENCH_OPTIMIZERS=${DESCENT_BENCH_OPTIMIZERS:-adam,adamw,sgd,momentum}
export DESCENT_BENCH_SIZES=${DESCENT_BENCH_SIZES:-10M,100M}
target=${CARGO_TARGET_DIR:-target}
cargo bench --features "$features" --bench optimizers -- "step/.*/$device/" 2>&1 |
  grep -E '^step/|time:' || true
python3 - "$target/criterion" "$device" "${PEAK_GBPS:-0}" "$DESCENT_BENCH_OPTIMIZERS" "$DESCENT_BENCH_SIZES" <<'PY'
import json, os, sys
root, device, peak = sys.argv[1], sys.argv[2], float(sys.argv[3])
wanted, sizes = sys.argv[4].split(","), sys.argv[5].split(",")
params = {"10k": 96 * 96 + 96 + 8 * 86, "1M": 1024 * 768 + 768 + 200 * 1064,
          "10M": 4096 * 2048 + 2048 + 1024 * 1570, "100M": 8192 * 8192 + 8192 + 16384 * 2004}
moved = {"sgd": 12, "momentum": 20, "adagrad": 20, "rmsprop": 20, "adam": 28, "adamw": 28,
         "lion": 20}
print(f"\n{'step':34} {'median':>10} {'GB/s':>8} {'of peak':>8}")
for group in sorted(os.listdir(root)):
    parts = group.split("_")
    if len(parts) < 4 or parts[0] != "step" or parts[-2] != device or parts[-1] not in params:
        continue
    name, size = "_".join(parts[1:-2]), parts[-1]
    if name not in wanted or size not in sizes:
        continue
    for label in ("descent", "descent_unchecked", "descent_generic", "burn"):
        est = os.path.join(root, group, label, "new", "estimates.json")
        if not os.path.exists(est):
            continue
        ns = json.load(open(est))["median"]["point_estimate"]
        line = f"{name + ' ' + size + ' ' + label:34} {ns / 1e6:8.3f}ms"
        if name in moved:
            gbps = moved[name] * params[size] / ns
            share = f"{100 * gbps / peak:7.1f}%" if peak else "       -"
            line += f" {gbps:8.0f} {share}"
        print(line)
PY
