# Case video: H.264+AAC clips to Theora+Vorbis in Matroska. mediabatch video -j 2 against the
# ffmpeg CLI with the same settings, one process per file through xargs -P2. Two batches: the
# 8 equal clips of BENCHMARKS.md, and an uneven one (six 3 s clips, one 20 s clip listed last).
# After the timings: output sizes and PSNR against the source, for both sides.
need ffmpeg ffprobe xargs
VD=$BENCH_DATA/video
mkdir -p "$VD/clips" "$VD/uneven"

video_clip() {  # OUT SECONDS
  [ -s "$1" ] || ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=640x360:r=25,noise=alls=6:allf=t" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$2" -c:v libx264 -preset veryfast -pix_fmt yuv420p \
    -c:a aac -ac 2 -shortest "$1"
}
for i in 1 2 3 4 5 6 7 8; do video_clip "$VD/clips/clip_$i.mp4" 4; done
for i in 1 2 3 4 5 6; do video_clip "$VD/uneven/short_$i.mp4" 3; done
video_clip "$VD/uneven/long.mp4" 20

VIDEO_FF='ffmpeg -nostdin -v error -y -threads 1 -i "$1" -c:v libtheora -q:v 6 -c:a libvorbis -q:a 3 -sn "$2/$(basename "$1" .mp4).mkv"'

video_sides() {  # NAME INPUT...
  local name=$1; shift
  local mb_out=$VD/out-mb-$name ff_out=$VD/out-ff-$name
  side "mediabatch video -j2" "rm -rf $mb_out" "$MB video -j 2 --progress never -q -o $mb_out $*"
  side "ffmpeg CLI, xargs -P2" "rm -rf $ff_out; mkdir -p $ff_out" \
    "printf '%s\n' $* | xargs -P2 -I{} sh -c '$VIDEO_FF' _ {} $ff_out"
}

video_psnr() {  # ENCODED SOURCE -> average PSNR (dB) of the luma+chroma
  ffmpeg -nostdin -i "$1" -i "$2" -lavfi "[0:v][1:v]psnr" -f null - 2>&1 | sed -n 's/.*PSNR.* average:\([0-9.inf]*\).*/\1/p' | tail -n 1
}

video_quality() {  # NAME SOURCE_DIR
  local name=$1 src=$2 mb_out=$VD/out-mb-$1 ff_out=$VD/out-ff-$1
  local mb_bytes ff_bytes
  mb_bytes=$(cat "$mb_out"/*.mkv | wc -c)
  ff_bytes=$(cat "$ff_out"/*.mkv | wc -c)
  echo
  echo "Outputs ($name): mediabatch $mb_bytes B, ffmpeg CLI $ff_bytes B" \
    "($(awk -v a="$mb_bytes" -v b="$ff_bytes" 'BEGIN {printf "%.3f", a / b}')x)."
  local f first
  first=$(ls "$src" | head -n 1)
  f=$(basename "$first" .mp4)
  echo "PSNR of $f against the source: mediabatch $(video_psnr "$mb_out/$f.mkv" "$src/$first") dB," \
    "ffmpeg CLI $(video_psnr "$ff_out/$f.mkv" "$src/$first") dB."
}

video_sides clips "$VD"/clips/clip_{1,2,3,4,5,6,7,8}.mp4
compare "video: 8 clips 640x360 4 s H.264+AAC -> Theora q6 + Vorbis q3 (mkv), 2 slots"
video_quality clips "$VD/clips"

video_sides uneven "$VD"/uneven/short_{1,2,3,4,5,6}.mp4 "$VD/uneven/long.mp4"
compare "video: six 3 s clips + one 20 s clip (listed last), 2 slots"
video_quality uneven "$VD/uneven"
