#include "mediabatch/result.hpp"

namespace mediabatch {

const char* to_string(Status s) noexcept {
  switch (s) {
    case Status::ok: return "ok";
    case Status::failed: return "failed";
    case Status::skipped: return "skipped";
  }
  return "?";
}

}  // namespace mediabatch
