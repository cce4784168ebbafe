#include "mediabatch/report.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

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
  j["attempts"] = r.attempts;
  if (!r.warning.empty()) j["warning"] = r.warning;
  if (r.verified) j["verified"] = true;
  if (r.cancelled) j["interrupted"] = true;  // status stays "failed": readers of old reports
  if (!r.more_outputs.empty()) {
    j["outputs"] = nlohmann::json::array({r.output});
    for (const auto& o : r.more_outputs) j["outputs"].push_back(o);
  }
  // File names need not be UTF-8; replace what is not rather than fail the run.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<Result> read_report(const std::filesystem::path& path, std::vector<std::string>& problems) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read the report " + path.string() + ": " + errno_text(errno));
  std::vector<Result> out;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("input") || !j["input"].is_string() ||
        !j.contains("status") || !j["status"].is_string()) {
      problems.push_back(path.string() + ":" + std::to_string(n) + ": not a report line, skipped");
      continue;
    }
    Result r;
    r.input = j["input"].get<std::string>();
    r.output = j.value("output", "");
    r.command = j.value("command", "");
    std::string status = j["status"].get<std::string>();
    r.status = status == "ok" ? Status::ok : status == "skipped" ? Status::skipped : Status::failed;
    r.error = j.value("error", "");
    r.warning = j.value("warning", "");
    r.verified = j.value("verified", false);
    r.seconds = j.value("seconds", 0.0);
    r.bytes_in = j.value("bytes_in", std::uint64_t{0});
    r.bytes_out = j.value("bytes_out", std::uint64_t{0});
    out.push_back(std::move(r));
  }
  return out;
}

ReportLog::ReportLog(const std::filesystem::path& path, bool append)
    : file_(open_file(path.string(), append ? "a" : "w")), path_(path.string()) {
  if (!file_) throw UsageError("--report " + path_ + ": " + errno_text(errno));
}

void ReportLog::write(const Result& r) {
  std::string line = to_json_line(r);
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() || std::fflush(file_.get()) != 0)
    throw Error("writing the report " + path_ + ": " + errno_text(errno));
}

}  // namespace mediabatch
