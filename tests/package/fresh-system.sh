#!/usr/bin/env bash
# Proves the Debian package installs and works on a bare Debian 12: makes a minimal bookworm
# root with debootstrap (from Debian's own registry), installs the package there with
# `apt-get install --no-install-recommends ./mediabatch_*.deb`, so apt pulls exactly the declared
# dependencies and nothing else, and inside that root runs `mediabatch --version`, each
# command's --help, `man mediabatch`, the bash completion, and a conversion of the samples in
# assets/ (every kind, and exec). The outputs are then checked on this machine with independent
# tools (ffprobe, flac -t, identify). Needs root (chroot, mounts).
#
# Usage: tests/package/fresh-system.sh [PACKAGE.deb]   (default: build it with scripts/package.sh)
# The bare root is made once into build-package/bookworm-base and copied for each run, so the
# package always lands on a system that has never seen it. Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
started=$SECONDS
step() { echo "fresh-system: [$((SECONDS - started)) s] $*" >&2; }
fail() { echo "fresh-system: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mount)"
for tool in ffprobe flac identify; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done

scripts/install-deps.sh --package  # debootstrap
if [ $# -ge 1 ]; then
  deb=$(readlink -f "$1")
else
  step "building the package (scripts/package.sh)"
  deb=$src/$(scripts/package.sh | tail -n 1)
fi
[ -f "$deb" ] || fail "no package at $deb"

mirror=http://deb.debian.org/debian
base=$src/build-package/bookworm-base
if [ ! -x "$base/usr/bin/apt-get" ]; then
  step "debootstrap --variant=minbase bookworm (once, into $base)"
  rm -rf "$base"
  debootstrap --variant=minbase bookworm "$base.partial" "$mirror" >"$src/build-package/debootstrap.log" 2>&1 ||
    { tail -n 20 "$src/build-package/debootstrap.log" >&2; fail "debootstrap failed"; }
  mv "$base.partial" "$base"
fi

root=$src/build-package/fresh-root
cleanup() {
  for m in proc dev/pts dev; do mountpoint -q "$root/$m" && umount -l "$root/$m"; done
  return 0
}
trap cleanup EXIT
cleanup
rm -rf "$root"
step "copying the bare root"
cp -a "$base" "$root"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

cp "$deb" "$root/tmp/"
name=$(basename "$deb")
step "apt-get install ./$name (with what it depends on, no recommends)"
in_root apt-get update -qq >/dev/null
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "/tmp/$name" \
  >"$src/build-package/fresh-install.log" 2>&1 ||
  { tail -n 30 "$src/build-package/fresh-install.log" >&2; fail "apt-get install ./$name"; }
step "installed: $(in_root dpkg-query -W -f='${Package} ${Version}, ${Installed-Size} KB' mediabatch)"

step "mediabatch --version, --help"
version=$(in_root mediabatch --version) || fail "mediabatch --version"
echo "$version" | sed 's/^/  /' >&2
grep -q "cannot load" <<<"$version" && fail "an encoder module does not load on the fresh system"
for command in exec convert report thumbs video dicom flac; do
  in_root mediabatch "$command" --help | grep -q "^Usage: mediabatch $command" || fail "mediabatch $command --help"
done

step "man page and completion"
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends man-db \
  >>"$src/build-package/fresh-install.log" 2>&1 || fail "apt-get install man-db"
in_root man -P cat mediabatch 2>/dev/null | grep -q "mediabatch --version" || fail "man mediabatch"
completed=$(in_root bash -c 'source /usr/share/bash-completion/completions/mediabatch
  COMP_WORDS=(mediabatch thumbs --format ""); COMP_CWORD=3; _mediabatch; echo "${COMPREPLY[*]}"')
[ "$completed" = "jpg png webp" ] || fail "completion of thumbs --format: '$completed'"

step "a conversion of each kind (the samples in assets/)"
mkdir -p "$root/tmp/in"
cp "$src"/assets/* "$root/tmp/in/"
in_root mediabatch convert -j 2 -o /tmp/out --report /tmp/report.jsonl /tmp/in >&2 ||
  fail "mediabatch convert on the samples"
in_root mediabatch exec -q /tmp/in/album.json -- cp {} /tmp/out/exec-copy.json || fail "mediabatch exec"
cmp "$src/assets/album.json" "$root/tmp/out/exec-copy.json" || fail "exec's copy differs"

out=$root/tmp/out
ok=$(grep -c '"status":"ok"' "$root/tmp/report.jsonl" || true)
[ "$ok" -ge 9 ] || fail "only $ok files ok in the report"
ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$out/video_sample.mkv" | sort | tr '\n' ' ' |
  grep -qx "theora vorbis " || fail "video_sample.mkv is not Theora + Vorbis"
# A glob that matches nothing stays as written, and its check fails on that name.
for f in "$out"/*.flac; do flac -t -s "$f" || fail "flac -t $f"; done
for f in "$out"/*_thumbnail.* "$out"/dicom_*.png; do identify "$f" >/dev/null || fail "identify $f"; done
step "passed: $(ls "$out" | wc -l) outputs checked"
