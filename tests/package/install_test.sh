#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then: the installed program, run from there (its
# library and modules found from its own folder, not the build tree's), converts an asset of
# each kind with --verify, checked with identify, ffprobe and flac -t; a program builds and
# runs against the installed mediabatch::core, once with find_package and once with
# pkg-config; the man page renders and the completion is where bash-completion looks.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
for tool in cmake pkg-config g++ ffprobe flac identify man strace; do
  command -v "$tool" >/dev/null || { echo "install_test: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "install_test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install failed"; }
mb=$prefix/bin/mediabatch
[ -x "$mb" ] || fail "no bin/mediabatch"
libdir=$(dirname "$(find "$prefix" -name 'libmediabatch-core.so.0' | head -1)")
[ -n "$libdir" ] && [ -d "$libdir" ] || fail "no libmediabatch-core.so.0 installed"
[ -L "$libdir/libmediabatch-core.so" ] || fail "no libmediabatch-core.so link for the linker"
for kind in thumbs video dicom flac; do
  [ -f "$libdir/mediabatch/mediabatch-$kind.so" ] || fail "no $libdir/mediabatch/mediabatch-$kind.so"
done
[ -f "$prefix/include/mediabatch/encoder.hpp" ] || fail "no include/mediabatch/encoder.hpp"
[ -f "$prefix/share/man/man1/mediabatch.1" ] || fail "no share/man/man1/mediabatch.1"
[ -f "$prefix/share/bash-completion/completions/mediabatch" ] || fail "no bash completion installed"
# The program and the modules find the installed libmediabatch-core, not the build tree's.
loaded=$(ldd "$mb" | sed -n 's/.*libmediabatch-core.so.0 => \([^ ]*\) .*/\1/p')
[ -n "$loaded" ] && [ "$(realpath "$loaded")" = "$(realpath "$libdir/libmediabatch-core.so.0")" ] ||
  { ldd "$mb"; fail "bin/mediabatch does not load $libdir/libmediabatch-core.so.0"; }

# The build tree out of reach: the installed program must find everything under the prefix.
unset MEDIABATCH_ENCODER_DIR
out=$work/out
"$mb" --version | grep -q "mediabatch 0.1.0" || fail "--version"
env -u LD_LIBRARY_PATH "$mb" convert --progress never --verify -o "$out" \
  "$src/assets/photo_sideways.jpg" "$src/assets/video_sample.mp4" "$src/assets/dicom_colour_jpeg.dcm" \
  "$src/assets/track01.cdda.wav" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "the installed program failed"; }
grep -q "4 ok, 0 failed, 0 skipped, 4 verified" "$work/run.log" || { cat "$work/run.log"; fail "not 4 ok and verified"; }
identify "$out/photo_sideways_thumbnail.jpg" | grep -q "JPEG" || fail "thumbnail"
ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$out/video_sample.mkv" | sort | tr '\n' ' ' |
  grep -q "theora vorbis" || fail "video_sample.mkv has not theora and vorbis"
identify "$out/dicom_colour_jpeg.png" | grep -q "PNG" || fail "dicom png"
flac -s -t "$out/track01.flac" || fail "flac -t"
# Where the module was loaded from (the worker process's too).
strace -f -e trace=openat -o "$work/strace.log" "$mb" thumbs --progress never -o "$work/v" \
  "$src/assets/photo_drawing.png" >/dev/null 2>&1 || fail "thumbs under strace"
grep -v ENOENT "$work/strace.log" | grep -q "\"$libdir/mediabatch/mediabatch-thumbs.so\"" ||
  fail "the thumbs module was not loaded from $libdir/mediabatch"
! grep -v ENOENT "$work/strace.log" | grep -q "$build/" || fail "the installed program opened a file of the build tree"

# A program against the installed library: CMake's package, then pkg-config.
cmake -S "$src/tests/package/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" >"$work/consumer.log" 2>&1 &&
  cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1 || { cat "$work/consumer.log"; fail "find_package(mediabatch) build"; }
LD_LIBRARY_PATH=$libdir "$work/consumer/consumer" 1/1 "$src/assets" | grep -q "track01.cdda.wav" || fail "consumer (CMake) run"
export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046
g++ -std=c++17 -o "$work/consumer-pc" "$src/tests/package/consumer/main.cpp" $(pkg-config --cflags --libs mediabatch) ||
  fail "pkg-config build"
LD_LIBRARY_PATH=$libdir "$work/consumer-pc" 1/1 "$src/assets" | grep -q "album.json" || fail "consumer (pkg-config) run"
# Only what its headers need: no oneTBB, spdlog or CLI11 in the exported link interface.
! grep -E "TBB|spdlog|CLI11" "$libdir/cmake/mediabatch/mediabatchTargets.cmake" || fail "private dependencies exported"

man -l "$prefix/share/man/man1/mediabatch.1" 2>&1 >/dev/null | grep . && fail "man warns"
MANWIDTH=80 man -l "$prefix/share/man/man1/mediabatch.1" 2>/dev/null | grep -q "COMMON OPTIONS" || fail "man -l renders nothing"
echo "install_test: ok ($prefix)"
