#pragma once
// The reserved token ids, shared by the vocabularies (data/vocabulary.h: every vocabulary
// file starts [PAD] [UNK] [START] [END]), the batches, the model's padding masks and
// losses, and the decoders. Padding is id 0 everywhere: masks and losses skip it.
#include <cstdint>

namespace bcqnmt {

constexpr int32_t kPadId = 0, kUnkId = 1, kStartId = 2, kEndId = 3;

}  // namespace bcqnmt
