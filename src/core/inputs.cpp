#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <system_error>

#include "mediabatch/errors.hpp"
#include "mediabatch/inputs.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch {

namespace fs = std::filesystem;

bool is_temp_name(const std::string& filename) noexcept {
  return !filename.empty() && filename[0] == '.' && filename.find(".mbtmp") != std::string::npos;
}

std::uint32_t TextArena::add(std::string_view text) {
  constexpr std::size_t block = 1 << 16;
  if (text.size() + 1 > block) throw Error("a name of 64 KiB or more");
  if (blocks_.empty() || blocks_.back().size() + text.size() + 1 > block) {
    if (blocks_.size() == block) throw Error("more than 4 GiB of file names");
    blocks_.emplace_back().reserve(block);
  }
  std::string& b = blocks_.back();
  const auto ref = static_cast<std::uint32_t>(((blocks_.size() - 1) << 16) | b.size());
  b.append(text);
  b.push_back('\0');
  return ref;
}

void NameList::add(std::string_view name) { refs_.push_back(text_.add(name)); }

void NameList::sort() {
  std::sort(refs_.begin(), refs_.end(),
            [&](std::uint32_t a, std::uint32_t b) { return std::strcmp(text_.at(a), text_.at(b)) < 0; });
}

// One folder of a walk: its entries, sorted so that the walk yields paths in byte order of
// the path below the argument. A subfolder sorts as its name with a '/' after it, which is
// where the paths inside it fall among its siblings.
struct InputWalker::Folder {
  std::string path;      // as it is opened: the argument joined with `relative`
  std::string relative;  // below the argument, with a trailing '/' (empty at the top)
  NameList entries;      // file names, and folder names ending in '/'
  std::size_t next = 0;
};

InputWalker::InputWalker(NameList args, bool recursive, bool walk_directories)
    : args_(std::move(args)), recursive_(recursive), walk_directories_(walk_directories) {}
InputWalker::~InputWalker() = default;
InputWalker::InputWalker(InputWalker&&) noexcept = default;
InputWalker& InputWalker::operator=(InputWalker&&) noexcept = default;

namespace {

enum class Kind { file, folder, other };

// What a folder entry is, following symlinks for files (a link to a photo is a photo) but
// not for folders (a link to a folder is not walked, as `find` does not).
Kind kind_of(const std::string& path, unsigned char d_type) {
  if (d_type == DT_REG) return Kind::file;
  if (d_type == DT_DIR) return Kind::folder;
  struct stat st {};
  if (d_type == DT_LNK) return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? Kind::file : Kind::other;
  if (d_type != DT_UNKNOWN || ::lstat(path.c_str(), &st) != 0) return Kind::other;
  return S_ISREG(st.st_mode) ? Kind::file : S_ISDIR(st.st_mode) ? Kind::folder : Kind::other;
}

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

}  // namespace

// Lists a folder. The argument itself must be readable; a subfolder that cannot be opened is
// left out, as `find` goes on past one.
void InputWalker::enter(const std::string& path, const std::string& relative) {
  std::unique_ptr<DIR, DirCloser> dir(::opendir(path.c_str()));
  if (!dir) {
    if (relative.empty()) throw Error("cannot read directory " + path + ": " + errno_text(errno));
    return;
  }
  auto folder = std::make_unique<Folder>();
  folder->path = path;
  folder->relative = relative;
  std::string entry;
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(dir.get());
    if (!e && errno != 0) throw Error("reading " + path + ": " + errno_text(errno));
    if (!e) break;
    const char* name = e->d_name;
    if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0 || is_temp_name(name)) continue;
    const Kind kind = kind_of((fs::path(path) / name).string(), e->d_type);
    if (kind == Kind::file) {
      folder->entries.add(name);
    } else if (kind == Kind::folder && recursive_) {
      entry.assign(name).push_back('/');
      folder->entries.add(entry);
    }
  }
  folder->entries.sort();
  folders_.push_back(std::move(folder));
}

bool InputWalker::next_in_folders(Input& out) {
  while (!folders_.empty()) {
    Folder& f = *folders_.back();
    if (f.next == f.entries.size()) {
      folders_.pop_back();
      continue;
    }
    const std::string_view name = f.entries[f.next++];
    if (name.back() == '/') {
      const std::string sub(name.substr(0, name.size() - 1));
      enter((fs::path(f.path) / sub).string(), f.relative + std::string(name));
      continue;
    }
    out = Input{};
    out.relative = f.relative + std::string(name);
    out.name = (fs::path(base_) / out.relative).string();
    out.base = base_;
    return true;
  }
  return false;
}

bool InputWalker::next(Input& out) {
  for (;;) {
    if (next_in_folders(out)) return true;
    if (next_arg_ == args_.size()) return false;
    const std::string arg(args_[next_arg_++]);
    std::error_code ec;
    const auto st = fs::status(arg, ec);
    if (walk_directories_ && !ec && fs::is_directory(st)) {
      base_ = arg;
      enter(arg, "");
      continue;
    }
    out = Input{};
    out.name = arg;
    out.relative = walk_directories_ ? fs::path(arg).lexically_normal().generic_string() : arg;
    out.named = true;
    out.exists = !ec && fs::exists(st);
    return true;
  }
}

std::vector<Input> expand_arguments(const std::vector<std::string>& args, bool recursive) {
  NameList names;
  for (const auto& a : args) names.add(a);
  InputWalker walker(std::move(names), recursive);
  std::vector<Input> out;
  for (Input in; walker.next(in);) out.push_back(std::move(in));
  return out;
}

NameList read_name_list(std::istream& in, bool nul_separated) {
  NameList out;
  std::string line;
  while (std::getline(in, line, nul_separated ? '\0' : '\n')) {
    if (!nul_separated && !line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.add(line);
  }
  return out;
}

}  // namespace mediabatch
