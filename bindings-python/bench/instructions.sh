#!/usr/bin/env bash
# Instructions per sync capture in Python, counted by callgrind (deterministic, so other work on
# the machine does not move them; wall time is bench_capture.py's job). Needs valgrind and a
# Python with userspan (release install) and opentelemetry-api.
# Usage: bindings-python/bench/instructions.sh [python]   (default: python3)
set -euo pipefail
cd "$(dirname "$0")"
py="${1:-python3}"
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
ir() { PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$py" capture_loop.py "$@" 2>&1 | awk '/Collected/ {print $4}'; }
for mode in no-otel otel; do
  a=$(ir "$mode" 10000); b=$(ir "$mode" 50000)
  printf '%-8s %6d instructions/capture\n' "$mode" $(( (b - a) / 40000 ))
done
