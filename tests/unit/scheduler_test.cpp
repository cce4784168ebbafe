#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "mediabatch/errors.hpp"
#include "mediabatch/scheduler.hpp"

using namespace mediabatch;
using namespace std::chrono_literals;

namespace {

std::vector<Job> make_jobs(std::size_t n) {
  std::vector<Job> jobs(n);
  for (std::size_t i = 0; i < n; ++i) {
    jobs[i].index = i;
    jobs[i].input = "job" + std::to_string(i);
  }
  return jobs;
}

// Tracks how many jobs run at once.
struct Concurrency {
  std::atomic<int> now{0}, peak{0};
  void enter() {
    int v = ++now;
    int p = peak.load();
    while (v > p && !peak.compare_exchange_weak(p, v)) {
    }
  }
  void leave() { --now; }
};

}  // namespace

TEST(Scheduler, FastResultArrivesWhileSlowJobStillRuns) {
  std::promise<void> fast_seen;
  auto fast_future = fast_seen.get_future().share();
  std::atomic<bool> slow_saw_fast{false};
  std::atomic<bool> stop{false};
  Scheduler s({2, Order::completion, false});
  std::vector<std::size_t> order;
  s.run(
      make_jobs(2),
      [&](const Job& j) {
        if (j.index == 0) {
          // The slow job finishes only after the main thread has reported the fast one
          // (or gives up after 10 s, which fails the test).
          slow_saw_fast = fast_future.wait_for(10s) == std::future_status::ready;
        }
        return Result{};
      },
      [&](Result&& r) {
        order.push_back(r.index);
        if (r.index == 1) fast_seen.set_value();
      },
      stop);
  EXPECT_TRUE(slow_saw_fast);
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 0}));
}

TEST(Scheduler, InputOrderHoldsBackOnlyWhatMustWait) {
  std::atomic<bool> stop{false};
  // Earlier jobs take longer, so they finish last.
  auto fn = [](const Job& j) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10 * (8 - j.index)));
    return Result{};
  };
  std::vector<std::size_t> input_order, completion_order;
  Scheduler(SchedulerOptions{4, Order::input}).run(make_jobs(8), fn, [&](Result&& r) { input_order.push_back(r.index); }, stop);
  Scheduler(SchedulerOptions{4, Order::completion, false})
      .run(make_jobs(8), fn, [&](Result&& r) { completion_order.push_back(r.index); }, stop);
  EXPECT_EQ(input_order, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_NE(completion_order, input_order);
  EXPECT_EQ(completion_order.size(), 8u);
}

TEST(Scheduler, AFailingJobFailsAloneWithItsReason) {
  std::atomic<bool> stop{false};
  std::vector<Result> results;
  Scheduler s({2});
  auto totals = s.run(
      make_jobs(60),
      [](const Job& j) -> Result {
        if (j.index % 10 == 3) throw Error("bad frame in " + j.input);
        if (j.index % 10 == 5) throw std::runtime_error("std failure");
        if (j.index % 10 == 7) throw 7;
        return Result{};
      },
      [&](Result&& r) { results.push_back(std::move(r)); }, stop);
  EXPECT_EQ(totals.reported, 60u);
  ASSERT_EQ(results.size(), 60u);
  int failed = 0;
  for (const auto& r : results) {
    if (r.index % 10 == 3 || r.index % 10 == 5 || r.index % 10 == 7) {
      ++failed;
      EXPECT_EQ(r.status, Status::failed);
      const char* expected = r.index % 10 == 5 ? "std failure" : r.index % 10 == 7 ? "unknown error" : nullptr;
      EXPECT_EQ(r.error, expected ? std::string(expected) : "bad frame in job" + std::to_string(r.index));
    } else {
      EXPECT_EQ(r.status, Status::ok) << r.error;
    }
    EXPECT_EQ(r.input, "job" + std::to_string(r.index));
  }
  EXPECT_EQ(failed, 18);
}

