# Shared helpers for bench/cases/*.sh. Sourced by bench/run.sh; not run alone.
#
# A case declares its sides with `side NAME SETUP COMMAND` (SETUP runs untimed before each
# run, e.g. to empty an output folder), then calls `compare`. Sides are run alternately,
# BENCH_RUNS times each (default 5), so machine noise falls on all of them alike; the table
# gives medians of wall time, CPU time (user+sys of the whole process tree) and peak RSS of
# the largest process, and mediabatch's ratio to each peer (the first side is mediabatch).

BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}
MB=${MB:-$ROOT/build/mediabatch}
mkdir -p "$BENCH_DATA"

SIDE_NAMES=()
SIDE_SETUPS=()
SIDE_CMDS=()

side() {
  SIDE_NAMES+=("$1"); SIDE_SETUPS+=("$2"); SIDE_CMDS+=("$3")
}

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/install-deps.sh --bench)" >&2; exit 2; }
  done
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

compare() {
  local title=$1 tmp; tmp=$(mktemp -d)
  local n=${#SIDE_NAMES[@]} r i
  for ((r = 1; r <= BENCH_RUNS; r++)); do
    for ((i = 0; i < n; i++)); do
      bash -c "${SIDE_SETUPS[$i]}" >/dev/null 2>&1
      /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" bash -c "${SIDE_CMDS[$i]}" >"$tmp/out" 2>&1 || {
        echo "bench: '${SIDE_NAMES[$i]}' failed:" >&2; tail -n 5 "$tmp/out" >&2; }
      tail -n 1 "$tmp/t" >>"$tmp/side$i"
    done
  done
  local walls=() cpus=() rss=()
  for ((i = 0; i < n; i++)); do
    walls[$i]=$(awk '{print $1}' "$tmp/side$i" | median)
    cpus[$i]=$(awk '{print $2 + $3}' "$tmp/side$i" | median)
    rss[$i]=$(awk '{print $4 / 1024}' "$tmp/side$i" | median)
  done
  echo
  echo "### $title"
  echo
  echo "$BENCH_RUNS runs per side, alternated; medians. $(nproc) cores, $(date -u +%F)."
  echo
  echo "| side | wall (s) | CPU (s) | peak RSS (MB) | mediabatch wall / side |"
  echo "|---|---|---|---|---|"
  for ((i = 0; i < n; i++)); do
    ratio=$(awk -v a="${walls[0]}" -v b="${walls[$i]}" 'BEGIN {printf "%.2fx", a / b}')
    printf '| %s | %.3f | %.3f | %.1f | %s |\n' "${SIDE_NAMES[$i]}" "${walls[$i]}" "${cpus[$i]}" "${rss[$i]}" "$ratio"
  done
  rm -rf "$tmp"
  SIDE_NAMES=(); SIDE_SETUPS=(); SIDE_CMDS=()
}
