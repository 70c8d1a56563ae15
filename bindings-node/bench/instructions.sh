#!/usr/bin/env bash
# Instructions per sync capture in Node, counted by callgrind (deterministic, so other work on the
# machine does not move them; wall time is capture.mjs's job). Needs valgrind, the addon built in
# release ((cd .. && npm run build)) and this folder's npm install. V8 optimises on the main thread
# here (--no-concurrent-recompilation): under valgrind a background compiler thread gets the CPU at
# unpredictable times, which moved the counts by up to ±10 % between identical runs.
# Usage: bindings-node/bench/instructions.sh [plain|otel]...
set -euo pipefail
cd "$(dirname "$0")"
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
ir() { valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/dev/null node --no-concurrent-recompilation capture_loop.mjs "$@" 2>&1 | awk '/Collected/ {print $4}'; }
modes=("$@"); [ ${#modes[@]} -gt 0 ] || modes=(plain otel)
for mode in "${modes[@]}"; do
  a=$(ir "$mode" 50000); b=$(ir "$mode" 250000)
  printf '%-6s %6d instructions/capture\n' "$mode" $(( (b - a) / 200000 ))
done
