#include "nn/training_health.h"

#include <cmath>
#include <map>

namespace bcqnmt {

double position_varying_share(const Tensor& encoded, const std::vector<int32_t>& lengths) {
  const int64_t b = encoded.size(0), s = encoded.size(1), d = encoded.size(2);
  double varying = 0.0, total = 0.0;
  std::vector<double> mean(d);
  for (int64_t n = 0; n < b; ++n) {
    const int64_t len = std::min<int64_t>(lengths.at(n), s);
    const float* x = encoded.data() + n * s * d;  // [S, D]
    std::fill(mean.begin(), mean.end(), 0.0);
    for (int64_t p = 0; p < len; ++p)
      for (int64_t i = 0; i < d; ++i) mean[i] += x[p * d + i] / static_cast<double>(len);
    for (int64_t p = 0; p < len; ++p)
      for (int64_t i = 0; i < d; ++i) {
        const double v = x[p * d + i];
        varying += (v - mean[i]) * (v - mean[i]);
        total += v * v;
      }
  }
  return total > 0.0 ? varying / total : 0.0;
}

double normalised_attention_entropy(const Tensor& probabilities, const std::vector<int32_t>& key_lengths,
                                    const std::vector<int32_t>& query_lengths) {
  const int64_t b = probabilities.size(0), h = probabilities.size(1), tq = probabilities.size(2),
                tk = probabilities.size(3);
  double sum = 0.0;
  int64_t rows = 0;
  for (int64_t n = 0; n < b; ++n) {
    const int64_t keys = std::min<int64_t>(key_lengths.at(n), tk);
    if (keys < 2) continue;  // one key: attention has no choice to make
    for (int64_t head = 0; head < h; ++head)
      for (int64_t i = 0; i < std::min<int64_t>(query_lengths.at(n), tq); ++i) {
        const float* p = probabilities.data() + ((n * h + head) * tq + i) * tk;  // [Tk]
        double entropy = 0.0;
        for (int64_t j = 0; j < keys; ++j)
          if (p[j] > 0.0f) entropy -= p[j] * std::log(static_cast<double>(p[j]));
        sum += entropy / std::log(static_cast<double>(keys));
        ++rows;
      }
  }
  return rows ? sum / static_cast<double>(rows) : 0.0;
}

ModelHealth measure_health(Transformer& model, const IndexTensor& source, const IndexTensor& target_in) {
  NoGradGuard no_grad;
  const bool was_training = model.training();
  model.eval();
  const AttentionMask source_mask = padding_mask(source, false);
  const AttentionMask target_mask = padding_mask(target_in, true);
  const Variable encoded = model.encoder().forward(source, source_mask);  // [B, S, D]
  std::vector<std::vector<Tensor>> probabilities(model.decoder().layers().size());  // per layer [B, H, T, S]
  for (size_t i = 0; i < probabilities.size(); ++i)
    model.decoder().layers()[i]->cross_attention().mha().record_probabilities(&probabilities[i]);
  model.decoder().forward(target_in, encoded, source_mask);
  ModelHealth health;
  health.encoder_position_share = position_varying_share(encoded.value(), source_mask.key_lengths);
  for (size_t i = 0; i < probabilities.size(); ++i) {
    model.decoder().layers()[i]->cross_attention().mha().record_probabilities(nullptr);
    health.cross_attention_entropy +=
        normalised_attention_entropy(probabilities[i].at(0), source_mask.key_lengths, target_mask.key_lengths) /
        static_cast<double>(probabilities.size());
  }
  model.train(was_training);
  return health;
}

namespace {
std::string group_of(const std::string& path) {
  std::vector<std::string> parts = path_components(path);
  if (parts.size() > 1) parts.pop_back();  // the parameter's own name ("kernel") is not part of its group
  std::string group;
  int kept = 0;
  for (const std::string& part : parts)
    if (kept < 2 && part.rfind("layer_", 0) != 0) group += (kept++ ? "/" : "") + part;
  return group;
}
}  // namespace

std::vector<std::pair<std::string, double>> gradient_norms_by_group(const Module& model) {
  std::vector<std::pair<std::string, double>> norms;
  std::map<std::string, size_t> index;
  for (const auto& [name, p] : model.named_parameters()) {
    const std::string group = group_of(name);
    auto [it, added] = index.emplace(group, norms.size());
    if (added) norms.emplace_back(group, 0.0);
    if (!p.grad().defined()) continue;
    const Tensor& g = p.grad();
    double sum = 0.0;
    for (int64_t i = 0; i < g.numel(); ++i) sum += static_cast<double>(g.data()[i]) * g.data()[i];
    norms[it->second].second += sum;
  }
  for (auto& [group, sum] : norms) sum = std::sqrt(sum);
  return norms;
}

}  // namespace bcqnmt
