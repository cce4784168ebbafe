#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine, then converts the samples in assets/,
# streaming one line per file as it completes. Builds only the program and its encoder
# modules (not the test suite); the build's output goes to build/demo-build.log, shown only
# when the build fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
mkdir -p build
log=build/demo-build.log
if [ ! -x build/mediabatch ]; then
  echo "demo: first run: compiling mediabatch and its four encoders (a few minutes on 2 cores; log: $log)" >&2
fi
if ! { cmake --preset release && cmake --build --preset release --target mediabatch mediabatch_encoders; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "demo: the build failed; the whole log is $log" >&2
  exit 1
fi
rm -rf demo-out
exec build/mediabatch convert assets -o demo-out "$@"
