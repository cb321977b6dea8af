#include "core/storage_pool.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <map>
#include <vector>

namespace bcqnmt {

namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kPooledFrom = size_t{256} << 10;  // below this, malloc's own bins are fine
constexpr size_t kMaxCached = size_t{256} << 20;  // idle blocks kept: enough for one step's big tensors
constexpr size_t kMaxSlack = 4;                    // a cached block may be up to 1/4 larger than asked

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPoolEnabled = false;
#else
constexpr bool kPoolEnabled = true;
#endif

// Rounds up to 8 steps per power of two (so a block fits requests within 12.5%).
size_t size_class(size_t bytes) {
  if (bytes < kPooledFrom) return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  size_t octave = size_t{1} << (63 - __builtin_clzll(bytes));
  const size_t step = octave / 8;
  return (bytes + step - 1) / step * step;
}

struct Pool {
  std::mutex mutex;
  std::multimap<size_t, float*> free_blocks;  // granted size -> block
  size_t cached = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: tensors may be freed during static destruction
  return *p;
}

}  // namespace

float* storage_acquire(size_t bytes, size_t* granted) {
  const size_t cls = size_class(std::max<size_t>(bytes, 1));
  *granted = cls;
  if (kPoolEnabled && cls >= kPooledFrom) {
    // Best fit among the cached blocks up to kMaxSlack larger: bucketed batches change
    // shape every step, so an exact size class would rarely be there.
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    auto it = p.free_blocks.lower_bound(cls);
    if (it != p.free_blocks.end() && it->first <= cls + cls / kMaxSlack) {
      float* block = it->second;
      *granted = it->first;
      p.cached -= it->first;
      p.free_blocks.erase(it);
      return block;
    }
  }
  auto* block = static_cast<float*>(std::aligned_alloc(kAlignment, cls));
  if (!block) throw std::bad_alloc();
  return block;
}

void storage_release(float* block, size_t granted) {
  if (kPoolEnabled && granted >= kPooledFrom) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    if (p.cached + granted <= kMaxCached) {
      p.free_blocks.emplace(granted, block);
      p.cached += granted;
      return;
    }
  }
  std::free(block);
}

}  // namespace bcqnmt
