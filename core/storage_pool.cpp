#include "core/storage_pool.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace bcqnmt {

namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kPooledFrom = size_t{256} << 10;  // below this, malloc's own bins are fine
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

}  // namespace

float* storage_acquire(size_t bytes, size_t* granted) {
  const size_t cls = size_class(std::max<size_t>(bytes, 1));
  *granted = cls;
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
