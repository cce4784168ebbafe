#include "mediabatch/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <system_error>

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

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

std::string number_text(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string seconds_text(double seconds) { return number_text("%g", seconds); }

std::string media_time_text(double seconds) { return number_text("%.3f s", seconds); }

}  // namespace mediabatch
