#include "apps/translator.h"

#include <algorithm>
#include <cctype>
#include <numeric>

namespace bcqnmt {


Translator::Translator(const Transformer& model, const Vocabulary& source, const Vocabulary& target, int max_tokens)
    : model_(model), source_(source), target_(target), max_tokens_(max_tokens) {}

std::vector<int32_t> Translator::encode_source(const std::string& sentence) const {
  std::vector<int32_t> ids{kStartId};
  for (int32_t id : source_.encode(sentence)) ids.push_back(id);
  if (static_cast<int>(ids.size()) > max_tokens_ - 1) ids.resize(max_tokens_ - 1);
  ids.push_back(kEndId);
  return ids;
}

int64_t Translator::source_wordpieces(const std::string& sentence) const {
  return static_cast<int64_t>(source_.encode(sentence).size());
}

bool Translator::blank(const std::string& sentence) const { return source_wordpieces(sentence) == 0; }

std::string Translator::truncation_warning(const std::string& sentence) const {
  const int64_t pieces = source_wordpieces(sentence);
  if (pieces <= max_source_wordpieces()) return "";
  return std::to_string(pieces) + " wordpieces, cut to the model's " + std::to_string(max_source_wordpieces());
}

std::vector<SourceBatch> batch_by_length(const std::vector<std::vector<int32_t>>& encoded, int batch_size) {
  std::vector<size_t> order(encoded.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return encoded[a].size() < encoded[b].size(); });
  std::vector<SourceBatch> batches;
  for (size_t begin = 0; begin < order.size(); begin += batch_size) {
    const size_t end = std::min(order.size(), begin + batch_size);
    const size_t width = encoded[order[end - 1]].size();  // the longest: sorted
    SourceBatch batch{IndexTensor{{static_cast<int64_t>(end - begin), static_cast<int64_t>(width)},
                                  std::vector<int32_t>((end - begin) * width, kPadId)},
                      std::vector<size_t>(order.begin() + begin, order.begin() + end)};
    for (size_t i = begin; i < end; ++i)
      std::copy(encoded[order[i]].begin(), encoded[order[i]].end(), batch.source.data.begin() + (i - begin) * width);
    batches.push_back(std::move(batch));
  }
  return batches;
}

int Translator::sentences_for_rows(int rows, int beam_size) { return std::max(1, rows / std::max(1, beam_size)); }

int Translator::batch_sentences(int beam_size) const {
  return sentences_for_rows(model_.final_layer().packed() ? kPackedBatchRows : kDenseBatchRows, beam_size);
}

std::vector<std::vector<ScoredText>> Translator::translate_n_best(const std::vector<std::string>& sentences,
                                                                  const DecodeOptions& options, int batch_size) const {
  if (batch_size <= 0) batch_size = batch_sentences(options.beam_size);
  std::vector<std::vector<int32_t>> encoded;
  std::vector<size_t> decoded;  // the input index of each encoded sentence: the non-blank ones
  for (size_t i = 0; i < sentences.size(); ++i)
    if (!blank(sentences[i])) {
      encoded.push_back(encode_source(sentences[i]));
      decoded.push_back(i);
    }
  DecodeOptions timed = options;
  if (timed.thread_choice == nullptr) timed.thread_choice = &thread_choice_;
  std::vector<std::vector<ScoredText>> out(sentences.size());
  for (const SourceBatch& batch : batch_by_length(encoded, batch_size)) {
    const auto outputs = decode_n_best(model_, batch.source, timed);
    for (size_t r = 0; r < batch.sentences.size(); ++r)
      for (const ScoredTranslation& t : outputs[r])
        out[decoded[batch.sentences[r]]].push_back({target_.decode(t.tokens), t.score});
  }
  return out;
}

std::vector<std::string> Translator::translate(const std::vector<std::string>& sentences, const DecodeOptions& options,
                                               int batch_size) const {
  DecodeOptions one_best = options;
  one_best.n_best = 1;
  std::vector<std::string> out;
  for (auto& hypotheses : translate_n_best(sentences, one_best, batch_size))
    out.push_back(hypotheses.empty() ? std::string() : std::move(hypotheses.front().text));
  return out;
}

}  // namespace bcqnmt
