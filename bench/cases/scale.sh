# Case scale: memory and speed as the number of inputs grows. The same commands on 1,000 and
# on 100,000 small inputs in one folder: `exec -j 2 DIR -- true` (empty files) and `thumbs
# -j 2` (a 160x120 JPEG, hard-linked), and xargs -P2 running `true` on the 100,000 for files
# per second. Peak RSS is the largest process's (the supervisor or its worker). The goal:
# peak RSS for 100,000 inputs at most 1.5x that for 1,000. SCALE_RUNS=N runs per row
# (default 3: a 100,000-file exec run takes about two minutes here), alternated.
need ffmpeg xargs find
SC=$BENCH_DATA/scale
SCALE_RUNS=${SCALE_RUNS:-3}
make_scale_data() {
  mkdir -p "$SC"
  [ -f "$SC/tiny.jpg" ] || ffmpeg -v error -y -f lavfi -i "testsrc2=s=160x120" -frames:v 1 -q:v 3 "$SC/tiny.jpg"
  python3 - "$SC" <<'EOF'
import os, shutil, sys
sc = sys.argv[1]
for n in (1000, 100000):
    ex, th = f"{sc}/exec-{n}", f"{sc}/thumbs-{n}"
    os.makedirs(ex, exist_ok=True)
    os.makedirs(th, exist_ok=True)
    for i in range(n):
        open(f"{ex}/f{i:06d}.dat", "a").close()
        # A file system allows some 65,000 links to one file: link to one of several copies.
        src = f"{sc}/tiny{i % 4}.jpg"
        if not os.path.exists(src):
            shutil.copy(f"{sc}/tiny.jpg", src)
        if not os.path.exists(f"{th}/p{i:06d}.jpg"):
            os.link(src, f"{th}/p{i:06d}.jpg")
EOF
}
make_scale_data

scale_tmp=$(mktemp -d)
scale_rows=("mediabatch exec -j2|1000" "mediabatch exec -j2|100000" "xargs -P2 -n1|100000"
            "mediabatch thumbs -j2|1000" "mediabatch thumbs -j2|100000")
scale_cmd() {
  local n=$2
  case $1 in
    "mediabatch exec -j2") echo "$MB exec -j 2 -q --progress never $SC/exec-$n -- true" ;;
    "xargs -P2 -n1") echo "find $SC/exec-$n -type f | xargs -P2 -n1 true" ;;
    "mediabatch thumbs -j2") echo "$MB thumbs -j 2 -q --progress never -o $SC/out $SC/thumbs-$n" ;;
  esac
}
for ((r = 1; r <= SCALE_RUNS; r++)); do
  for i in "${!scale_rows[@]}"; do
    IFS='|' read -r name n <<<"${scale_rows[$i]}"
    cmd=$(scale_cmd "$name" "$n")
    rm -rf "$SC/out"  # outside the timing
    /usr/bin/time -f "%e %M" -o "$scale_tmp/t" bash -c "$cmd" >/dev/null 2>"$scale_tmp/err" || {
      echo "bench: '$name' on $n failed:" >&2; tail -n 5 "$scale_tmp/err" >&2; }
    tail -n 1 "$scale_tmp/t" >>"$scale_tmp/row$i"
  done
done
echo
echo "### scale: 1,000 and 100,000 small inputs, 2 slots"
echo
echo "$SCALE_RUNS runs per row, alternated; medians. $(nproc) cores, $(date -u +%F)."
echo
echo "| command | inputs | peak RSS (MB) | files/s | peak RSS / 1,000 inputs' |"
echo "|---|---|---|---|---|"
declare -A scale_base
for i in "${!scale_rows[@]}"; do
  IFS='|' read -r name n <<<"${scale_rows[$i]}"
  wall=$(awk '{print $1}' "$scale_tmp/row$i" | median)
  rss=$(awk '{print $2 / 1024}' "$scale_tmp/row$i" | median)
  [ "$n" = 1000 ] && scale_base[$name]=$rss
  ratio=$(awk -v a="$rss" -v b="${scale_base[$name]:-}" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "-"}')
  printf '| %s | %s | %.1f | %.0f | %s |\n' "$name" "$n" "$rss" "$(awk -v n="$n" -v w="$wall" 'BEGIN {print n / w}')" "$ratio"
done
rm -rf "$scale_tmp" "$SC/out"
