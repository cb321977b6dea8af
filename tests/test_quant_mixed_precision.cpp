// Mixed precision: bit allocation JSON, frequency clusters, per-row-bits matrices.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/vector.hpp>
#include <nlohmann/json.hpp>

#include "core/random.h"
#include "quant/bcq_mixed_matrix.h"
#include "quant/bit_allocation.h"
#include "quant/frequency_clusters.h"
#include "quant/quant_error.h"

using namespace bcqnmt;

TEST_CASE("frequency cluster sizes follow 1 : r : r^2 : r^3 and cover every row") {
  CHECK(frequency_cluster_sizes(15, 2.0) == std::array<int64_t, 4>{1, 2, 4, 8});
  CHECK(frequency_cluster_sizes(100, 1.0) == std::array<int64_t, 4>{25, 25, 25, 25});
  // 7010 rows (the model's vocabulary), r = 4.3: first cluster ~1%, as in the paper.
  const auto s = frequency_cluster_sizes(7010, 4.3);
  CHECK(s[0] + s[1] + s[2] + s[3] == 7010);
  CHECK(s[0] == 68);   // round(7010 * 1 / 103.297), 1 + r + r^2 + r^3 = 103.297
  CHECK(s[1] == 292);  // round(7010 * 5.3 / 103.297) - 68 = 360 - 68
  // Cumulative rounding: ends round(3 * {1, 3, 7} / 15) = {0, 1, 1}, then 3.
  CHECK(frequency_cluster_sizes(3, 2.0) == std::array<int64_t, 4>{0, 1, 0, 2});
  CHECK_THROWS_AS(frequency_cluster_sizes(10, 0.0), QuantError);
}

TEST_CASE("frequency cluster bits: most frequent rows get 4 bits, ties by row index") {
  //                               row: 0   1   2    3   4  5  6   7  8  9 10 11 12 13 14
  const std::vector<int64_t> counts{5, 50, 500, 5, 1, 0, 40, 3, 3, 3, 2, 2, 1, 1, 0};
  const auto bits = frequency_cluster_bits(counts, 2.0);  // sizes 1, 2, 4, 8
  // Ranked: 2 | 1 6 | 0 3 7 8 | 9 10 11 4 12 13 5 14
  CHECK(bits == std::vector<int>{2, 3, 4, 2, 1, 1, 3, 2, 2, 1, 1, 1, 1, 1, 1});
}

TEST_CASE("bit allocation JSON: all keys, defaults, unknown keys and bad values") {
  const auto j = nlohmann::json::parse(R"({"embedding_cluster_ratio": 4.3, "encoder_self_attention": 3,
      "encoder_ffn": 4, "decoder_self_attention": 2, "cross_attention": 3, "decoder_ffn": 1})");
  const BitAllocation a = bit_allocation_from_json(j, "paper.json");
  CHECK(a.embedding_uses_clusters());
  CHECK(a.encoder_ffn == 4);
  CHECK(a.decoder_self_attention == 2);
  CHECK(a.decoder_ffn == 1);
  CHECK(a.final_layer == 3);  // default
  const BitAllocation back = bit_allocation_from_json(bit_allocation_to_json(a), "round trip");
  CHECK(bit_allocation_to_json(back) == bit_allocation_to_json(a));
  CHECK(BitAllocation::uniform(2).cross_attention == 2);
  CHECK_FALSE(BitAllocation::uniform(2).embedding_uses_clusters());

  auto message_of = [](const char* text) {
    try {
      bit_allocation_from_json(nlohmann::json::parse(text), "bits.json");
    } catch (const QuantError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message_of(R"({"encoder_fnn": 4})").find("unknown key 'encoder_fnn'") != std::string::npos);
  CHECK(message_of(R"({"decoder_ffn": 0})") == R"(bits.json: "decoder_ffn" = 0 is out of range (1..8))");
  // Range-checked before the value becomes an int: 4294967298 would wrap to 2, -4294967294 to 2.
  CHECK(message_of(R"({"embedding": 4294967298})") == R"(bits.json: "embedding" = 4294967298 is out of range (1..8))");
  CHECK(message_of(R"({"embedding": -4294967294})").find("out of range (1..8)") != std::string::npos);
  CHECK(message_of(R"({"embedding": 4294967297})").find("out of range (1..8)") != std::string::npos);
  CHECK(message_of(R"({"decoder_ffn": 2.5})").find("bits.json") != std::string::npos);
  CHECK(message_of(R"({"embedding_cluster_ratio": -1})").find("embedding_cluster_ratio") != std::string::npos);
  CHECK(message_of("[3]").find("JSON object") != std::string::npos);
}

TEST_CASE("bit allocation file: load, missing file, bad JSON") {
  const auto dir = std::filesystem::temp_directory_path() / "bcqnmt_test_quant_mixed_precision";
  std::filesystem::create_directories(dir);
  const auto good = (dir / "bits.json").string();
  std::ofstream(good) << R"({"embedding": 2, "final_layer": 4})";
  const BitAllocation a = load_bit_allocation(good);
  CHECK(a.embedding == 2);
  CHECK(a.final_layer == 4);
  const auto bad = (dir / "bad.json").string();
  std::ofstream(bad) << "{ not json";
  CHECK_THROWS_AS(load_bit_allocation(bad), QuantError);
  CHECK_THROWS_AS(load_bit_allocation((dir / "absent.json").string()), QuantError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("per-row bits: each row is quantized exactly as alone at its width; serialization") {
  const int64_t rows = 15, cols = 40;
  Rng rng(8);
  std::vector<float> w(rows * cols);
  for (auto& x : w) x = rng.normal();
  std::vector<int64_t> counts(rows);
  for (int64_t r = 0; r < rows; ++r) counts[r] = (r * 7) % 11;
  const auto row_bits = frequency_cluster_bits(counts, 2.0);
  const BcqOptions options{0, 16, BcqMethod::alternating, 3};
  const BcqMixedMatrix m = bcq_quantize_mixed(w.data(), rows, cols, row_bits, options);
  m.validate("test");
  CHECK(m.pieces.size() == 4);
  CHECK(m.average_bits() == doctest::Approx((4 * 1 + 3 * 2 + 2 * 4 + 1 * 8) / 15.0));
  const Tensor d = m.dequantize();
  for (int64_t r = 0; r < rows; ++r) {
    CHECK(m.bits_of_row(r) == row_bits[r]);
    BcqOptions alone = options;
    alone.bits = row_bits[r];
    const BcqMatrix single = bcq_quantize(w.data() + r * cols, 1, cols, alone);
    const auto expected = single.dequantize().to_vector();
    CHECK(std::vector<float>(d.data() + r * cols, d.data() + (r + 1) * cols) == expected);
  }

  std::stringstream buffer;
  {
    cereal::PortableBinaryOutputArchive out(buffer);
    out(m);
  }
  BcqMixedMatrix back;
  {
    cereal::PortableBinaryInputArchive in(buffer);
    in(back);
  }
  back.validate("round trip");
  CHECK(back.dequantize().to_vector() == d.to_vector());

  CHECK_THROWS_AS(bcq_quantize_mixed(w.data(), rows, cols, std::vector<int>(3, 2), options), QuantError);
  BcqMixedMatrix broken = m;
  broken.row_in_piece[0] = 99;
  CHECK_THROWS_AS(broken.validate("broken"), QuantError);
}
