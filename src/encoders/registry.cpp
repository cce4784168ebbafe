// The list of built-in encoders: one line per encoder folder.
#include "mediabatch/encoder.hpp"

namespace mediabatch {

// One X(NAME) per folder under src/encoders/; `convert` asks them in this order.
#define MEDIABATCH_ENCODERS(X) \
  X(thumbs) \
  X(dicom) \
  X(video) \
  X(flac)

#define MEDIABATCH_DECLARE(name) std::unique_ptr<Encoder> make_##name##_encoder();
MEDIABATCH_ENCODERS(MEDIABATCH_DECLARE)

EncoderList builtin_encoders() {
  EncoderList list;
#define MEDIABATCH_ADD(name) list.push_back(make_##name##_encoder());
  MEDIABATCH_ENCODERS(MEDIABATCH_ADD)
  return list;
}

}  // namespace mediabatch
