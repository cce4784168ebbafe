#pragma once
// The results a worker process sends its supervisor, over a pipe. Records are framed (a length, a type, then fields), so file names of any bytes pass
// unchanged.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "mediabatch/result.hpp"

namespace mediabatch::worker {

enum class RecordType : std::uint8_t { result = 'R' };

std::string encode_result(const Result& r);

struct Record {
  RecordType type = RecordType::result;
  std::string payload;
};
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
