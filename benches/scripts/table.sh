#!/usr/bin/env bash
# descent, Burn and PyTorch in one table from one sitting: alternates the criterion benches
# (descent and Burn) and benches/pytorch_reference.py (PyTorch CPU, same shapes, same thread
# count), round by round, and prints each benchmark's median over the rounds with the ratios.
#
#   benches/scripts/table.sh [ROUNDS]            (default 5)
#
# Needs python3 with torch (pip install torch==2.15.*). Narrow it with the benches' variables:
# DESCENT_BENCH_OPTIMIZERS (default sgd,momentum,adagrad,adam,adamw), DESCENT_BENCH_SIZES
# (default 1M,10M), DESCENT_BENCH_DEVICES (default: the CPU devices built; add
# TABLE_FEATURES=ndarray to build ndarray too), TABLE_LOSSES (criterion filter of the loss
# groups, default the four losses PyTorch is compared on; empty: none). THREADS (default 2)
# sets both sides' threads.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
threads=${THREADS:-2}
export RAYON_NUM_THREADS=$threads
export DESCENT_BENCH_OPTIMIZERS=${DESCENT_BENCH_OPTIMIZERS:-sgd,momentum,adagrad,adam,adamw}
export DESCENT_BENCH_SIZES=${DESCENT_BENCH_SIZES:-1M,10M}
losses=${TABLE_LOSSES-loss/(cross_entropy_4096x1000|bce_with_logits_1M|sigmoid_focal_1M|mse_1M)/}
features=()
[ -n "${TABLE_FEATURES:-}" ] && features=(--features "$TABLE_FEATURES")

# The bench binaries, built once (criterion's `--bench` runs them without cargo in between).
bins=$(cargo bench "${features[@]}" --bench optimizers --bench losses --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] in ("optimizers", "losses") and m.get("executable"):
        print(m["target"]["name"], m["executable"])')
optimizers=$(echo "$bins" | awk '$1 == "optimizers" {print $2}')
losses_bin=$(echo "$bins" | awk '$1 == "losses" {print $2}')

out=$(mktemp -d)
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds" >&2
  # descent's and Burn's steps in separate processes: Burn's allocate hundreds of MB per step at
  # 10M, and descent's steps timed in the same process ran slower (Adam 10M: 7.1 against 6.2 ms).
  "$optimizers" --bench '/descent$' 2>/dev/null >> "$out/rust.txt"
  "$optimizers" --bench '/burn$' 2>/dev/null >> "$out/rust.txt"
  if [ -n "$losses" ]; then
    "$losses_bin" --bench "$losses" 2>/dev/null >> "$out/rust.txt"
  fi
  python3 benches/pytorch_reference.py --threads "$threads" --sizes "$DESCENT_BENCH_SIZES" \
    --repeat 15 --out "$out/torch_$round.json" > /dev/null 2>&1
done

python3 - "$out" "$rounds" "$threads" <<'PY'
import collections, glob, json, statistics, sys
out, rounds, threads = sys.argv[1], sys.argv[2], sys.argv[3]
unit = {"s": 1e9, "ms": 1e6, "µs": 1e3, "us": 1e3, "ns": 1.0}
rust = collections.defaultdict(list)
# Criterion prints `name time: [low mid high]`, or the name alone on a line when it is long.
name = None
for line in open(f"{out}/rust.txt"):
    words = line.split()
    if words and (words[0].startswith("step/") or words[0].startswith("loss/")):
        name = words[0]
    if "time:" in words and name:
        at = words.index("time:")
        value, u = words[at + 3], words[at + 4]
        group, _, who = name.rpartition("/")
        rust[(group, who)].append(float(value) * unit[u])
        name = None
torch = collections.defaultdict(list)
meta = {}
for f in sorted(glob.glob(f"{out}/torch_*.json")):
    d = json.load(open(f))
    meta = d.get("meta", meta)
    for group, impls in d["results"].items():
        for impl, ns in impls.items():
            torch[(group, impl)].append(ns)

def fmt(ns):
    if ns is None:
        return "—"
    for u, k in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= k:
            return f"{ns / k:.3g} {u}"
    return f"{ns:.3g} ns"

def med(v):
    return statistics.median(v) if v else None

print(f"medians of {rounds} rounds, {threads} threads; PyTorch {meta.get('torch', '?')} "
      f"({meta.get('cpu_capability', '?')}); ratios above 1: descent is faster")
print(f"{'benchmark':36s} {'descent':>10s} {'Burn':>10s} {'PyTorch':>18s} {'Burn/d':>7s} {'PyT/d':>7s}")
for group in sorted({g for g, _ in rust}):
    d, b = med(rust[(group, "descent")]), med(rust[(group, "burn")])
    parts = group.split("/")
    tgroup = "/".join(parts[:2] + ["torch"] + parts[3:]) if parts[0] == "step" else "/".join(parts[:2] + ["torch"])
    t, kind = None, ""
    for impl in ("pytorch_fused", "pytorch", "pytorch_foreach"):
        if torch.get((tgroup, impl)):
            t, kind = med(torch[(tgroup, impl)]), impl.replace("pytorch_", "").replace("pytorch", "")
            break
    ratio = lambda x: f"{x / d:.2f}×" if (x and d) else "—"
    tcol = f"{fmt(t)}{' (' + kind + ')' if kind else ''}" if t else "—"
    print(f"{group:36s} {fmt(d):>10s} {fmt(b):>10s} {tcol:>18s} {ratio(b):>7s} {ratio(t):>7s}")
PY
