#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine, then converts the samples in assets/,
# streaming one line per file as it completes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
rm -rf demo-out
exec build/mediabatch convert assets -o demo-out "$@"
