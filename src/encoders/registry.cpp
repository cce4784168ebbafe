// The built-in encoders: one X(NAME) per folder under src/encoders/; `convert` asks them in
// this order. Each is loaded from its module (build/encoders/mediabatch-NAME.so) when first used.
#include "descriptions.hpp"
#include "mediabatch/encoder.hpp"

namespace mediabatch {

#define MEDIABATCH_ENCODERS(X) \
  X(thumbs) \
  X(dicom) \
  X(video) \
  X(flac)

EncoderList builtin_encoders() {
  EncoderList list;
#define MEDIABATCH_ADD(name) list.push_back(module_encoder(#name, std::string(descriptions::name)));
  MEDIABATCH_ENCODERS(MEDIABATCH_ADD)
  return list;
}

}  // namespace mediabatch
