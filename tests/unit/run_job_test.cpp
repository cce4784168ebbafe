// The engine's entry point for one job (mediabatch::run_job), driven by a scripted encoder:
// the temporary files, the rename of every output, what is left after a failure or a stop.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>

#include "mediabatch/engine.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/inputs.hpp"
#include "support/encoder_harness.hpp"
#include "support/test_support.hpp"

using namespace mediabatch;
namespace fs = std::filesystem;

namespace {

// An encoder whose encode() is whatever the test says.
class ScriptedEncoder final : public Encoder {
 public:
  explicit ScriptedEncoder(std::function<void(EncodeContext&)> body) : body_(std::move(body)) {}
  std::string_view name() const override { return "scripted"; }
  std::string_view description() const override { return "test encoder"; }
  bool accepts(const Probe&) const override { return true; }
  fs::path output_name(const fs::path& input) const override { return input.stem().string() + ".out"; }
  void encode(EncodeContext& ctx) const override { body_(ctx); }

 private:
  std::function<void(EncodeContext&)> body_;
};

mbtest::EncoderHarness scripted(std::function<void(EncodeContext&)> body) {
  return mbtest::EncoderHarness(std::make_unique<ScriptedEncoder>(std::move(body)));
}

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST(RunJob, TempFileIsHiddenBesideTheOutputWithItsExtension) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in.wav", "x");
  fs::path seen;
  auto h = scripted([&](EncodeContext& ctx) {
    seen = ctx.temp_output();
    EXPECT_EQ(&ctx.temp_output(), &ctx.temp_output());  // asked twice, one file
    mbtest::write_file(seen, "data");
  });
  h.encode(dir / "in.wav", dir / "out.flac");
  EXPECT_EQ(seen.parent_path(), dir.path());
  EXPECT_EQ(seen.extension(), ".flac");
  EXPECT_EQ(seen.filename().string()[0], '.');
  EXPECT_TRUE(is_temp_name(seen.filename().string()));
}

TEST(RunJob, CommitRenamesEveryOutputIntoPlace) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  auto h = scripted([&](EncodeContext& ctx) {
    mbtest::write_file(ctx.temp_output(), "hello");
    mbtest::write_file(ctx.add_output(dir / "sub/track02.txt"), "hi");
    EXPECT_FALSE(fs::exists(ctx.output()));
  });
  fs::create_directories(dir / "sub");
  Result r = h.encode(dir / "in", dir / "sub/out.txt");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.bytes_out, 7u);
  EXPECT_EQ(r.output, (dir / "sub/out.txt").string());
  ASSERT_EQ(r.more_outputs.size(), 1u);
  EXPECT_EQ(mbtest::read_file(dir / "sub/out.txt"), "hello");
  EXPECT_EQ(mbtest::read_file(dir / "sub/track02.txt"), "hi");
  EXPECT_EQ(entries(dir / "sub"), 2u);
}

TEST(RunJob, MakesTheOutputFolder) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  auto h = scripted([](EncodeContext& ctx) { mbtest::write_file(ctx.temp_output(), "ok"); });
  h.encode(dir / "in", dir / "a/b/out.txt");
  EXPECT_EQ(mbtest::read_file(dir / "a/b/out.txt"), "ok");
}

TEST(RunJob, AFailureLeavesNothingBehind) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  auto h = scripted([&](EncodeContext& ctx) {
    mbtest::write_file(ctx.temp_output(), "half");
    mbtest::write_file(ctx.add_output(dir / "more.txt"), "half");
    throw Error("decoding frame 3: broken");
  });
  EXPECT_THROW(h.encode(dir / "in", dir / "out.txt"), Error);
  EXPECT_EQ(entries(dir.path()), 1u) << "only the input may be left";
}

