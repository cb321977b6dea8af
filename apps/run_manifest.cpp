#include "apps/run_manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "apps/app_error.h"
#include "apps/run_lock.h"
#include "core/atomic_file.h"
#include "core/sha256.h"
#include "nn/json_file.h"
#include "optim/checkpoint.h"
#include "optim/checkpoint_keeper.h"

namespace bcqnmt {

namespace fs = std::filesystem;

const std::vector<std::string>& phase_file_names() {
  static const std::vector<std::string> names{"best.ckpt", "latest.ckpt", "model.bcq"};
  return names;
}

namespace {

// The renames are durable only once the directory itself is synced.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string digest_in(const nlohmann::json& manifest, const std::string& name) {
  if (!manifest.contains("files") || !manifest["files"].contains(name) || !manifest["files"][name].is_string())
    return "";
  return manifest["files"][name].get<std::string>();
}

}  // namespace

std::optional<nlohmann::json> PhaseFiles::manifest() const {
  if (!fs::exists(manifest_path())) return std::nullopt;
  const nlohmann::json j = read_json_file<AppError>(manifest_path());
  // The fields readers take, checked once here so a damaged file is one line naming it.
  const bool files_ok = !j.contains("files") || (j["files"].is_object() &&
                                                 std::all_of(j["files"].begin(), j["files"].end(),
                                                             [](const nlohmann::json& v) { return v.is_string(); }));
  const bool source_ok = !j.contains("source") ||
                         (j["source"].is_object() && j["source"].value("sha256", nlohmann::json("")).is_string() &&
                          j["source"].value("step", nlohmann::json(0)).is_number_integer());
  if (!j.is_object() || !files_ok || !source_ok)
    throw AppError(manifest_path().string() + ": damaged manifest (expected an object with \"files\" of sha256 "
                   "strings and a \"source\" with \"sha256\" and \"step\"); remove it and rerun the phase");
  return j;
}

bool PhaseFiles::has_staged_files() const {
  std::error_code ec;
  if (fs::exists(staged_run_config(), ec)) return true;
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (entry.path().extension() == ".next") return true;
  return false;
}

namespace {

// The epoch checkpoints a manifest lists, or nullopt for one written before they were
// committed with the set (then whatever is on disk stays).
std::optional<std::vector<std::string>> listed_epochs(const std::optional<nlohmann::json>& m) {
  if (!m || !m->contains("epoch_checkpoints") || !m->at("epoch_checkpoints").is_array()) return std::nullopt;
  std::vector<std::string> names;
  for (const auto& name : m->at("epoch_checkpoints"))
    if (name.is_string()) names.push_back(name.get<std::string>());
  return names;
}

// Removes the epoch checkpoints of `dir` that `kept` does not name; returns how many.
int remove_unlisted_epochs(const fs::path& dir, const std::vector<std::string>& kept) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (CheckpointKeeper::epoch_of(name) >= 0 && std::find(kept.begin(), kept.end(), name) == kept.end())
      removed += fs::remove(entry.path(), ec);
  }
  return removed;
}

}  // namespace

