#include "optim/checkpoint_keeper.h"

#include <algorithm>
#include <cstdio>

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
  if (improved) save_checkpoint(best_path().string() + write_suffix_, to_write);
  save_checkpoint(latest_path().string() + write_suffix_, to_write);
  return improved;
}

std::string CheckpointKeeper::epoch_file_name(int64_t epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch_%03lld.ckpt", static_cast<long long>(epoch));
  return name;
}

int64_t CheckpointKeeper::epoch_of(const std::string& name) {
  if (!name.starts_with("epoch_") || !name.ends_with(".ckpt")) return -1;
  const std::string digits = name.substr(6, name.size() - 11);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

std::vector<std::string> CheckpointKeeper::keep_epoch(int64_t epoch, int keep,
                                                      const std::vector<std::string>& kept) const {
  const auto target = run_dir_ / (epoch_file_name(epoch) + write_suffix_);
  const auto latest = latest_path().string() + write_suffix_;
  std::error_code ec;
  std::filesystem::remove(target, ec);
  std::filesystem::create_hard_link(latest, target, ec);
  if (ec) std::filesystem::copy_file(latest, target, std::filesystem::copy_options::overwrite_existing);
  std::vector<std::string> names;
  for (const std::string& name : kept)
    if (epoch_of(name) > epoch - keep && epoch_of(name) != epoch) names.push_back(name);
  names.push_back(epoch_file_name(epoch));
  std::sort(names.begin(), names.end());
  if (write_suffix_.empty())
    for (const auto& path : epoch_checkpoints())
      if (epoch_of(path.filename().string()) <= epoch - keep) std::filesystem::remove(path, ec);
  return names;
}

std::vector<std::filesystem::path> CheckpointKeeper::epoch_checkpoints() const {
  std::vector<std::pair<int64_t, std::filesystem::path>> found;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir_)) {
    const int64_t epoch = epoch_of(entry.path().filename().string());
    if (epoch >= 0) found.emplace_back(epoch, entry.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::filesystem::path> paths;
  for (auto& [epoch, path] : found) paths.push_back(std::move(path));
  return paths;
}

bool CheckpointKeeper::promote_if_better(const Checkpoint& candidate, std::optional<double>* previous_best) {
  Checkpoint latest = load_checkpoint(latest_path());
  resume_from(latest);
  if (previous_best) *previous_best = best_;
  const auto it = candidate.metrics.find(metric_);
  if (it == candidate.metrics.end() || !improves(it->second)) return false;
  best_ = it->second;
  Checkpoint best = candidate;
  best.metrics[best_metric_key()] = *best_;
  save_checkpoint(best_path().string() + write_suffix_, best);
  latest.metrics[best_metric_key()] = *best_;
  save_checkpoint(latest_path().string() + write_suffix_, latest);
  return true;
}

}  // namespace bcqnmt
