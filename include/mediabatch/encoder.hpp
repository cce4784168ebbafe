#pragma once
// The encoder plug-in interface. An encoder turns one input file into one (or a few) output
// files; the engine owns everything around that: the walk, the temp file and its rename,
// timing, cancellation, the report. Adding an encoder is one folder under src/encoders/ and
// one line in src/encoders/registry.cpp.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace mediabatch {

namespace fs = std::filesystem;

// What an encoder sees of a candidate input when deciding whether it is its kind.
struct Probe {
  fs::path path;
  std::string_view head;  // the first bytes of the file (up to 4096; empty if unreadable)
};

class JobOutputs;  // the engine's side of a job's outputs (src/core/job_outputs.hpp)
struct Job;
class EncoderJobs;  // one encoder's part of a planned batch (mediabatch/job_list.hpp)

// Handed to Encoder::encode() for one job: what to read, where to write, how many threads it
// may use, whether to stop. Made by the engine (run_job), which alone commits or discards
// the outputs afterwards; used by one thread at a time.
class EncodeContext {
 public:
  using Clock = std::chrono::steady_clock;

  EncodeContext(fs::path input, JobOutputs& outputs, int threads, const std::atomic<bool>* stop,
                Clock::time_point deadline) noexcept;
  EncodeContext(const EncodeContext&) = delete;
  EncodeContext& operator=(const EncodeContext&) = delete;

  const fs::path& input() const noexcept { return input_; }
  // The final path planned for the primary output.
  const fs::path& output() const noexcept;
  // Where to write the primary output: a hidden temporary file beside output(), with the
  // same extension, renamed to output() once encode() has returned normally.
  const fs::path& temp_output();
  // Another output of the same job (a frame of a multi-frame file, a track of a cue sheet):
  // returns the temporary path to write it to; it is renamed to final_path on success, all
  // of the job's outputs or none. Throws Error when final_path was already added.
  fs::path add_output(const fs::path& final_path);

  // Threads this job may use: 1 while the batch has at least as many files as slots; else its
  // share of the slots, the ones left over going to the largest files.
  int threads() const noexcept { return threads_; }
  // True once Ctrl-C was pressed or --timeout expired: stop soon (throw_if_stopped()).
  bool should_stop() const noexcept;
  // Throws Cancelled ("interrupted" or "timed out") when should_stop(); the engine words the
  // final reason.
  void throw_if_stopped() const;
  // A non-fatal note that goes into the job's result ("premature end of JPEG data").
  void warn(std::string message);

  // --verify: every output is to be read back and checked before it takes its final name.
  bool verify() const noexcept;
  // --verify: how to check the temporary file `temp` (temp_output(), or what add_output()
  // returned) once encode() has returned. `check` opens it with a decoder independent of the
  // code that wrote it, compares what it finds with what was encoded (kept in the closure) and
  // throws Error saying what is wrong ("output has 97 video frames, 100 were encoded"). The
  // engine runs the checks after encode(), on the same thread, before the renames; an output
  // without one fails the job. Call it only when verify() is true.
  using OutputCheck = std::function<void(const fs::path& temp)>;
  void check_output(const fs::path& temp, OutputCheck check);

 private:
  fs::path input_;
  JobOutputs* outputs_;
  int threads_;
  const std::atomic<bool>* stop_;
  Clock::time_point deadline_;
};

// One command of mediabatch that converts files in-process (thumbs, video, dicom, flac).
// Options are bound to members by add_options(); after parsing, the object is shared
// read-only by all worker threads, so encode() must be thread-safe and keep no state
// between files (per-file state lives on the stack of encode()).
class Encoder {
 public:
  virtual ~Encoder() = default;

  // The command name ("thumbs") and a one-line description for --help.
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;
  // The libraries it converts with and their versions as loaded ("libFLAC 1.4.2"), for
  // --version.
  virtual std::vector<std::string> library_versions() const { return {}; }

  // Adds the command's own options to its CLI11 subcommand.
  virtual void add_options(CLI::App& /*command*/) {}
  // Called once after parsing and before any input is planned; throws UsageError.
  virtual void validate() {}