std::string PhaseFiles::repair() const {
  if (!fs::is_directory(dir_)) return "";
  const std::optional<nlohmann::json> m = manifest();
  std::string done;
  const auto note = [&](const std::string& what) { done += (done.empty() ? "" : ", ") + what; };
  std::vector<fs::path> staged_files;
  for (const auto& entry : fs::directory_iterator(dir_))
    if (entry.path().extension() == ".next") staged_files.push_back(entry.path());
  std::sort(staged_files.begin(), staged_files.end());
  // A staged file whose bytes have the digest the manifest wants was committed: it moves into
  // place; any other is of a phase end the kill stopped before its commit.
  // `label` names the target in the note: a phase file by name, the run config by path.
  const auto settle = [&](const fs::path& target, const std::string& label, const std::string& wanted) {
    const fs::path next = target.string() + ".next";
    if (!wanted.empty() && sha256_file_hex(next) == wanted) {
      fs::rename(next, target);
      note(label + " moved into place");
    } else {
      fs::remove(next);
      note(label + ".next (uncommitted) removed");
    }
  };
  for (const fs::path& next : staged_files) {
    const std::string name = next.stem().string();
    settle(dir_ / name, name, m ? digest_in(*m, name) : "");
  }
  if (fs::exists(staged_run_config())) {
    const bool recorded = m && m->contains("run_config") && m->at("run_config").is_string();
    settle(run_config(), run_config().string(), recorded ? m->at("run_config").get<std::string>() : "");
    sync_directory(dir_.parent_path());
  }
  if (const auto kept = listed_epochs(m))
    if (const int removed = remove_unlisted_epochs(dir_, *kept))
      note(std::to_string(removed) + " epoch checkpoint(s) of the replaced set removed");
  remove_temporaries();
  if (!done.empty()) sync_directory(dir_);
  return done.empty() ? "" : dir_.string() + ": finished an interrupted phase end: " + done;
}

void PhaseFiles::commit(nlohmann::json record) const {
  // Unstaged files are hashed too, not taken from the last manifest: `average` may have
  // replaced best.ckpt since (0.1 s for the reference model's 41 MB checkpoint).
  nlohmann::json files = nlohmann::json::object();
  for (const std::string& name : phase_file_names()) {
    if (fs::exists(staged(name)))
      files[name] = sha256_file_hex(staged(name));
    else if (fs::exists(dir_ / name))
      files[name] = sha256_file_hex(dir_ / name);
  }
  // Epoch checkpoints never change once written, so a kept one's digest comes from the last
  // manifest when it has one.
  const std::optional<nlohmann::json> before = manifest();
  const std::optional<std::vector<std::string>> epochs = listed_epochs(record);
  for (const std::string& name : epochs.value_or(std::vector<std::string>{})) {
    const std::string recorded = before ? digest_in(*before, name) : "";
    if (fs::exists(staged(name)))
      files[name] = sha256_file_hex(staged(name));
    else if (!recorded.empty())
      files[name] = recorded;
    else if (fs::exists(dir_ / name))
      files[name] = sha256_file_hex(dir_ / name);
  }
  record["files"] = files;
  const bool new_run_config = fs::exists(staged_run_config());
  if (new_run_config)
    record["run_config"] = sha256_file_hex(staged_run_config());
  else
    record.erase("run_config");  // a copied record's (average's) names a file no longer staged
  write_file_atomically(manifest_path(), record.dump(2) + "\n");
  for (const auto& file : files.items())
    if (fs::exists(staged(file.key()))) fs::rename(staged(file.key()), dir_ / file.key());
  if (new_run_config) {
    fs::rename(staged_run_config(), run_config());
    sync_directory(dir_.parent_path());
  }
  if (epochs) remove_unlisted_epochs(dir_, *epochs);
  remove_temporaries();
  sync_directory(dir_);
}

void PhaseFiles::remove_temporaries() const {
  // A killed write_file_atomically leaves NAME.tmp.PID.N: in the phase directory, and for a
  // staged run config beside config.json.
  const std::string staged_config = staged_run_config().filename().string() + ".tmp.";
  std::error_code ec;
  for (const fs::path& dir : {dir_, dir_.parent_path()})
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (dir == dir_ ? name.find(".tmp.") != std::string::npos : name.rfind(staged_config, 0) == 0)
        fs::remove(entry.path(), ec);
    }
}

std::vector<std::string> PhaseFiles::mismatched_files() const {
  std::vector<std::string> bad;
  const std::optional<nlohmann::json> m = manifest();
  if (!m) return bad;
  for (const std::string& name : phase_file_names()) {
    const std::string wanted = digest_in(*m, name);
    if (wanted.empty()) continue;
    if (!fs::exists(dir_ / name) || sha256_file_hex(dir_ / name) != wanted) bad.push_back(name);
  }
  return bad;
}

