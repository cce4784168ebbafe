#pragma once
// What the supervisor and its worker process say to each other over pipes: the planned jobs
// (supervisor -> worker, on the worker's stdin), and "started" and each result (worker ->
// supervisor, the journal). Records are framed (a length, a type, then fields), so file names
// of any bytes pass unchanged.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "mediabatch/job.hpp"
#include "mediabatch/result.hpp"

namespace mediabatch::worker {

enum class RecordType : std::uint8_t { job = 'J', end_of_jobs = 'E', started = 'S', result = 'R' };

// A job as the worker needs it: its encoder by name; run is false for a job that is only
// there so the encoders' plan() sees the whole batch.
struct JobRecord {
  std::size_t index = 0;
  std::uint64_t size = 0;
  bool run = true;
  bool redo = false;  // Job::redo
  std::string encoder;
  std::string input;
  std::string output;
};

std::string encode_job(const JobRecord& job);
std::string encode_end_of_jobs();
std::string encode_started(std::size_t index);
std::string encode_result(const Result& r);

struct Record {
  RecordType type = RecordType::end_of_jobs;
  std::string payload;
};
JobRecord decode_job(const std::string& payload);
std::size_t decode_started(const std::string& payload);
Result decode_result(const std::string& payload);

// Splits a byte stream into records as bytes arrive. Throws Error on a malformed stream.
class RecordReader {
 public:
  void append(const char* data, std::size_t size) { buffer_.append(data, size); }
  bool next(Record& out);

 private:
  std::string buffer_;
  std::size_t used_ = 0;
};

// Writes whole records to a descriptor; thread-safe (one record at a time). Throws Error when
// the other side is gone.
class RecordWriter {
 public:
  explicit RecordWriter(int fd) noexcept : fd_(fd) {}
  void write(const std::string& record);

 private:
  int fd_;
  std::mutex mutex_;
};

}  // namespace mediabatch::worker
