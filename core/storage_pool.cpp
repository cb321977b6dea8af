#include "core/storage_pool.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace bcqnmt {

namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kPooledFrom = size_t{256} << 10;  // below this, blocks are kept per thread (SmallBlocks)
constexpr size_t kMaxCached = size_t{128} << 20;  // idle blocks kept

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
  std::unordered_map<size_t, std::vector<float*>> free_blocks;
  size_t cached = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: tensors may be freed during static destruction
  return *p;
}

// Small blocks (below kPooledFrom) are kept per thread, by 64-byte size class, up to
// kMaxCachedPerThread bytes: a batch-1 decoding step makes ~300 small tensors (rows of 128 to
// 7,010 floats), and aligned_alloc + free spent ~4% of the step (perf: _int_malloc,
// malloc_consolidate, _int_free under storage_acquire/release). No lock: a block goes to the
// cache of the thread that frees it, whichever thread allocated it.
constexpr size_t kMaxCachedPerThread = size_t{4} << 20;

struct SmallBlocks {
  std::vector<std::vector<float*>> by_class = std::vector<std::vector<float*>>(kPooledFrom / kAlignment);
  size_t cached = 0;
  ~SmallBlocks() {
    for (auto& blocks : by_class)
      for (float* b : blocks) std::free(b);
  }
};

// Plain thread_locals, readable at any point of a thread's exit: a tensor freed after the
// cache is gone (a thread_local or static destroyed later) goes to malloc.
thread_local SmallBlocks* t_small_blocks = nullptr;
thread_local bool t_small_blocks_gone = false;
struct SmallBlocksReaper {
  ~SmallBlocksReaper() {
    t_small_blocks_gone = true;
    delete t_small_blocks;
    t_small_blocks = nullptr;
  }
};

// This thread's cache, or null once the thread is exiting.
SmallBlocks* small_blocks() {
  if (t_small_blocks_gone) return nullptr;
  if (!t_small_blocks) {
    thread_local SmallBlocksReaper reaper;  // reached once per thread: frees the cache at exit
    t_small_blocks = new SmallBlocks;
  }
  return t_small_blocks;
}

}  // namespace

float* storage_acquire(size_t bytes, size_t* granted) {
  const size_t cls = size_class(std::max<size_t>(bytes, 1));
  *granted = cls;
  if (kPoolEnabled && cls < kPooledFrom) {
    if (SmallBlocks* cache = small_blocks()) {
      std::vector<float*>& blocks = cache->by_class[cls / kAlignment - 1];
      if (!blocks.empty()) {
        float* block = blocks.back();
        blocks.pop_back();
        cache->cached -= cls;
        return block;
      }
    }
  }
  if (kPoolEnabled && cls >= kPooledFrom) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    auto it = p.free_blocks.find(cls);
    if (it != p.free_blocks.end() && !it->second.empty()) {
      float* block = it->second.back();
      it->second.pop_back();
      p.cached -= cls;
      return block;
    }
  }
  auto* block = static_cast<float*>(std::aligned_alloc(kAlignment, cls));
  if (!block) throw std::bad_alloc();
  return block;
}

void storage_release(float* block, size_t granted) {
  if (kPoolEnabled && granted < kPooledFrom) {
    SmallBlocks* cache = small_blocks();
    if (cache && cache->cached + granted <= kMaxCachedPerThread) {
      cache->by_class[granted / kAlignment - 1].push_back(block);
      cache->cached += granted;
      return;
    }
  }
  if (kPoolEnabled && granted >= kPooledFrom) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    if (p.cached + granted <= kMaxCached) {
      p.free_blocks[granted].push_back(block);
      p.cached += granted;
      return;
    }
  }
  std::free(block);
}

}  // namespace bcqnmt
