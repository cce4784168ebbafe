#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "mediabatch/errors.hpp"
#include "mediabatch/inputs.hpp"

using namespace mediabatch;

TEST(Shard, HashIsStableAcrossMachines) {
  // FNV-1a 64 reference values: the same on every machine and build.
  EXPECT_EQ(stable_hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(stable_hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(stable_hash("foobar"), 0x85944171f73967e8ull);
}

TEST(Shard, ShardsAreDisjointAndCompleteOver10000Names) {
  std::vector<std::string> names;
  for (int i = 0; i < 10000; ++i) names.push_back("photos/2024/IMG_" + std::to_string(i) + ".jpg");
  for (unsigned n : {1u, 2u, 7u, 16u}) {
    std::multiset<std::string> seen;
    for (unsigned k = 1; k <= n; ++k) {
      Shard s{k, n};
      std::size_t count = 0;
      for (const auto& name : names)
        if (s.contains(name)) {
          seen.insert(name);
          ++count;
        }
      // Balanced within a few percent of the fair share.
      EXPECT_NEAR(static_cast<double>(count), 10000.0 / n, 10000.0 / n * 0.15 + 5) << k << "/" << n;
    }
    EXPECT_EQ(seen.size(), names.size());
    for (const auto& name : names) EXPECT_EQ(seen.count(name), 1u) << name;
  }
}

TEST(Shard, ParsesKOverN) {
  auto s = parse_shard("3/8");
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.count, 8u);
  for (const char* bad : {"0/4", "5/4", "x/4", "2", "2/", "/2", "-1/2", "1/0"})
    EXPECT_THROW(parse_shard(bad), UsageError) << bad;
}

class ShardEnv : public ::testing::Test {
 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void clear() {
    for (const char* v : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX",
                          "MEDIABATCH_SHARDS", "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE",
                          "MEDIABATCH_SHARD_INDEX", "SGE_TASK_ID", "SGE_TASK_FIRST", "SGE_TASK_LAST", "SGE_TASK_STEPSIZE"})
      unsetenv(v);
  }
};

TEST_F(ShardEnv, SlurmArrayIndexCountsFromZeroOrItsMinimum) {
  setenv("SLURM_ARRAY_TASK_ID", "3", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  auto s = shard_from_env();
  EXPECT_EQ(s.index, 4u);
  EXPECT_EQ(s.count, 4u);
  setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
  s = shard_from_env();
  EXPECT_EQ(s.index, 3u);
}

TEST_F(ShardEnv, KubernetesIndexedJobAndAwsBatch) {
  setenv("JOB_COMPLETION_INDEX", "0", 1);
  setenv("MEDIABATCH_SHARDS", "5", 1);
  auto s = shard_from_env();
  EXPECT_EQ(s.index, 1u);
  EXPECT_EQ(s.count, 5u);
  clear();
  setenv("AWS_BATCH_JOB_ARRAY_INDEX", "9", 1);
  setenv("AWS_BATCH_JOB_ARRAY_SIZE", "10", 1);
  s = shard_from_env();
  EXPECT_EQ(s.index, 10u);
}

TEST_F(ShardEnv, MissingOrInconsistentEnvironmentIsAUsageError) {
  EXPECT_THROW(shard_from_env(), UsageError);
  setenv("JOB_COMPLETION_INDEX", "2", 1);
  EXPECT_THROW(shard_from_env(), UsageError);  // no MEDIABATCH_SHARDS
  setenv("MEDIABATCH_SHARDS", "2", 1);
  EXPECT_THROW(shard_from_env(), UsageError);  // index 2 of 2 (0-based)
}

// HTCondor, Nomad and task queues: environment = "MEDIABATCH_SHARD_INDEX=$(Process)".
TEST_F(ShardEnv, GenericIndexFromZeroComesFirst) {
  setenv("MEDIABATCH_SHARD_INDEX", "0", 1);
  setenv("MEDIABATCH_SHARDS", "3", 1);
  setenv("SLURM_ARRAY_TASK_ID", "2", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  auto s = shard_from_env();
  EXPECT_EQ(s.index, 1u);
  EXPECT_EQ(s.count, 3u);
  setenv("MEDIABATCH_SHARD_INDEX", "3", 1);
  EXPECT_THROW(shard_from_env(), UsageError);  // index 3 of 3 (0-based)
}

// qsub -t 5-45:10 runs tasks 5, 15, 25, 35, 45.
TEST_F(ShardEnv, GridEngineTaskRangeWithAStep) {
  setenv("SGE_TASK_ID", "25", 1);
  setenv("SGE_TASK_FIRST", "5", 1);
  setenv("SGE_TASK_LAST", "45", 1);
  setenv("SGE_TASK_STEPSIZE", "10", 1);
  auto s = shard_from_env();
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.count, 5u);
  setenv("SGE_TASK_ID", "26", 1);
  EXPECT_THROW(shard_from_env(), UsageError);  // not one of the array's tasks
  setenv("SGE_TASK_ID", "undefined", 1);      // a job that is not an array
  EXPECT_THROW(shard_from_env(), UsageError);
  clear();
  setenv("SGE_TASK_ID", "2", 1);  // qsub -t 1-4: FIRST, LAST and STEPSIZE all set
  setenv("SGE_TASK_FIRST", "1", 1);
  setenv("SGE_TASK_LAST", "4", 1);
  setenv("SGE_TASK_STEPSIZE", "1", 1);
  s = shard_from_env();
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 4u);
}
