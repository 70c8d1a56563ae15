#!/usr/bin/env bash
# Instructions per call of each capture-benchmark workload, counted by callgrind (deterministic, so
# other work on the machine does not move them; wall time is criterion's job: `cargo bench`).
# Needs valgrind (`apt-get install valgrind`). Usage: core/benches/instructions.sh [exported|none]...
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
cargo build --release -q -p userspan --example capture_loop
bin="${CARGO_TARGET_DIR:-target}/release/examples/capture_loop"
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 | awk '/Collected/ {print $4}'; }
setups=("$@"); [ ${#setups[@]} -gt 0 ] || setups=(exported none)
for setup in "${setups[@]}"; do
  for w in raw raw-static-current raw-owned-current capture binding-path; do
    a=$(ir "$w" "$setup" 20000); b=$(ir "$w" "$setup" 120000)
    printf '%-9s %-18s %6d instructions/call\n' "$setup" "$w" $(( (b - a) / 100000 ))
  done
done
