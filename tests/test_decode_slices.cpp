// A decoding step on the thread team in few hand-offs (issue 17): MultiHeadAttention runs
// each group of heads' Q, K, V and attention as one task (step_by_heads) and its output
// projection by two halves of the heads, FeedForward each group of hidden-unit slices' two
// products as one (nn/feed_forward_slices.cpp). The heads' tasks must give the bits of the
// separate loops (which project their output by halves too); the halves and the slices sum
// shares of a product, each tabulated on its own, so they move the output by table rounding
// only. Both run on a BCQ model of the reference widths (8 heads of 16, 512 hidden units:
// two slices).
#include <doctest/doctest.h>

#include <vector>

#include "core/parallel.h"
#include "nn/decoding.h"
#include "quant/bcq_gemm.h"
#include "reference_width_models.h"

using namespace bcqnmt;

namespace {

struct Models : test::ReferenceWidthModels {
  Models() : ReferenceWidthModels(3) {}
  IndexTensor sources{{3, 9},
                      {kStartId, 40, 41, 42, 43, 44, 45, 46, kEndId,   //
                       kStartId, 90, 91, 92, kEndId, 0, 0, 0, 0,       //
                       kStartId, 300, 17, 250, 251, 9, 8, kEndId, 0}};
};

// While a sink is set, an attention layer records its probabilities and takes its loop-by-loop
// path (MultiHeadAttention::record_probabilities).
void record_all(Transformer& model, std::vector<Tensor>* sink) {
  for (auto& layer : model.decoder().layers()) {
    layer->self_attention().mha().record_probabilities(sink);
    layer->cross_attention().mha().record_probabilities(sink);
  }
}

}  // namespace

TEST_CASE("attention by heads gives the bits of the separate loops: greedy logits, beam search, on 1 and 2 threads") {
  Models m;
  {
    const NoGradGuard no_grad;
    for (auto& layer : m.packed.model->decoder().layers()) {  // the paths these checks are about run
      CHECK(layer->self_attention().mha().steps_by_heads(3, /*grow=*/true));
      CHECK(layer->cross_attention().mha().steps_by_heads(12, /*grow=*/false));  // beam 4
      CHECK(layer->ffn().runs_by_slices(3));
      CHECK_FALSE(layer->ffn().runs_by_slices(kBcqDequantizeFromRows));  // the dequantizing kernels
    }
    CHECK_FALSE(m.dense.model->decoder().layers()[0]->ffn().runs_by_slices(3));  // dense weights
  }
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    CAPTURE(threads);
    DecodeOptions beam;
    beam.beam_size = 4;
    beam.max_length = 10;
    const auto by_heads = greedy_logits_cached(*m.packed.model, m.sources, 12);
    const auto beams = translate_batch(*m.packed.model, m.sources, beam);
    std::vector<Tensor> sink;
    record_all(*m.packed.model, &sink);
    CHECK(greedy_logits_cached(*m.packed.model, m.sources, 12) == by_heads);
    CHECK(translate_batch(*m.packed.model, m.sources, beam) == beams);
    CHECK_FALSE(sink.empty());  // the loop-by-loop path did run
    record_all(*m.packed.model, nullptr);
  }
  set_num_threads(0);
}

// The LUT model against the dense model carrying its dequantized weights, at the reference
// widths. Each product's table rounding moves it by ~ (3 / (2 x 8191)) x sqrt(chunks) / 2 of
// its magnitude for roundings of random sign (quant_tiny_model.h): 5e-4 for 128 columns (Q, K,
// V, Dense_F, the output layer), 1.0e-3 for Dense_D's 512 (its two slices are rounded on
// their own, each within the whole product's bound: a slice's step is at most the whole
// row's), 1.5e-3 for the attention output's 1024. Eleven products lie on the way to a logit
// in a 2-layer model; adding like a random walk, ~3e-3. The check allows 1e-2.
TEST_CASE("the LUT model with attention by heads and the feed-forward by slices stays within table rounding") {
  Models m;
  const auto want = greedy_logits_cached(*m.dense.model, m.sources, 12);
  const auto got = greedy_logits_cached(*m.packed.model, m.sources, 12);
  REQUIRE(want.size() == got.size());
  const test::LogitGap gap = test::logit_gap(want, got);
  MESSAGE("logits: max |kernels - dense| = " << gap.largest_difference << " of max |logit| "
                                             << gap.largest_logit);  // 2e-4 of it
  CHECK(gap.largest_difference <= 1e-2 * gap.largest_logit);
}
