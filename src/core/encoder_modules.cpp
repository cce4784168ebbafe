// Encoders live in modules loaded on first use, so a command pays only for the media
// libraries it needs (`exec` for none, `flac` for libFLAC's).
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <system_error>

#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

namespace {

#ifndef MEDIABATCH_MODULE_DIR_FROM_BIN
#define MEDIABATCH_MODULE_DIR_FROM_BIN "../lib/mediabatch"
#endif

// MEDIABATCH_ENCODER_DIR if set; else, in the build tree, `encoders` beside the program;
// else, installed, LIBDIR/mediabatch as seen from BINDIR (src/CMakeLists.txt computes it).
fs::path module_dir() {
  if (const char* dir = std::getenv("MEDIABATCH_ENCODER_DIR"); dir && *dir) return dir;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "encoders";
  const fs::path build_tree = exe.parent_path() / "encoders";
  if (fs::is_directory(build_tree, ec)) return build_tree;
  return (exe.parent_path() / MEDIABATCH_MODULE_DIR_FROM_BIN).lexically_normal();
}

// Forwards every virtual of Encoder to the module's encoder: a new one must be added here.
class ModuleEncoder final : public Encoder {
 public:
  ModuleEncoder(std::string name, std::string description)
      : name_(std::move(name)), description_(std::move(description)) {}

  std::string_view name() const override { return name_; }
  std::string_view description() const override {
    return description_.empty() ? real().description() : std::string_view(description_);
  }
  std::vector<std::string> library_versions() const override { return real().library_versions(); }
  void add_options(CLI::App& command) override { real().add_options(command); }
  void validate() override { real().validate(); }
  void plan(const EncoderJobs& jobs) override {
    real().set_verify(verify());  // --verify, which the batch set on this proxy
    real().plan(jobs);
  }
  bool accepts(const Probe& probe) const override { return real().accepts(probe); }
  bool claims(const Probe& probe) const override { return real().claims(probe); }
  std::string reject_reason(const Probe& probe) const override { return real().reject_reason(probe); }
  fs::path output_name(const fs::path& input) const override { return real().output_name(input); }
  std::vector<fs::path> planned_outputs(const fs::path& input, const fs::path& output) const override {
    return real().planned_outputs(input, output);
  }
  std::vector<std::string> default_inputs() const override { return real().default_inputs(); }
  void encode(EncodeContext& ctx) const override { real().encode(ctx); }
  bool wants_outputs() const override { return real().wants_outputs(); }
  void finish(const std::vector<fs::path>& outputs, const std::atomic<bool>& stop) override {
    real().set_verify(verify());
    real().finish(outputs, stop);
  }

 private:
  Encoder& real() const {
    std::call_once(once_, [this] { load(); });
    return *real_;
  }

  void load() const {
    const fs::path path = module_dir() / ("mediabatch-" + name_ + ".so");
    // Never closed: the encoder and whatever its libraries set up live until exit.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) throw Error("cannot load the " + name_ + " encoder: " + ::dlerror());
    using Entry = Encoder* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(handle, "mediabatch_encoder_entry"));
    if (!entry) throw Error("cannot load the " + name_ + " encoder: " + path.string() + " has no entry point");
    real_.reset(entry());
  }

  std::string name_;
  std::string description_;  // from the registry; empty: the module's
  mutable std::once_flag once_;
  mutable std::unique_ptr<Encoder> real_;
};

}  // namespace

std::unique_ptr<Encoder> module_encoder(std::string name, std::string description) {
  return std::make_unique<ModuleEncoder>(std::move(name), std::move(description));
}

}  // namespace mediabatch
