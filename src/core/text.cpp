#include "mediabatch/text.hpp"

#include <string.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cerrno>
#include <system_error>

#include "mediabatch/errors.hpp"

namespace mediabatch {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower_extension(const std::string& filename) {
  const auto slash = filename.rfind('/');
  const auto dot = filename.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot == slash + 1 ||
      (slash == std::string::npos && dot == 0))
    return "";
  return lower(filename.substr(dot));
}

namespace {

// Length of the valid UTF-8 sequence at s[i] (1 to 4), or 0 when it is not one. Overlong forms
// and surrogates count as invalid; so do the C1 controls U+0080-U+009F, which some terminals
// obey like ESC sequences.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (c >= 0xF5 || n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(k) & 0xC0) != 0x80) return 0;
  if (n == 2 && c == 0xC2 && b(1) < 0xA0) return 0;           // C1 controls
  if (n == 3 && c == 0xE0 && b(1) < 0xA0) return 0;           // overlong
  if (n == 3 && c == 0xED && b(1) >= 0xA0) return 0;          // surrogates
  if (n == 4 && c == 0xF0 && b(1) < 0x90) return 0;           // overlong
  if (n == 4 && c == 0xF4 && b(1) >= 0x90) return 0;          // past U+10FFFF
  return n;
}

}  // namespace

std::string printable(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n' && keep_newlines) {
      out += '\n';
      ++i;
    } else if (std::size_t n = c >= 0x80 ? utf8_length(s, i) : 0; n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      static const char hex[] = "0123456789abcdef";
      if (c == '\n') out += "\\n";
      else if (c == '\t') out += "\\t";
      else if (c == '\r') out += "\\r";
      else out += {'\\', 'x', hex[c >> 4], hex[c & 15]};
      ++i;
    }
  }
  return out;
}

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string number_text(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string megapixels_text(std::uint64_t pixels) {
  const double mp = static_cast<double>(pixels) / 1e6;
  return number_text(mp < 10 ? "%.2g" : "%.0f", mp) + " megapixels";
}

std::string seconds_text(double seconds) { return number_text("%g", seconds); }

std::string version_text(unsigned major, unsigned minor, unsigned patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::string media_time_text(double seconds) { return number_text("%.3f s", seconds); }

}  // namespace mediabatch

namespace mediabatch {

bool is_transient_errno(int error) noexcept {
  return error == EIO || error == ENOSPC || error == ESTALE || error == ETIMEDOUT || error == EAGAIN ||
         error == ENOTCONN || error == EDQUOT;
}

void throw_system_error(const std::string& what, int error) {
  const std::string message = what + ": " + errno_text(error);
  if (is_transient_errno(error)) throw TransientError(message, error);
  throw Error(message);
}

}  // namespace mediabatch
