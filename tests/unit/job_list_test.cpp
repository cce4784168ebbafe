// The compact planned batch: what goes in comes out as the same jobs, in the same order.
#include <gtest/gtest.h>

#include "fakes/fake_encoders.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/job_list.hpp"

using namespace mediabatch;
namespace fs = std::filesystem;

namespace {

Input walked(const std::string& base, const std::string& relative) {
  Input in;
  in.base = base;
  in.relative = relative;
  in.name = (fs::path(base) / relative).string();
  return in;
}

Input named(const std::string& name) {
  Input in;
  in.name = in.relative = name;
  in.named = true;
  return in;
}

}  // namespace

TEST(TextArena, NamesFillBlocksWithoutMovingAndNeverSpanTwo) {
  TextArena text;
  std::vector<std::uint32_t> refs;
  std::vector<std::string> names;
  for (int i = 0; i < 20000; ++i) {  // about 300 KB: several 64 KiB blocks
    names.push_back("folder/name-" + std::to_string(i * 7919));
    refs.push_back(text.add(names.back()));
  }
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(text.at(refs[i]), names[i]);
  EXPECT_THROW(text.add(std::string(1 << 16, 'x')), Error);
}

TEST(NameList, SortsByBytes) {
  NameList n;
  for (const char* s : {"b", "a/", "a.txt", "\xc3\xa9", "A", "a-b"}) n.add(s);
  n.sort();
  std::vector<std::string> got;
  for (std::size_t i = 0; i < n.size(); ++i) got.emplace_back(n[i]);
  EXPECT_EQ(got, (std::vector<std::string>{"A", "a-b", "a.txt", "a/", "b", "\xc3\xa9"}));
}

TEST(JobList, JobsComeBackAsAddedWithTheirOutputsAndPresets) {
  auto fake = mbtest::make_fake_encoder();
  JobList plain;
  plain.add(walked("in", "sub/a.fk"), 10, fake.get());
  plain.add(named("x/b.fk"), 20, fake.get());
  plain.add_preset(named("gone.fk"), 0, true, "No such file or directory");
  ASSERT_EQ(plain.size(), 3u);
  Job a = plain.job(0);
  EXPECT_EQ(a.index, 0u);
  EXPECT_EQ(a.input, "in/sub/a.fk");
  EXPECT_EQ(a.output, fs::path("in/sub/a.out"));
  EXPECT_EQ(a.size, 10u);
  EXPECT_EQ(a.encoder, fake.get());
  EXPECT_FALSE(a.preset);
  EXPECT_EQ(plain.job(1).output, fs::path("x/b.out"));
  const Job gone = plain.job(2);
  EXPECT_TRUE(gone.preset);
  EXPECT_TRUE(gone.preset_failed);
  EXPECT_EQ(gone.preset_reason, "No such file or directory");
  EXPECT_TRUE(gone.output.empty());

  // Under -o: a walked input keeps its folder below the argument, a named one goes straight under.
  JobList under(fs::path("o"));
  under.add(walked("in", "sub/a.fk"), 10, fake.get());
  under.add(named("x/b.fk"), 20, fake.get());
  EXPECT_EQ(under.output(0), fs::path("o/sub/a.out"));
  EXPECT_EQ(under.output(1), fs::path("o/b.out"));
}

TEST(JobList, RetainRenumbersAndKeepsPresetReasons) {
  auto fake = mbtest::make_fake_encoder();
  JobList jobs;
  for (int i = 0; i < 5; ++i) jobs.add(walked("d", "f" + std::to_string(i) + ".fk"), i, fake.get());
  jobs.add_preset(named("bad"), 0, false, "not a fake input");
  jobs.retain([](std::size_t i) { return i % 2 == 1; });  // f1, f3, the preset
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs.job(0).input, "d/f1.fk");
  EXPECT_EQ(jobs.job(1).index, 1u);
  EXPECT_EQ(jobs.job(1).input, "d/f3.fk");
  EXPECT_EQ(jobs.job(2).preset_reason, "not a fake input");
}

TEST(JobList, ASourceStartsPresetsThenTheLargestOrGoesInInputOrder) {
  auto fake = mbtest::make_fake_encoder();
  JobList jobs;
  jobs.add(walked("d", "small"), 1, fake.get());
  jobs.add(walked("d", "big"), 100, fake.get());
  jobs.add_preset(named("skip"), 0, false, "no");
  jobs.add(walked("d", "mid"), 50, fake.get());
  auto order = [&](bool largest_first, const std::vector<bool>* pick = nullptr) {
    std::vector<std::size_t> got;
    auto source = jobs.source(largest_first, pick);
    for (Job j; source->next(j);) got.push_back(j.index);
    return got;
  };
  EXPECT_EQ(order(true), (std::vector<std::size_t>{2, 1, 3, 0}));
  EXPECT_EQ(order(false), (std::vector<std::size_t>{0, 1, 2, 3}));
  const std::vector<bool> pick = {true, false, false, true};
  EXPECT_EQ(order(true, &pick), (std::vector<std::size_t>{3, 0}));
}
