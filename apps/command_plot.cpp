// bcqnmt plot: three SVG pictures of a run, written to --out (default RUN/plots):
//   curves.svg     training and validation loss / masked accuracy over the steps of
//                  pretraining and then quantization-aware training (metrics.jsonl)
//   attention.svg  cross-attention of one sentence translated greedily by the fp model:
//                  the last decoder layer's probabilities averaged over heads, output tokens
//                  down, source tokens across (as the TensorFlow Transformer tutorial shows them)
//   weights.svg    the histogram of one layer's fp weights (pretrain/best.ckpt) with the 2^Q
//                  BCQ levels sum_q +-alpha_q of the layer's row-averaged alphas
#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "apps/app_error.h"
#include "apps/commands.h"
#include "apps/model_loading.h"
#include "apps/svg_charts.h"
#include "apps/translator.h"
#include "data/corpus.h"
#include "quant/bcq_model.h"

namespace bcqnmt {

namespace {

void plot_curves(const RunDirectory& run, const std::filesystem::path& path) {
  run.require(run.metrics(), "pretrain");
  std::ifstream in(run.metrics());
  // Quantization restarts its step count; it is drawn after the last pretraining step.
  std::map<std::string, std::map<std::string, Series>> by_phase;  // phase -> metric -> series
  double pretrain_end = 0;
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json r = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (r.is_discarded()) throw AppError(run.metrics().string() + " has a line that is not JSON: " + line);
    if (r.value("phase", "") == "pretrain") pretrain_end = std::max(pretrain_end, r.value("step", 0.0));
    records.push_back(std::move(r));
  }
  for (const auto& r : records) {
    const std::string phase = r.value("phase", "");
    if ((phase != "pretrain" && phase != "quantize") || r.value("kind", "validation") != "validation") continue;
    const double x = r.value("step", 0.0) + (phase == "quantize" ? pretrain_end : 0.0);
    for (const char* metric : {"loss", "val_loss", "masked_accuracy", "val_masked_accuracy"})
      if (r.contains(metric)) {
        Series& s = by_phase[phase][metric];
        s.x.push_back(x);
        s.y.push_back(r.at(metric).get<double>());
      }
  }
  if (by_phase.empty()) throw AppError(run.metrics().string() + " has no pretrain or quantize records to plot");
  SvgDocument doc(860, 760);
  const char* panels[2][3] = {{"loss", "val_loss", "Masked cross-entropy"}, {"masked_accuracy", "val_masked_accuracy", "Masked accuracy"}};
  for (int p = 0; p < 2; ++p) {
    LineChart chart{panels[p][2], "training step (quantization continues after pretraining)", panels[p][2], {}, {}};
    for (const auto& [phase, metrics] : by_phase)
      for (int k = 0; k < 2; ++k) {
        auto it = metrics.find(panels[p][k]);
        if (it == metrics.end()) continue;
        Series s = it->second;
        s.name = phase + (k ? " validation" : " train");
        s.color = phase == "pretrain" ? "#1f77b4" : "#ff7f0e";
        s.dashed = k == 1;
        chart.series.push_back(std::move(s));
      }
    if (by_phase.count("quantize") && by_phase.count("pretrain")) chart.markers.push_back({pretrain_end, "quantize"});
    draw_line_chart(doc, 10, 10 + p * 375, 840, 365, chart);
  }
  doc.save(path);
}

std::string plot_sentence(const PlotOptions& o) {
  if (!o.sentence.empty()) return o.sentence;
  const ParallelText test = load_split(resolve_data_dir(o.data), Split::kTest);
  if (test.size() == 0) throw AppError("the test split has no sentences: give one with --sentence");
  return test.source.front();
}

void plot_attention(const Experiment& e, Transformer& model, const std::string& sentence,
                    const std::filesystem::path& path) {
  const Translator translator(model, e.source_vocab, e.target_vocab, e.training.max_tokens);
  const std::vector<int32_t> source = translator.encode_source(sentence);
  std::vector<Tensor> steps;  // per decoding step [1, H, 1, S]
  MultiHeadAttention& mha = model.decoder().layers().back()->cross_attention().mha();
  mha.record_probabilities(&steps);
  const std::vector<int32_t> output =
      translate_batch(model, IndexTensor{{1, static_cast<int64_t>(source.size())}, source}, DecodeOptions{}).front();
  mha.record_probabilities(nullptr);
  std::vector<std::vector<float>> weights;  // [steps][S], mean over heads
  for (const Tensor& p : steps) {
    const int64_t heads = p.size(1), s = p.size(3);
    std::vector<float> row(s, 0.0f);
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < s; ++j) row[j] += p.data()[h * s + j] / static_cast<float>(heads);
    weights.push_back(std::move(row));
  }
  std::vector<std::string> rows, cols;
  for (int32_t id : output) rows.push_back(e.target_vocab.token_of(id));
  if (rows.size() < weights.size()) rows.push_back("[END]");  // the step that stopped
  for (int32_t id : source) cols.push_back(e.source_vocab.token_of(id));
  heat_map_svg(weights, rows, cols, "Cross-attention, last decoder layer, mean of heads", "output token (greedy)",
               "source token")
      .save(path);
}

