#pragma once
// One experiment = one run directory. Every command reads what earlier commands left here
// and resumes from it:
//   config.json            the model/training/quantization config the run was started with
//   vocab.pt.txt vocab.en.txt
//   pretrain/latest.ckpt pretrain/best.ckpt       full-precision training
//   quantize/latest.ckpt quantize/best.ckpt       quantization-aware training (fp32 latent)
//   model.bcq                                     the best packed BCQ model
//   metrics.jsonl                                 one JSON object per epoch / evaluation
//   output.<model>.txt ref.txt                    the last evaluation's translations
#include <filesystem>

#include <nlohmann/json_fwd.hpp>

namespace bcqnmt {

struct RunDirectory {
  std::filesystem::path root;

  std::filesystem::path config() const { return root / "config.json"; }
  std::filesystem::path source_vocab() const { return root / "vocab.pt.txt"; }
  std::filesystem::path target_vocab() const { return root / "vocab.en.txt"; }
  std::filesystem::path pretrain_dir() const { return root / "pretrain"; }
  std::filesystem::path quantize_dir() const { return root / "quantize"; }
  std::filesystem::path bcq_model() const { return root / "model.bcq"; }
  std::filesystem::path metrics() const { return root / "metrics.jsonl"; }

  // Appends one line; metrics are a log, so appending (not atomic rewrite) is right.
  void append_metrics(const nlohmann::json& record) const;
  // Throws AppError ("run directory X has no pretrain/best.ckpt: run `bcqnmt pretrain` first").
  void require(const std::filesystem::path& file, const char* produced_by) const;
};

}  // namespace bcqnmt
