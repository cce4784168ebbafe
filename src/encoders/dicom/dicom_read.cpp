#include "dicom_read.hpp"

#include <gdcmGlobal.h>
#include <gdcmImage.h>
#include <gdcmImageHelper.h>
#include <gdcmImageReader.h>
#include <gdcmLookupTable.h>
#include <gdcmReader.h>
#include <gdcmTrace.h>
#include <gdcmTransferSyntax.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>

#include "dicom_lengths.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::dicom {

DicomImage::DicomImage() = default;
DicomImage::~DicomImage() = default;
DicomImage::DicomImage(DicomImage&&) noexcept = default;

namespace {

using PI = gdcm::PhotometricInterpretation;

std::string transfer_syntax_of(const gdcm::Reader& reader) {
  const char* ts = gdcm::TransferSyntax::GetTSString(
      reader.GetFile().GetHeader().GetDataSetTransferSyntax());
  return ts ? ts : "unknown transfer syntax";
}

// Tells a DICOM object without an image (a structured report, an RT plan), which is skipped,
// from a file GDCM cannot read.
[[noreturn]] void explain_unreadable(const std::string& path) {
  gdcm::Reader plain;
  plain.SetFileName(path.c_str());
  if (!plain.Read()) throw Error("GDCM could not parse the file as DICOM");
  const gdcm::DataSet& ds = plain.GetFile().GetDataSet();
  if (!ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0010)) &&
      !ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0008)) &&
      !ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0009)))
    throw Skip("no pixel data");
  throw Error("GDCM could not read the image (" + transfer_syntax_of(plain) + ")");
}

std::unique_ptr<gdcm::ImageReader> open_image(const fs::path& input) {
  check_value_lengths(input);
  const std::string path = input.string();
  auto reader = std::make_unique<gdcm::ImageReader>();
  reader->SetFileName(path.c_str());
  if (!reader->Read()) explain_unreadable(path);
  return reader;
}

// GDCM fills uncompressed pixel data cut short by a truncated file with zeros: a file smaller
// than its own Pixel Data value is corrupt, not an image with black rows. (A deflated data
// set is smaller than its values by design.)
void check_not_truncated(const fs::path& input, const gdcm::ImageReader& reader) {
  if (reader.GetFile().GetHeader().GetDataSetTransferSyntax() == gdcm::TransferSyntax::DeflatedExplicitVRLittleEndian)
    return;
  const gdcm::ByteValue* pixel_data = reader.GetImage().GetDataElement().GetByteValue();
  std::error_code ec;
  const std::uintmax_t file_size = fs::file_size(input, ec);
  if (pixel_data && !ec && file_size < pixel_data->GetLength())
    throw Error("truncated file: Pixel Data needs " + std::to_string(pixel_data->GetLength()) +
                " bytes, the file has " + std::to_string(file_size));
}

// Uncompressed little-endian grayscale is read where GDCM already holds it: GetBuffer() would
// only copy the same bytes (8 MB per radiograph) and mask bits we mask anyway.
bool use_stored_pixels(const gdcm::ImageReader& reader, DicomImage& d) {
  const gdcm::Image& image = reader.GetImage();
  const gdcm::TransferSyntax::TSType ts = reader.GetFile().GetHeader().GetDataSetTransferSyntax();
  const gdcm::PixelFormat& pf = image.GetPixelFormat();
  const PI::PIType pi = image.GetPhotometricInterpretation();
  const gdcm::ByteValue* bv = image.GetDataElement().GetByteValue();
  const std::size_t sample_bytes = pf.GetBitsAllocated() / 8;
  if ((ts == gdcm::TransferSyntax::ExplicitVRLittleEndian ||
       ts == gdcm::TransferSyntax::ImplicitVRLittleEndian) &&
      (pi == PI::MONOCHROME1 || pi == PI::MONOCHROME2) && pf.GetSamplesPerPixel() == 1 &&
      (pf.GetBitsAllocated() == 8 || pf.GetBitsAllocated() == 16) && bv && bv->GetPointer() &&
      bv->GetLength() >= std::size_t{d.width} * d.height * sample_bytes) {
    d.data = bv->GetPointer();
    d.data_size = bv->GetLength();
    return true;
  }
  return false;
}

