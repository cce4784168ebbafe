#!/usr/bin/env bash
# Usage: bench/fuzz.sh TARGET SECONDS [LIBFUZZER_OPTION...]   (targets: tests/fuzz/*_fuzz.cpp)
# Builds the libFuzzer programs in build-fuzz (clang, ASan+UBSan) when needed and runs TARGET
# for SECONDS on one core. It starts from a working corpus, bench/data/fuzz/TARGET (ignored by
# git, kept between runs), that the seeds and past crashes of tests/fuzz/ are copied into; a
# crash, a leak or a hang is written to bench/data/fuzz/TARGET-crashes/ and ends the run. Once
# the parser is fixed, the input goes to tests/fuzz/regressions/TARGET/, which ctest replays.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
targets=$(cd "$ROOT/tests/fuzz" && ls ./*_fuzz.cpp | sed 's|^\./||; s/_fuzz\.cpp$//' | tr '\n' ' ')
if [ $# -lt 2 ] || [ ! -f "$ROOT/tests/fuzz/$1_fuzz.cpp" ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: bench/fuzz.sh TARGET SECONDS [LIBFUZZER_OPTION...]   targets: $targets" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2

"$ROOT/scripts/install-deps.sh" --fuzz
build=$ROOT/build-fuzz
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMEDIABATCH_FUZZ=ON >/dev/null
fi
cmake --build "$build" --target "${target}_fuzz" -j 2 >"$build/fuzz-build.log" 2>&1 ||
  { tail -n 30 "$build/fuzz-build.log" >&2; exit 1; }

data=$ROOT/bench/data/fuzz
corpus=$data/$target
crashes=$data/$target-crashes
mkdir -p "$corpus" "$crashes"
for dir in "$ROOT/tests/fuzz/seeds/$target" "$ROOT/tests/fuzz/regressions/$target"; do
  [ -d "$dir" ] && cp -n "$dir"/* "$corpus"/ 2>/dev/null || true
done
# Inputs are at most 4 KB: one that takes 10 s, or 2 GB, is a finding (a hang, a bomb).
options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
  -artifact_prefix="$crashes/")
[ -f "$ROOT/tests/fuzz/dicts/$target.dict" ] && options+=(-dict="$ROOT/tests/fuzz/dicts/$target.dict")
# One process in the foreground (no -jobs/-workers, which would log to fuzz-N.log files):
# the machine's other core belongs to whoever else runs on it. Leak detection stays on: a
# parser that leaks on a bad file leaks once per file of a batch.
"$build/fuzz/${target}_fuzz" "${options[@]}" "$@" "$corpus" 2>&1 | tee "$data/$target.log"
