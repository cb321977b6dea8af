#include "apps/corpus_split.h"

#include <iostream>

#include "apps/app_error.h"

namespace bcqnmt {

ParallelText load_split_noting_drops(const std::string& data_dir, Split split) {
  ParallelText text = load_split(data_dir, split);
  if (text.dropped_pairs > 0)
    std::cerr << kNoteLine << data_dir << ": the " << split_name(split) << " split drops " << text.dropped_pairs
              << " of " << text.size() + text.dropped_pairs << " pairs, whose source or target line is empty (as "
              << "TFDS does)" << std::endl;
  return text;
}

}  // namespace bcqnmt
