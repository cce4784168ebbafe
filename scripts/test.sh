#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine, builds and runs the whole test suite with
# ctest. Exit status is the suite's. MEDIABATCH_SANITIZE=1 also runs it under ASan+UBSan;
# MEDIABATCH_TSAN=1 also runs it under ThreadSanitizer; MEDIABATCH_CLUSTER_TESTS=1 adds the
# real Slurm test (tests/cluster/slurm.sh) to the first run; MEDIABATCH_PACKAGE_TESTS=1 also
# builds the Debian package and installs it on a bare bookworm root (tests/package/fresh-system.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=release
[ -n "${CI:-}" ] && preset=ci
cluster=OFF
if [ "${MEDIABATCH_CLUSTER_TESTS:-0}" = 1 ]; then
  cluster=ON
  scripts/install-deps.sh --cluster
fi
scripts/build.sh "$preset" -DMEDIABATCH_CLUSTER_TESTS=$cluster
status=0
ctest --preset "$preset" -j 2 || status=$?
if [ "${MEDIABATCH_SANITIZE:-0}" = 1 ]; then
  scripts/build.sh asan
  ctest --preset asan -j 2 || status=$?
fi
if [ "${MEDIABATCH_TSAN:-0}" = 1 ]; then
  scripts/build.sh tsan
  ctest --preset tsan -j 2 || status=$?
fi
if [ "${MEDIABATCH_PACKAGE_TESTS:-0}" = 1 ]; then
  tests/package/fresh-system.sh || status=$?
fi
exit $status
