// apps/translation_queue.h in-process: requests submitted within the window are decoded in
// one batch, grouped by their decoding options, and each gets what the Translator gives for
// its own sentences alone; a stopped queue refuses work.
#include <doctest/doctest.h>

#include "apps/app_error.h"
#include "apps/translation_queue.h"
#include "tiny_run.h"

using namespace bcqnmt;
using namespace bcqnmt::test;

TEST_CASE("TranslationQueue: one batch for a window's requests, mixed options, answers as the Translator's") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  LoadedModel model = load_model(t.run.string(), "", "fp");
  const Experiment& e = model.experiment;
  const Translator reference(*model.model, e.source_vocab, e.target_vocab, e.training.max_tokens);

  DecodeOptions greedy, beam;
  beam.beam_size = 3;
  beam.n_best = 2;
  const std::vector<TranslationRequest> requests{{{"kalo mine .", "po ."}, greedy, false},
                                                 {{"suta ri po ."}, beam, false},
                                                 {{"mine ."}, greedy, false},
                                                 {{"kalo suta ."}, beam, true}};
  std::vector<TranslationResult> results;
  {
    TranslationQueue queue(model, std::chrono::milliseconds(500));
    std::vector<std::future<TranslationResult>> futures;
    for (const TranslationRequest& r : requests) futures.push_back(queue.submit(r));
    for (auto& f : futures) results.push_back(f.get());
    queue.stop();
    CHECK_THROWS_AS(queue.submit(requests[0]), AppError);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    INFO("request " << i);
    CHECK(results[i].batch_requests == 4);
    CHECK(results[i].decode_ms > 0.0);
    const auto alone = reference.translate_n_best(requests[i].text, requests[i].options);
    REQUIRE(results[i].hypotheses.size() == alone.size());
    for (size_t s = 0; s < alone.size(); ++s) {
      REQUIRE(results[i].hypotheses[s].size() == alone[s].size());
      for (size_t h = 0; h < alone[s].size(); ++h) {
        CHECK(results[i].hypotheses[s][h].text == alone[s][h].text);
        CHECK(results[i].hypotheses[s][h].score == doctest::Approx(alone[s][h].score).epsilon(1e-4));
      }
    }
    CHECK(results[i].attention.size() == (requests[i].attention ? requests[i].text.size() : 0));
  }
  const AttentionMap& map = results[3].attention.at(0);
  CHECK(map.source.front() == "[START]");
  CHECK(map.source.back() == "[END]");
  CHECK(map.target.back() == "[END]");
  REQUIRE(map.weights.size() == map.target.size());
  CHECK(map.weights.front().size() == map.source.size());
}

// The default decoding batch (Translator::batch_sentences): 64 hypotheses on dense weights, 4
// on packed ones, shared among the beams, never below one sentence. docs/performance.md
// ("Decoding batches") has the timings behind the two sizes.
TEST_CASE("Translator: the default batch holds 64 hypotheses on dense weights and 4 on packed ones") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  run_bcqnmt_ok("quantize --mode ptq" + t.flags);
  for (const char* variant : {"fp", "3bit-greedy-ptq"}) {
    LoadedModel model = load_model(t.run.string(), "", variant);
    const Experiment& e = model.experiment;
    const Translator translator(*model.model, e.source_vocab, e.target_vocab, e.training.max_tokens);
    const bool packed = std::string(variant) != "fp";
    CAPTURE(variant);
    CHECK(model.model->final_layer().packed() == packed);
    const int rows = packed ? Translator::kPackedBatchRows : Translator::kDenseBatchRows;
    CHECK(rows == (packed ? 4 : 64));
    CHECK(translator.batch_sentences(1) == rows);
    CHECK(translator.batch_sentences(4) == rows / 4);
    CHECK(translator.batch_sentences(64) == 1);
    // Any batch gives each sentence its own translation: the default and one at a time agree.
    const std::vector<std::string> sentences{"kalo mine .", "po .", "suta ri po .", "mine .", "kalo suta .",
                                             "ri po mine .", "suta .", "kalo .", "po mine suta ."};
    DecodeOptions options;
    const std::vector<std::string> batched = translator.translate(sentences, options);
    for (size_t i = 0; i < sentences.size(); ++i) CHECK(batched[i] == translator.translate({sentences[i]}, options, 1).front());
  }
}
