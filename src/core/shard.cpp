#include <cstdlib>
#include <string>

#include "mediabatch/errors.hpp"
#include "mediabatch/inputs.hpp"

namespace mediabatch {

std::uint64_t stable_hash(const std::string& bytes) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

namespace {

bool parse_uint(const std::string& s, unsigned long& out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9) return false;
  out = std::stoul(s);
  return true;
}

Shard make_shard(unsigned long k, unsigned long n, const std::string& from) {
  if (n == 0 || k == 0 || k > n)
    throw UsageError("shard " + std::to_string(k) + "/" + std::to_string(n) + " (" + from +
                     "): K must be between 1 and N");
  return Shard{static_cast<unsigned>(k), static_cast<unsigned>(n)};
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

Shard from_zero_based(const char* index_var, const char* count_var, unsigned long min) {
  unsigned long i = 0, n = 0;
  std::string from = std::string(index_var) + "=" + env(index_var) + ", " + count_var + "=" +
                     (env(count_var) ? env(count_var) : "(unset)");
  if (!parse_uint(env(index_var), i) || !env(count_var) || !parse_uint(env(count_var), n) || i < min)
    throw UsageError("--shard-from-env: cannot read a shard from " + from);
  return make_shard(i - min + 1, n, from);
}

// Grid Engine numbers an array's tasks FIRST, FIRST+STEP, ... LAST (qsub -t 1-100:10); a job
// that is not an array has SGE_TASK_ID "undefined".
Shard from_grid_engine() {
  const auto number = [](const char* name, unsigned long fallback) {
    unsigned long v = fallback;
    if (env(name) && !parse_uint(env(name), v))
      throw UsageError(std::string("--shard-from-env: ") + name + "=" + env(name) + " is not a number");
    return v;
  };
  const unsigned long id = number("SGE_TASK_ID", 0), first = number("SGE_TASK_FIRST", 1),
                      last = number("SGE_TASK_LAST", id), step = number("SGE_TASK_STEPSIZE", 1);
  const std::string from = "SGE_TASK_ID=" + std::to_string(id) + ", SGE_TASK_FIRST=" + std::to_string(first) +
                           ", SGE_TASK_LAST=" + std::to_string(last) + ", SGE_TASK_STEPSIZE=" + std::to_string(step);
  if (step == 0 || id < first || last < first || (id - first) % step != 0)
    throw UsageError("--shard-from-env: cannot read a shard from " + from);
  return make_shard((id - first) / step + 1, (last - first) / step + 1, from);
}

}  // namespace

Shard parse_shard(const std::string& text) {
  auto slash = text.find('/');
  unsigned long k = 0, n = 0;
  if (slash == std::string::npos || !parse_uint(text.substr(0, slash), k) || !parse_uint(text.substr(slash + 1), n))
    throw UsageError("--shard " + text + ": expected K/N, for example 2/8");
  return make_shard(k, n, "--shard " + text);
}

Shard shard_from_env() {
  if (env("MEDIABATCH_SHARD_INDEX")) return from_zero_based("MEDIABATCH_SHARD_INDEX", "MEDIABATCH_SHARDS", 0);
  if (env("SLURM_ARRAY_TASK_ID")) {
    unsigned long min = 0;
    if (env("SLURM_ARRAY_TASK_MIN") && !parse_uint(env("SLURM_ARRAY_TASK_MIN"), min))
      throw UsageError("--shard-from-env: SLURM_ARRAY_TASK_MIN is not a number");
    return from_zero_based("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", min);
  }
  if (env("JOB_COMPLETION_INDEX")) return from_zero_based("JOB_COMPLETION_INDEX", "MEDIABATCH_SHARDS", 0);
  if (env("AWS_BATCH_JOB_ARRAY_INDEX"))
    return from_zero_based("AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE", 0);
  if (env("SGE_TASK_ID") && std::string(env("SGE_TASK_ID")) != "undefined") return from_grid_engine();
  throw UsageError(
      "--shard-from-env: none of MEDIABATCH_SHARD_INDEX, SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, "
      "AWS_BATCH_JOB_ARRAY_INDEX or SGE_TASK_ID is set");
}

}  // namespace mediabatch
