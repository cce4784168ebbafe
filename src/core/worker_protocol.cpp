#include "core/worker_protocol.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::worker {

namespace {

class Out {
 public:
  explicit Out(RecordType type) : bytes_(4, '\0') { bytes_.push_back(static_cast<char>(type)); }
  Out& u64(std::uint64_t v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Out& f64(double v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Out& str(const std::string& s) {
    u64(s.size());
    bytes_ += s;
    return *this;
  }
  // The frame: a 32-bit length of what follows it, then the type and the fields.
  std::string done() {
    const auto n = static_cast<std::uint32_t>(bytes_.size() - 4);
    std::memcpy(bytes_.data(), &n, sizeof n);
    return std::move(bytes_);
  }

 private:
  std::string bytes_;
};

class In {
 public:
  explicit In(const std::string& payload) : p_(payload) {}
  std::uint64_t u64() {
    std::uint64_t v = 0;
    take(&v, sizeof v);
    return v;
  }
  double f64() {
    double v = 0;
    take(&v, sizeof v);
    return v;
  }
  std::string str() {
    const std::uint64_t n = u64();
    if (n > p_.size() - at_) throw Error("worker protocol: a field runs past its record");
    std::string s = p_.substr(at_, n);
    at_ += n;
    return s;
  }

 private:
  void take(void* out, std::size_t n) {
    if (n > p_.size() - at_) throw Error("worker protocol: a record ends early");
    std::memcpy(out, p_.data() + at_, n);
    at_ += n;
  }
  const std::string& p_;
  std::size_t at_ = 0;
};

}  // namespace


std::string encode_result(const Result& r) {
  Out o(RecordType::result);
  o.u64(r.index).str(r.input).str(r.output).u64(r.more_outputs.size());
  for (const auto& m : r.more_outputs) o.str(m);
  o.str(r.command).u64(static_cast<std::uint64_t>(r.status)).str(r.error).str(r.warning).f64(r.seconds);
  o.u64(r.bytes_in).u64(r.bytes_out).str(r.out_text).str(r.err_text).u64(r.cancelled).u64(r.transient).u64(r.out_of_space).u64(r.verified);
  return o.done();
}

Result decode_result(const std::string& payload) {
  In in(payload);
  Result r;
  r.index = in.u64();
  r.input = in.str();
  r.output = in.str();
  const std::uint64_t more = in.u64();
  for (std::uint64_t i = 0; i < more; ++i) r.more_outputs.push_back(in.str());
  r.command = in.str();
  const std::uint64_t status = in.u64();
  if (status > static_cast<std::uint64_t>(Status::skipped)) throw Error("worker protocol: unknown status");
  r.status = static_cast<Status>(status);
  r.error = in.str();
  r.warning = in.str();
  r.seconds = in.f64();
  r.bytes_in = in.u64();
  r.bytes_out = in.u64();
  r.out_text = in.str();
  r.err_text = in.str();
  r.cancelled = in.u64() != 0;
  r.transient = in.u64() != 0;
  r.out_of_space = in.u64() != 0;
  r.verified = in.u64() != 0;
  return r;
}

bool RecordReader::next(Record& out) {
  if (buffer_.size() - used_ < 5) return false;
  std::uint32_t n = 0;
  std::memcpy(&n, buffer_.data() + used_, sizeof n);
  if (n == 0) throw Error("worker protocol: an empty record");
  if (buffer_.size() - used_ - 4 < n) return false;
  out.type = static_cast<RecordType>(buffer_[used_ + 4]);
  out.payload.assign(buffer_, used_ + 5, n - 1);
  used_ += 4 + n;
  if (used_ > 65536 && used_ * 2 > buffer_.size()) {  // drop what was read, now and then
    buffer_.erase(0, used_);
    used_ = 0;
  }
  return true;
}

void RecordWriter::write(const std::string& record) {
  std::lock_guard lock(mutex_);
  if (const int error = write_all(fd_, record.data(), record.size()))
    throw Error("worker protocol: " + errno_text(error));
}

}  // namespace mediabatch::worker
