#include "core/parallel.h"

#include <cblas.h>

#include <memory>
#include <thread>

#include <tbb/global_control.h>

#include "core/error.h"

namespace bcqnmt {

namespace {
std::unique_ptr<tbb::global_control> g_tbb_limit;
std::unique_ptr<ThreadTeam> g_team;
int g_threads = 0;
}  // namespace

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n == g_threads) return;  // the same team: no threads stopped and started again
  openblas_set_num_threads(1);  // core/gemm.cpp splits GEMMs over the thread team instead
  g_team.reset();  // the old helpers stop before new ones start
  auto use = [](int threads) {
    g_threads = threads;
    g_tbb_limit.reset();
    g_tbb_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
  };
  try {
    if (n > 1) g_team = std::make_unique<ThreadTeam>(n - 1);
  } catch (const CoreError&) {  // the system cannot start them: left on one thread, and the caller told
    use(1);
    throw;
  }
  use(n);
}

ThreadTeam* thread_team() {
  if (g_threads == 0) set_num_threads(0);
  return g_team.get();
}

int num_threads() {
  if (g_threads == 0) set_num_threads(0);
  return g_threads;
}

}  // namespace bcqnmt
