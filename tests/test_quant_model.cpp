// BCQ for a whole Transformer: parameter groups, projection, the .bcq file and the quantized
// inference path (lookup-table kernels) against the fp32 model carrying the same weights.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/checksummed_file.h"
#include "nn/decoding.h"
#include "nn/error.h"
#include "quant/bcq_model.h"
#include "quant/quant_error.h"
#include "quant_tiny_model.h"
#include "test_data_files.h"

using namespace bcqnmt;

namespace {

ModelConfig tiny_config() { return test::quant_tiny_config(); }

QuantizeSettings settings_with_bits(int bits) {
  QuantizeSettings s;
  s.bits = BitAllocation::uniform(bits);
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Sentences of 3..7 symbols with [START]/[END], right-padded.
IndexTensor source_batch(int64_t b, int vocab, uint64_t seed) {
  Rng rng(seed);
  const int64_t width = 9;
  IndexTensor ids{{b, width}, std::vector<int32_t>(b * width, kPadId)};
  for (int64_t n = 0; n < b; ++n) {
    const int len = 3 + static_cast<int>(rng.below(5));
    ids.data[n * width] = kStartId;
    for (int j = 1; j <= len; ++j) ids.data[n * width + j] = 4 + static_cast<int32_t>(rng.below(vocab - 4));
    ids.data[n * width + len + 1] = kEndId;
  }
  return ids;
}

// Live bytes of every parameter tensor (a packed weight is no parameter: it counts 0).
int64_t parameter_bytes(const Transformer& model) {
  int64_t bytes = 0;
  for (const auto& [name, p] : model.named_parameters()) bytes += p.numel() * static_cast<int64_t>(sizeof(float));
  return bytes;
}

}  // namespace

TEST_CASE("bits_for_parameter puts every weight matrix in its group; biases and LayerNorm stay fp32") {
  Transformer model(tiny_config(), 1);
  BitAllocation bits;  // a distinct width per group, so the width names the group
  bits.embedding = 1;
  bits.encoder_self_attention = 2;
  bits.encoder_ffn = 3;
  bits.decoder_self_attention = 4;
  bits.cross_attention = 5;
  bits.decoder_ffn = 6;
  bits.final_layer = 7;
  std::map<int, int> per_width;
  int fp32 = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    bool quantized = false;
    const int q = bits_for_parameter(name, bits, &quantized);
    CAPTURE(name);
    const bool fp32_name = ends_with(name, "/bias") || ends_with(name, "/gamma") || ends_with(name, "/beta");
    CHECK(quantized == !fp32_name);
    CHECK(quantized == (p.value().dim() == 2));
    if (!quantized) {
      ++fp32;
      continue;
    }
    ++per_width[q];
    if (name.find("/embeddings") != std::string::npos) CHECK(q == 1);
    if (name.rfind("encoder/layer_1/self_attention/mha/", 0) == 0) CHECK(q == 2);
    if (name.rfind("encoder/layer_0/ffn/dense_", 0) == 0) CHECK(q == 3);
    if (name.rfind("decoder/layer_1/causal_self_attention/mha/", 0) == 0) CHECK(q == 4);
    if (name.rfind("decoder/layer_0/cross_attention/mha/", 0) == 0) CHECK(q == 5);
    if (name.rfind("decoder/layer_1/ffn/dense_", 0) == 0) CHECK(q == 6);
    if (name == "final_layer/kernel") CHECK(q == 7);
  }
  // 2 layers: 4 attention kernels per attention block, 2 FFN kernels per layer.
  CHECK(per_width == std::map<int, int>{{1, 2}, {2, 8}, {3, 4}, {4, 8}, {5, 8}, {6, 4}, {7, 1}});
  // biases: 4 per attention block, 2 per FFN, 1 final; LayerNorm gamma+beta per block.
  CHECK(fp32 == (2 * (4 + 2) + 2 * (4 + 4 + 2) + 1) + 2 * (2 * 2 + 3 * 2));
  bool quantized = true;
  CHECK_THROWS_AS(bits_for_parameter("encoder/layer_0/new_block/kernel", bits, &quantized), QuantError);
}

