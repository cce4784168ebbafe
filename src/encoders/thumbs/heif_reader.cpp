#include "heif_reader.hpp"

#include <lcms2.h>
#include <libheif/heif.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>

#include "header.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch::thumbs {

namespace {

struct ContextFree {
  void operator()(heif_context* c) const noexcept { heif_context_free(c); }
};
using Context = std::unique_ptr<heif_context, ContextFree>;

struct HandleRelease {
  void operator()(heif_image_handle* h) const noexcept { heif_image_handle_release(h); }
};
using Handle = std::unique_ptr<heif_image_handle, HandleRelease>;

struct ImageRelease {
  void operator()(heif_image* i) const noexcept { heif_image_release(i); }
};
using HeifImage = std::unique_ptr<heif_image, ImageRelease>;

struct DecodingOptionsFree {
  void operator()(heif_decoding_options* o) const noexcept { heif_decoding_options_free(o); }
};
using DecodingOptions = std::unique_ptr<heif_decoding_options, DecodingOptionsFree>;

struct NclxFree {
  void operator()(heif_color_profile_nclx* n) const noexcept { heif_nclx_color_profile_free(n); }
};
using Nclx = std::unique_ptr<heif_color_profile_nclx, NclxFree>;

struct ProfileClose {
  void operator()(void* p) const noexcept { cmsCloseProfile(p); }
};
using Profile = std::unique_ptr<std::remove_pointer_t<cmsHPROFILE>, ProfileClose>;

struct ToneCurveFree {
  void operator()(cmsToneCurve* c) const noexcept { cmsFreeToneCurve(c); }
};
using ToneCurve = std::unique_ptr<cmsToneCurve, ToneCurveFree>;

// "HEIF: " and libheif's message, some of which end with a newline.
std::string message_of(const heif_error& e) {
  std::string m = std::string("HEIF: ") + e.message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

void check(heif_error e) {
  if (e.code != heif_error_Ok) throw Error(message_of(e));
}

std::uint32_t be16(const std::uint8_t* p) noexcept { return std::uint32_t{p[0]} << 8 | p[1]; }
std::uint32_t be32(const std::uint8_t* p) noexcept { return be16(p) << 16 | be16(p + 2); }
constexpr std::uint32_t fourcc(const char (&s)[5]) noexcept {
  return std::uint32_t(std::uint8_t(s[0])) << 24 | std::uint32_t(std::uint8_t(s[1])) << 16 |
         std::uint32_t(std::uint8_t(s[2])) << 8 | std::uint8_t(s[3]);
}

// Whether the ftyp box at the start names one of `brands`, as its major or a compatible brand.
template <std::size_t N>
bool has_brand(const std::uint8_t* d, std::size_t n, const std::uint32_t (&brands)[N]) noexcept {
  if (n < 16 || std::memcmp(d + 4, "ftyp", 4) != 0) return false;
  auto listed = [&](std::uint32_t brand) {
    for (std::uint32_t b : brands)
      if (b == brand) return true;
    return false;
  };
  if (listed(be32(d + 8))) return true;
  const std::size_t end = std::min<std::size_t>(n, be32(d));
  for (std::size_t at = 16; at + 4 <= end; at += 4)  // after the major brand and minor version
    if (listed(be32(d + at))) return true;
  return false;
}

bool is_avif(const std::uint8_t* d, std::size_t n) noexcept {
  return has_brand(d, n, {fourcc("avif"), fourcc("avis")});
}

// ---- item properties: which transformations libheif applies to an item --------------------

struct Box {
  std::uint32_t type = 0;
  const std::uint8_t* data = nullptr;  // the payload, after the header
  std::size_t size = 0;
};

// The boxes that fill [d, d + n), up to the first that does not fit.
std::vector<Box> children(const std::uint8_t* d, std::size_t n) {
  std::vector<Box> out;
  while (n >= 8) {
    std::uint64_t length = be32(d);
    std::size_t header = 8;
    if (length == 1) {  // a 64-bit size follows the type
      if (n < 16) break;
      length = std::uint64_t{be32(d + 8)} << 32 | be32(d + 12);
      header = 16;
    } else if (length == 0) {  // up to the end of the container
      length = n;
    }
    if (length < header || length > n) break;
    out.push_back({be32(d + 4), d + header, static_cast<std::size_t>(length) - header});
    d += length;
    n -= static_cast<std::size_t>(length);
  }
  return out;
}

std::string type_name(std::uint32_t type) {
  return {static_cast<char>(type >> 24), static_cast<char>(type >> 16), static_cast<char>(type >> 8),
          static_cast<char>(type)};
}

const Box* find(const std::vector<Box>& boxes, std::uint32_t type) {
  for (const Box& b : boxes)
    if (b.type == type) return &b;
  return nullptr;
}

// The transformative properties (irot, imir, clap) associated with an item, each as its type
// and payload, in the order they apply; nothing when the item properties cannot be read.
// libheif 1.15 applies them but has no call that tells which an item has.
std::optional<std::vector<std::string>> transformations(const std::uint8_t* data, std::size_t size,
                                                        heif_item_id item) {
  const std::vector<Box> top = children(data, size);
  const Box* meta = find(top, fourcc("meta"));
  if (!meta || meta->size < 4) return std::nullopt;
  const std::vector<Box> in_meta = children(meta->data + 4, meta->size - 4);  // after version and flags
  const Box* iprp = find(in_meta, fourcc("iprp"));
  if (!iprp) return std::nullopt;
  const std::vector<Box> in_iprp = children(iprp->data, iprp->size);
  const Box* ipco = find(in_iprp, fourcc("ipco"));
  if (!ipco) return std::nullopt;
  const std::vector<Box> properties = children(ipco->data, ipco->size);

  std::vector<std::string> found;
  for (const Box& ipma : in_iprp) {  // there may be several (one per version and flags)
    if (ipma.type != fourcc("ipma")) continue;
    const std::uint8_t* p = ipma.data;
    std::size_t left = ipma.size;
    if (left < 8) return std::nullopt;
    const std::size_t id_size = p[0] >= 1 ? 4 : 2, index_size = (p[3] & 1) ? 2 : 1;
    std::uint32_t entries = be32(p + 4);
    p += 8, left -= 8;
    for (; entries > 0; --entries) {
      if (left < id_size + 1) return std::nullopt;
      const std::uint32_t id = id_size == 4 ? be32(p) : be16(p);
      const std::size_t count = p[id_size];
      p += id_size + 1, left -= id_size + 1;
      if (left < count * index_size) return std::nullopt;
      for (std::size_t i = 0; i < count; ++i, p += index_size, left -= index_size) {
        if (id != item) continue;
        // The top bit says whether the property is essential; index 0 is no property.
        const std::size_t index = index_size == 2 ? be16(p) & 0x7FFF : p[0] & 0x7F;
        if (index == 0) continue;
        if (index > properties.size()) return std::nullopt;
        const Box& property = properties[index - 1];
        if (property.type == fourcc("irot") || property.type == fourcc("imir") || property.type == fourcc("clap"))
          found.push_back(type_name(property.type) +
                          std::string(reinterpret_cast<const char*>(property.data), property.size));
      }
    }
  }
  return found;
}

bool has_clap(const std::vector<std::string>& transforms) {
  for (const std::string& t : transforms)
    if (t.compare(0, 4, "clap") == 0) return true;
  return false;
}

// ---- colour --------------------------------------------------------------------------------

struct Colour {
  std::vector<std::uint8_t> icc;  // empty when none
  Nclx nclx;                      // null when none
};

Colour colour_of(const heif_image_handle* h) {
  Colour c;
  if (const std::size_t n = heif_image_handle_get_raw_color_profile_size(h); n > 0) {
    c.icc.resize(n);
    check(heif_image_handle_get_raw_color_profile(h, c.icc.data()));
  }
  heif_color_profile_nclx* nclx = nullptr;
  if (heif_image_handle_get_nclx_color_profile(h, &nclx).code == heif_error_Ok) c.nclx.reset(nclx);
  return c;
}

// Whether a thumbnail item's pixels are in the primary image's colour: it has the same colour
// profile, or none of its own (heif-enc 1.15 gives the thumbnail item no colr box). libheif
// applies each item's own matrix coefficients and range; primaries and transfer are ours.
bool same_colour(const Colour& thumbnail, const Colour& primary) {
  if (thumbnail.icc.empty() && !thumbnail.nclx) return true;
  if (thumbnail.icc != primary.icc || !thumbnail.nclx != !primary.nclx) return false;
  return !thumbnail.nclx || (thumbnail.nclx->color_primaries == primary.nclx->color_primaries &&
                             thumbnail.nclx->transfer_characteristics == primary.nclx->transfer_characteristics);
}

// An ICC profile for nclx colour that is not sRGB (Display P3 or BT.2020 primaries, a linear
// curve), built from the primaries and white point libheif decodes, for the colour path to
// convert from; empty for sRGB. The SDR camera curves (BT.709, BT.601, BT.2020) are taken as
// the sRGB curve, as browsers show such photos. PQ and HLG are not tone-mapped (noted).
std::vector<std::uint8_t> nclx_profile(const heif_color_profile_nclx& nclx, std::vector<std::string>& warnings) {
  double gamma = 0;  // 0: the sRGB curve
  switch (nclx.transfer_characteristics) {
    case heif_transfer_characteristic_linear: gamma = 1.0; break;
    case heif_transfer_characteristic_ITU_R_BT_470_6_System_M: gamma = 2.2; break;
    case heif_transfer_characteristic_ITU_R_BT_470_6_System_B_G: gamma = 2.8; break;
    case heif_transfer_characteristic_ITU_R_BT_2100_0_PQ:
    case heif_transfer_characteristic_ITU_R_BT_2100_0_HLG:
      warnings.emplace_back("HDR image (PQ or HLG transfer) shown without tone mapping");
      break;
    default: break;
  }
  const bool srgb_primaries = nclx.color_primaries == heif_color_primaries_ITU_R_BT_709_5 ||
                              nclx.color_primaries == heif_color_primaries_unspecified;
  if (srgb_primaries && gamma == 0) return {};

  const cmsCIExyY white{nclx.color_primary_white_x, nclx.color_primary_white_y, 1.0};
  const cmsCIExyYTRIPLE primaries{{nclx.color_primary_red_x, nclx.color_primary_red_y, 1.0},
                                  {nclx.color_primary_green_x, nclx.color_primary_green_y, 1.0},
                                  {nclx.color_primary_blue_x, nclx.color_primary_blue_y, 1.0}};
  const cmsFloat64Number srgb_curve[5] = {2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045};  // IEC 61966-2-1
  const ToneCurve curve(gamma > 0 ? cmsBuildGamma(nullptr, gamma)
                                  : cmsBuildParametricToneCurve(nullptr, 4, srgb_curve));
  cmsToneCurve* const curves[3] = {curve.get(), curve.get(), curve.get()};
  const Profile profile(curve ? cmsCreateRGBProfile(&white, &primaries, curves) : nullptr);
  cmsUInt32Number n = 0;
  std::vector<std::uint8_t> icc;
  if (profile && cmsSaveProfileToMem(profile.get(), nullptr, &n) && n > 0) {
    icc.resize(n);
    if (!cmsSaveProfileToMem(profile.get(), icc.data(), &n)) icc.clear();
  }
  if (icc.empty()) warnings.emplace_back("nclx colour (primaries " + std::to_string(nclx.color_primaries) +
                                         ") cannot be converted; taken as sRGB");
  return icc;
}

// ---- decoding ------------------------------------------------------------------------------

// The smallest thumbnail item that covers `target` and shows what the primary shows: the same
// aspect (Sony and Canon pad small thumbnails with black bars), rotation and mirroring (libheif
// applies an item's own transformations, and a writer may give them to the primary alone),
// colour and alpha, and no crop (a clap is in its own item's pixels); null when none. The
// primary's colour profile then applies to it.
Handle usable_thumbnail(const std::uint8_t* data, std::size_t size, heif_item_id primary_id,
                        const heif_image_handle* primary, const Colour& colour, Size full, Size target) {
  const int count = heif_image_handle_get_number_of_thumbnails(primary);
  if (count <= 0) return {};
  const auto shown = transformations(data, size, primary_id);
  if (!shown || has_clap(*shown)) return {};
  std::vector<heif_item_id> ids(static_cast<std::size_t>(count));
  ids.resize(static_cast<std::size_t>(heif_image_handle_get_list_of_thumbnail_IDs(primary, ids.data(), count)));
  Handle best;
  Size best_size;
  for (heif_item_id id : ids) {
    heif_image_handle* h = nullptr;
    if (heif_image_handle_get_thumbnail(primary, id, &h).code != heif_error_Ok) continue;
    Handle candidate(h);
    const Size s{heif_image_handle_get_width(h), heif_image_handle_get_height(h)};
    if (s.width < target.width || s.height < target.height || (best && s.width >= best_size.width)) continue;
    const Size scaled = fit_inside(full, s);
    if (std::abs(scaled.width - s.width) > 1 || std::abs(scaled.height - s.height) > 1) continue;
    if (transformations(data, size, id) != shown) continue;
    if (heif_image_handle_has_alpha_channel(h) != heif_image_handle_has_alpha_channel(primary)) continue;
    if (!same_colour(colour_of(h), colour)) continue;
    best = std::move(candidate);
    best_size = s;
  }
  return best;
}

// Decodes to 8-bit RGB, upright, with straight alpha when the image has an alpha channel.
Image decode_rgb(const heif_image_handle* handle, bool av1, std::vector<std::string>& warnings) {
  const bool alpha = heif_image_handle_has_alpha_channel(handle) != 0;
  const DecodingOptions options(heif_decoding_options_alloc());
  if (!options) throw std::bad_alloc();
  // libheif 1.15 starts dav1d, its preferred AV1 decoder, with no thread count, and dav1d
  // then runs a thread per core; libaom decodes on the calling thread.
  if (av1) options->decoder_id = "aom";
  heif_image* decoded = nullptr;
  check(heif_decode_image(handle, &decoded, heif_colorspace_RGB,
                          alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, options.get()));
  const HeifImage img(decoded);
  heif_error warning;
  for (int i = 0; heif_image_get_decoding_warnings(img.get(), i, &warning, 1) == 1; ++i)
    warnings.push_back(message_of(warning));

  int stride = 0;
  const std::uint8_t* src = heif_image_get_plane_readonly(img.get(), heif_channel_interleaved, &stride);
  const int w = heif_image_get_width(img.get(), heif_channel_interleaved);
  const int h = heif_image_get_height(img.get(), heif_channel_interleaved);
  if (!src || w <= 0 || h <= 0) throw Error("HEIF: the decoder returned no picture");
  Image out(w, h, alpha ? 4 : 3, alpha);
  for (int y = 0; y < h; ++y) std::memcpy(out.row(y), src + static_cast<std::size_t>(stride) * y, out.stride());
  if (alpha && heif_image_is_premultiplied_alpha(img.get())) {  // Image holds straight alpha
    std::uint8_t* p = out.pixels.data();
    for (std::size_t i = 0, n = static_cast<std::size_t>(w) * h; i < n; ++i, p += 4)
      for (int c = 0; c < 3; ++c)
        p[c] = p[3] == 0 ? 0 : static_cast<std::uint8_t>(std::min(255u, (p[c] * 255u + p[3] / 2u) / p[3]));
  }
  return out;
}

}  // namespace

void heif_library_init() { check(heif_init(nullptr)); }

bool is_heif(const std::uint8_t* data, std::size_t size) noexcept {
  return has_brand(data, size,
                   {fourcc("heic"), fourcc("heix"), fourcc("hevc"), fourcc("heim"), fourcc("heis"), fourcc("mif1"),
                    fourcc("msf1"), fourcc("avif"), fourcc("avis")});
}

HeifDecoded heif_decode(const std::uint8_t* data, std::size_t size, Size box, std::uint64_t max_pixels,
                        int threads) {
  const Context ctx(heif_context_alloc());
  if (!ctx) throw std::bad_alloc();
  // The tiles of a grid image are decoded on up to this many threads, 0 meaning on the calling
  // one. libheif 1.15 has no thread count for libde265: each tile is handed to one libde265
  // worker thread while the thread that handed it over waits, one running thread per tile.
  heif_context_set_max_decoding_threads(ctx.get(), threads > 1 ? threads : 0);
  check(heif_context_read_from_memory_without_copy(ctx.get(), data, size, nullptr));
  heif_item_id primary_id = 0;
  check(heif_context_get_primary_image_ID(ctx.get(), &primary_id));
  heif_image_handle* h = nullptr;
  check(heif_context_get_primary_image_handle(ctx.get(), &h));
  const Handle primary(h);

  HeifDecoded out;
  out.full = {heif_image_handle_get_width(h), heif_image_handle_get_height(h)};
  if (out.full.width <= 0 || out.full.height <= 0) throw Error("HEIF: the primary image has no size");
  // The stored size (ispe), before rotation and crop, as the other formats count it.
  const int stored_w = heif_image_handle_get_ispe_width(h), stored_h = heif_image_handle_get_ispe_height(h);
  const bool have_ispe = stored_w > 0 && stored_h > 0;
  check_max_pixels({static_cast<std::uint32_t>(have_ispe ? stored_w : out.full.width),
                    static_cast<std::uint32_t>(have_ispe ? stored_h : out.full.height)},
                   max_pixels);

  Colour colour = colour_of(h);
  const bool av1 = is_avif(data, size);
  const Size target = fit_inside(out.full, box);
  if (const Handle thumbnail = usable_thumbnail(data, size, primary_id, h, colour, out.full, target)) {
    try {
      out.image = decode_rgb(thumbnail.get(), av1, out.warnings);
    } catch (const Error& e) {  // the primary image may still be whole
      out.warnings.push_back("the thumbnail item does not decode (" + std::string(e.what()) +
                             "); the whole picture was decoded");
    }
  }
  if (out.image.pixels.empty()) out.image = decode_rgb(h, av1, out.warnings);
  if (!colour.icc.empty()) out.icc = std::move(colour.icc);
  else if (colour.nclx) out.icc = nclx_profile(*colour.nclx, out.warnings);
  return out;
}

}  // namespace mediabatch::thumbs
