#pragma once
// A phase's manifest, PHASE_DIR/manifest.json (pretrain/, quantized/NAME/): what the phase's
// files are and where they came from, and the one record that commits them together.
//
//   {"phase": "quantize", "version": "bcqnmt 0.1.0 (revision ...)", "step": 120,
//    "config": {"model": {...}, "training": {...}, "quantization": {...}},  every default
//                                                  filled in, command-line overrides applied
//    "source": {"checkpoint": "pretrain/best.ckpt", "step": 380, "sha256": "..."},  derived phases
//    "files": {"best.ckpt": "<sha256>", "latest.ckpt": "<sha256>", "model.bcq": "<sha256>"}}
//
// Commit protocol (a redo log of one record): a phase end writes its new files as
// NAME.next (each atomically, core/atomic_file.h), then replaces manifest.json, naming every
// file by digest -- that rename is the commit -- then renames each NAME.next over NAME. A
// kill before the commit leaves the old files and the old manifest, which agree; a kill
// after it leaves NAME.next files the manifest names, which repair() moves into place. So a
// reader that repairs first sees the old set or the new one, never best.ckpt of one
// validation with model.bcq of another.
//
// The same commit publishes what else belongs to the set: the epoch checkpoints
// (epoch_NNN.ckpt, staged beside latest.ckpt.next; the manifest lists the ones the set keeps
// in "epoch_checkpoints" and any other is removed), and for `pretrain --restart` with another
// config the run's config.json (staged as config.json.next beside it; digest in "run_config").
// Every command that opens a run repairs first (repair_run, from open_experiment), so no
// reader uses the old files of a commit that has happened.
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/run_directory.h"

namespace bcqnmt {

class PhaseFiles {
 public:
  explicit PhaseFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::filesystem::path manifest_path() const { return dir_ / "manifest.json"; }
  // Where a phase end writes `name` (e.g. "model.bcq") before the commit.
  std::filesystem::path staged(const std::string& name) const { return dir_ / (name + ".next"); }
  // The run's config.json and where a commit of this phase stages a new one (pretrain's,
  // after `--restart` with another config: the checkpoints of the old config stay bound to
  // the old file until the new training commits).
  std::filesystem::path run_config() const { return dir_.parent_path() / "config.json"; }
  std::filesystem::path staged_run_config() const { return dir_.parent_path() / "config.json.next"; }
  // Removes what killed atomic writes left (NAME.tmp.PID.N) in the phase directory, and of
  // the staged run config; done by every commit and repair.
  void remove_temporaries() const;
  // Whether a staged file (NAME.next) is present: a phase end in progress or interrupted.
  bool has_staged_files() const;
  // The manifest, if the phase has committed one; AppError naming the file if it is not JSON.
  std::optional<nlohmann::json> manifest() const;

  // Finishes or undoes a phase end a kill interrupted: staged files the manifest names by
  // digest are moved into place, other staged files and temporary files are removed.
  // Returns what it did, one line ("" when there was nothing to do).
  std::string repair() const;
  // The commit: `record` (phase, version, config, source, step, and "epoch_checkpoints":
  // the names of the epoch checkpoints the set keeps) plus the digest of every file (staged
  // ones from their new bytes) becomes manifest.json; then the staged files are renamed into
  // place and the epoch checkpoints the record does not list are removed.
  void commit(nlohmann::json record) const;
  // The files the manifest names whose bytes differ from its digests (after repair(): none,
  // unless something outside bcqnmt changed them).
  std::vector<std::string> mismatched_files() const;
  // Whether the phase's checkpoint `name` (e.g. "best.ckpt") is corrupted: its bytes differ
  // from the digest the manifest records (or there is none) and it does not load.
  bool corrupted(const std::string& name) const;
  // Removes the phase's files and manifest: a derived phase whose source was replaced.
  void discard() const;

 private:
  std::filesystem::path dir_;
};

// Finishes or undoes the interrupted commits of every phase of `run` (pretrain/ and each
// quantized variant) when one left a staged file, holding the run's lock (apps/run_lock.h)
// for it; skipped while another command holds the lock, as that writer's commit may be in
// progress. Returns the repairs' lines ("" when none).
std::string repair_run(const RunDirectory& run);

// Files of a phase that a manifest tracks, in commit order.
const std::vector<std::string>& phase_file_names();

// The "source" of a quantized variant's manifest: pretrain/best.ckpt, its step and sha256.
nlohmann::json variant_source(const RunDirectory& run, int64_t step);
// The command that started a quantized variant, as its "start" record in metrics.jsonl has it
// (with the flags that made its settings; a bare `quantize --name` would take the config's
// settings and be refused when they differ): what resumes it, and with --restart re-derives it.
std::string variant_start_command(const RunDirectory& run, const std::string& variant);
// "" when the variant's model.bcq derives from the current pretrain/best.ckpt; otherwise a
// one-line warning saying so and how to re-derive it (its start command with --restart). Compared by the sha256 the variant's
// manifest records; a variant without a manifest (made before manifests) by modification
// time.
std::string stale_variant_warning(const RunDirectory& run, const std::string& variant);

}  // namespace bcqnmt
