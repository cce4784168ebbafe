// mediabatch thumbs: a small JPEG of each photo. JPEGs are decoded by libjpeg-turbo straight
// from the DCT at reduced scale, resampled with Lanczos-3, turned upright and re-encoded;
// other formats ImageMagick reads take the same route after a Magick++ decode.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "colour.hpp"
#include "image.hpp"
#include "jpeg_codec.hpp"
#include "magick_reader.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

namespace {

using thumbs::Image;
using thumbs::Size;

// A file descriptor that is closed on destruction; close() is the checked way to finish.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }
  int close() noexcept { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// The whole file, in an uninitialised buffer (a vector would first zero 2 MB per photo).
struct FileBytes {
  std::unique_ptr<std::uint8_t[]> data;
  std::size_t size = 0;
};

FileBytes read_whole(const fs::path& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw Error("opening " + path.string() + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw Error("reading " + path.string() + ": " + errno_text(errno));
  FileBytes bytes;
  const auto capacity = static_cast<std::size_t>(st.st_size);
  bytes.data.reset(new std::uint8_t[capacity > 0 ? capacity : 1]);
  while (bytes.size < capacity) {
    const ssize_t n = ::read(fd.get(), bytes.data.get() + bytes.size, capacity - bytes.size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error("reading " + path.string() + ": " + errno_text(errno));
    if (n == 0) break;  // shrank while we read: decode what is there
    bytes.size += static_cast<std::size_t>(n);
  }
  return bytes;
}

void write_whole(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (fd.get() < 0) throw Error("creating " + path.string() + ": " + errno_text(errno));
  const int raw = fd.get();
  std::size_t put = 0;
  while (put < bytes.size()) {
    const ssize_t n = ::write(raw, bytes.data() + put, bytes.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error("writing " + path.string() + ": " + errno_text(errno));
    put += static_cast<std::size_t>(n);
  }
  // close() can report a deferred write error (NFS, quota): check it.
  if (fd.close() != 0) throw Error("writing " + path.string() + ": " + errno_text(errno));
}

// Parses --size: "N" (a square box) or "WxH".
Size parse_size(const std::string& text) {
  auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos)
      throw UsageError("--size: expected N or WxH in pixels, got '" + text + "'");
    const int v = std::stoi(s);
    if (v < 1 || v > 65500) throw UsageError("--size: " + s + " is outside 1-65500");
    return v;
  };
  const auto x = text.find_first_of("xX");
  if (x == std::string::npos) {
    const int n = number(text);
    return {n, n};
  }
  return {number(text.substr(0, x)), number(text.substr(x + 1))};
}

class ThumbsEncoder final : public Encoder {
 public:
  std::string_view name() const override { return "thumbs"; }
  std::string_view description() const override {
    return "JPEG thumbnails of photos (JPEG; PNG, TIFF, WebP and GIF through ImageMagick)";
  }

  void add_options(CLI::App& command) override {
    command.add_option("--size", size_text_, "Fit inside N or WxH pixels, aspect kept, never enlarged")
        ->capture_default_str();
    command.add_option("--quality", quality_, "JPEG quality of the thumbnails")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
  }

  void validate() override {
    box_ = parse_size(size_text_);
    if (quality_ < 1 || quality_ > 100) throw UsageError("--quality: must be 1-100");
  }

  bool accepts(const Probe& probe) const override {
    const auto* d = reinterpret_cast<const std::uint8_t*>(probe.head.data());
    return thumbs::is_jpeg(d, probe.head.size()) || thumbs::is_magick_format(d, probe.head.size());
  }

  std::string reject_reason(const Probe&) const override {
    return "not a JPEG, PNG, TIFF, WebP or GIF image";
  }

  fs::path output_name(const fs::path& input) const override {
    return input.stem().string() + "_thumbnail.jpg";
  }

  void encode(EncodeContext& ctx) const override {
    const auto check_stop = [&ctx] {
      ctx.throw_if_stopped();
    };
    const FileBytes file = read_whole(ctx.input());
    const std::uint8_t* bytes = file.data.get();
    check_stop();

    Image image;
    std::vector<std::uint8_t> icc;
    if (thumbs::is_jpeg(bytes, file.size)) {
      thumbs::DecodedJpeg d = thumbs::decode_jpeg(bytes, file.size, box_, check_stop);
      for (const auto& w : d.warnings) ctx.warn(w);
      const Size shown = thumbs::fit_inside(thumbs::oriented_size(d.full, d.orientation), box_);
      const Size stored = thumbs::oriented_size(shown, d.orientation);
      // Rotating after the resize moves 40x fewer pixels than before it.
      image = thumbs::orient(thumbs::resize(d.image, stored.width, stored.height), d.orientation);
      icc = std::move(d.icc);
    } else if (thumbs::is_magick_format(bytes, file.size)) {
      thumbs::MagickDecoded d = thumbs::magick_decode(bytes, file.size);
      for (const auto& w : d.warnings) ctx.warn(w);
      check_stop();
      const Size shown = thumbs::fit_inside({d.image.width, d.image.height}, box_);
      image = thumbs::resize(d.image, shown.width, shown.height);
      icc = std::move(d.icc);
    } else {
      throw Error("not a JPEG, PNG, TIFF, WebP or GIF image");
    }
    check_stop();

    std::string note;
    image = thumbs::to_output_colour(std::move(image), icc, &note);
    if (!note.empty()) ctx.warn(note);
    write_whole(ctx.temp_output(), thumbs::encode_jpeg(image, quality_));
  }

 private:
  std::string size_text_ = "128";
  int quality_ = 85;
  Size box_{128, 128};
};

}  // namespace

std::unique_ptr<Encoder> make_thumbs_encoder() {
  static std::once_flag magick_once;
  std::call_once(magick_once, thumbs::magick_init);
  return std::make_unique<ThumbsEncoder>();
}

}  // namespace mediabatch
