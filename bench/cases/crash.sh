# Case crash: the cost of crash containment. 200 small DICOM files (pydicom's CT_small.dcm,
# 128x128), -j 2: three of them replaced by pydicom's rtdose_*_1frame.dcm, on which GDCM's
# assertions abort the worker, against the same batch without them, and against
# --no-isolation (everything in one process, no supervisor) on the clean batch. The goal:
# with the crashers at most 1.5x the clean batch; the supervisor's cost on a clean batch
# within noise.
PYDICOM=/usr/lib/python3/dist-packages/pydicom/data/test_files
[ -f "$PYDICOM/CT_small.dcm" ] || { echo "bench: python3-pydicom is missing (scripts/install-deps.sh)" >&2; exit 2; }
CRASH_DATA=$BENCH_DATA/crash
if [ "$(ls "$CRASH_DATA/clean" 2>/dev/null | wc -l)" -ne 200 ]; then
  rm -rf "$CRASH_DATA" && mkdir -p "$CRASH_DATA/clean" "$CRASH_DATA/crashy"
  for i in $(seq -w 0 199); do
    cp "$PYDICOM/CT_small.dcm" "$CRASH_DATA/clean/ct_$i.dcm"
    cp "$PYDICOM/CT_small.dcm" "$CRASH_DATA/crashy/ct_$i.dcm"
  done
  cp "$PYDICOM/rtdose_1frame.dcm" "$CRASH_DATA/crashy/ct_020.dcm"
  cp "$PYDICOM/rtdose_expb_1frame.dcm" "$CRASH_DATA/crashy/ct_100.dcm"
  cp "$PYDICOM/rtdose_rle_1frame.dcm" "$CRASH_DATA/crashy/ct_180.dcm"
fi
CRASH_OUT=$BENCH_DATA/crash-out
side "mediabatch, 3 crashers" "rm -rf $CRASH_OUT" "$MB dicom -j 2 -q -o $CRASH_OUT $CRASH_DATA/crashy 2>/dev/null; [ \$? = 1 ]"
side "mediabatch, no crashers" "rm -rf $CRASH_OUT" "$MB dicom -j 2 -q -o $CRASH_OUT $CRASH_DATA/clean"
side "mediabatch --no-isolation, no crashers" "rm -rf $CRASH_OUT" "$MB dicom -j 2 -q --no-isolation -o $CRASH_OUT $CRASH_DATA/clean"
compare "crash: 200 small DICOMs, 3 of which abort GDCM, 2 slots"