bool PhaseFiles::corrupted(const std::string& name) const {
  const std::optional<nlohmann::json> m = manifest();
  const std::string wanted = m ? digest_in(*m, name) : "";
  if (!wanted.empty() && sha256_file_hex(dir_ / name) == wanted) return false;
  // Not the committed bytes: a file replaced outside bcqnmt may still be a whole checkpoint.
  try {
    load_checkpoint(dir_ / name);
    return false;
  } catch (const std::exception&) {
    return true;
  }
}

void PhaseFiles::discard() const {
  for (const std::string& name : phase_file_names()) {
    fs::remove(dir_ / name);
    fs::remove(staged(name));
  }
  fs::remove(manifest_path());
}

std::string repair_run(const RunDirectory& run) {
  std::vector<PhaseFiles> phases{PhaseFiles(run.pretrain_dir())};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run.root / "quantized", ec))
    if (entry.is_directory()) phases.emplace_back(entry.path());
  if (std::none_of(phases.begin(), phases.end(), [](const PhaseFiles& p) { return p.has_staged_files(); })) return "";
  std::string done;
  RunLock::if_free(run.root, [&] {
    for (const PhaseFiles& phase : phases)
      if (const std::string line = phase.repair(); !line.empty()) done += (done.empty() ? "" : "\n") + line;
  });
  return done;
}

nlohmann::json variant_source(const RunDirectory& run, int64_t step) {
  const fs::path best = run.pretrain_dir() / "best.ckpt";
  return {{"checkpoint", fs::relative(best, run.root).string()}, {"step", step}, {"sha256", sha256_file_hex(best)}};
}

std::string variant_start_command(const RunDirectory& run, const std::string& variant) {
  std::string command = "bcqnmt quantize --run " + run.root.string() + " --name " + variant;
  std::ostringstream ignored;  // a torn line is report's and plot's to mention
  try {
    for (const nlohmann::json& r : run.read_metrics(ignored))
      if (r.value("phase", "") == "quantize" && r.value("variant", "") == variant && r.value("kind", "") == "start" &&
          r.contains("command") && r["command"].is_string())
        command = r["command"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw run.metrics_error(e);
  }
  return command;
}

std::string stale_variant_warning(const RunDirectory& run, const std::string& variant) {
  const fs::path best = run.pretrain_dir() / "best.ckpt", bcq = run.bcq_model(variant);
  if (!fs::exists(best) || !fs::exists(bcq)) return "";
  std::string command = variant_start_command(run, variant);
  if (command.find(" --restart") == std::string::npos) command += " --restart";
  const std::string fix = "; re-derive it with `" + command + "` (or run `bcqnmt pipeline`)";
  const std::optional<nlohmann::json> m = PhaseFiles(run.variant_dir(variant)).manifest();
  if (!m || !m->contains("source")) {
    if (fs::last_write_time(bcq) >= fs::last_write_time(best)) return "";
    return kWarningLine + bcq.string() + " is older than " + best.string() + fix;
  }
  const nlohmann::json& source = m->at("source");
  if (source.value("sha256", "") == sha256_file_hex(best)) return "";
  const PhaseFiles pretrain(run.pretrain_dir());
  if (pretrain.corrupted("best.ckpt"))
    return kWarningLine + bcq.string() + " derives from " + best.string() + " at step " +
           std::to_string(source.value("step", int64_t{0})) +
           ", which is now corrupted (it does not match the sha256 " + pretrain.manifest_path().string() +
           " records and does not load); restore it, or remove it and retrain it with `bcqnmt pretrain --run " +
           run.root.string() + " --restart`";
  return kWarningLine + bcq.string() + " derives from " + best.string() + " at step " +
         std::to_string(source.value("step", int64_t{0})) + ", which has since been replaced" + fix;
}

}  // namespace bcqnmt
