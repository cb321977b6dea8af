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
