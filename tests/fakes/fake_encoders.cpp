#include "fakes/fake_encoders.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "mediabatch/errors.hpp"

namespace mbtest {

using namespace mediabatch;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error("cannot open " + p.string());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

class FakeEncoder : public Encoder {
 public:
  std::string_view name() const override { return "fake"; }
  std::string_view description() const override { return "test encoder driven by the input's lines"; }
  bool accepts(const Probe& p) const override { return p.head.substr(0, 4) == "FAKE"; }
  fs::path output_name(const fs::path& input) const override { return input.stem().string() + ".out"; }

  // The job's outputs are known from its "extra" lines, as a cue split's are from its sheet.
  std::vector<fs::path> planned_outputs(const fs::path& input, const fs::path& output) const override {
    std::vector<fs::path> all{output};
    std::istringstream lines(slurp(input));
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("extra ", 0) == 0) all.push_back(output.parent_path() / line.substr(6));
    return all;
  }

  bool wants_outputs() const override { return std::getenv("MEDIABATCH_FAKE_FINISH_LOG") != nullptr; }
  // Lists what the batch wrote in the file that MEDIABATCH_FAKE_FINISH_LOG names.
  void finish(const std::vector<fs::path>& written, const std::atomic<bool>& /*stop*/) override {
    const char* log = std::getenv("MEDIABATCH_FAKE_FINISH_LOG");
    if (!log) return;
    std::ofstream out(log);
    for (const auto& w : written) out << w.string() << "\n";
  }

  void encode(EncodeContext& ctx) const override {
    std::string content = slurp(ctx.input());
    std::ofstream out(ctx.temp_output(), std::ios::binary);
    std::vector<std::pair<fs::path, std::string>> extras;  // temporary path, name
    std::istringstream lines(content);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string op;
      words >> op;
      if (op == "sleep_ms") {
        int ms = 0;
        words >> ms;
        for (int waited = 0; waited < ms; waited += 10) {
          ctx.throw_if_stopped();
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      } else if (op == "busy_ms") {  // like sleep_ms, but deaf to Ctrl-C
        int ms = 0;
        words >> ms;
        out << "partial" << std::flush;
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      } else if (op == "fail") {
        std::string reason;
        std::getline(words >> std::ws, reason);
        throw Error(reason);
      } else if (op == "extra") {  // a further output of the job, beside the first
        std::string name;
        words >> name;
        const fs::path temp = ctx.add_output(ctx.output().parent_path() / name);
        std::ofstream(temp) << "extra";
        extras.emplace_back(temp, name);
      } else if (op == "eio_times") {  // an I/O error the first N attempts (counted in FILE)
        int times = 0;
        std::string counter;
        words >> times >> counter;
        const std::string before = fs::exists(counter) ? slurp(counter) : std::string();
        std::ofstream(counter) << before << 'x';
        if (static_cast<int>(before.size()) < times) throw_system_error("reading " + ctx.input().string(), EIO);
      } else if (op == "fill") {  // writes KB kilobytes; when the disk is full, touches MARKER first
        int kb = 0;
        std::string marker;
        words >> kb >> marker;
        const std::string chunk(1024, 'f');
        for (int i = 0; i < kb; ++i) {
          out << chunk;
          out.flush();
          if (!out) {
            if (!marker.empty()) std::ofstream(marker) << "full";
            throw_system_error("writing " + ctx.temp_output().string(), ENOSPC);
          }
        }
      } else if (op == "fail_naming_temp") {  // as a library reports the file it was writing
        throw Error("writing " + ctx.temp_output().string() + ": No space left on device");
      } else if (op == "skip") {
        std::string reason;
        std::getline(words >> std::ws, reason);
        throw Skip(reason);
      } else if (op == "abort") {  // a library's failed assertion
        std::fprintf(stderr, "fake_encoders.cpp: deliberate assertion `input is sane' failed.\n");
        std::fflush(stderr);
        std::abort();
      } else if (op == "segv") {
        std::raise(SIGSEGV);
      } else if (op == "oom") {  // grows, then goes the way the kernel's OOM killer sends it
        std::vector<std::unique_ptr<char[]>> held;
        for (int i = 0; i < 16; ++i) {
          held.emplace_back(new char[4 << 20]);
          std::memset(held.back().get(), 1, 4 << 20);
        }
        std::raise(SIGKILL);
      } else if (op == "throw_std") {
        throw std::runtime_error("a std::runtime_error from the job");
      } else if (op == "throw_int") {
        throw 42;
      } else if (op == "threads") {  // says how many threads the job was given
        ctx.warn("threads " + std::to_string(ctx.threads()));
      } else if (op == "warn") {
        std::string text;
        std::getline(words >> std::ws, text);
        ctx.warn(text);
      } else if (op == "chunks") {
        int n = 0;
        words >> n;
        std::string chunk(1024, 'x');
        for (int i = 0; i < n; ++i) {
          ctx.throw_if_stopped();
          out << chunk << std::flush;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    }
    out << content;
    out.close();
    if (!out) throw Error("writing " + ctx.temp_output().string());
    if (ctx.verify()) {  // what was written, read back
      const std::string written = slurp(ctx.temp_output());
      ctx.check_output(ctx.temp_output(), [written](const fs::path& temp) {
        const std::string now = slurp(temp);
        if (now.size() != written.size()) throw Error("output has " + std::to_string(now.size()) + " bytes, " +
                                                      std::to_string(written.size()) + " were written");
        if (now != written) throw Error("output differs from what was written");
      });
      for (const auto& [temp, final_path] : extras) {
        ctx.check_output(temp, [](const fs::path& t) {
          if (slurp(t) != "extra") throw Error("extra output differs from what was written");
        });
      }
    }
  }
};

class FailingEncoder : public Encoder {
 public:
  std::string_view name() const override { return "failing"; }
  std::string_view description() const override { return "test encoder that always fails"; }
  bool accepts(const Probe& p) const override { return p.head.substr(0, 4) == "FAIL"; }
  fs::path output_name(const fs::path& input) const override { return input.stem().string() + ".fail"; }
  void encode(EncodeContext& ctx) const override {
    std::ofstream(ctx.temp_output()) << "partial";
    throw Error("deliberate failure");
  }
};

}  // namespace

std::unique_ptr<Encoder> make_fake_encoder() { return std::make_unique<FakeEncoder>(); }
std::unique_ptr<Encoder> make_failing_encoder() { return std::make_unique<FailingEncoder>(); }

EncoderList fake_encoders() {
  EncoderList list;
  list.push_back(make_fake_encoder());
  list.push_back(make_failing_encoder());
  return list;
}

}  // namespace mbtest
