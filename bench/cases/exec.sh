# Case exec: 2,000 `true` jobs, -j 2, against xargs -P2 and GNU parallel -j2.
need xargs parallel
seq 2000 >"$BENCH_DATA/exec-inputs.txt"
side "mediabatch exec -j2" "" "$MB exec -j 2 --progress never -q -- true < $BENCH_DATA/exec-inputs.txt"
side "xargs -P2 -n1" "" "xargs -P2 -n1 true < $BENCH_DATA/exec-inputs.txt"
side "parallel -j2" "" "parallel -j2 true < $BENCH_DATA/exec-inputs.txt"
compare "exec: 2,000 true jobs, 2 slots"