TEST_CASE("quantize then write_dequantized: each weight is its BCQ dequantization, everything else untouched") {
  Transformer model(tiny_config(), 2), original(tiny_config(), 2);
  QuantizeSettings settings = settings_with_bits(3);
  settings.bits.embedding_cluster_ratio = 2.0;  // frequency clusters on both embeddings
  settings.source_token_counts.resize(20);
  settings.target_token_counts.resize(24);
  for (int i = 0; i < 20; ++i) settings.source_token_counts[i] = (i * 7) % 20;
  for (int i = 0; i < 24; ++i) settings.target_token_counts[i] = 100 - i;
  const BcqModel bcq = BcqModel::quantize(model, settings);
  bcq.write_dequantized(model);
  const auto params = model.named_parameters(), before = original.named_parameters();
  CHECK(bcq.matrices().size() == 2 + 8 + 4 + 8 + 8 + 4 + 1);
  for (size_t k = 0; k < params.size(); ++k) {
    const auto& [name, p] = params[k];
    CAPTURE(name);
    const auto it = bcq.matrices().find(name);
    if (it == bcq.matrices().end()) {
      CHECK(p.value().to_vector() == before[k].second.value().to_vector());
      continue;
    }
    const Tensor w = it->second.dequantize();  // [rows = outputs, cols]
    const bool kernel = ends_with(name, "/kernel");
    const int64_t rows = p.value().size(0), cols = p.value().size(1);
    CHECK(w.numel() == rows * cols);
    bool equal = true;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        equal = equal && p.value().data()[i * cols + j] == (kernel ? w.data()[j * rows + i] : w.data()[i * cols + j]);
    CHECK(equal);
    CHECK(it->second.rows == (kernel ? cols : rows));
    // The projection changed the weights (3 bits cannot be exact on random weights).
    CHECK(p.value().to_vector() != before[k].second.value().to_vector());
  }
  // Clusters: the most frequent target word gets 4 bits, the rarest 1.
  const BcqMixedMatrix& tgt = bcq.matrices().at("decoder/pos_embedding/embedding/embeddings");
  CHECK(tgt.bits_of_row(0) == 4);
  CHECK(tgt.bits_of_row(23) == 1);
  CHECK(bcq.matrices().at("encoder/layer_0/ffn/dense_0/kernel").average_bits() == 3.0);
}

