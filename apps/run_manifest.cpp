#include "apps/run_manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "apps/app_error.h"
#include "core/atomic_file.h"
#include "core/sha256.h"
#include "nn/json_file.h"

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

std::string PhaseFiles::repair() const {
  if (!fs::is_directory(dir_)) return "";
  const std::optional<nlohmann::json> m = manifest();
  std::string done;
  for (const std::string& name : phase_file_names()) {
    const fs::path next = staged(name);
    if (!fs::exists(next)) continue;
    const std::string wanted = m ? digest_in(*m, name) : "";
    if (!wanted.empty() && sha256_file_hex(next) == wanted) {
      fs::rename(next, dir_ / name);
      done += (done.empty() ? "" : ", ") + name + " moved into place";
    } else {
      fs::remove(next);
      done += (done.empty() ? "" : ", ") + name + ".next (uncommitted) removed";
    }
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(entry.path(), ec);
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
  record["files"] = files;
  write_file_atomically(manifest_path(), record.dump(2) + "\n");
  for (const std::string& name : phase_file_names())
    if (fs::exists(staged(name))) fs::rename(staged(name), dir_ / name);
  sync_directory(dir_);
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

void PhaseFiles::discard() const {
  for (const std::string& name : phase_file_names()) {
    fs::remove(dir_ / name);
    fs::remove(staged(name));
  }
  fs::remove(manifest_path());
}

nlohmann::json variant_source(const RunDirectory& run, int64_t step) {
  const fs::path best = run.pretrain_dir() / "best.ckpt";
  return {{"checkpoint", fs::relative(best, run.root).string()}, {"step", step}, {"sha256", sha256_file_hex(best)}};
}

std::string variant_start_command(const RunDirectory& run, const std::string& variant) {
  std::string command = "bcqnmt quantize --run " + run.root.string() + " --name " + variant;
  std::ostringstream ignored;  // a torn line is report's and plot's to mention
  for (const nlohmann::json& r : run.read_metrics(ignored))
    if (r.value("phase", "") == "quantize" && r.value("variant", "") == variant && r.value("kind", "") == "start" &&
        r.contains("command") && r["command"].is_string())
      command = r["command"].get<std::string>();
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
  return kWarningLine + bcq.string() + " derives from " + best.string() + " at step " +
         std::to_string(source.value("step", int64_t{0})) + ", which has since been replaced" + fix;
}

}  // namespace bcqnmt
