#pragma once
// The checkpoints of one run directory: latest.ckpt after every save (what a resume reads),
// and best.ckpt whenever a named metric improves (what evaluation and quantization read).
//
// The best value so far is recorded in every saved checkpoint's metrics under
// "best_<metric>", so after a restart resume_from(latest) knows what to beat. best.ckpt is
// written before latest.ckpt: a crash between the two leaves a best.ckpt at least as good
// as the value latest.ckpt remembers.
//
// With keep_epochs, it also keeps the last few epoch-end checkpoints (epoch_NNN.ckpt), the
// input of checkpoint averaging (optim/checkpoint_average.h).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "optim/checkpoint.h"

namespace bcqnmt {

enum class MetricGoal { maximize, minimize };

class CheckpointKeeper {
 public:
  // Creates run_dir if needed, and removes the temporary files a killed save left there
  // (latest.ckpt.tmp.* and best.ckpt.tmp.*; one run directory has one writer).
  CheckpointKeeper(std::filesystem::path run_dir, std::string metric, MetricGoal goal);

  // save() and promote_if_better() write latest.ckpt<suffix> and best.ckpt<suffix> instead,
  // for a caller that publishes a phase's files together (apps/run_manifest.h: ".next").
  void stage_writes(std::string suffix) { write_suffix_ = std::move(suffix); }

  std::filesystem::path latest_path() const { return run_dir_ / "latest.ckpt"; }
  std::filesystem::path best_path() const { return run_dir_ / "best.ckpt"; }
  std::string best_metric_key() const { return "best_" + metric_; }
  std::optional<double> best_value() const { return best_; }

  // Takes over the best value recorded in a checkpoint being resumed from.
  void resume_from(const Checkpoint& latest);
  // Writes best.ckpt if checkpoint.metrics[metric] beats the best so far, then latest.ckpt;
  // both carry the updated "best_<metric>". Returns true when best.ckpt was written.
  // A checkpoint without the metric only updates latest.ckpt.
  bool save(const Checkpoint& checkpoint);

  // Keeps latest.ckpt (just saved at the end of `epoch`) as epoch_NNN.ckpt, a hard link
  // where the file system allows (saves replace latest.ckpt by rename, so the link keeps
  // this epoch's file), else a copy; removes the epoch files older than the last `keep`.
  // With stage_writes, latest.ckpt<suffix> becomes epoch_NNN.ckpt<suffix> and nothing is
  // removed: the caller's commit publishes the returned set (the names in `kept` and this
  // epoch's, without those older than the last `keep`) and removes the rest
  // (apps/run_manifest.h).
  std::vector<std::string> keep_epoch(int64_t epoch, int keep, const std::vector<std::string>& kept = {}) const;
  // The kept epoch checkpoints, oldest first.
  std::vector<std::filesystem::path> epoch_checkpoints() const;

  // "epoch_NNN.ckpt", and back: the epoch of such a name, or -1 for any other name.
  static std::string epoch_file_name(int64_t epoch);
  static int64_t epoch_of(const std::string& name);

  // Makes `candidate` (e.g. an average of epoch checkpoints, with the metric set) best.ckpt
  // if it beats the best recorded in latest.ckpt, and records the new best in latest.ckpt so
  // a resumed training does not replace it with a worse epoch. `previous_best`, if given,
  // receives the value it had to beat (none: no best yet). Returns whether it did.
  bool promote_if_better(const Checkpoint& candidate, std::optional<double>* previous_best = nullptr);

  // Whether `value` of the metric would beat the best so far (what save() would do with it).
  bool improves(double value) const;

 private:

  std::filesystem::path run_dir_;
  std::string metric_;
  MetricGoal goal_;
  std::optional<double> best_;
  std::string write_suffix_;
};

}  // namespace bcqnmt
