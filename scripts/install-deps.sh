#!/usr/bin/env bash
# Installs the Debian 12 packages mediabatch needs to build, test and benchmark, if missing.
# Uses sudo when not root. Usage: scripts/install-deps.sh [--bench | --cluster | --fuzz | --package]
set -euo pipefail

BUILD=(cmake g++ make pkg-config libtbb-dev libspdlog-dev libcli11-dev nlohmann-json3-dev libgtest-dev
  libavformat-dev libavcodec-dev libavfilter-dev libavutil-dev libswscale-dev libswresample-dev
  libmagick++-dev libflac++-dev libgdcm-dev libturbojpeg0-dev libjpeg62-turbo-dev liblcms2-dev
  libebur128-dev libpng-dev libdeflate-dev libtheora-dev libwebp-dev libheif-dev)
# Independent tools the tests check outputs with, and that make test media.
TEST=(ffmpeg flac dcmtk libgdcm-tools libvips-tools imagemagick libimage-exiftool-perl libgs-common
  python3-pydicom  # pydicom's test_files: real DICOMs, some of which crash GDCM
  libheif-examples  # heif-enc makes the HEIC and AVIF test photos
  strace  # counts the fsync calls of --fsync
  man-db)  # renders the man page (man -l)
BENCH=(parallel hyperfine time)
CLUSTER=(slurm-wlm munge)
# bench/fuzz.sh: clang's libFuzzer and sanitizer runtimes; libomp-dev because Magick++'s flags
# carry -fopenmp into the thumbs encoder that the fuzz build compiles again with clang.
FUZZ=(clang libclang-rt-14-dev libomp-dev)
# scripts/package.sh (dpkg-shlibdeps) and tests/package/fresh-system.sh (a bare bookworm root).
PACKAGE=(dpkg-dev file debootstrap)

want=("${BUILD[@]}" "${TEST[@]}")
[ "${1:-}" = "--bench" ] && want+=("${BENCH[@]}")
[ "${1:-}" = "--cluster" ] && want+=("${CLUSTER[@]}")
[ "${1:-}" = "--fuzz" ] && want+=("${FUZZ[@]}")
[ "${1:-}" = "--package" ] && want+=("${PACKAGE[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
