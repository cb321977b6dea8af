#pragma once
// The decoding side of `bcqnmt serve`: HTTP handlers submit requests, one decoder thread
// takes everything that arrived within a short window and decodes it as one batch
// (apps/translator.h batches by length), then hands each request its answers.
//
// Why one decoder thread: the kernels (OpenBLAS, the BCQ lookup tables, on the thread team) already
// spread one batch over every core, so two batches decoded at once would only compete for
// the same cores; batching requests together instead uses them on fewer, fuller matrix
// products, which is where the throughput is.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "apps/commands.h"
#include "apps/model_loading.h"
#include "apps/translator.h"

namespace bcqnmt {

struct TranslationRequest {
  std::vector<std::string> text;  // a blank one gets no hypotheses and an empty attention map
  DecodeOptions options;
  bool attention = false;  // also the cross-attention map of each 1-best translation
  OutputFormat format = OutputFormat::readable;  // applied to the answer, not the decoding
};

// Where the decoder looked for one sentence (nn/cross_attention_map.h): weights
// [target.size()][source.size()], the source's wordpieces with [START]/[END], the output's
// wordpieces and "[END]"; all empty for a blank sentence.
struct AttentionMap {
  std::vector<std::string> source, target;
  std::vector<std::vector<float>> weights;
};

struct TranslationResult {
  std::vector<std::vector<ScoredText>> hypotheses;  // per sentence, best first
  std::vector<AttentionMap> attention;              // per sentence when asked for
  // One per sentence longer than the model reads, which was cut (Translator::truncation_warning):
  // "text[2]: 136 wordpieces, cut to the model's 126", 0-based index into the request's text.
  std::vector<std::string> warnings;
  double queue_ms = 0.0;   // from submit until its batch started decoding
  double decode_ms = 0.0;  // decoding the batch it was part of
  int batch_requests = 1;  // requests decoded together in that batch
};

class TranslationQueue {
 public:
  // `window`: how long the decoder waits after the first request of a batch for others.
  TranslationQueue(LoadedModel& model, std::chrono::microseconds window);
  ~TranslationQueue();  // stop()
  TranslationQueue(const TranslationQueue&) = delete;
  TranslationQueue& operator=(const TranslationQueue&) = delete;

  // Thread-safe. The future holds the result, or the exception decoding threw.
  std::future<TranslationResult> submit(TranslationRequest request);
  // Decodes what is queued, then ends the decoder thread; later submits throw AppError.
  void stop();

 private:
  struct Pending {
    TranslationRequest request;
    std::promise<TranslationResult> promise;
    std::chrono::steady_clock::time_point arrived;
  };
  void decoder_loop();
  void decode(std::vector<Pending>& batch);
  AttentionMap attention_map(const std::string& sentence, const DecodeOptions& options);

  LoadedModel& model_;
  Translator translator_;
  std::chrono::microseconds window_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread decoder_;  // last: starts once everything above exists
};

}  // namespace bcqnmt
