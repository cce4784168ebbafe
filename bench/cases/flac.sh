# Case flac: CD tracks (pink noise plus a tone, 16-bit stereo 44.1 kHz, as in BENCHMARKS.md) to
# FLAC at --best with the same tags, 2 slots. Peer: the flac CLI, one process per file through
# xargs -P2. Three data sets: 10 equal 40 s tracks; an uneven album (nine 40 s tracks and a
# 6-minute closing track listed last); a whole-disc image of the 10 tracks with its cue sheet
# against one `flac --best` of the image. Goals (issue 6): 1.0x, 0.8x and 0.6x of the peer.
# Each data set also runs with --verify (every output decoded again and checked before its
# rename), second in the table: goal at most 1.25x the wall time without it, so its ratio
# column reads 0.80x or more.
need ffmpeg flac xargs

FLAC_DATA=$BENCH_DATA/flac
FLAC_OUT=$BENCH_DATA/flac-out
TAGS_MB="--tag ARTIST=Bench --tag ALBUM=Bench --tag DATE=2026 --tag GENRE=Noise"
TAGS_CLI="-T ARTIST=Bench -T ALBUM=Bench -T DATE=2026 -T GENRE=Noise"

flac_track() {  # flac_track OUT SECONDS SEED
  ffmpeg -v error -y -f lavfi -i "anoisesrc=color=pink:amplitude=0.3:seed=$3:sample_rate=44100" \
    -f lavfi -i "sine=frequency=$((180 + 13 * $3)):sample_rate=44100" \
    -filter_complex "[0][1]amix=inputs=2,aformat=channel_layouts=stereo" -t "$2" -c:a pcm_s16le "$1"
}

if [ ! -f "$FLAC_DATA/.done" ]; then
  rm -rf "$FLAC_DATA"
  mkdir -p "$FLAC_DATA/equal" "$FLAC_DATA/uneven" "$FLAC_DATA/disc"
  for i in $(seq 1 10); do flac_track "$FLAC_DATA/equal/track$(printf %02d "$i").cdda.wav" 40 "$i"; done
  for i in $(seq 1 9); do
    n=$(printf %02d "$i")
    ln -s "../equal/track$n.cdda.wav" "$FLAC_DATA/uneven/track$n.cdda.wav"
  done
  flac_track "$FLAC_DATA/uneven/track10.cdda.wav" 360 42
  # The image is the 10 equal tracks end to end; its cue sheet starts a track every 40 s.
  ffmpeg -v error -y $(for i in $(seq 1 10); do printf -- '-i %s/equal/track%02d.cdda.wav ' "$FLAC_DATA" "$i"; done) \
    -filter_complex "concat=n=10:v=0:a=1" -c:a pcm_s16le "$FLAC_DATA/disc/disc.wav"
  {
    echo 'PERFORMER "Bench"'; echo 'TITLE "Bench"'; echo 'REM DATE 2026'; echo 'REM GENRE "Noise"'
    echo 'FILE "disc.wav" WAVE'
    for i in $(seq 1 10); do
      s=$(( (i - 1) * 40 ))
      printf '  TRACK %02d AUDIO\n    TITLE "Track %d"\n    INDEX 01 %02d:%02d:00\n' "$i" "$i" $((s / 60)) $((s % 60))
    done
  } >"$FLAC_DATA/disc/disc.cue"
  touch "$FLAC_DATA/.done"
fi

# The peer's list is in file-name order (ls), so the long uneven track is last.
flac_peer() {  # flac_peer DIR OUT
  echo "cd $1 && ls *.wav | xargs -P2 -n1 flac -s -f --best $TAGS_CLI --output-prefix=$2/"
}
fresh="rm -rf $FLAC_OUT && mkdir -p $FLAC_OUT/mb $FLAC_OUT/cli"

side "mediabatch flac -j 2" "$fresh" "$MB flac -j 2 --progress never -q $TAGS_MB -o $FLAC_OUT/mb $FLAC_DATA/equal"
side "mediabatch flac -j 2 --verify" "$fresh" \
  "$MB flac -j 2 --verify --progress never -q $TAGS_MB -o $FLAC_OUT/mb $FLAC_DATA/equal"
side "flac --best, xargs -P2" "$fresh" "$(flac_peer "$FLAC_DATA/equal" "$FLAC_OUT/cli")"
compare "flac: 10 CD tracks of 40 s (68 MB), --best, 2 slots"

side "mediabatch flac -j 2" "$fresh" "$MB flac -j 2 --progress never -q $TAGS_MB -o $FLAC_OUT/mb $FLAC_DATA/uneven"
side "mediabatch flac -j 2 --verify" "$fresh" \
  "$MB flac -j 2 --verify --progress never -q $TAGS_MB -o $FLAC_OUT/mb $FLAC_DATA/uneven"
side "flac --best, xargs -P2" "$fresh" "$(flac_peer "$FLAC_DATA/uneven" "$FLAC_OUT/cli")"
compare "flac: uneven album, nine 40 s tracks and a 6-minute last track, 2 slots"

side "mediabatch flac --cue -j 2" "$fresh" \
  "$MB flac -j 2 --progress never -q --cue $FLAC_DATA/disc/disc.cue -o $FLAC_OUT/mb $FLAC_DATA/disc/disc.wav"
side "mediabatch flac --cue -j 2 --verify" "$fresh" \
  "$MB flac -j 2 --verify --progress never -q --cue $FLAC_DATA/disc/disc.cue -o $FLAC_OUT/mb $FLAC_DATA/disc/disc.wav"
side "flac --best (image)" "$fresh" "flac -s -f --best $TAGS_CLI -o $FLAC_OUT/cli/disc.flac $FLAC_DATA/disc/disc.wav"
compare "flac: whole-disc image (400 s) split by its cue sheet, 2 slots"