  // Called once on the main thread with the planned batch, before any job runs: every job
  // this encoder takes, in input order (flac numbers tracks by their place among them).
  // Throws UsageError when the batch cannot be converted as asked (an album with no entry for
  // a track).
  virtual void plan(const EncoderJobs& /*jobs*/) {}

  // Inputs to take when none are named, instead of a list from stdin (`flac --cue disc.cue`
  // takes the files the cue sheet names). Called after validate().
  virtual std::vector<std::string> default_inputs() const { return {}; }

  // Whether this input is of the encoder's kind, by content (magic bytes) where possible.
  virtual bool accepts(const Probe& probe) const = 0;
  // Whether the file's name says it is of this encoder's kind (".jpg" for thumbs), asked of a
  // file accepts() turned down. Such a file is broken: it fails, found by a walk or named,
  // with reject_reason() and what its content is; a file of no kind by name or content is left
  // out of a walk (a README.txt beside the photos) and skipped when named.
  virtual bool claims(const Probe& /*probe*/) const { return false; }
  // Why a file was not taken ("not a JPEG, PNG, TIFF, WebP or GIF image").
  virtual std::string reject_reason(const Probe& /*probe*/) const {
    return "not a " + std::string(name()) + " input";
  }
  // File name of the primary output for an input ("photo.jpg" -> "photo_thumbnail.jpg").
  virtual fs::path output_name(const fs::path& input) const = 0;
  // Every final path a job writes, where the names are known before encoding: the planned
  // output, and for a job of several outputs all of them (each track of a cue split, each
  // frame of `dicom --frames all`). Skip-if-newer takes a job as done only when every one of
  // them is a file newer than the input, and a directory at one fails the job. May read the
  // input's header; called on worker threads, so thread-safe. Throws Error.
  virtual std::vector<fs::path> planned_outputs(const fs::path& /*input*/, const fs::path& output) const {
    return {output};
  }

  // Converts ctx.input() into ctx.temp_output() (and any ctx.add_output()). Throws Error with
  // a one-line reason on failure, Skip when the file has nothing to convert, and Cancelled
  // (ctx.throw_if_stopped()) when asked to stop. Only the engine's run_job() calls it.
  virtual void encode(EncodeContext& ctx) const = 0;

  // Whether finish() needs the outputs of the batch. Results are not kept, so the engine
  // keeps that list only when an encoder asks.
  virtual bool wants_outputs() const { return false; }
  // Called once on the main thread after every job has finished, unless the batch was
  // interrupted (e.g. album ReplayGain). `outputs` (empty unless wants_outputs()) holds every
  // output of the batch's jobs that are done: written by this run, or skipped because an
  // earlier run's outputs are up to date. `stop` turns true on Ctrl-C/SIGTERM/SIGHUP: stop
  // soon, leaving every file either untouched or complete, and throw Cancelled. Throws Error
  // to report a batch-level failure.
  virtual void finish(const std::vector<fs::path>& /*outputs*/, const std::atomic<bool>& /*stop*/) {}

  // --verify, set by the batch before it runs: finish() checks what it rewrites, as the jobs'
  // outputs are checked.
  void set_verify(bool on) noexcept { verify_ = on; }
  bool verify() const noexcept { return verify_; }

 private:
  bool verify_ = false;
};

using EncoderList = std::vector<std::unique_ptr<Encoder>>;

// Every built-in encoder, freshly constructed with default options (src/encoders/registry.cpp).
EncoderList builtin_encoders();

// An encoder that stands for the module build/encoders/mediabatch-NAME.so (next to the program,
// or in $MEDIABATCH_ENCODER_DIR) and loads it on first use: name() and, when `description` is
// given, description() need no loading; anything else loads the module once (thread-safe) and
// forwards to the encoder it makes. Throws Error when the module cannot be loaded.
std::unique_ptr<Encoder> module_encoder(std::string name, std::string description = {});

}  // namespace mediabatch
