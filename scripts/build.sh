#!/usr/bin/env bash
# Installs missing dependencies, configures and builds into build/ (or the preset's folder).
# Usage: scripts/build.sh [PRESET [-DVAR=VALUE...]]   (release by default; see CMakePresets.json)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
scripts/install-deps.sh
cmake --preset "$preset" "$@" >/dev/null
cmake --build --preset "$preset" -j 2
