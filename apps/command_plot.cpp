// bcqnmt plot: four SVG pictures of a run, written to --out (default RUN/plots):
//   curves.svg     training and validation loss / masked accuracy over the steps of
//                  pretraining and then quantization-aware training (metrics.jsonl)
//   health.svg     the health signals (nn/training_health.h) over the same steps: the encoder
//                  output's position-varying share, cross-attention entropy, the learning
//                  rate and the gradient norm per parameter group
//   attention.svg  cross-attention of one sentence translated greedily by the fp model:
//                  the last decoder layer's probabilities averaged over heads, output tokens
//                  down, source tokens across (as the TensorFlow Transformer tutorial shows them)
//   weights.svg    the histogram of one layer's fp weights (pretrain/best.ckpt) with the 2^Q
//                  BCQ levels sum_q +-alpha_q of the layer's row-averaged alphas
//   sensitivity.svg  validation loss with one parameter group quantized at a time, a bar per
//                  bit width and a dashed fp32 baseline (RUN/sensitivity.json, written by
//                  `bcqnmt sensitivity`; skipped with one line when the run has none)
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <regex>
#include <sstream>

#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/model_loading.h"
#include "apps/svg_charts.h"
#include "apps/translator.h"
#include "data/corpus.h"
#include "nn/cross_attention_map.h"
#include "quant/bcq_model.h"
#include "quant/group_sensitivity.h"
#include "nn/json_file.h"

