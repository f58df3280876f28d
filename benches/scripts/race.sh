#!/usr/bin/env bash
# The optimizer race, the reproducible command behind the README's "Which optimizer should I
# use?" tables: every optimizer of descent on the seed problems with a learning-rate sweep
# each (examples/optimizer_race.rs), built with --release, run on flex; prints the tables.
#
#   benches/scripts/race.sh [OUT_DIR] [-- more flags of the example, e.g. --device ndarray]
#
# Writes OUT_DIR/race.md (default out/optimizer_race) and the loss-curve figures beside it.
# Timings depend on the machine: the README's are from a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-out/optimizer_race}
shift || true
[ "${1:-}" = "--" ] && shift
export CARGO_INCREMENTAL=0
cargo build -q --release --example optimizer_race
SECONDS=0
cargo run -q --release --example optimizer_race -- --device flex --out "$out" "$@" |
  sed '/^figures:/,$d'
echo "wall time ${SECONDS} s (the race's own time is above); Markdown and figures in $out"
