# Case thumbs: 128-pixel JPEG thumbnails, -j 2, against vipsthumbnail (8 files per process,
# xargs -P2) and ImageMagick's convert (one process per file, xargs -P2, one thread each);
# HEIC photos against vipsthumbnail, then a PSNR check of the two. Every side writes quality
# 85 into its own folder. Data as in BENCHMARKS.md.
need ffmpeg vipsthumbnail convert xargs heif-enc
TH=$BENCH_DATA/thumbs
if [ ! -f "$TH/big/photo_040.jpg" ]; then
  mkdir -p "$TH/big"
  ffmpeg -v error -y -f lavfi -i "testsrc2=s=4000x3000:r=1,noise=alls=12:allf=t+u" -frames:v 40 -q:v 3 "$TH/big/photo_%03d.jpg"
fi
if [ ! -f "$TH/small/img_0400.jpg" ]; then
  mkdir -p "$TH/small"
  ffmpeg -v error -y -f lavfi -i "testsrc2=s=500x375:r=1,noise=alls=12:allf=t+u" -frames:v 400 -q:v 3 "$TH/small/img_%04d.jpg"
fi
# HEIC photos as phones store them, with a thumbnail item of 320 pixels. heif-enc takes about
# 17 s for a 12-megapixel picture, so 4 are made and copied to 40. One more has no thumbnail
# item, for the PSNR check: both sides then decode the whole picture.
if [ ! -f "$TH/heic/photo_40.heic" ]; then
  mkdir -p "$TH/heic-src" "$TH/heic"
  for i in 1 2 3 4; do
    convert -size 4000x3000 -seed "$i" plasma: PNG24:"$TH/heic-src/plasma_$i.png"
  done
  printf '%s\n' 1 2 3 4 | xargs -P 2 -I{} heif-enc -q 80 -t 320 -o "$TH/heic-src/photo_{}.heic" "$TH/heic-src/plasma_{}.png"
  for n in $(seq -w 1 40); do cp "$TH/heic-src/photo_$(((10#$n - 1) % 4 + 1)).heic" "$TH/heic/photo_$n.heic"; done
fi
[ -f "$TH/heic-src/whole.heic" ] || heif-enc -q 80 -o "$TH/heic-src/whole.heic" "$TH/heic-src/plasma_1.png"
OUT=$TH/out

for set in big small; do
  n=$(ls "$TH/$set" | wc -l)
  side "mediabatch thumbs -j2" "rm -rf $OUT/mb && mkdir -p $OUT/mb" \
    "$MB thumbs -j 2 -q --progress never -o $OUT/mb $TH/$set"
  side "mediabatch thumbs -j2 --fsync" "rm -rf $OUT/mbf && mkdir -p $OUT/mbf" \
    "$MB thumbs -j 2 -q --progress never --fsync -o $OUT/mbf $TH/$set"
  # --verify: each thumbnail decoded again and compared (size, luma PSNR) before its rename.
  # Goal: at most 1.25x the wall time of the first side.
  side "mediabatch thumbs -j2 --verify" "rm -rf $OUT/mbv && mkdir -p $OUT/mbv" \
    "$MB thumbs -j 2 -q --progress never --verify -o $OUT/mbv $TH/$set"
  side "vipsthumbnail, 8 per process, xargs -P2" "rm -rf $OUT/vips && mkdir -p $OUT/vips" \
    "cd $TH/$set && ls | xargs -n 8 -P 2 vipsthumbnail -s 128 -o '$OUT/vips/%s_thumbnail.jpg[Q=85]'"
  side "convert -thumbnail, xargs -P2" "rm -rf $OUT/im && mkdir -p $OUT/im" \
    "cd $TH/$set && ls | MAGICK_THREAD_LIMIT=1 xargs -P 2 -I{} convert -define jpeg:size=256x256 {} -thumbnail 128x128 -quality 85 $OUT/im/{}"
  if [ "$set" = big ]; then
    compare "thumbs: $n JPEGs of 4000x3000, 128 px, 2 slots"
  else
    compare "thumbs: $n JPEGs of 500x375, 128 px, 2 slots"
  fi
done

n=$(ls "$TH/heic" | wc -l)
side "mediabatch thumbs -j2" "rm -rf $OUT/mb && mkdir -p $OUT/mb" \
  "$MB thumbs -j 2 -q --progress never -o $OUT/mb $TH/heic"
side "vipsthumbnail, 8 per process, xargs -P2" "rm -rf $OUT/vips && mkdir -p $OUT/vips" \
  "cd $TH/heic && ls | xargs -n 8 -P 2 vipsthumbnail -s 128 -o '$OUT/vips/%s_thumbnail.jpg[Q=85]'"
compare "thumbs: $n HEICs of 4000x3000 with a 320-pixel thumbnail item, 128 px, 2 slots"

# At quality 97, so that the difference is the decoding and resampling, not JPEG's.
rm -rf "$OUT/psnr" && mkdir -p "$OUT/psnr"
"$MB" thumbs -q --progress never --quality 97 -o "$OUT/psnr" "$TH/heic-src/whole.heic"
vipsthumbnail -s 128 -o "$OUT/psnr/%s_vips.jpg[Q=97]" "$TH/heic-src/whole.heic"
psnr=$(ffmpeg -nostdin -i "$OUT/psnr/whole_thumbnail.jpg" -i "$OUT/psnr/whole_vips.jpg" \
  -lavfi "[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr" -f null - 2>&1 |
  sed -n 's/.*PSNR.* average:\([0-9.inf]*\).*/\1/p' | tail -n 1)
echo
echo "HEIC of 4000x3000 without a thumbnail item: PSNR of mediabatch's thumbnail against vipsthumbnail's: $psnr dB (goal >= 30)"
awk -v db="$psnr" 'BEGIN { exit !(db + 0 >= 30) }' || { echo "bench: HEIC thumbnail PSNR $psnr dB is below 30" >&2; exit 1; }
