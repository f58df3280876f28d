#!/usr/bin/env bash
# Before/after in one sitting: alternates two builds' benchmark binaries, round by round, and
# prints the median of each benchmark and the ratio after/before.
#
#   benches/scripts/ab.sh BEFORE_DIR AFTER_DIR [ROUNDS]
#
# Each DIR holds the `optimizers` and `losses` bench binaries of one build (copied from
# target/release/deps after `cargo bench --no-run`). DESCENT_BENCH_SIZES, _OPTIMIZERS and
# _DEVICES narrow the optimizer groups (default 10M; adam, sgd, adagrad; flex, ndarray);
# AB_LOSSES is the criterion filter of the loss groups (default cross-entropy).
set -euo pipefail
before=$1 after=$2 rounds=${3:-7}
export DESCENT_BENCH_SIZES=${DESCENT_BENCH_SIZES:-10M}
export DESCENT_BENCH_OPTIMIZERS=${DESCENT_BENCH_OPTIMIZERS:-adam,sgd,adagrad}
export DESCENT_BENCH_DEVICES=${DESCENT_BENCH_DEVICES:-flex,ndarray}
losses=${AB_LOSSES:-cross_entropy.*/descent$}
out=$(mktemp)
# Criterion prints `name time: [low mid high]`, or the name alone on a line when it is long.
for round in $(seq 1 "$rounds"); do
  for which in before after; do
    dir=$before; [ "$which" = after ] && dir=$after
    { "$dir"/optimizers* --bench '/descent$' 2>/dev/null
      "$dir"/losses* --bench "$losses" 2>/dev/null; } |
      awk -v w="$which" '/^(step|loss)\// {name = $1}
        /time:/ {for (i = 1; i <= NF; i++) if ($i == "time:") {print w, name, $(i + 3), $(i + 4)}}' >> "$out"
  done
done
python3 - "$out" <<'PY'
import collections, statistics, sys
unit = {"s": 1e3, "ms": 1.0, "µs": 1e-3, "us": 1e-3, "ns": 1e-6}
times = collections.defaultdict(list)
for line in open(sys.argv[1]):
    which, bench, value, u = line.split()
    times[(bench, which)].append(float(value) * unit[u])
for bench in sorted({b for b, _ in times}):
    b, a = (statistics.median(times[(bench, w)]) for w in ("before", "after"))
    print(f"{bench:48s} before {b:8.3f} ms  after {a:8.3f} ms  after/before {a / b:.3f}")
PY
