#!/usr/bin/env bash
# A real Slurm test: a one-node cluster on this machine (munge + slurmctld + slurmd on
# localhost, as root, proctrack/linuxproc, task/none) runs deploy/slurm/mediabatch-array.sbatch
# as an array of 4 tasks over a generated batch of WAV files (mediabatch flac), then checks:
#   - every input converted exactly once, and no task touched another's share;
#   - `mediabatch report merge` over the 4 reports is complete;
#   - resume: one task of a second array is killed mid-way; re-submitting converts only
#     what is missing.
# Installs slurm-wlm and munge if missing; stops the daemons it started (by their pid files),
# also when it fails. Usage: tests/cluster/slurm.sh [BUILD_DIR]   (default: build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
MB=$(cd "$BUILD" && pwd)/mediabatch
SBATCH_SCRIPT=$ROOT/deploy/slurm/mediabatch-array.sbatch
[ -x "$MB" ] || { echo "slurm.sh: $MB is not built" >&2; exit 2; }

say() { echo "slurm.sh: $*"; }
fail() { echo "slurm.sh: FAIL: $*" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  "$ROOT/scripts/install-deps.sh" --cluster
fi

WORK=$(mktemp -d /tmp/mediabatch-slurm.XXXXXX)
PIDFILES=()
cleanup() {
  local status=$?
  for f in "${PIDFILES[@]}"; do
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  # Give the daemons a moment to exit, then make sure.
  sleep 1
  for f in "${PIDFILES[@]}"; do
    [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  if [ $status -ne 0 ]; then
    for log in "$WORK"/*.log; do [ -f "$log" ] && { echo "== $log"; tail -n 20 "$log"; }; done >&2
  fi
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT

# munge: reuse a running one, else start our own.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -s /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 2>/dev/null; }
  chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  PIDFILES+=(/run/munge/munged.pid)
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || fail "munged did not start"
fi

NODE=$(hostname -s)
mkdir -p "$WORK/state" "$WORK/spool"
export SLURM_CONF=$WORK/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=mediabatch-test
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
PIDFILES+=("$WORK/slurmd.pid" "$WORK/slurmctld.pid")
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^idle' && break
  sleep 0.2
done
sinfo -h -o %T | grep -qE '^idle' || fail "the node did not come up: $(sinfo 2>&1)"
say "cluster up: $(sinfo -h -o '%P %D %T %c')"

# A generated batch: WAV files in two folders (the relative paths are what shards hash).
DATA=$WORK/data
mkdir -p "$DATA/in/cd1" "$DATA/in/cd2"
make_wavs() {  # make_wavs COUNT SECONDS DIR
  for i in $(seq -w 1 "$1"); do
    ffmpeg -v error -f lavfi -i "sine=frequency=$((200 + 10#$i * 37)):sample_rate=44100:duration=$2" \
      -ac 2 -c:a pcm_s16le "$3/track$i.wav"
  done
}
make_wavs 12 1 "$DATA/in/cd1"
make_wavs 12 1 "$DATA/in/cd2"
TOTAL=$(find "$DATA/in" -name '*.wav' | wc -l)

# submit NAME EXTRA-SBATCH-ARGS... -- MEDIABATCH-ARGS...: submits the array, prints its job id.
submit() {
  local args=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  MEDIABATCH=$MB MEDIABATCH_REPORT_DIR=$DATA sbatch --parsable --chdir="$DATA" --array=0-3 --cpus-per-task=1 \
    --output="$WORK/task-%A_%a.log" "${args[@]}" "$SBATCH_SCRIPT" "$@"
}
wait_job() {
  for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 0.2
  done
  fail "job $1 did not finish"
}

# 1. Every input converted exactly once, by exactly one task.
JOB=$(submit -- flac -r --level 5 -o "$DATA/out" "$DATA/in")
say "array job $JOB submitted"
wait_job "$JOB"
for t in 0 1 2 3; do
  [ -f "$DATA/report-$JOB-$t.jsonl" ] || fail "task $t wrote no report: $(cat "$WORK"/task-"${JOB}"_$t.log)"
done
cat "$DATA"/report-"$JOB"-*.jsonl | grep -o '"input":"[^"]*"' | sort >"$WORK/all-inputs"
[ "$(wc -l <"$WORK/all-inputs")" -eq "$TOTAL" ] || fail "the tasks reported $(wc -l <"$WORK/all-inputs") records for $TOTAL inputs"
[ -z "$(uniq -d "$WORK/all-inputs")" ] || fail "inputs handled by more than one task: $(uniq -d "$WORK/all-inputs")"
nonempty=0
for t in 0 1 2 3; do
  n=$(wc -l <"$DATA/report-$JOB-$t.jsonl")
  [ "$n" -gt 0 ] && nonempty=$((nonempty + 1))
  # No task touched another's share: what it reported is exactly its shard.
  "$MB" exec --dry-run -r --shard "$((t + 1))/4" "$DATA/in" -- echo {} | sort >"$WORK/expected-$t"
  grep -o '"input":"[^"]*"' "$DATA/report-$JOB-$t.jsonl" | sed 's/"input":"\(.*\)"/echo \1/' | sort >"$WORK/got-$t"
  diff -q "$WORK/expected-$t" "$WORK/got-$t" >/dev/null || fail "task $t's inputs differ from shard $((t + 1))/4"
done
[ "$nonempty" -ge 3 ] || fail "only $nonempty of 4 tasks had work"
[ "$(find "$DATA/out" -name '*.flac' | wc -l)" -eq "$TOTAL" ] || fail "expected $TOTAL FLAC files"
if command -v flac >/dev/null; then flac -s -t "$DATA"/out/*/*.flac || fail "flac -t failed"; fi
merged=$("$MB" report merge "$DATA"/report-"$JOB"-*.jsonl) || fail "report merge: $merged"
echo "$merged" | grep -q "4 reports, $TOTAL records, $TOTAL inputs: $TOTAL ok, 0 failed, 0 skipped" || fail "merged report: $merged"
say "array of 4: $TOTAL inputs, each converted once by its own shard; merged report complete"

# 2. Resume: kill one task mid-way, re-submit, only the missing outputs are made.
rm -rf "$DATA/in" "$DATA/out" "$DATA"/report-*.jsonl
mkdir -p "$DATA/in/cd1" "$DATA/in/cd2"
make_wavs 12 20 "$DATA/in/cd1"
make_wavs 12 20 "$DATA/in/cd2"
# One file at a time at the slowest level so a task takes a few seconds.
JOB=$(submit -- flac -r -j 1 --level 8 --verify -o "$DATA/out" "$DATA/in")
victim=""
for _ in $(seq 600); do
  for t in 0 1 2 3; do
    r=$DATA/report-$JOB-$t.jsonl
    if [ -s "$r" ] && [ "$(wc -l <"$r")" -lt "$(wc -l <<<"$("$MB" exec --dry-run -r --shard "$((t + 1))/4" "$DATA/in" -- echo)")" ]; then
      victim=$t
      break 2
    fi
  done
  sleep 0.05
done
[ -n "$victim" ] || fail "no task was caught mid-way"
scancel --signal=KILL "${JOB}_$victim"
wait_job "$JOB"
done_before=$(find "$DATA/out" -name '*.flac' | wc -l)
[ "$done_before" -lt "$TOTAL" ] || fail "the killed task finished anyway"
leftovers=$(find "$DATA/out" -name '.*mbtmp*' | wc -l)
say "task $victim killed: $done_before of $TOTAL outputs exist (plus $leftovers hidden temp files, no partial output under a final name)"
for f in "$DATA"/out/*/*.flac; do flac -s -t "$f" || fail "$f is damaged"; done
JOB2=$(submit -- flac -r -j 1 --level 8 -o "$DATA/out" "$DATA/in")
wait_job "$JOB2"
[ "$(find "$DATA/out" -name '*.flac' | wc -l)" -eq "$TOTAL" ] || fail "after re-submitting, not every output exists"
converted=$(cat "$DATA"/report-"$JOB2"-*.jsonl | grep -c '"status":"ok"' || true)
skipped=$(cat "$DATA"/report-"$JOB2"-*.jsonl | grep -c '"status":"skipped"' || true)
[ "$converted" -eq $((TOTAL - done_before)) ] || fail "re-submission converted $converted, expected $((TOTAL - done_before))"
[ "$skipped" -eq "$done_before" ] || fail "re-submission skipped $skipped, expected $done_before"
say "re-submitted: converted the $converted missing, skipped the $skipped done"
echo "1 passed, 0 failed"
