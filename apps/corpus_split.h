#pragma once
// A corpus split as the commands read it: data/corpus.h's load_split, plus one line on
// stderr when pairs were dropped for an empty side, so a user who counts lines learns why
// the pair count is smaller.
#include <string>

#include "data/corpus.h"

namespace bcqnmt {

// Throws DataError as load_split. Writes "note: DIR: the validation split drops 3 of 1196
// pairs, whose source or target line is empty (as TFDS does)" to stderr when any were dropped.
ParallelText load_split_noting_drops(const std::string& data_dir, Split split);

}  // namespace bcqnmt
