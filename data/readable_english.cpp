#include "data/readable_english.h"

#include "data/moses_detokenizer.h"
#include "data/sentence_case.h"

namespace bcqnmt {

std::string readable_english(std::string_view tokenized) { return sentence_case(detokenize_english(tokenized)); }

}  // namespace bcqnmt
