# Case dicom: 40 CR radiographs 2000x2048, 12 bits stored, uncompressed, cropped to the exposed
# area 1568x2048+232+0 and written as 8-bit PNG at 300 dpi, 2 slots.
# Peers: dcmj2pnm one process per file through xargs -P2, with the file's window (+Wi 1, the
# same pixels as mediabatch's default) and as BENCHMARKS.md ran it (no VOI window: other
# pixels). Total PNG bytes of each side follow the table: the goal is at most 10% more.
need dcmj2pnm xargs g++

DICOM_DATA=$BENCH_DATA/dicom
DICOM_OUT=$BENCH_DATA/dicom-out
if [ "$(ls "$DICOM_DATA"/cr_*.dcm 2>/dev/null | wc -l)" -ne 40 ]; then
  mkdir -p "$DICOM_DATA"
  # The generator writes explicit VR little endian files directly (no pydicom/numpy needed):
  # smooth anatomy with rib-like bands, direct exposure around it, quantum noise (sigma ~10
  # of 4096), black outside columns 232..1799 (collimation). Window Center/Width 2000/3000.
  cat >"$BENCH_DATA/dicom-gen.cpp" <<'CPP'
// Writes N synthetic CR radiographs: 2000x2048, 12 bits stored, MONOCHROME2, window 2000/3000,
// black left of column 232 (collimation), smooth anatomy plus quantum noise.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>
static void el(std::string& o, uint16_t g, uint16_t e, const char* vr, std::string v) {
  if (v.size() % 2) v.push_back(vr[0] == 'U' && vr[1] == 'I' ? '\0' : ' ');
  auto p16 = [&](uint32_t x) { o.push_back(char(x & 255)); o.push_back(char((x >> 8) & 255)); };
  p16(g); p16(e); o += std::string(vr, 2);
  std::string s(vr, 2);
  if (s == "OB" || s == "OW") { p16(0); p16(v.size() & 0xffff); p16(v.size() >> 16); } else p16(v.size());
  o += v;
}
static std::string us(uint16_t v) { return std::string{char(v & 255), char(v >> 8)}; }
int main(int argc, char** argv) {
  const std::string dir = argv[1];
  const int n = std::stoi(argv[2]);
  const int W = 2000, H = 2048;
  std::vector<uint16_t> px(size_t(W) * H);
  for (int k = 0; k < n; ++k) {
    uint32_t seed = 2463534242u + k * 7919u;
    auto rnd = [&] { seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5; return seed; };
    const double cx = 1000 + 60 * std::sin(k), cy = 1024 + 40 * std::cos(k);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        double v;
        if (x < 232 || x >= 1800) { px[size_t(y) * W + x] = 0; continue; }
        const double dx = (x - cx) / 520.0, dy = (y - cy) / 900.0, r2 = dx * dx + dy * dy;
        if (r2 > 1) v = 3300;  // direct exposure
        else {
          v = 1500 + 500 * std::sqrt(1 - r2) * std::cos(0.004 * y * (1 + 0.1 * (k % 3))) +
              300 * std::sin(0.011 * x + 0.002 * y + k) * std::exp(-3 * r2);
          // ribs-like bands
          v += 250 * std::exp(-std::pow(std::sin(0.02 * (y + 0.3 * x)), 2) * 8) * (1 - r2);
        }
        int noise = int((rnd() & 1023) + (rnd() & 1023) + (rnd() & 1023) + (rnd() & 1023)) - 2046;
        int s = int(v + noise / 60.0);  // sigma ~ 10
        px[size_t(y) * W + x] = uint16_t(std::min(4095, std::max(0, s)));
      }
    std::string meta, body, out(128, '\0');
    const std::string uid = "1.2.826.0.1.3680043.2.1125.1." + std::to_string(k + 1);
    el(meta, 2, 1, "OB", std::string("\0\1", 2));
    el(meta, 2, 2, "UI", "1.2.840.10008.5.1.4.1.1.1");
    el(meta, 2, 3, "UI", uid);
    el(meta, 2, 0x10, "UI", "1.2.840.10008.1.2.1");
    out += "DICM";
    std::string len{char(meta.size() & 255), char((meta.size() >> 8) & 255), 0, 0};
    el(out, 2, 0, "UL", len);
    out += meta;
    el(out, 8, 0x16, "UI", "1.2.840.10008.5.1.4.1.1.1");
    el(out, 8, 0x18, "UI", uid);
    el(out, 8, 0x60, "CS", "CR");
    el(out, 0x10, 0x10, "PN", "BENCH^PATIENT" + std::to_string(k));
    el(out, 0x28, 2, "US", us(1));
    el(out, 0x28, 4, "CS", "MONOCHROME2");
    el(out, 0x28, 0x10, "US", us(H));
    el(out, 0x28, 0x11, "US", us(W));
    el(out, 0x28, 0x100, "US", us(16));
    el(out, 0x28, 0x101, "US", us(12));
    el(out, 0x28, 0x102, "US", us(11));
    el(out, 0x28, 0x103, "US", us(0));
    el(out, 0x28, 0x1050, "DS", "2000");
    el(out, 0x28, 0x1051, "DS", "3000");
    el(out, 0x7fe0, 0x10, "OW", std::string(reinterpret_cast<const char*>(px.data()), px.size() * 2));
    char name[64];
    std::snprintf(name, sizeof name, "/cr_%03d.dcm", k + 1);
    FILE* f = std::fopen((dir + name).c_str(), "wb");
    if (!f || std::fwrite(out.data(), 1, out.size(), f) != out.size() || std::fclose(f) != 0) return 1;
  }
}
CPP
  g++ -O2 -o "$BENCH_DATA/dicom-gen" "$BENCH_DATA/dicom-gen.cpp"
  "$BENCH_DATA/dicom-gen" "$DICOM_DATA" 40