void plot_weights(const Experiment& e, const Transformer& model, const PlotOptions& o, const std::filesystem::path& path) {
  const Variable* found = nullptr;
  const auto named = model.named_parameters();
  for (const auto& [name, p] : named)
    if (name == o.layer) found = &p;
  if (found == nullptr || found->dim() != 2)
    throw AppError("--layer \"" + o.layer + "\" is not a weight matrix of the model (e.g. " +
                   "encoder/layer_0/ffn/dense_0/kernel; `bcqnmt info` lists the parts)");
  const Tensor& w = found->value();
  // BCQ rows are output neurons: a kernel [in, out] is quantized as its transpose.
  const auto [rows, cols] = bcq_quantized_shape(o.layer, w.shape());
  Tensor m({rows, cols});
  const bool transpose = rows != w.size(0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m.data()[r * cols + c] = transpose ? w.data()[c * rows + r] : w.data()[r * cols + c];
  BcqOptions options;
  options.bits = o.bits > 0 ? o.bits : e.quantization.bits;
  options.method = bcq_method_from_name(o.solver.empty() ? e.quantization.solver : o.solver);
  options.cycles = e.quantization.cycles;
  const BcqMatrix q = bcq_quantize(m, options);
  std::vector<double> mean_alpha(options.bits, 0.0);
  for (int b = 0; b < options.bits; ++b)
    for (int64_t r = 0; r < rows; ++r) mean_alpha[b] += q.alpha(b, r, 0) / static_cast<double>(rows);
  std::vector<double> levels;
  for (int code = 0; code < (1 << options.bits); ++code) {
    double level = 0;
    for (int b = 0; b < options.bits; ++b) level += ((code >> b) & 1 ? 1 : -1) * mean_alpha[b];
    levels.push_back(level);
  }
  const Tensor d = q.dequantize();
  double err = 0, norm = 0;
  for (int64_t i = 0; i < m.numel(); ++i) {
    err += std::pow(double(m.data()[i]) - d.data()[i], 2);
    norm += double(m.data()[i]) * m.data()[i];
  }
  std::ostringstream title, legend;
  title << o.layer << " [" << w.size(0) << ", " << w.size(1) << "], fp32 weights of pretrain/best.ckpt";
  legend << options.bits << "-bit " << (o.solver.empty() ? e.quantization.solver : o.solver)
         << " levels (mean alphas); rel. sq. error " << std::setprecision(3) << err / norm;
  histogram_svg(w.to_vector(), 80, levels, title.str(), "weight value", legend.str()).save(path);
}

}  // namespace

int run_plot(const PlotOptions& o, std::ostream& out) {
  Experiment e = open_experiment(o.run, "");
  const std::filesystem::path dir = o.out.empty() ? e.run.root / "plots" : std::filesystem::path(o.out);
  std::filesystem::create_directories(dir);
  plot_curves(e.run, dir / "curves.svg");
  out << "wrote " << (dir / "curves.svg").string() << "\n";
  auto model = load_run_model(e, "fp");
  plot_attention(e, *model, plot_sentence(o), dir / "attention.svg");
  out << "wrote " << (dir / "attention.svg").string() << "\n";
  plot_weights(e, *model, o, dir / "weights.svg");
  out << "wrote " << (dir / "weights.svg").string() << "\n";
  return 0;
}

}  // namespace bcqnmt
