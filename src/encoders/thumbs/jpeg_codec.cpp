#include "jpeg_codec.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include "header.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch::thumbs {

namespace {

// libjpeg reports fatal errors through error_exit, which must not return. We throw: on
// x86-64 Linux every libjpeg frame has unwind tables, the library keeps all its state in
// the j_common struct, and jpeg_destroy_*() in our destructors releases it. That keeps
// setjmp/longjmp (and its rules on locals) out of C++ code.
struct JpegFailure {
  std::string message;
};

struct ErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg sees only this
  std::vector<std::string>* warnings = nullptr;
};

[[noreturn]] void error_exit(j_common_ptr cinfo) {
  char buffer[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buffer);
  throw JpegFailure{buffer};
}

// Level -1 is a corrupt-data warning ("Premature end of JPEG file"); keep each distinct one.
// Trace messages (level >= 0) are ignored.
void emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  err->pub.num_warnings++;
  if (!err->warnings || err->warnings->size() >= 4) return;
  char buffer[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buffer);
  for (const auto& w : *err->warnings)
    if (w == buffer) return;
  err->warnings->emplace_back(buffer);
}

void install(ErrorManager& err) {
  jpeg_std_error(&err.pub);
  err.pub.error_exit = error_exit;
  err.pub.emit_message = emit_message;
}

class Decompressor {
 public:
  explicit Decompressor(std::vector<std::string>* warnings) {
    install(err_);
    err_.warnings = warnings;
    cinfo.err = &err_.pub;
    jpeg_create_decompress(&cinfo);
  }
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
  jpeg_decompress_struct cinfo{};

 private:
  ErrorManager err_;
};

class Compressor {
 public:
  Compressor() {
    install(err_);
    cinfo.err = &err_.pub;
    jpeg_create_compress(&cinfo);
  }
  ~Compressor() { jpeg_destroy_compress(&cinfo); }
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;
  jpeg_compress_struct cinfo{};

 private:
  ErrorManager err_;
};

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};
using MallocBuffer = std::unique_ptr<JOCTET, FreeDeleter>;

// A destination manager writing into a std::vector, so nothing leaks if compression fails.
struct VectorDestination {
  jpeg_destination_mgr pub;  // first member
  std::vector<std::uint8_t>* out;
};

void init_destination(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<VectorDestination*>(cinfo->dest);
  d->out->resize(16384);
  d->pub.next_output_byte = d->out->data();
  d->pub.free_in_buffer = d->out->size();
}

boolean empty_output_buffer(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<VectorDestination*>(cinfo->dest);
  const std::size_t used = d->out->size();  // libjpeg calls this only when the buffer is full
  d->out->resize(used * 2);
  d->pub.next_output_byte = d->out->data() + used;
  d->pub.free_in_buffer = d->out->size() - used;
  return TRUE;
}

void term_destination(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<VectorDestination*>(cinfo->dest);
  d->out->resize(d->out->size() - d->pub.free_in_buffer);
}

std::uint16_t get16(const std::uint8_t* p, bool le) noexcept {
  return le ? static_cast<std::uint16_t>(p[0] | p[1] << 8) : static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t get32(const std::uint8_t* p, bool le) noexcept {
  return le ? (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24)
            : (std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]});
}

}  // namespace

