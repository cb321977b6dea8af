#include "apps/run_directory.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/app_error.h"

namespace bcqnmt {

void RunDirectory::append_metrics(const nlohmann::json& record) const {
  std::filesystem::create_directories(root);
  std::ofstream out(metrics(), std::ios::app);
  out << record.dump() << "\n";
  if (!out) throw AppError("cannot append to " + metrics().string());
}

void RunDirectory::require(const std::filesystem::path& file, const char* produced_by) const {
  if (!std::filesystem::exists(file))
    throw AppError("run directory " + root.string() + " has no " + std::filesystem::relative(file, root).string() +
                   ": run `bcqnmt " + produced_by + " --run " + root.string() + "` first");
}

}  // namespace bcqnmt
