#include <algorithm>
#include <system_error>

#include "mediabatch/errors.hpp"
#include "mediabatch/inputs.hpp"

namespace mediabatch {

namespace fs = std::filesystem;

bool is_temp_name(const std::string& filename) noexcept {
  return !filename.empty() && filename[0] == '.' && filename.find(".mbtmp") != std::string::npos;
}

namespace {

void walk(const fs::path& dir, bool recursive, const std::string& arg, std::vector<Input>& out) {
  std::vector<Input> found;
  std::error_code ec;
  auto add = [&](const fs::directory_entry& e) {
    std::error_code sec;
    if (!e.is_regular_file(sec) || is_temp_name(e.path().filename().string())) return;
    Input in;
    in.base = dir;
    in.relative = e.path().lexically_relative(dir).generic_string();
    in.name = e.path().string();
    found.push_back(std::move(in));
  };
  if (recursive) {
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) throw Error("cannot read directory " + arg + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw Error("walking " + arg + ": " + ec.message());
      add(*it);
    }
  } else {
    fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) throw Error("cannot read directory " + arg + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw Error("reading " + arg + ": " + ec.message());
      add(*it);
    }
  }
  // Directory order is arbitrary; sort so input order (and --order input) is reproducible.
  std::sort(found.begin(), found.end(), [](const Input& a, const Input& b) { return a.relative < b.relative; });
  std::move(found.begin(), found.end(), std::back_inserter(out));
}

}  // namespace

std::vector<Input> expand_arguments(const std::vector<std::string>& args, bool recursive) {
  std::vector<Input> out;
  for (const auto& arg : args) {
    std::error_code ec;
    auto st = fs::status(arg, ec);
    if (!ec && fs::is_directory(st)) {
      walk(fs::path(arg), recursive, arg, out);
      continue;
    }
    Input in;
    in.name = arg;
    in.relative = fs::path(arg).lexically_normal().generic_string();
    in.named = true;
    in.exists = !ec && fs::exists(st);
    out.push_back(std::move(in));
  }
  return out;
}

std::vector<Input> read_input_list(std::istream& in, bool nul_separated) {
  std::vector<Input> out;
  std::string line;
  while (std::getline(in, line, nul_separated ? '\0' : '\n')) {
    if (!nul_separated && !line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    Input i;
    i.name = line;
    i.relative = line;
    i.named = true;
    std::error_code ec;
    i.exists = fs::exists(line, ec);
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace mediabatch
