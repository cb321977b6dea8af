#pragma once
// A tiny Transformer with the reference model's widths (d_model 128, 8 heads of 16, 512
// hidden units, 2 layers, vocabularies of 600), its 3-bit BCQ twin on the LUT kernels and the
// dense model carrying the dequantized weights: the shapes whose decoding steps split into
// tasks by heads and slices (tests/test_decode_threads.cpp, tests/test_decode_slices.cpp).
#include "quant/bcq_model.h"
#include "quant_tiny_model.h"
#include "test_data_files.h"

namespace bcqnmt::test {

struct ReferenceWidthModels {
  explicit ReferenceWidthModels(uint64_t seed) : model(config(), seed) {
    QuantizeSettings settings;
    settings.bits = BitAllocation::uniform(3);
    settings.solver.method = BcqMethod::greedy;
    BcqModel::quantize(model, settings).save(dir.path / "model.bcq", model, 0, 0);
    packed = load_bcq_model(dir.path / "model.bcq", /*kernels=*/true);
    dense = load_bcq_model(dir.path / "model.bcq", /*kernels=*/false);
    packed.model->eval();
    dense.model->eval();
  }
  static ModelConfig config() {
    ModelConfig c = quant_tiny_config();  // no dropout
    c.d_model = 128;
    c.dff = 512;
    c.num_heads = 8;
    c.key_dim = 16;
    c.src_vocab_size = c.tgt_vocab_size = 600;
    return c;
  }
  Transformer model;  // fp32, as initialised
  ScratchDir dir;
  LoadedBcqModel packed, dense;
};

}  // namespace bcqnmt::test
