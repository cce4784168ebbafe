#pragma once
// Encoders for testing the engine, as spdlog's tests keep a deliberately failing sink.
//   fake:    takes files starting with "FAKE"; each following line of the file is an
//            instruction: "sleep_ms N", "busy_ms N" (ignores Ctrl-C), "fail REASON", "skip REASON", "throw_std", "throw_int",
//            "chunks N" (writes N chunks of 1 KiB, 50 ms apart, stopping when asked),
//            "warn TEXT", "extra NAME" (a further output, also planned), "fail_naming_temp" (an
//            error naming the temporary file), "abort" (writes an assertion line to
//            stderr, then aborts), "segv", "oom" (takes 64 MB, then is SIGKILLed as the OOM
//            killer would).
//            finish() lists the outputs written in $MEDIABATCH_FAKE_FINISH_LOG. Writes the input's bytes to <stem>.out.
//   failing: takes files starting with "FAIL"; always throws Error("deliberate failure").
#include <memory>

#include "mediabatch/encoder.hpp"

namespace mbtest {

std::unique_ptr<mediabatch::Encoder> make_fake_encoder();
std::unique_ptr<mediabatch::Encoder> make_failing_encoder();
mediabatch::EncoderList fake_encoders();

}  // namespace mbtest
