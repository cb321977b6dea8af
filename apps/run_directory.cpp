#include "apps/run_directory.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/app_error.h"
#include "core/atomic_file.h"
#include "nn/json_file.h"

namespace bcqnmt {

namespace {
bool ends_mid_line(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() <= 0) return false;
  in.seekg(-1, std::ios::end);
  return in.get() != '\n';
}
}  // namespace

void RunDirectory::append_metrics(const nlohmann::json& record) const {
  std::filesystem::create_directories(root);
  const bool torn = ends_mid_line(metrics());
  std::ofstream out(metrics(), std::ios::app);
  out << (torn ? "\n" : "") << record.dump() << "\n";
  if (!out) throw AppError("cannot append to " + metrics().string());
}

std::vector<nlohmann::json> RunDirectory::read_metrics(std::ostream& warnings) const {
  std::vector<nlohmann::json> records;
  std::ifstream in(metrics());
  int64_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    nlohmann::json r;
    if (parse_json_text(line, "", r).empty() && r.is_object()) {
      records.push_back(std::move(r));
      continue;
    }
    warnings << kWarningLine << metrics().string() << " line " << number
             << " is not a JSON record (a write cut short?); skipped\n";
  }
  return records;
}

void RunDirectory::drop_metrics_after(const std::string& phase, const std::string& variant, int64_t step) const {
  std::ifstream in(metrics());
  if (!in) return;
  std::string kept, line;
  bool dropped = false;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    nlohmann::json r;
    parse_json_text(line, "", r);  // a line that is not JSON (a write cut short) is kept, as read_metrics skips it
    bool redone = false;
    try {
      redone = r.is_object() && r.value("phase", "") == phase && r.value("variant", "") == variant &&
               r.value("step", int64_t{0}) > step;
    } catch (const nlohmann::json::exception& e) {
      throw metrics_error(e, number);
    }
    if (redone) {
      dropped = true;
      continue;
    }
    kept += line + "\n";
  }
  if (dropped) write_file_atomically(metrics(), kept);
}

AppError RunDirectory::metrics_error(const std::exception& error, int64_t line) const {
  return AppError(metrics().string() + (line > 0 ? " line " + std::to_string(line) : std::string()) +
                  ": a record has a field of the wrong type (" + json_error_text(error) + ")");
}

void RunDirectory::require(const std::filesystem::path& file, const char* produced_by) const {
  if (!std::filesystem::exists(file))
    throw AppError("run directory " + root.string() + " has no " + std::filesystem::relative(file, root).string() +
                   ": run `bcqnmt " + produced_by + " --run " + root.string() + "` first");
}

}  // namespace bcqnmt