TEST_CASE(".bcq round trip is exact; damaged files name themselves; a failed save keeps the old file") {
  test::ScratchDir dir;
  Transformer model(tiny_config(), 3);
  QuantizeSettings settings = settings_with_bits(2);
  settings.bits.encoder_ffn = 4;
  const BcqModel bcq = BcqModel::quantize(model, settings);
  bcq.write_dequantized(model);
  const std::filesystem::path path = dir.path / "model.bcq";
  bcq.save(path, model, 0x1234, 0x5678);
  CHECK(static_cast<int64_t>(std::filesystem::file_size(path)) == bcq_file_bytes(bcq, model));

  LoadedBcqModel loaded = load_bcq_model(path, /*kernels=*/false);
  CHECK(loaded.source_vocab_fingerprint == 0x1234);
  CHECK(loaded.target_vocab_fingerprint == 0x5678);
  CHECK(loaded.model->config().to_json() == model.config().to_json());
  const auto a = model.named_parameters(), b = loaded.model->named_parameters();
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    CAPTURE(a[k].first);
    CHECK(a[k].first == b[k].first);
    CHECK(a[k].second.value().to_vector() == b[k].second.value().to_vector());  // bit-identical
  }
  CHECK(loaded.bcq.matrices().size() == bcq.matrices().size());
  for (const auto& [name, m] : bcq.matrices()) {
    const BcqMixedMatrix& m2 = loaded.bcq.matrices().at(name);
    CHECK(m2.piece_of_row == m.piece_of_row);
    CHECK(m2.row_in_piece == m.row_in_piece);
    for (size_t p = 0; p < m.pieces.size(); ++p) {
      CHECK(m2.pieces[p].signs == m.pieces[p].signs);
      CHECK(m2.pieces[p].alphas == m.pieces[p].alphas);
    }
  }

  const std::string good = read_bytes(path);
  auto check_error = [&](const std::string& bytes, const std::string& problem) {
    const std::filesystem::path bad = dir.path / "bad.bcq";
    test::write_text(bad, bytes);
    try {
      load_bcq_model(bad, false);
      FAIL("no error for " << problem);
    } catch (const QuantError& e) {
      const std::string message = e.what();
      CAPTURE(message);
      CHECK(message.rfind(bad.string() + ": ", 0) == 0);
      CHECK(message.find(problem) != std::string::npos);
    }
  };
  check_error(good.substr(0, good.size() - 100), "truncated");
  check_error(good.substr(0, 5), "truncated");
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  check_error(flipped, "checksum mismatch");
  std::string magic = good;
  magic[0] = 'X';
  check_error(magic, "bad magic");
  // A whole, checksummed file whose config disagrees with its matrices: the target
  // vocabulary edited from 24 to 25 inside the payload, checksum recomputed.
  const size_t header = 8 + 4 + 8, trailer = 8;
  std::string payload = good.substr(header, good.size() - header - trailer);
  const size_t at = payload.find("\"tgt_vocab_size\":24");
  REQUIRE(at != std::string::npos);
  payload[at + 18] = '5';
  std::string edited = good.substr(0, header) + payload;
  for (int i = 0; i < 8; ++i) edited.push_back(static_cast<char>((fnv1a_64(payload) >> (8 * i)) & 0xFF));
  check_error(edited, "'decoder/pos_embedding/embedding/embeddings' is stored as [24, 16] but the model config gives [25, 16]");

  // A save that fails (the BCQ form belongs to another model) leaves the old file intact.
  ModelConfig other_config = tiny_config();
  other_config.tgt_vocab_size = 30;
  Transformer other(other_config, 4);
  const BcqModel other_bcq = BcqModel::quantize(other, settings);
  CHECK_THROWS_AS(other_bcq.save(path, model, 1, 2), QuantError);
  CHECK(read_bytes(path) == good);
  CHECK_NOTHROW(load_bcq_model(path, true));
}

TEST_CASE("translation from a .bcq file on the LUT kernels matches the fp32 model carrying the dequantized weights") {
  test::ScratchDir dir;
  Transformer model(tiny_config(), 5);
  const BcqModel bcq = BcqModel::quantize(model, settings_with_bits(3));
  bcq.save(dir.path / "model.bcq", model, 0, 0);
  const LoadedBcqModel dense = load_bcq_model(dir.path / "model.bcq", /*kernels=*/false);
  const LoadedBcqModel packed = load_bcq_model(dir.path / "model.bcq", /*kernels=*/true);
  dense.model->eval();
  packed.model->eval();
  // The dense weights are gone; the kernels hold them packed, and the model still counts them.
  CHECK(packed.model->final_layer().packed());
  CHECK(packed.model->decoder().pos_embedding().embedding().packed());
  CHECK_THROWS_AS(packed.model->final_layer().kernel(), NnError);
  CHECK_THROWS_AS(packed.model->decoder().pos_embedding().embedding().table(), NnError);
  CHECK(packed.model->num_parameters() == model.num_parameters());
  CHECK(packed.model->named_packed_weights().size() == bcq.matrices().size());
  CHECK(packed.kernel_bytes > 0);

  const IndexTensor source = source_batch(6, 20, 7);
  NoGradGuard no_grad;
  const auto want = greedy_logits_cached(*dense.model, source, 8);
  const auto got = greedy_logits_cached(*packed.model, source, 8);
  REQUIRE(want.size() == got.size());
  const test::LogitGap gap = test::logit_gap(want, got);
  MESSAGE("logits: max |kernels - dense| = " << gap.largest_difference << ", max |logit| = " << gap.largest_logit);
  CHECK(gap.largest_difference <= test::kTableRoundingLogitShare * gap.largest_logit);
  DecodeOptions options;
  options.max_length = 12;
  const auto want_ids = translate_batch(*dense.model, source, options);
  CHECK(translate_batch(*packed.model, source, options) == want_ids);
  options.beam_size = 3;
  CHECK(translate_batch(*packed.model, source, options) == translate_batch(*dense.model, source, options));
}