fi

side "mediabatch dicom -j2" "rm -rf $DICOM_OUT/mb && mkdir -p $DICOM_OUT/mb" \
  "$MB dicom -j 2 --progress never -q --crop 1568x2048+232+0 -o $DICOM_OUT/mb $DICOM_DATA/*.dcm"
# --fsync: each PNG and its folder flushed to the disk before it is reported ok.
side "mediabatch dicom -j2 --fsync" "rm -rf $DICOM_OUT/mbf && mkdir -p $DICOM_OUT/mbf" \
  "$MB dicom -j 2 --progress never -q --fsync --crop 1568x2048+232+0 -o $DICOM_OUT/mbf $DICOM_DATA/*.dcm"
# --verify: each PNG read back with libpng and compared (pixel hash, size, depth, pHYs) before
# its rename. Goal: at most 1.25x the wall time of the first side.
side "mediabatch dicom -j2 --verify" "rm -rf $DICOM_OUT/mbv && mkdir -p $DICOM_OUT/mbv" \
  "$MB dicom -j 2 --progress never -q --verify --crop 1568x2048+232+0 -o $DICOM_OUT/mbv $DICOM_DATA/*.dcm"
# --window 2048,4096 maps 0..4095 linearly onto 0..255: dcmj2pnm's pixels without a window.
side "mediabatch dicom -j2 --window 2048,4096" "rm -rf $DICOM_OUT/mbnw && mkdir -p $DICOM_OUT/mbnw" \
  "$MB dicom -j 2 --progress never -q --window 2048,4096 --crop 1568x2048+232+0 -o $DICOM_OUT/mbnw $DICOM_DATA/*.dcm"
side "dcmj2pnm +on +Wi 1 +C, xargs -P2" "rm -rf $DICOM_OUT/wi && mkdir -p $DICOM_OUT/wi" \
  "ls $DICOM_DATA/*.dcm | xargs -P2 -I{} sh -c 'dcmj2pnm +on +Wi 1 +C 232 0 1568 2048 \"\$1\" $DICOM_OUT/wi/\$(basename \"\$1\" .dcm).png' _ {}"
side "dcmj2pnm +on +C (no window), xargs -P2" "rm -rf $DICOM_OUT/nw && mkdir -p $DICOM_OUT/nw" \
  "ls $DICOM_DATA/*.dcm | xargs -P2 -I{} sh -c 'dcmj2pnm +on +C 232 0 1568 2048 \"\$1\" $DICOM_OUT/nw/\$(basename \"\$1\" .dcm).png' _ {}"
compare "dicom: 40 CR 2000x2048 12-bit -> PNG 1568x2048, 2 slots"

echo
echo "Same pixels, side by side (8-bit values within +-1 of each other):"
echo
echo "| outputs | PNG files | total PNG bytes | bytes / dcmj2pnm's |"
echo "|---|---|---|---|"
for pair in "mb:wi:mediabatch (file window)" "wi:wi:dcmj2pnm +Wi 1" "mbnw:nw:mediabatch --window 2048,4096" "nw:nw:dcmj2pnm (no window)"; do
  dir=${pair%%:*}; rest=${pair#*:}; ref=${rest%%:*}; label=${rest#*:}
  files=$(ls "$DICOM_OUT/$dir"/*.png 2>/dev/null | wc -l)
  bytes=$(cat "$DICOM_OUT/$dir"/*.png 2>/dev/null | wc -c)
  ref_bytes=$(cat "$DICOM_OUT/$ref"/*.png 2>/dev/null | wc -c)
  awk -v n="$label" -v f="$files" -v b="$bytes" -v r="$ref_bytes" \
    'BEGIN {printf "| %s | %d | %d | %.3f |\n", n, f, b, (r > 0 ? b / r : 0)}'
done
