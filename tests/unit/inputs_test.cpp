#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "mediabatch/inputs.hpp"
#include "support/test_support.hpp"

using namespace mediabatch;
namespace fs = std::filesystem;

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

// The walk goes folder by folder, holding one folder's names at a time, yet yields the paths
// in byte order of the whole relative path, as sorting the whole list would.
TEST(Inputs, AWalkYieldsPathsInByteOrderOfTheWholePath) {
  mbtest::TempDir dir;
  for (const char* sub : {"a", "ab", "a b", "a0/deep/er"}) fs::create_directories(dir / sub);
  for (const char* f : {"a-b.txt", "a.txt", "a/x", "a/y.z", "ab/y", "a b/c", "a0/deep/er/z", "a0/deep.txt", "Z", "~"})
    mbtest::write_file(dir / f, "x");
  ASSERT_EQ(::mkfifo((dir / "a/fifo").c_str(), 0644), 0);
  fs::create_symlink(dir / "a.txt", dir / "link-to-file");
  fs::create_directory_symlink(dir / "ab", dir / "link-to-folder");
  std::vector<std::string> got;
  for (const auto& in : expand_arguments({dir.path().string()}, true)) {
    got.push_back(in.relative);
    EXPECT_EQ(in.name, (dir.path() / in.relative).string());
    EXPECT_EQ(in.base, dir.path());
  }
  std::vector<std::string> want = {"a-b.txt", "a.txt", "a/x", "a/y.z", "ab/y", "a b/c", "a0/deep/er/z",
                                   "a0/deep.txt", "Z", "~", "link-to-file"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST(Inputs, StdinListsOnePerLineOrNulSeparated) {
  std::istringstream lines("a b\nc\r\n\nd\n");
  auto l = read_name_list(lines, false);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0], "a b");
  EXPECT_EQ(l[1], "c");
  std::string nul("x\ny");
  nul.push_back('\0');
  nul += "z";
  std::istringstream nuls(nul);
  auto n = read_name_list(nuls, true);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0], "x\ny");
}