namespace bcqnmt {

namespace {

// metrics.jsonl's pretrain and quantize records, each with its step on one axis:
// quantization restarts its step count, so it is drawn after the last pretraining step.
struct MetricRecords {
  std::vector<std::pair<double, nlohmann::json>> records;  // (global step, record)
  double pretrain_end = 0;
};

MetricRecords read_metric_records(const RunDirectory& run) {
  run.require(run.metrics(), "pretrain");
  std::vector<nlohmann::json> lines = run.read_metrics(std::cerr);
  MetricRecords m;
  for (const nlohmann::json& r : lines)
    if (r.value("phase", "") == "pretrain") m.pretrain_end = std::max(m.pretrain_end, r.value("step", 0.0));
  for (auto& r : lines) {
    const std::string phase = r.value("phase", "");
    if (phase != "pretrain" && phase != "quantize") continue;
    m.records.emplace_back(r.value("step", 0.0) + (phase == "quantize" ? m.pretrain_end : 0.0), std::move(r));
  }
  if (m.records.empty()) throw AppError(run.metrics().string() + " has no pretrain or quantize records to plot");
  return m;
}

// "pretrain", or "quantize <variant>": each quantized variant is a phase of its own.
std::string phase_label(const nlohmann::json& r) {
  const std::string variant = r.value("variant", "");
  return r.value("phase", "") + (variant.empty() ? "" : " " + variant);
}

const char* phase_color(int index) {
  const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  return palette[index % 8];
}

void plot_curves(const MetricRecords& m, const std::filesystem::path& path) {
  std::map<std::string, std::map<std::string, Series>> by_phase;  // phase -> metric -> series
  const double pretrain_end = m.pretrain_end;
  for (const auto& [x, r] : m.records) {
    if (r.value("kind", "validation") != "validation") continue;  // step logs have no epoch averages
    const std::string phase = phase_label(r);
    for (const char* metric : {"loss", "val_loss", "masked_accuracy", "val_masked_accuracy"})
      if (r.contains(metric)) {
        Series& s = by_phase[phase][metric];
        s.x.push_back(x);
        s.y.push_back(r.at(metric).get<double>());
      }
  }
  SvgDocument doc(860, 760);
  const char* panels[2][3] = {{"loss", "val_loss", "Masked cross-entropy"}, {"masked_accuracy", "val_masked_accuracy", "Masked accuracy"}};
  for (int p = 0; p < 2; ++p) {
    LineChart chart{panels[p][2], "training step (quantization continues after pretraining)", panels[p][2], {}, {}};
    int color = 0;
    for (const auto& [phase, metrics] : by_phase) {
      ++color;
      for (int k = 0; k < 2; ++k) {
        auto it = metrics.find(panels[p][k]);
        if (it == metrics.end()) continue;
        Series s = it->second;
        s.name = phase + (k ? " validation" : " train");
        s.color = phase_color(phase == "pretrain" ? 0 : color);
        s.dashed = k == 1;
        chart.series.push_back(std::move(s));
      }
    }
    if (by_phase.size() > 1 && by_phase.count("pretrain")) chart.markers.push_back({pretrain_end, "quantize"});
    draw_line_chart(doc, 10, 10 + p * 375, 840, 365, chart);
  }
  doc.save(path);
}

// Three panels over the steps of every phase: the two health signals (both in [0, 1]), the
// learning rate, and log10 of each parameter group's gradient norm (they span 1e-10 to 1e1
// when cross-attention has died, which is what this panel is for).
// False (and nothing written) when no record holds the signals.
bool plot_health(const MetricRecords& m, const std::filesystem::path& path) {
  std::map<std::string, Series> signals, rates, norms;
  const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  auto add = [](std::map<std::string, Series>& to, const std::string& name, double x, double y) {
    Series& s = to[name];
    s.name = name;
    s.x.push_back(x);
    s.y.push_back(y);
  };
  for (const auto& [x, r] : m.records) {
    // Step logs and validation records measure the signals on the same fixed batch;
    // only step logs carry gradient norms.
    const std::string phase = phase_label(r);
    for (const auto& [signal, label] : {std::pair{"encoder_position_share", "encoder share"},
                                        std::pair{"cross_attention_entropy", "cross-attention entropy"}})
      if (r.contains(signal)) add(signals, phase + " " + label, x, r.at(signal).get<double>());
    if (r.contains("learning_rate")) add(rates, phase + " learning rate", x, r.at("learning_rate").get<double>());
    if (r.contains("grad_norm"))
      for (const auto& [group, norm] : r.at("grad_norm").items())
        add(norms, phase + " " + group, x, std::log10(std::max(norm.get<double>(), 1e-30)));
  }
  if (signals.empty()) return false;  // a run trained before the signals existed
  SvgDocument doc(860, 1140);
  const char* titles[3][2] = {{"Health: encoder position-varying share and cross-attention entropy", "share / entropy"},
                              {"Learning rate", "learning rate"},
                              {"Gradient norm per parameter group", "log10 gradient norm"}};
  std::map<std::string, Series>* panels[3] = {&signals, &rates, &norms};
  for (int p = 0; p < 3; ++p) {
    LineChart chart{titles[p][0], "training step (quantization continues after pretraining)", titles[p][1], {}, {}};
    chart.legend_width = 240;  // "pretrain decoder/causal_self_attention" and the like
    int color = 0;
    for (auto& [name, series] : *panels[p]) {
      series.color = palette[color++ % 8];
      series.dashed = name.rfind("quantize", 0) == 0;
      chart.series.push_back(series);
    }
    if (m.pretrain_end > 0 && m.records.back().first > m.pretrain_end) chart.markers.push_back({m.pretrain_end, "quantize"});
    draw_line_chart(doc, 10, 10 + p * 375, 840, 365, chart);
  }
  doc.save(path);
  return true;
}

// The attention picture's sentence: --sentence, else the corpus's first test sentence; none
// when neither is given nor found (the other pictures need no corpus).
std::optional<std::string> plot_sentence(const PlotOptions& o) {
  if (!o.sentence.empty()) return o.sentence;
  const std::optional<std::string> data = find_data_dir(o.data);
  if (!data) return std::nullopt;
  const ParallelText test = load_split(*data, Split::kTest);
  if (test.size() == 0) throw AppError("the test split has no sentences: give one with --sentence");
  return test.source.front();
}

void plot_attention(const Experiment& e, Transformer& model, const std::string& sentence,
                    const std::filesystem::path& path) {
  const Translator translator(model, e.source_vocab, e.target_vocab, e.training.max_tokens);
  const std::vector<int32_t> source = translator.encode_source(sentence);
  const IndexTensor batch{{1, static_cast<int64_t>(source.size())}, source};
  const std::vector<int32_t> output = translate_batch(model, batch, DecodeOptions{}).front();
  std::vector<std::string> rows, cols;
  for (int32_t id : output) rows.push_back(e.target_vocab.token_of(id));
  rows.push_back("[END]");  // the step after the last token
  for (int32_t id : source) cols.push_back(e.source_vocab.token_of(id));
  const std::vector<std::vector<float>> weights = cross_attention_map(model, batch, output);
  // Finite weights can still overflow the attention logits (inf - inf = NaN in softmax).
  for (size_t step = 0; step < weights.size(); ++step)
    if (!std::all_of(weights[step].begin(), weights[step].end(), [](float w) { return std::isfinite(w); }))
      throw AppError("plot: the cross-attention of the last decoder layer is not finite (NaN or Inf) for step " +
                     std::to_string(step + 1) + " of \"" + sentence + "\": the model's weights overflow; nothing to draw");
  heat_map_svg(weights, rows, cols, "Cross-attention, last decoder layer, mean of heads", "output token (greedy)",
               "source token")
      .save(path);
}

// The weight matrix --layer names, with its layer's orientation; UsageError if the model
// has none of that name.
QuantizedWeight layer_weight(const Transformer& model, const std::string& layer) {
  const std::vector<QuantizedWeight> weights = bcq_quantized_weights(model);
  for (const QuantizedWeight& w : weights)
    if (w.name == layer) return w;
  // The names, once per layer pattern: "encoder/layer_N/ffn/dense_0/kernel" stands for N layers.
  const std::regex layer_index("layer_[0-9]+");
  std::vector<std::string> patterns;
  for (const QuantizedWeight& w : weights) {
    const std::string pattern = std::regex_replace(w.name, layer_index, "layer_N");
    if (std::find(patterns.begin(), patterns.end(), pattern) == patterns.end()) patterns.push_back(pattern);
  }
  std::string names;
  for (const std::string& p : patterns) names += (names.empty() ? "" : ", ") + p;
  throw UsageError("--layer \"" + layer + "\" is not a weight matrix of the model; they are " + names +
                   " (N from 0 to " + std::to_string(model.config().num_layers - 1) + ")");
}

void plot_weights(const Experiment& e, const Transformer& model, const PlotOptions& o, const std::filesystem::path& path) {
  const QuantizedWeight layer = layer_weight(model, o.layer);
  const Tensor& w = layer.value;
  const Tensor m = bcq_rows_first(layer, w);  // BCQ rows are output rows
  const int64_t rows = m.size(0);
  BcqOptions options = e.quantization.solver_options();
  if (o.bits > 0) options.bits = o.bits;
  if (!o.solver.empty()) options.method = bcq_method_names().parse<UsageError>(o.solver);
  options.group_size = 0;  // one alpha set per row: the levels drawn are means over rows
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
  legend << options.bits << "-bit " << bcq_method_names().name(options.method)
         << " levels (mean alphas); rel. sq. error " << std::setprecision(3) << err / norm;
  histogram_svg(w.to_vector(), 80, levels, title.str(), "weight value", legend.str()).save(path);
}

// One band per parameter group, one bar per bit width (in the sweep's order), the fp32
// loss as the dashed reference.
void plot_sensitivity(const std::filesystem::path& json_path, const std::filesystem::path& path) {
  const nlohmann::json j = read_json_file<AppError>(json_path);
  const GroupSensitivity sweep = group_sensitivity_from_json(j, json_path.string());
  // Fewer bits, warmer bar: 1 red ... 8 blue.
  const char* by_bits[] = {"#d62728", "#ff7f0e", "#bcbd22", "#2ca02c", "#17becf", "#1f77b4", "#3949ab", "#5e35b1"};
  BarChart chart;
  chart.title = "Per-group BCQ sensitivity: one group quantized, the rest fp32, no QAT (" +
                bcq_method_names().name(sweep.solver.method) + " solver)";
  chart.x_label = "validation loss (masked cross-entropy per token)";
  std::map<int, size_t> series_of_bits;
  std::map<std::string, size_t> category_of_group;
  for (const GroupSensitivityRow& r : sweep.rows) {
    if (!category_of_group.count(r.group)) {
      category_of_group[r.group] = chart.categories.size();
      chart.categories.push_back(r.group);
    }
    if (!series_of_bits.count(r.bits)) {
      series_of_bits[r.bits] = chart.series.size();
      chart.series.push_back({std::to_string(r.bits) + (r.bits == 1 ? " bit" : " bits"),
                              by_bits[std::clamp(r.bits, 1, 8) - 1], {}});
    }
  }
  for (BarSeries& s : chart.series) s.values.assign(chart.categories.size(), NAN);
  for (const GroupSensitivityRow& r : sweep.rows)
    chart.series[series_of_bits[r.bits]].values[category_of_group[r.group]] = r.score.val_loss;
  std::ostringstream baseline;
  baseline << "fp32 baseline " << std::setprecision(4) << sweep.baseline.val_loss;
  chart.references.push_back({sweep.baseline.val_loss, baseline.str()});
  bar_chart_svg(chart).save(path);
}

}  // namespace

int run_plot(const PlotOptions& o, std::ostream& out) {
  Experiment e = open_experiment(o.run, "");
  layer_weight(Transformer(e.model, e.training.seed), o.layer);  // a bad --layer fails before any file is written
  const std::filesystem::path dir = o.out.empty() ? e.run.root / "plots" : std::filesystem::path(o.out);
  std::filesystem::create_directories(dir);
  bool health = false;
  try {
    const MetricRecords metrics = read_metric_records(e.run);
    plot_curves(metrics, dir / "curves.svg");
    health = plot_health(metrics, dir / "health.svg");
  } catch (const nlohmann::json::exception& err) {
    throw e.run.metrics_error(err);
  }
  out << "wrote " << (dir / "curves.svg").string() << "\n";
  if (health)
    out << "wrote " << (dir / "health.svg").string() << "\n";
  else
    out << "no health signals in " << e.run.metrics().string() << " (trained before they were logged): no health.svg\n";
  auto model = load_run_model(e, "fp");
  if (const std::optional<std::string> sentence = plot_sentence(o)) {
    plot_attention(e, *model, *sentence, dir / "attention.svg");
    out << "wrote " << (dir / "attention.svg").string() << "\n";
  } else {
    out << "no corpus found and no --sentence: no attention.svg\n";
  }
  plot_weights(e, *model, o, dir / "weights.svg");
  out << "wrote " << (dir / "weights.svg").string() << "\n";
  const std::filesystem::path sensitivity = e.run.root / kSensitivityFile;
  if (std::filesystem::exists(sensitivity)) {
    plot_sensitivity(sensitivity, dir / "sensitivity.svg");
    out << "wrote " << (dir / "sensitivity.svg").string() << "\n";
  } else {
    out << "no " << sensitivity.string() << " (`bcqnmt sensitivity` writes it): no sensitivity.svg\n";
  }
  return 0;
}

Subcommand add_plot_command(CLI::App& app) {
  auto o = std::make_shared<PlotOptions>();
  CLI::App* c = app.add_subcommand("plot", "SVG pictures of a run: training curves, health signals, cross-attention of "
                                           "one sentence, one layer's weights with its BCQ levels, the per-group "
                                           "sensitivity sweep if measured");
  add_run_flag(c, o->run);
  c->add_option("--out", o->out, "Output directory (default: RUN/plots)");
  add_data_flag(c, o->data, "; its first test sentence is drawn (without a corpus or --sentence: no attention.svg)");
  c->add_option("--sentence", o->sentence, "Portuguese sentence for the attention picture");
  c->add_option("--layer", o->layer, "Weight matrix for the histogram")->capture_default_str();
  c->add_option("--bits", o->bits, "BCQ bits of the levels (default: the run's)")->check(CLI::Range(1, 8));
  c->add_option("--solver", o->solver, "BCQ solver of the levels (default: the run's)")
      ->check(CLI::IsMember(bcq_method_names().names()));
  return {c, [o] { return run_plot(*o, std::cout); }};
}

}  // namespace bcqnmt
