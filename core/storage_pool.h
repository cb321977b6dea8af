#pragma once
// Reuse of large tensor buffers across training steps.
//
// A training step allocates the same big activations and gradients every time (each
// attention projection of a 4,096-token batch is [4096, 1024] floats, 16 MB). glibc serves blocks that large with
// fresh mmap'd pages and unmaps them on free, so every step page-faults and zero-fills
// them again. The pool keeps released large blocks by size class (1/8-octave steps, at
// most 12.5% slack) and hands them out again; small blocks are kept per thread, by 64-byte
// class, up to 4 MiB per thread (storage_pool.cpp says why), on top of the cap below.
// Idle cached large blocks are capped at 128 MiB (256 held ~130 MB more at peak for no measurable
// speed); sanitizer builds bypass the pool so ASan sees every buffer.
#include <cstddef>

namespace bcqnmt {

// 64-byte aligned, at least `bytes` long; throws std::bad_alloc.
float* storage_acquire(size_t bytes, size_t* granted);
// Gives back a block from storage_acquire with the `granted` size it reported.
void storage_release(float* p, size_t granted);

}  // namespace bcqnmt
