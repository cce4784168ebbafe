#pragma once
// Small text helpers shared inside the engine.
#include <cstdio>
#include <string>

namespace mediabatch {

// "0.5", "30": seconds as a user typed them, for reasons such as "timed out after 0.5 s".
inline std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace mediabatch
