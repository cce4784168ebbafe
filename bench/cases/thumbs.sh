# Case thumbs: 128-pixel JPEG thumbnails, -j 2, against vipsthumbnail (8 files per process,
# xargs -P2) and ImageMagick's convert (one process per file, xargs -P2, one thread each).
# Every side writes quality 85 into its own folder. Data as in BENCHMARKS.md.
need ffmpeg vipsthumbnail convert xargs
TH=$BENCH_DATA/thumbs
if [ ! -f "$TH/big/photo_040.jpg" ]; then
  mkdir -p "$TH/big"
  ffmpeg -v error -y -f lavfi -i "testsrc2=s=4000x3000:r=1,noise=alls=12:allf=t+u" -frames:v 40 -q:v 3 "$TH/big/photo_%03d.jpg"
fi
if [ ! -f "$TH/small/img_0400.jpg" ]; then
  mkdir -p "$TH/small"
  ffmpeg -v error -y -f lavfi -i "testsrc2=s=500x375:r=1,noise=alls=12:allf=t+u" -frames:v 400 -q:v 3 "$TH/small/img_%04d.jpg"
fi
OUT=$TH/out

for set in big small; do
  n=$(ls "$TH/$set" | wc -l)
  side "mediabatch thumbs -j2" "rm -rf $OUT/mb && mkdir -p $OUT/mb" \
    "$MB thumbs -j 2 -q --progress never -o $OUT/mb $TH/$set"
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
