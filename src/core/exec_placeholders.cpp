// exec's placeholders, as GNU parallel spells them: {} {.} {/} {/.} {//} {#} {%}.
#include <string>
#include <vector>

#include "mediabatch/exec.hpp"

namespace mediabatch {

namespace {

std::string without_extension(const std::string& s) {
  auto slash = s.rfind('/');
  auto dot = s.rfind('.');
  std::size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  if (dot == std::string::npos || dot <= name_start) return s;  // no extension, or a dot-file
  return s.substr(0, dot);
}

std::string basename_of(const std::string& s) {
  auto slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

std::string dirname_of(const std::string& s) {
  auto slash = s.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return s.substr(0, slash);
}

}  // namespace

std::vector<std::string> expand_placeholders(const std::vector<std::string>& command, const std::string& input,
                                             const JobPlace& place) {
  // Longest tokens first, so "{/.}" is not read as "{/" followed by ".}".
  const std::pair<const char*, std::string> tokens[] = {
      {"{//}", dirname_of(input)},
      {"{/.}", without_extension(basename_of(input))},
      {"{/}", basename_of(input)},
      {"{.}", without_extension(input)},
      {"{}", input},
      {"{#}", std::to_string(place.number)},
      {"{%}", std::to_string(place.slot)},
  };
  std::vector<std::string> out;
  bool any = false;
  for (const auto& arg : command) {
    std::string result;
    for (std::size_t i = 0; i < arg.size();) {
      bool matched = false;
      if (arg[i] == '{') {
        for (const auto& [token, value] : tokens) {
          const std::size_t len = std::char_traits<char>::length(token);
          if (arg.compare(i, len, token) == 0) {
            result += value;
            i += len;
            matched = any = true;
            break;
          }
        }
      }
      if (!matched) result += arg[i++];
    }
    out.push_back(std::move(result));
  }
  if (!any) out.push_back(input);
  return out;
}

}  // namespace mediabatch
