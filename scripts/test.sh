#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine, builds and runs the whole test suite with
# ctest. Exit status is the suite's. MEDIABATCH_SANITIZE=1 also runs it under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=release
[ -n "${CI:-}" ] && preset=ci
scripts/build.sh "$preset"
status=0
ctest --preset "$preset" -j 2 || status=$?
if [ "${MEDIABATCH_SANITIZE:-0}" = 1 ]; then
  scripts/build.sh asan
  ctest --preset asan -j 2 || status=$?
fi
exit $status
