#pragma once
// Synchronous data-parallel SGD across processes: the one owner of inter-process
// communication. Under `mpirun -np N` the group is MPI_COMM_WORLD (Open MPI, joined on first
// use); otherwise, and in a build without MPI, a group of one whose reductions do nothing,
// so single-process training runs exactly the code it always ran.
//
// Every rank holds the whole model and draws the same global batch plan; each trains on a
// disjoint shard of every global batch. After backward, reduce_gradients() sums the
// gradients of all ranks in one flat fp32 buffer (MPI_Allreduce, in place: P floats, 4P
// bytes, where P is the parameter count, plus one "has a gradient" flag per parameter
// tensor). Each rank scales its local loss by its share of the global target-token count
// first, so the sum is the gradient of the loss averaged over the global batch, independent
// of N (docs/scaling.md). Every rank then applies the same update to the same weights.
//
// Errors: MPI calls return their errors (MPI_ERRORS_RETURN) and a failed call throws
// DataParallelError naming the operation; the process then exits non-zero without
// finalizing and mpirun ends the job. A rank killed outright is mpirun's to notice: it
// terminates the other ranks (SIGTERM, then SIGKILL about a second later; docs/scaling.md
// has the measured time).
#include <cstdint>
#include <iosfwd>
#include <span>
#include <stdexcept>
#include <vector>

#include "core/variable.h"

namespace bcqnmt {

class DataParallelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DataParallel {
 public:
  // The group of this process. When an MPI launcher (mpirun, srun) started it and the build
  // has MPI, the first call joins the job (MPI_Init_thread, MPI_THREAD_FUNNELED: only the
  // main thread calls MPI). A process started without a launcher is a group of one that
  // never initialises MPI. Only the training commands call it. A build without MPI started
  // as one of N > 1 ranks throws DataParallelError instead of training alone.
  static DataParallel& world();
  // A group of one without MPI (what the trainer uses unless given world()).
  static DataParallel& single_process();
  // Leaves the MPI job (MPI_Finalize) if world() joined it. main() calls it when a command
  // ended normally or by an agreed interrupt; after an error it must not be called, since
  // finalizing waits for ranks that may be waiting for this one.
  static void finish();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }  // rank 0 alone writes files and prints progress
  // `out` on rank 0; on the other ranks a stream that discards what it is given.
  std::ostream& root_stream(std::ostream& out) const;

  // Element-wise sum over ranks, in place, the same result on every rank. `what` names the
  // quantity in the error message. Throws DataParallelError.
  void sum(std::span<double> values, const char* what);
  int64_t sum(int64_t value, const char* what);
  // True on every rank when `value` is true on any (e.g. a signal reached some ranks).
  bool any(bool value, const char* what);
  // Rank 0's `value` on every rank.
  int64_t broadcast(int64_t value, const char* what);
  // Waits until every rank arrives (before exiting, so rank 0's last write is not cut off).
  void barrier(const char* what);

  // Sums the gradients of `parameters` over ranks (one MPI_Allreduce of P + tensors floats). A
  // parameter gets a gradient if any rank gave it one; one no rank gave one keeps none
  // (Adam skips it, as in single-process training). No-op for a group of one.
  void reduce_gradients(const std::vector<Variable>& parameters);

  // Throws DataParallelError if the ranks' parameters are not bit-identical (FNV-1a 64 of
  // every value, min and max over ranks): a cheap guard against diverged replicas, e.g. a
  // code path that drew random numbers on one rank only.
  void check_replicas_agree(const std::vector<Variable>& parameters, const char* when);

 private:
  DataParallel(int rank, int size, bool uses_mpi) : rank_(rank), size_(size), uses_mpi_(uses_mpi) {}
  void check(int status, const char* operation, const char* what) const;

  int rank_;
  int size_;
  bool uses_mpi_;
  std::vector<float> buffer_;  // the flat gradient buffer, kept between steps: [P + tensors]
};

}  // namespace bcqnmt