TEST_CASE("the 3-bit .bcq of the small.json model is at most 4.9 MB") {
  std::ifstream config_file(std::string(BCQNMT_SOURCE_DIR) + "/configs/small.json");
  ModelConfig config = ModelConfig::from_json(nlohmann::json::parse(config_file).at("model"));
  config.src_vocab_size = 7765;
  config.tgt_vocab_size = 7010;
  Transformer model(config, 11);
  const BcqModel bcq = BcqModel::quantize(model, settings_with_bits(3));
  test::ScratchDir dir;
  bcq.save(dir.path / "small.bcq", model, 0, 0);
  const auto file_bytes = static_cast<int64_t>(std::filesystem::file_size(dir.path / "small.bcq"));
  MESSAGE("small.json 3-bit .bcq: " << file_bytes << " bytes");
  CHECK(file_bytes <= 4'900'000);

  const BcqSizeReport report = bcq_size_report(bcq, model);
  CHECK(report.file_bytes == file_bytes);
  int64_t quantized = 0, packed = 0, fp32 = 0;
  for (const auto& p : report.parts) {
    MESSAGE(p.name << ": " << p.parameters << " parameters, " << p.quantized_parameters << " quantized, fp32 "
                   << p.fp32_bytes << " B, packed " << p.packed_bytes << " B, " << p.average_bits << " bits");
    CHECK(p.average_bits == 3.0);
    quantized += p.quantized_parameters;
    packed += p.packed_bytes;
    fp32 += p.fp32_bytes;
  }
  MESSAGE("total: " << quantized << " quantized, fp32 " << fp32 << " B, packed " << packed << " B");
  CHECK(quantized == 10'128'512);  // docs/reference.md §5
  CHECK(fp32 == model.num_parameters() * 4);

  // Runtime memory: parameter tensors alive + packed bytes held by the kernels.
  const LoadedBcqModel dense = load_bcq_model(dir.path / "small.bcq", false);
  const LoadedBcqModel kernels = load_bcq_model(dir.path / "small.bcq", true);
  const int64_t dense_bytes = parameter_bytes(*dense.model);
  const int64_t kernel_bytes = parameter_bytes(*kernels.model) + kernels.kernel_bytes;
  MESSAGE("runtime parameter memory: fp32 " << dense_bytes << " B; kernels " << kernel_bytes << " B ("
                                            << parameter_bytes(*kernels.model) << " dense [biases, LayerNorm] + "
                                            << kernels.kernel_bytes << " packed)");
  CHECK(dense_bytes == fp32);
  CHECK(bcq_size_report(kernels.bcq, *kernels.model).file_bytes == file_bytes);
  CHECK(kernel_bytes < dense_bytes / 8);
  // Packed weights are still the model's weights: the count is small.json's, as the fp32 model's.
  CHECK(kernels.model->num_parameters() == 10'184'162);
  CHECK(kernels.model->num_parameters() == dense.model->num_parameters());
}

TEST_CASE("a weight's orientation comes from its layer type: a square Linear kernel is read transposed, a table as it is") {
  Transformer model(tiny_config(), 3);
  const auto weights = bcq_quantized_weights_by_name(model);
  const QuantizedWeight& query = weights.at("encoder/layer_0/self_attention/mha/query/kernel");
  REQUIRE(query.shape == Shape{16, 16});  // square: its shape cannot tell [in, out] from [out, in]
  CHECK(query.output_axis == OutputAxis::columns);
  const Tensor rows = bcq_rows_first(query, query.value);  // [out, in]
  bool transposed = true;
  for (int64_t i = 0; i < 16; ++i)
    for (int64_t j = 0; j < 16; ++j) transposed = transposed && rows.data()[i * 16 + j] == query.value.data()[j * 16 + i];
  CHECK(transposed);
  const QuantizedWeight& table = weights.at("decoder/pos_embedding/embedding/embeddings");
  CHECK(table.output_axis == OutputAxis::rows);
  CHECK(bcq_rows_first(table, table.value).to_vector() == table.value.to_vector());
  CHECK(bcq_quantized_shape(table) == std::pair<int64_t, int64_t>{24, 16});
}
