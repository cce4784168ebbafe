#!/usr/bin/env bash
# Builds the Debian package: configures a release build for /usr in build-package/ (no test
# suite), builds it and runs cpack, which leaves mediabatch_<version>_<arch>.deb in
# build-package/. Prints the package's path last. Needs dpkg-dev (dpkg-shlibdeps), which
# scripts/install-deps.sh --package installs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --package
cmake -S . -B build-package -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DMEDIABATCH_BUILD_TESTS=OFF >/dev/null
cmake --build build-package -j 2
rm -f build-package/mediabatch_*.deb
# cpack's log (its notes that the modules have no soname are expected: they are not libraries
# to link) is shown only when it fails.
(cd build-package && cpack -G DEB >cpack.log 2>&1) || { tail -n 40 build-package/cpack.log >&2; exit 1; }
ls build-package/mediabatch_*.deb