bool is_jpeg(const std::uint8_t* data, std::size_t size) noexcept {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

int exif_orientation(const std::uint8_t* data, std::size_t size) noexcept {
  if (size < 8) return 1;
  bool le;
  if (std::memcmp(data, "II\x2A\x00", 4) == 0) le = true;
  else if (std::memcmp(data, "MM\x00\x2A", 4) == 0) le = false;
  else return 1;
  const std::uint32_t ifd = get32(data + 4, le);
  if (ifd > size || size - ifd < 2) return 1;
  const unsigned entries = get16(data + ifd, le);
  for (unsigned i = 0; i < entries; ++i) {
    const std::size_t at = ifd + 2 + std::size_t{12} * i;
    if (at + 12 > size) return 1;
    if (get16(data + at, le) != 0x0112) continue;
    const std::uint16_t type = get16(data + at + 2, le);
    const int v = type == 3 ? get16(data + at + 8, le) : type == 4 ? static_cast<int>(get32(data + at + 8, le)) : 0;
    return v >= 1 && v <= 8 ? v : 1;
  }
  return 1;
}

DecodedJpeg decode_jpeg(const std::uint8_t* data, std::size_t size, Size box, std::uint64_t max_pixels,
                        const std::function<void()>& check_stop) {
  DecodedJpeg out;
  Decompressor d(&out.warnings);
  jpeg_decompress_struct& cinfo = d.cinfo;
  try {
    jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);  // EXIF, for the orientation
    jpeg_save_markers(&cinfo, JPEG_APP0 + 2, 0xFFFF);  // ICC profile chunks
    jpeg_read_header(&cinfo, TRUE);
    // The stored size, not the reduced DCT scale we decode at: a progressive or multi-scan
    // JPEG keeps every coefficient of the stored image in memory whatever the scale.
    check_max_pixels({cinfo.image_width, cinfo.image_height}, max_pixels);

    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
      if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && std::memcmp(m->data, "Exif\0\0", 6) == 0) {
        out.orientation = exif_orientation(m->data + 6, m->data_length - 6);
        break;
      }
    }
    JOCTET* icc = nullptr;
    unsigned icc_len = 0;
    if (jpeg_read_icc_profile(&cinfo, &icc, &icc_len)) {
      MallocBuffer owned(icc);
      out.icc.assign(icc, icc + icc_len);
    }

    out.full = {static_cast<int>(cinfo.image_width), static_cast<int>(cinfo.image_height)};
    // The thumbnail's size in stored (unrotated) orientation.
    const Size shown = fit_inside(oriented_size(out.full, out.orientation), box);
    const Size need = oriented_size(shown, out.orientation);

    switch (cinfo.jpeg_color_space) {
      case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
      case JCS_CMYK:
      case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
      default: cinfo.out_color_space = JCS_RGB; break;
    }
    // Only 1/8, 1/4, 1/2 and 1/1: libjpeg-turbo has SIMD for these and they are good
    // low-pass filters (1/8 is the exact 8x8 block mean). The odd M/8 IDCTs ring at block
    // edges: 3/8 scored 31 dB against vipsthumbnail on a noisy 500x375 photo, 1/2 scored 39.
    cinfo.scale_denom = 8;
    for (unsigned m = 1; m <= 8; m *= 2) {
      cinfo.scale_num = m;
      jpeg_calc_output_dimensions(&cinfo);
      if (static_cast<int>(cinfo.output_width) >= need.width && static_cast<int>(cinfo.output_height) >= need.height)
        break;
    }

    jpeg_start_decompress(&cinfo);
    out.image = Image(static_cast<int>(cinfo.output_width), static_cast<int>(cinfo.output_height),
                      cinfo.output_components);
    std::vector<JSAMPROW> rows(out.image.height);
    for (int y = 0; y < out.image.height; ++y) rows[y] = out.image.row(y);
    while (cinfo.output_scanline < cinfo.output_height) {
      if (check_stop) check_stop();
      jpeg_read_scanlines(&cinfo, rows.data() + cinfo.output_scanline, cinfo.output_height - cinfo.output_scanline);
    }
    jpeg_finish_decompress(&cinfo);

    // CMYK JPEGs store inverted inks: Adobe's software writes them so, and almost every CMYK
    // JPEG comes from it. libvips (since 8.8) and ImageMagick invert with or without the
    // Adobe marker, and so do we.
    if (cinfo.out_color_space == JCS_CMYK)
      for (auto& v : out.image.pixels) v = static_cast<std::uint8_t>(255 - v);
  } catch (const JpegFailure& f) {
    throw Error("decoding JPEG: " + f.message);
  }
  return out;
}

std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality, const std::vector<std::uint8_t>& icc) {
  std::vector<std::uint8_t> bytes;
  Compressor c;
  jpeg_compress_struct& cinfo = c.cinfo;
  VectorDestination dest{};
  dest.pub.init_destination = init_destination;
  dest.pub.empty_output_buffer = empty_output_buffer;
  dest.pub.term_destination = term_destination;
  dest.out = &bytes;
  try {
    cinfo.dest = &dest.pub;
    cinfo.image_width = static_cast<JDIMENSION>(image.width);
    cinfo.image_height = static_cast<JDIMENSION>(image.height);
    cinfo.input_components = image.channels;
    cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    // Like libvips: full-resolution chroma from quality 90 up, 4:2:0 below.
    if (image.channels == 3 && quality >= 90) cinfo.comp_info[0].h_samp_factor = cinfo.comp_info[0].v_samp_factor = 1;
    jpeg_start_compress(&cinfo, TRUE);
    if (!icc.empty()) jpeg_write_icc_profile(&cinfo, icc.data(), static_cast<unsigned>(icc.size()));
    while (cinfo.next_scanline < cinfo.image_height) {
      JSAMPROW row = const_cast<JSAMPROW>(image.row(static_cast<int>(cinfo.next_scanline)));
      jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
  } catch (const JpegFailure& f) {
    throw Error("encoding JPEG: " + f.message);
  }
  return bytes;
}

}  // namespace mediabatch::thumbs
