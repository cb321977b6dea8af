#pragma once
// One experiment = one run directory. Every command reads what earlier commands left here
// and resumes from it:
//   config.json            the model/training/quantization config the run was started with
//   vocab.pt.txt vocab.en.txt
//   pretrain/latest.ckpt pretrain/best.ckpt       full-precision training
//   pretrain/manifest.json                        what they are and came from (apps/run_manifest.h)
//   quantized/NAME/...                            one quantized variant (apps/quantized_variant.h):
//                                                   settings.json, latest.ckpt, best.ckpt, model.bcq,
//                                                   manifest.json
//   metrics.jsonl                                 one JSON object per epoch / evaluation
//   eval/<model>.<split>.beam<k>[.firstN].txt     an evaluation's translations, and
//   eval/ref.<split>[.firstN].txt                 its references
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "apps/app_error.h"

namespace bcqnmt {

struct RunDirectory {
  std::filesystem::path root;

  std::filesystem::path config() const { return root / "config.json"; }
  std::filesystem::path source_vocab() const { return root / "vocab.pt.txt"; }
  std::filesystem::path target_vocab() const { return root / "vocab.en.txt"; }
  std::filesystem::path pretrain_dir() const { return root / "pretrain"; }
  std::filesystem::path variant_dir(const std::string& name) const { return root / "quantized" / name; }
  std::filesystem::path bcq_model(const std::string& variant) const { return variant_dir(variant) / "model.bcq"; }
  std::filesystem::path metrics() const { return root / "metrics.jsonl"; }
  std::filesystem::path eval_dir() const { return root / "eval"; }

  // Appends one line; metrics are a log, so appending (not atomic rewrite) is right. A last
  // line a kill or a full disk cut short is ended first, so the new record stays whole.
  void append_metrics(const nlohmann::json& record) const;
  // Every record of metrics.jsonl (none if there is no file). A line that is not a JSON
  // object (a write cut short) is skipped with one warning on `warnings` naming its line.
  std::vector<nlohmann::json> read_metrics(std::ostream& warnings) const;
  // Drops the records of one phase (and variant, "" for none) logged after `step`: a resume
  // from a checkpoint at `step` redoes them, and the log must not hold them twice. Atomic.
  void drop_metrics_after(const std::string& phase, const std::string& variant, int64_t step) const;
  // What a reader of metrics.jsonl throws when a record's field has the wrong type
  // (nlohmann's type_error): one line naming the file, and the line when known (> 0).
  [[nodiscard]] AppError metrics_error(const std::exception& error, int64_t line = 0) const;
  // Throws AppError ("run directory X has no pretrain/best.ckpt: run `bcqnmt pretrain` first").
  void require(const std::filesystem::path& file, const char* produced_by) const;
};

}  // namespace bcqnmt
