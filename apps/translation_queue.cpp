#include "apps/translation_queue.h"

#include <tuple>

#include "apps/app_error.h"
#include "nn/cross_attention_map.h"

namespace bcqnmt {

namespace {

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

auto options_key(const DecodeOptions& o) {
  return std::tuple(o.beam_size, o.n_best, o.length_alpha, o.max_length, o.max_length_factor);
}

}  // namespace

TranslationQueue::TranslationQueue(LoadedModel& model, std::chrono::microseconds window)
    : model_(model),
      translator_(*model.model, model.experiment.source_vocab, model.experiment.target_vocab,
                  model.experiment.training.max_tokens),
      window_(window),
      decoder_([this] { decoder_loop(); }) {}

TranslationQueue::~TranslationQueue() { stop(); }

std::future<TranslationResult> TranslationQueue::submit(TranslationRequest request) {
  Pending pending{std::move(request), {}, std::chrono::steady_clock::now()};
  std::future<TranslationResult> result = pending.promise.get_future();
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) throw AppError("the server is stopping");
    queue_.push_back(std::move(pending));
  }
  arrived_.notify_one();
  return result;
}

void TranslationQueue::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  arrived_.notify_one();
  if (decoder_.joinable()) decoder_.join();
}

void TranslationQueue::decoder_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    arrived_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // Give the requests that arrive with this one the window to join its batch.
    arrived_.wait_until(lock, queue_.front().arrived + window_, [this] { return stopping_; });
    std::vector<Pending> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    lock.unlock();
    decode(batch);
    lock.lock();
  }
}

// Requests with the same decoding options are decoded together; each group in one
// translate_n_best call, which sorts the sentences by length into batches.
void TranslationQueue::decode(std::vector<Pending>& batch) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<TranslationResult> results(batch.size());
  std::vector<bool> done(batch.size(), false);
  try {
    for (size_t first = 0; first < batch.size(); ++first) {
      if (done[first]) continue;
      const DecodeOptions& options = batch[first].request.options;
      std::vector<size_t> members;
      std::vector<std::string> sentences;
      for (size_t i = first; i < batch.size(); ++i)
        if (!done[i] && options_key(batch[i].request.options) == options_key(options)) {
          members.push_back(i);
          done[i] = true;
          sentences.insert(sentences.end(), batch[i].request.text.begin(), batch[i].request.text.end());
        }
      std::vector<std::vector<ScoredText>> translated = translator_.translate_n_best(sentences, options);
      size_t next = 0;
      for (size_t i : members)
        for (size_t s = 0; s < batch[i].request.text.size(); ++s) {
          const std::string& sentence = batch[i].request.text[s];
          results[i].hypotheses.push_back(std::move(translated[next++]));
          if (batch[i].request.attention) results[i].attention.push_back(attention_map(sentence, options));
          if (const std::string cut = translator_.truncation_warning(sentence); !cut.empty())
            results[i].warnings.push_back("text[" + std::to_string(s) + "]: " + cut);
        }
    }
  } catch (...) {
    for (Pending& p : batch) p.promise.set_exception(std::current_exception());
    return;
  }
  const double decode_ms = ms_between(start, std::chrono::steady_clock::now());
  for (size_t i = 0; i < batch.size(); ++i) {
    results[i].queue_ms = ms_between(batch[i].arrived, start);
    results[i].decode_ms = decode_ms;
    results[i].batch_requests = static_cast<int>(batch.size());
    batch[i].promise.set_value(std::move(results[i]));
  }
}

// The map needs the 1-best's token ids, which the Translator turns into text: the sentence
// is decoded once more on its own (same search, so the same output) for them.
AttentionMap TranslationQueue::attention_map(const std::string& sentence, const DecodeOptions& options) {
  if (translator_.blank(sentence)) return {};  // not decoded
  const Experiment& e = model_.experiment;
  const std::vector<int32_t> source = translator_.encode_source(sentence);
  const IndexTensor batch{{1, static_cast<int64_t>(source.size())}, source};
  DecodeOptions one_best = options;
  one_best.n_best = 1;
  const std::vector<int32_t> output = decode_n_best(*model_.model, batch, one_best).front().front().tokens;
  AttentionMap map;
  for (int32_t id : source) map.source.push_back(e.source_vocab.token_of(id));
  for (int32_t id : output) map.target.push_back(e.target_vocab.token_of(id));
  map.target.push_back("[END]");
  map.weights = cross_attention_map(*model_.model, batch, output);
  return map;
}

}  // namespace bcqnmt
