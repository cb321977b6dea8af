#include "optim/checkpoint_keeper.h"

namespace bcqnmt {

CheckpointKeeper::CheckpointKeeper(std::filesystem::path run_dir, std::string metric, MetricGoal goal)
    : run_dir_(std::move(run_dir)), metric_(std::move(metric)), goal_(goal) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir_, ec);
  if (ec) throw CheckpointError(run_dir_.string() + ": cannot create the run directory: " + ec.message());
  for (const auto& entry : std::filesystem::directory_iterator(run_dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("latest.ckpt.tmp.") || name.starts_with("best.ckpt.tmp."))
      std::filesystem::remove(entry.path(), ec);
  }
}

void CheckpointKeeper::resume_from(const Checkpoint& latest) {
  const auto it = latest.metrics.find(best_metric_key());
  best_ = it == latest.metrics.end() ? std::nullopt : std::optional<double>(it->second);
}

bool CheckpointKeeper::improves(double value) const {
  if (!best_) return true;
  return goal_ == MetricGoal::maximize ? value > *best_ : value < *best_;
}

bool CheckpointKeeper::save(const Checkpoint& checkpoint) {
  // A copy is cheap: tensors share their storage.
  Checkpoint to_write = checkpoint;
  const auto it = checkpoint.metrics.find(metric_);
  const bool improved = it != checkpoint.metrics.end() && improves(it->second);
  if (improved) best_ = it->second;
  if (best_) to_write.metrics[best_metric_key()] = *best_;
  if (improved) save_checkpoint(best_path(), to_write);
  save_checkpoint(latest_path(), to_write);
  return improved;
}

}  // namespace bcqnmt
