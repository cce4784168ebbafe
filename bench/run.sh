#!/usr/bin/env bash
# Usage: bench/run.sh CASE [CASE...]   (cases: the files in bench/cases/)
# Runs mediabatch and its peers on the same generated data (under bench/data/, ignored by
# git) in one run and prints a markdown table per case. BENCH_RUNS=N sets runs per side.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ROOT
if [ $# -eq 0 ]; then
  echo "usage: bench/run.sh CASE...   cases: $(cd "$ROOT/bench/cases" && ls | sed 's/\.sh$//' | tr '\n' ' ')" >&2
  exit 2
fi
[ -x "$ROOT/build/mediabatch" ] || "$ROOT/scripts/build.sh"
source "$ROOT/bench/lib.sh"
for c in "$@"; do
  [ -f "$ROOT/bench/cases/$c.sh" ] || { echo "bench: no case '$c'" >&2; exit 2; }
  source "$ROOT/bench/cases/$c.sh"
done
