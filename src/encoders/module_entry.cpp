// The entry point of an encoder module (build/encoders/mediabatch-NAME.so), compiled once per
// encoder with MEDIABATCH_ENCODER_NAME=NAME: hands the engine a new encoder object.
#include "mediabatch/encoder.hpp"

#define MEDIABATCH_CAT2(a, b, c) a##b##c
#define MEDIABATCH_CAT(a, b, c) MEDIABATCH_CAT2(a, b, c)
#define MEDIABATCH_FACTORY MEDIABATCH_CAT(make_, MEDIABATCH_ENCODER_NAME, _encoder)

namespace mediabatch {
std::unique_ptr<Encoder> MEDIABATCH_FACTORY();
}

extern "C" __attribute__((visibility("default"))) mediabatch::Encoder* mediabatch_encoder_entry() {
  return mediabatch::MEDIABATCH_FACTORY().release();
}
