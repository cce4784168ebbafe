#include <gtest/gtest.h>

#include <fstream>

#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/inputs.hpp"
#include "support/test_support.hpp"

using namespace mediabatch;

namespace {
const auto forever = EncodeContext::Clock::time_point::max();
}

TEST(EncodeContext, TempFileIsHiddenBesideTheOutputWithItsExtension) {
  mbtest::TempDir dir;
  EncodeContext ctx("in.wav", dir / "out.flac", 1, nullptr, forever);
  const auto& tmp = ctx.temp_output();
  EXPECT_EQ(tmp.parent_path(), dir.path());
  EXPECT_EQ(tmp.extension(), ".flac");
  EXPECT_EQ(tmp.filename().string()[0], '.');
  EXPECT_TRUE(is_temp_name(tmp.filename().string()));
  EXPECT_EQ(&ctx.temp_output(), &tmp);  // asked twice, one file
}

TEST(EncodeContext, CommitRenamesIntoPlace) {
  mbtest::TempDir dir;
  EncodeContext ctx("in", dir / "out.txt", 1, nullptr, forever);
  mbtest::write_file(ctx.temp_output(), "hello");
  auto extra = ctx.add_output(dir / "track02.txt");
  mbtest::write_file(extra, "hi");
  EXPECT_FALSE(fs::exists(dir / "out.txt"));
  EXPECT_EQ(ctx.commit(), 7u);
  EXPECT_EQ(mbtest::read_file(dir / "out.txt"), "hello");
  EXPECT_EQ(mbtest::read_file(dir / "track02.txt"), "hi");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(EncodeContext, UncommittedTempFilesAreRemoved) {
  mbtest::TempDir dir;
  fs::path tmp;
  {
    EncodeContext ctx("in", dir / "out.txt", 1, nullptr, forever);
    tmp = ctx.temp_output();
    mbtest::write_file(tmp, "half");
  }
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_FALSE(fs::exists(dir / "out.txt"));
}

TEST(EncodeContext, CommitFailsWhenNothingWasWritten) {
  mbtest::TempDir dir;
  EncodeContext ctx("in", dir / "out.txt", 1, nullptr, forever);
  ctx.temp_output();
  EXPECT_THROW(ctx.commit(), Error);
  EXPECT_FALSE(fs::exists(dir / "out.txt"));
}

TEST(EncodeContext, StopAndDeadline) {
  std::atomic<bool> stop{false};
  EncodeContext a("in", "out", 1, &stop, forever);
  EXPECT_FALSE(a.should_stop());
  stop = true;
  EXPECT_TRUE(a.should_stop());
  std::atomic<bool> no{false};
  EncodeContext b("in", "out", 1, &no, EncodeContext::Clock::now());
  EXPECT_TRUE(b.should_stop());
  EXPECT_TRUE(b.timed_out());
}

TEST(Inputs, DirectoriesAreWalkedSortedAndTempFilesSkipped) {
  mbtest::TempDir dir;
  fs::create_directories(dir / "b/sub");
  for (const char* f : {"c.txt", "a.txt", "b/x.txt", "b/sub/y.txt", ".out.mbtmp12-3.png"})
    mbtest::write_file(dir / f, "x");
  auto flat = expand_arguments({dir.path().string()}, false);
  ASSERT_EQ(flat.size(), 2u);
  EXPECT_EQ(flat[0].relative, "a.txt");
  EXPECT_EQ(flat[1].relative, "c.txt");
  EXPECT_FALSE(flat[0].named);
  auto deep = expand_arguments({dir.path().string(), "missing-file"}, true);
  ASSERT_EQ(deep.size(), 5u);
  EXPECT_EQ(deep[1].relative, "b/sub/y.txt");
  EXPECT_EQ(deep[2].relative, "b/x.txt");
  EXPECT_EQ(deep[4].name, "missing-file");
  EXPECT_TRUE(deep[4].named);
  EXPECT_FALSE(deep[4].exists);
}

TEST(Inputs, StdinListsOnePerLineOrNulSeparated) {
  std::istringstream lines("a b\nc\r\n\nd\n");
  auto l = read_input_list(lines, false);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].name, "a b");
  EXPECT_EQ(l[1].name, "c");
  std::string nul("x\ny");
  nul.push_back('\0');
  nul += "z";
  std::istringstream nuls(nul);
  auto n = read_input_list(nuls, true);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].name, "x\ny");
}