TEST(RunJob, AnOutputNotWrittenFailsTheJob) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  auto h = scripted([](EncodeContext& ctx) { ctx.temp_output(); });
  try {
    h.encode(dir / "in", dir / "out.txt");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out.txt was not written"), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(RunJob, StoppedJobsThrowCancelledAndLeaveNothing) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  std::atomic<bool> stop{true};
  auto h = scripted([](EncodeContext& ctx) {
    mbtest::write_file(ctx.temp_output(), "half");
    EXPECT_TRUE(ctx.should_stop());
    ctx.throw_if_stopped();
  });
  try {
    h.encode(dir / "in", dir / "out.txt", {1, &stop});
    FAIL() << "not cancelled";
  } catch (const Cancelled& e) {
    EXPECT_STREQ(e.what(), "interrupted");
  }
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(RunJob, AnEncoderThatIgnoresAStopIsStillCancelled) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  std::atomic<bool> stop{true};
  auto h = scripted([](EncodeContext& ctx) { mbtest::write_file(ctx.temp_output(), "whole"); });
  EXPECT_THROW(h.encode(dir / "in", dir / "out.txt", {1, &stop}), Cancelled);
  EXPECT_FALSE(fs::exists(dir / "out.txt"));
}

TEST(RunJob, DeadlinePassedMeansTimedOut) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  auto h = scripted([](EncodeContext& ctx) {
    while (!ctx.should_stop()) {
    }
    ctx.throw_if_stopped();
  });
  try {
    h.encode(dir / "in", dir / "out.txt", {1, nullptr, 0.01});
    FAIL() << "not cancelled";
  } catch (const Cancelled& e) {
    EXPECT_STREQ(e.what(), "timed out");
  }
}

TEST(RunJob, WarningsAndThreadsReachTheResult) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  int threads = 0;
  auto h = scripted([&](EncodeContext& ctx) {
    threads = ctx.threads();
    ctx.warn("premature end of data");
    ctx.warn("second note");
    mbtest::write_file(ctx.temp_output(), "x");
  });
  Result r = h.encode(dir / "in", dir / "out.txt", {3});
  EXPECT_EQ(threads, 3);
  EXPECT_EQ(r.warning, "premature end of data; second note");
}

// --verify: every output's check runs, the job's threads sharing them out; the first failure
// in output order is the job's error, and no output takes its final name.
TEST(RunJob, VerifyRunsEveryCheckAndTellsTheFirstFailureInOutputOrder) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  std::atomic<int> checked{0};
  auto h = scripted([&](EncodeContext& ctx) {
    for (int i = 1; i <= 4; ++i) {
      const fs::path temp = ctx.add_output(dir / ("track0" + std::to_string(i) + ".txt"));
      mbtest::write_file(temp, "track " + std::to_string(i));
      ctx.check_output(temp, [&checked, i](const fs::path& file) {
        ++checked;
        if (i % 2 == 0) throw Error("track " + std::to_string(i) + " is bad in " + file.string());
      });
    }
  });
  mbtest::JobOptions options;
  options.threads = 2;
  options.verify = true;
  try {
    h.encode(dir / "in", dir / "out.txt", options);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "verify: track02.txt: track 2 is bad in " + (dir / "track02.txt").string());
  }
  EXPECT_EQ(checked.load(), 4);
  EXPECT_EQ(entries(dir.path()), 1u) << "only the input may be left";
}

TEST(RunJob, SkipsWhenTheOutputIsNewerUnlessForced) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "in", "x");
  int runs = 0;
  auto h = scripted([&](EncodeContext& ctx) {
    ++runs;
    mbtest::write_file(ctx.temp_output(), "x");
  });
  mbtest::JobOptions normal;
  normal.force = false;
  EXPECT_EQ(h.encode(dir / "in", dir / "out.txt", normal).status, Status::ok);
  Result again = h.encode(dir / "in", dir / "out.txt", normal);
  EXPECT_EQ(again.status, Status::skipped);
  EXPECT_EQ(again.error, "output is up to date (use --force)");
  EXPECT_EQ(h.encode(dir / "in", dir / "out.txt").status, Status::ok);  // forced
  EXPECT_EQ(runs, 2);
}
