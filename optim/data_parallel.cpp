#include "optim/data_parallel.h"

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <string>
#include <string_view>

#include "core/checksummed_file.h"

#ifdef BCQNMT_WITH_MPI
#include <mpi.h>
#endif

namespace bcqnmt {

namespace {

// The MPI primitives this file needs, each with a build without MPI that never runs them
// (a group without MPI has size 1 and returns before reaching one). Each returns MPI's
// status code (0: success).
#ifdef BCQNMT_WITH_MPI
int allreduce_sum(float* values, int64_t n) {
  return MPI_Allreduce(MPI_IN_PLACE, values, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
int allreduce_sum(double* values, int64_t n) {
  return MPI_Allreduce(MPI_IN_PLACE, values, static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
int allreduce_sum(int64_t* value) {
  return MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
}
int allreduce_max(uint64_t* values, int n) {
  return MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
}
int broadcast_from_root(int64_t* value) { return MPI_Bcast(value, 1, MPI_INT64_T, 0, MPI_COMM_WORLD); }
int wait_for_all() { return MPI_Barrier(MPI_COMM_WORLD); }
std::string error_text(int status) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  return std::string(text, static_cast<size_t>(length));
}
bool g_joined = false;  // world() called MPI_Init_thread
#else
int allreduce_sum(float*, int64_t) { return 0; }
int allreduce_sum(double*, int64_t) { return 0; }
int allreduce_sum(int64_t*) { return 0; }
int allreduce_max(uint64_t*, int) { return 0; }
int broadcast_from_root(int64_t*) { return 0; }
int wait_for_all() { return 0; }
std::string error_text(int status) { return "error " + std::to_string(status); }
#endif

// The number of ranks an MPI launcher started, from the environment it gives every rank
// (Open MPI's mpirun: OMPI_COMM_WORLD_SIZE; MPICH's and Slurm's PMI: PMI_SIZE; a PMIx
// launcher such as srun --mpi=pmix: PMIX_RANK, size unknown, counted as 1); 0 when no
// launcher started this process.
int launcher_ranks() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* ranks = std::getenv(variable)) return std::max(1, std::atoi(ranks));
  return std::getenv("PMIX_RANK") != nullptr ? 1 : 0;
}

}  // namespace

DataParallel& DataParallel::world() {
#ifdef BCQNMT_WITH_MPI
  // Started without a launcher: one process, and no MPI_Init (an MPI singleton would add
  // ~0.45 s of start-up, measured, to every training command).
  if (launcher_ranks() == 0) return single_process();
  static DataParallel group = [] {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw DataParallelError("MPI_Init_thread failed: cannot join the MPI job");
    g_joined = true;
    // Errors come back as status codes (check() turns them into exceptions) instead of
    // MPI's default of aborting the job from inside the library.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return DataParallel(rank, size, true);
  }();
  return group;
#else
  // Launched as one of several ranks by a build that cannot talk to the others: N copies
  // would each train alone on the same run.
  if (const int ranks = launcher_ranks(); ranks > 1)
    throw DataParallelError("started as one of " + std::to_string(ranks) +
                            " MPI ranks, but this bcqnmt was built without MPI; install libopenmpi-dev and "
                            "rebuild (docs/scaling.md), or run it without mpirun");
  return single_process();
#endif
}

DataParallel& DataParallel::single_process() {
  static DataParallel group(0, 1, false);
  return group;
}

void DataParallel::finish() {
#ifdef BCQNMT_WITH_MPI
  if (g_joined) MPI_Finalize();
  g_joined = false;
#endif
}

std::ostream& DataParallel::root_stream(std::ostream& out) const {
  static std::ostream discard(nullptr);  // no buffer: every write fails silently
  return is_root() ? out : discard;
}

void DataParallel::check(int status, const char* operation, const char* what) const {
  if (status != 0)
    throw DataParallelError(std::string(operation) + " of " + what + " failed on rank " + std::to_string(rank_) +
                            " of " + std::to_string(size_) + ": " + error_text(status) +
                            " (did another rank stop? the last checkpoint is the run's state)");
}

void DataParallel::sum(std::span<double> values, const char* what) {
  if (size_ > 1) check(allreduce_sum(values.data(), static_cast<int64_t>(values.size())), "MPI_Allreduce", what);
}

int64_t DataParallel::sum(int64_t value, const char* what) {
  if (size_ > 1) check(allreduce_sum(&value), "MPI_Allreduce", what);
  return value;
}

bool DataParallel::any(bool value, const char* what) { return sum(value ? 1 : 0, what) > 0; }

int64_t DataParallel::broadcast(int64_t value, const char* what) {
  if (size_ > 1) check(broadcast_from_root(&value), "MPI_Bcast", what);
  return value;
}

void DataParallel::barrier(const char* what) {
  if (size_ > 1) check(wait_for_all(), "MPI_Barrier", what);
}

void DataParallel::reduce_gradients(const std::vector<Variable>& parameters) {
  if (size_ == 1) return;
  int64_t total = 0;
  for (const Variable& p : parameters) total += p.numel();
  const int64_t flags = total;  // offset of the per-tensor "has a gradient" flags
  buffer_.assign(static_cast<size_t>(total) + parameters.size(), 0.0f);
  int64_t offset = 0;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const Tensor& g = parameters[i].grad();
    if (g.defined()) {
      std::copy(g.data(), g.data() + g.numel(), buffer_.begin() + offset);
      buffer_[flags + i] = 1.0f;
    }
    offset += parameters[i].numel();
  }
  check(allreduce_sum(buffer_.data(), static_cast<int64_t>(buffer_.size())), "MPI_Allreduce", "the gradients");
  offset = 0;
  for (size_t i = 0; i < parameters.size(); ++i) {
    Variable p = parameters[i];  // a handle: its gradient is the parameter's
    if (buffer_[flags + i] > 0.0f) {
      if (!p.grad().defined()) p.grad() = Tensor::zeros(p.shape());
      std::copy(buffer_.begin() + offset, buffer_.begin() + offset + p.numel(), p.grad().data());
    }
    offset += p.numel();
  }
}

void DataParallel::check_replicas_agree(const std::vector<Variable>& parameters, const char* when) {
  if (size_ == 1) return;
  uint64_t hash = 0;
  for (const Variable& p : parameters) {
    const Tensor& v = p.value();
    hash = hash * 31 + fnv1a_64(std::string_view(reinterpret_cast<const char*>(v.data()), sizeof(float) * v.numel()));
  }
  uint64_t extremes[2] = {hash, ~hash};  // max over ranks of h and of ~h: the max and ~min of h
  check(allreduce_max(extremes, 2), "MPI_Allreduce", "the parameter fingerprints");
  if (extremes[0] != ~extremes[1])
    throw DataParallelError(std::string("the ranks' parameters differ ") + when +
                            "; data-parallel replicas must stay identical (a bug: please report it)");
}

}  // namespace bcqnmt