// Rows x Columns x Number of Frames as the header claims them, before anything is decoded:
// GDCM decodes every frame into one buffer (and its codecs into one more of their own).
void check_max_pixels(unsigned width, unsigned height, unsigned frames, const gdcm::PixelFormat& pf,
                      std::uint64_t max_pixels) {
  const std::uint64_t pixels = std::uint64_t{width} * height * frames;
  const std::string size = std::to_string(width) + "x" + std::to_string(height) +
                           (frames > 1 ? " x " + std::to_string(frames) + " frames" : std::string());
  if (max_pixels != 0 && pixels > max_pixels)
    throw Error("image is " + size + " (" + megapixels_text(pixels) + "), above --max-pixels " +
                std::to_string(max_pixels));
  // Bitmap::GetBufferLength() multiplies in 32 bits: past 4 GiB it would wrap to a short buffer.
  // (Not PixelFormat::GetPixelSize(), which asserts on 1-bit pixels.)
  if (pixels * ((pf.GetBitsAllocated() + 7u) / 8) * pf.GetSamplesPerPixel() > UINT32_MAX)
    throw Error("image is " + size + ": more than the 4 GiB GDCM can decode into one buffer");
}

void decode_pixels(const gdcm::ImageReader& reader, DicomImage& d) {
  const gdcm::Image& image = reader.GetImage();
  d.buffer.resize(image.GetBufferLength());
  if (d.buffer.empty() || !image.GetBuffer(d.buffer.data()))
    throw Error("GDCM could not decode the pixel data (" + transfer_syntax_of(reader) + ")");
  d.data = d.buffer.data();
  d.data_size = d.buffer.size();
}

// Read after decoding: codecs may update the description (JPEG YBR -> RGB).
void read_pixel_format(const gdcm::Image& image, DicomImage& d) {
  const gdcm::PixelFormat& pf = image.GetPixelFormat();
  d.samples = pf.GetSamplesPerPixel();
  d.bits_allocated = pf.GetBitsAllocated();
  d.bits_stored = pf.GetBitsStored();
  d.high_bit = pf.GetHighBit();
  d.is_signed = pf.GetPixelRepresentation() == 1;
  d.planar = image.GetPlanarConfiguration() == 1;
  d.pi = image.GetPhotometricInterpretation();
  d.slope = image.GetSlope();
  d.intercept = image.GetIntercept();
  if (d.bits_stored == 0 || d.bits_stored > d.bits_allocated) d.bits_stored = d.bits_allocated;
  if (d.bits_allocated != 8 && d.bits_allocated != 16 && d.bits_allocated != 32)
    throw Error("unsupported Bits Allocated " + std::to_string(d.bits_allocated));
}

// Backslash-separated DS values; the first one.
std::optional<double> first_ds(const gdcm::DataSet& ds, const gdcm::Tag& tag) {
  if (!ds.FindDataElement(tag)) return std::nullopt;
  const gdcm::ByteValue* bv = ds.GetDataElement(tag).GetByteValue();
  if (!bv || bv->GetLength() == 0) return std::nullopt;
  std::string s(bv->GetPointer(), bv->GetLength());
  s = s.substr(0, s.find('\\'));
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return std::nullopt;
  return v;
}

// The file's first window (0028,1050/1051) and its VOI LUT Function (0028,1056).
void read_voi(const gdcm::DataSet& ds, DicomImage& d) {
  const auto c = first_ds(ds, gdcm::Tag(0x0028, 0x1050));
  const auto w = first_ds(ds, gdcm::Tag(0x0028, 0x1051));
  if (c && w && *w >= 1) d.file_window = Window{*c, *w};
  const gdcm::Tag function_tag(0x0028, 0x1056);
  if (!ds.FindDataElement(function_tag)) return;
  const gdcm::ByteValue* bv = ds.GetDataElement(function_tag).GetByteValue();
  if (!bv) return;
  std::string f(bv->GetPointer(), bv->GetLength());
  f.erase(f.find_last_not_of(std::string(" \0", 2)) + 1);
  if (f == "SIGMOID") d.file_function = VoiFunction::sigmoid;
  else if (f == "LINEAR_EXACT") d.file_function = VoiFunction::linear_exact;
}

void check_photometric(const gdcm::Image& image, DicomImage& d) {
  if (d.pi == PI::PALETTE_COLOR) d.lut = &image.GetLUT();
  if (d.gray() && d.samples != 1)
    throw Error("monochrome image with " + std::to_string(d.samples) + " samples per pixel");
  if (!d.gray() && d.pi != PI::PALETTE_COLOR && d.samples != 3)
    throw Error(std::string("unsupported photometric interpretation ") + PI::GetPIString(d.pi));
}

