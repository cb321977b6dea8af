#pragma once
// A seeded random number generator whose whole state is one 64-bit word (SplitMix64,
// Steele et al. 2014), so a checkpoint can store and restore it exactly.
//
// Parallel kernels never share a generator: they draw one key from it and hash
// (key, element index) — a counter-based scheme — so dropout masks do not depend on how
// the work is split across threads.
#include <cstdint>
#include <vector>

namespace bcqnmt {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform float in [0, 1) from the top 24 bits of a hash.
inline float hash_uniform(uint64_t key, uint64_t index) {
  return static_cast<float>(splitmix64(key ^ (index * 0xD1B54A32D192ED03ull)) >> 40) * 0x1.0p-24f;
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next_u64() {
    state_ += 0x9E3779B97F4A7C15ull;
    return splitmix64(state_);
  }
  float uniform() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }  // [0, 1)
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  uint64_t below(uint64_t n) { return next_u64() % n; }  // bias negligible for n << 2^64
  float normal();                                          // Box-Muller
  std::vector<float> normals(int64_t n);                   // n draws of normal()
  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

}  // namespace bcqnmt
