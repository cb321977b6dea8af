#pragma once
// A made-up parallel corpus for tests that drive the whole binary: "sentences" of random
// syllables, the target a fixed word-by-word mapping, so there is something to learn in a
// few seconds. Writes {train,validation,test}.{pt,en} into dir.
#include <filesystem>
#include <string>

#include "core/random.h"
#include "test_data_files.h"

namespace bcqnmt::test {

inline void make_synthetic_corpus(const std::filesystem::path& dir, int train_pairs, int validation_pairs = 100,
                                  int test_pairs = 50) {
  const char* syllables[] = {"ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "de", "va", "zu", "fe"};
  Rng rng(99);
  auto write_split = [&](const std::string& name, int pairs) {
    std::string pt, en;
    for (int i = 0; i < pairs; ++i) {
      const int words = 4 + static_cast<int>(rng.below(10));
      for (int w = 0; w < words; ++w) {
        const uint64_t a = rng.below(12), b = rng.below(12);
        pt += std::string(w ? " " : "") + syllables[a] + syllables[b];
        en += std::string(w ? " " : "") + syllables[b] + syllables[(a + 3) % 12] + "x";
      }
      pt += " .\n";
      en += " .\n";
    }
    write_text(dir / (name + ".pt"), pt);
    write_text(dir / (name + ".en"), en);
  };
  write_split("train", train_pairs);
  write_split("validation", validation_pairs);
  write_split("test", test_pairs);
}

}  // namespace bcqnmt::test
