#pragma once
// The reference model the benchmarks run: configs/small.json with the reference's
// vocabulary sizes (pt 7,765 / en 7,010), read from the source tree.
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "nn/model_config.h"

namespace bcqnmt::bench {

inline ModelConfig small_config() {
  std::ifstream f(std::string(BCQNMT_SOURCE_DIR) + "/configs/small.json");
  ModelConfig c = ModelConfig::from_json(nlohmann::json::parse(f).at("model"));
  c.src_vocab_size = 7765;
  c.tgt_vocab_size = 7010;
  return c;
}

}  // namespace bcqnmt::bench