TEST(Scheduler, StopStartsNothingNewAndCancelsRunningJobs) {
  std::atomic<bool> stop{false};
  std::atomic<int> ran{0};
  std::size_t reported = 0, interrupted = 0;
  Scheduler s({2});
  auto totals = s.run(
      make_jobs(200),
      [&](const Job& j) {
        ++ran;
        if (j.index == 0) {  // reported first, once job 1 runs; its report sets stop
          while (ran < 2) std::this_thread::sleep_for(1ms);
          return Result{};
        }
        for (int i = 0; i < 400; ++i) {
          if (stop) throw Cancelled("stopped");
          std::this_thread::sleep_for(5ms);
        }
        return Result{};
      },
      [&](Result&& r) {
        ++reported;
        if (r.error == "interrupted") ++interrupted;
        if (reported == 1) stop = true;
      },
      stop);
  // One job finished and set stop, so at most the other slot's job was running.
  EXPECT_LE(ran.load(), 4);
  EXPECT_GE(interrupted, 1u);
  EXPECT_EQ(totals.reported, reported);
  EXPECT_EQ(totals.reported + totals.not_started, 200u);
  EXPECT_GE(totals.not_started, 190u);
}

TEST(Scheduler, InFlightWorkIsBoundedAndSlotsAreRespected) {
  std::atomic<bool> stop{false};
  Concurrency c;
  Scheduler s({3});
  std::size_t reported = 0;
  auto totals = s.run(
      make_jobs(3000),
      [&](const Job&) {
        c.enter();
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        c.leave();
        return Result{};
      },
      [&](Result&&) { ++reported; }, stop);
  EXPECT_EQ(reported, 3000u);
  EXPECT_LE(totals.max_in_flight, 12u);  // 4 per slot, not 3000
  EXPECT_LE(c.peak.load(), 3);
  EXPECT_GE(c.peak.load(), 2);
}

TEST(Scheduler, MoreSlotsThanCoresRunAtOnce) {
  std::atomic<bool> stop{false};
  Concurrency c;
  const int slots = static_cast<int>(std::thread::hardware_concurrency()) + 3;
  Scheduler s({slots});
  s.run(
      make_jobs(static_cast<std::size_t>(slots)),
      [&](const Job&) {
        // Wait (up to 10 s) until every slot runs a job at once.
        c.enter();
        auto until = std::chrono::steady_clock::now() + 10s;
        while (c.peak.load() < slots && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
        c.leave();
        return Result{};
      },
      [](Result&&) {}, stop);
  EXPECT_EQ(c.peak.load(), slots);
}

TEST(Scheduler, LargestInputsStartFirst) {
  std::atomic<bool> stop{false};
  auto jobs = make_jobs(6);
  const std::uint64_t sizes[] = {10, 500, 20, 9000, 1, 300};
  for (int i = 0; i < 6; ++i) jobs[i].size = sizes[i];
  std::vector<std::size_t> started;
  std::mutex m;
  Scheduler s({1});
  s.run(
      jobs,
      [&](const Job& j) {
        std::lock_guard lock(m);
        started.push_back(j.index);
        return Result{};
      },
      [](Result&&) {}, stop);
  EXPECT_EQ(started, (std::vector<std::size_t>{3, 1, 5, 2, 0, 4}));
}

TEST(Scheduler, PresetJobsAreReportedWithoutRunning) {
  std::atomic<bool> stop{false};
  auto jobs = make_jobs(3);
  jobs[1].preset = true;
  jobs[1].preset_reason = "unknown extension";
  std::atomic<int> ran{0};
  std::vector<Result> results;
  Scheduler({2, Order::input}).run(jobs, [&](const Job&) { ++ran; return Result{}; },
                                   [&](Result&& r) { results.push_back(std::move(r)); }, stop);
  EXPECT_EQ(ran, 2);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[1].status, Status::skipped);
  EXPECT_EQ(results[1].error, "unknown extension");
}
