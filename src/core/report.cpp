#include "mediabatch/report.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mediabatch/errors.hpp"

namespace mediabatch {

std::string to_json_line(const Result& r) {
  nlohmann::ordered_json j;
  j["input"] = r.input;
  j["output"] = r.output;
  j["command"] = r.command;
  j["status"] = to_string(r.status);
  j["error"] = r.error;
  j["seconds"] = std::round(r.seconds * 1e4) / 1e4;
  j["bytes_in"] = r.bytes_in;
  j["bytes_out"] = r.bytes_out;
  if (!r.warning.empty()) j["warning"] = r.warning;
  // File names need not be UTF-8; replace what is not rather than fail the run.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ReportLog::ReportLog(const std::filesystem::path& path) : file_(std::fopen(path.c_str(), "w")), path_(path.string()) {
  if (!file_) throw UsageError("--report " + path_ + ": " + std::strerror(errno));
}

void ReportLog::write(const Result& r) {
  std::string line = to_json_line(r);
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() || std::fflush(file_.get()) != 0)
    throw Error("writing the report " + path_ + ": " + std::strerror(errno));
}

}  // namespace mediabatch