// Uncompressed YBR_FULL_422 keeps two bytes per pixel (Y Y Cb Cr per pair): upsample it.
void unpack_ybr_full_422(DicomImage& d) {
  const std::size_t pixels = static_cast<std::size_t>(d.width) * d.height;
  if (d.pi != PI::YBR_FULL_422 || d.bits_allocated != 8 || d.data_size >= d.frame_bytes * d.frames ||
      d.data_size < pixels * 2 * d.frames || d.width % 2 != 0)
    return;
  std::vector<char> full(d.frame_bytes * d.frames);
  for (std::size_t p = 0; p + 1 < pixels * d.frames; p += 2) {
    const char* s = d.data + 2 * p;
    char* o = full.data() + 3 * p;
    o[0] = s[0]; o[1] = s[2]; o[2] = s[3];
    o[3] = s[1]; o[4] = s[2]; o[5] = s[3];
  }
  d.buffer.swap(full);
  d.data = d.buffer.data();
  d.data_size = d.buffer.size();
  d.planar = false;
}

void count_frames(DicomImage& d, EncodeContext& ctx) {
  if (d.data_size < d.frame_bytes) throw Error("decoded pixel data is shorter than one frame");
  const unsigned available = static_cast<unsigned>(d.data_size / d.frame_bytes);
  if (available < d.frames) {
    ctx.warn("pixel data holds " + std::to_string(available) + " of " + std::to_string(d.frames) + " frames");
    d.frames = available;
  }
}

}  // namespace

DicomImage read_dicom(EncodeContext& ctx, std::uint64_t max_pixels) {
  DicomImage d;
  d.reader = open_image(ctx.input());
  ctx.throw_if_stopped();

  const gdcm::Image& image = d.reader->GetImage();
  const unsigned* dims = image.GetDimensions();
  d.width = dims[0];
  d.height = dims[1];
  d.frames = image.GetNumberOfDimensions() > 2 ? std::max(1u, dims[2]) : 1u;
  if (d.width == 0 || d.height == 0) throw Error("image has no rows or columns");
  check_max_pixels(d.width, d.height, d.frames, image.GetPixelFormat(), max_pixels);

  check_not_truncated(ctx.input(), *d.reader);
  if (!use_stored_pixels(*d.reader, d)) decode_pixels(*d.reader, d);
  ctx.throw_if_stopped();

  read_pixel_format(image, d);
  read_voi(d.reader->GetFile().GetDataSet(), d);
  check_photometric(image, d);
  d.frame_bytes = static_cast<std::size_t>(d.width) * d.height * d.samples * (d.bits_allocated / 8);
  unpack_ybr_full_422(d);
  count_frames(d, ctx);
  return d;
}

unsigned planned_frames(const fs::path& input, std::uint64_t max_pixels) {
  try {
    check_value_lengths(input);  // before GDCM allocates what the header claims
    gdcm::Reader reader;
    reader.SetFileName(input.c_str());
    // The header only: the reader stops at the pixel data, a few KB into a file of megabytes.
    if (!reader.ReadUpToTag(gdcm::Tag(0x7fe0, 0x0010))) return 1;
    // How gdcm::ImageReader counts them (Number of Frames, or the ACR-NEMA dimensions).
    const std::vector<unsigned> dims = gdcm::ImageHelper::GetDimensionsValue(reader.GetFile());
    const unsigned frames = std::max(1u, dims[2]);
    check_max_pixels(dims[0], dims[1], frames, gdcm::ImageHelper::GetPixelFormatValue(reader.GetFile()),
                     max_pixels);
    // Every frame takes at least a byte of the file: a header claiming more frames is wrong
    // (read_dicom() takes those the pixel data holds), and no list that long is made.
    std::error_code ec;
    const std::uintmax_t file_size = fs::file_size(input, ec);
    return ec || frames > file_size ? 1 : frames;
  } catch (const Error&) {
    return 1;  // read_dicom() fails on it, with the reason
  }
}

void prepare_gdcm() {
  // GDCM's dictionaries are built once; its warnings would go to stderr from worker threads and
  // garble the progress display, so the reasons we throw carry the context instead.
  static std::once_flag once;
  std::call_once(once, [] {
    gdcm::Trace::WarningOff();
    gdcm::Trace::ErrorOff();
    gdcm::Trace::DebugOff();
    (void)gdcm::Global::GetInstance().GetDicts();
  });
}

}  // namespace mediabatch::dicom
