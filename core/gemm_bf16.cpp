#include "core/gemm_bf16.h"

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

#include "core/column_sums.h"
#include "core/parallel.h"
#include "core/storage_pool.h"

namespace bcqnmt {

namespace {

uint16_t bf16_bits(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN stays NaN
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                  // nearest, ties to even
}

// One row with the CPU's own conversion (vcvtneps2bf16: nearest, ties to even, 16 at a time);
// a scalar loop would cost as much as the AMX product itself. gemm_bf16 only runs where
// oneDNN found AVX512-BF16, so the instruction is there.
__attribute__((target("avx512f,avx512bf16"))) void row_to_bf16(const float* in, uint16_t* out, int64_t n) {
  int64_t c = 0;
  for (; c + 16 <= n; c += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_loadu_ps(in + c))));
  for (; c < n; ++c) out[c] = bf16_bits(in[c]);
}

int64_t round_up(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

// src [rows, cols] (leading dimension ld) -> dst [rows_out, cols_out] contiguous bf16,
// zero beyond rows x cols. The zeros let a product whose token dimension varies from batch
// to batch run on a rounded-up shape, so a few cached matmul primitives serve every batch.
void to_bf16(const float* src, int64_t rows, int64_t cols, int64_t ld, uint16_t* dst, int64_t rows_out,
             int64_t cols_out) {
  parallel_for(rows_out, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(cols_out, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t r = begin; r < end; ++r) {
                   uint16_t* out = dst + r * cols_out;
                   if (r >= rows) {
                     std::fill(out, out + cols_out, uint16_t{0});
                     continue;
                   }
                   row_to_bf16(src + r * ld, out, cols);
                   std::fill(out + cols, out + cols_out, uint16_t{0});
                 }
               });
}

// Rounded copies and partial-panel results live in blocks of the tensor storage pool
// (core/storage_pool.h): they reuse memory that activations gave back instead of holding
// buffers of their own, which kept ~170 MB resident (the [tokens, 7,010] logits gradient
// alone is 57 MB in bf16), and they are not zero-filled.
class PooledScratch {
 public:
  PooledScratch() = default;
  ~PooledScratch() { release(); }
  PooledScratch(const PooledScratch&) = delete;
  PooledScratch& operator=(const PooledScratch&) = delete;
  template <class T>
  T* allocate(int64_t elements) {
    release();
    block_ = storage_acquire(static_cast<size_t>(std::max<int64_t>(elements, 1)) * sizeof(T), &granted_);
    return data<T>();
  }
  template <class T>
  T* data() const {
    return reinterpret_cast<T*>(block_);
  }
  void release() {
    if (block_) storage_release(block_, granted_);
    block_ = nullptr;
  }

 private:
  float* block_ = nullptr;
  size_t granted_ = 0;
};

constexpr int64_t kSharedRowMultiple = 64;

// `src` [rows, cols] (leading dimension ld) in bf16, at least rows_out x cols rows: the
// shared copy when the caller names one (it must be this operand), else a fresh conversion
// into `scratch`.
const uint16_t* rounded_rows(const float* src, int64_t rows, int64_t cols, int64_t ld, int64_t rows_out,
                             PooledScratch& scratch, SharedGemmOperand* shared) {
  if (shared) {
    if (!shared->is(src, rows, cols, ld)) throw std::logic_error("gemm_bf16: a shared operand that is not the operand");
    return shared->bf16_rows();
  }
  to_bf16(src, rows, cols, ld, scratch.allocate<uint16_t>(rows_out * cols), rows_out, cols);
  return scratch.data<uint16_t>();
}

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One matmul primitive per shape, operand strides and beta; oneDNN generates its kernel at
// creation (~0.5-2 ms), so they are kept for the life of the program.
struct ProductKey {
  bool trans_a, trans_b;
  int64_t m, n, k, a_stride, b_stride, ldc;
  float beta;
  bool bias = false;  // C += 1 bias^T in the epilogue (run_product sets it)
  auto tie() const { return std::tie(trans_a, trans_b, m, n, k, a_stride, b_stride, ldc, beta, bias); }
  bool operator<(const ProductKey& o) const { return tie() < o.tie(); }
};

struct Product {
  dnnl::matmul matmul;
  dnnl::memory::desc a, b, c, bias;
  size_t scratchpad_bytes;
};

const Product& product_for(const ProductKey& key) {
  static std::mutex mutex;
  static std::map<ProductKey, std::unique_ptr<Product>> products;
  std::lock_guard lock(mutex);
  auto& slot = products[key];
  if (slot) return *slot;
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  // A is stored [m, k] (row stride a_stride) or, transposed, [k, m]; likewise B.
  dnnl::memory::desc a({key.m, key.k}, dt::bf16, key.trans_a ? dims{1, key.a_stride} : dims{key.a_stride, 1});
  dnnl::memory::desc b({key.k, key.n}, dt::bf16, key.trans_b ? dims{1, key.b_stride} : dims{key.b_stride, 1});
  dnnl::memory::desc c({key.m, key.n}, dt::f32, dims{key.ldc, 1});
  const dnnl::memory::desc bias = key.bias ? dnnl::memory::desc({1, key.n}, dt::f32, dims{key.n, 1}) : dnnl::memory::desc();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per-thread scratch, so panels can run concurrently
  if (key.beta != 0.0f) {
    dnnl::post_ops accumulate;
    accumulate.append_sum(key.beta);
    attr.set_post_ops(accumulate);
  }
  dnnl::matmul::primitive_desc pd(key.bias ? dnnl::matmul::desc(a, b, bias, c) : dnnl::matmul::desc(a, b, c), attr,
                                  cpu_engine());
  slot = std::make_unique<Product>(Product{dnnl::matmul(pd), a, b, c, bias, pd.scratchpad_desc().get_size()});
  return *slot;
}

// Runs on the calling thread: oneDNN's OpenMP team is kept at one thread because the thread
// team already splits the product into panels (core/parallel.h: one set of threads).
void run_product(ProductKey key, const uint16_t* a, const uint16_t* b, float* c, const float* bias = nullptr) {
  key.bias = bias != nullptr;
  thread_local bool single_threaded = (omp_set_num_threads(1), true);
  thread_local dnnl::stream stream(cpu_engine());
  thread_local std::vector<uint8_t> scratchpad;
  (void)single_threaded;
  const Product& p = product_for(key);
  if (scratchpad.size() < p.scratchpad_bytes) scratchpad.resize(p.scratchpad_bytes);
  auto& engine = cpu_engine();
  dnnl::memory am(p.a, engine, const_cast<uint16_t*>(a)), bm(p.b, engine, const_cast<uint16_t*>(b)), cm(p.c, engine, c);
  dnnl::memory sm(dnnl::memory::desc({static_cast<int64_t>(p.scratchpad_bytes)}, dnnl::memory::data_type::u8,
                                     dnnl::memory::format_tag::a),
                  engine, scratchpad.data());
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, sm}};
  if (key.bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(p.bias, engine, const_cast<float*>(bias)));
  p.matmul.execute(stream, args);
  stream.wait();
}

// Row panels of a fixed height, so a product whose rows are tokens needs only two shapes.
constexpr int64_t kPanelRows = 256;
// The token dimension is rounded up to these multiples (zero padding, exact).
constexpr int64_t kRowMultiple = 16, kDepthMultiple = 64;

// op(A) [m, k] with m the token dimension: A is [m, k] rows, B is the weight. Full panels of
// kPanelRows rows write straight into C; the last, partial panel is rounded up to 16 rows
// and written to a scratch block, of which the real rows are added into C.
void rows_varying(bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, const uint16_t* b,
                  int64_t b_stride, float beta, float* c, int64_t ldc, const float* bias) {
  const int64_t full = m / kPanelRows, tail = m - full * kPanelRows, panels = full + (tail > 0 ? 1 : 0);
  parallel_for(panels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const uint16_t* ap = a + p * kPanelRows * k;
      float* cp = c + p * kPanelRows * ldc;
      if (p < full) {
        run_product({false, trans_b, kPanelRows, n, k, k, b_stride, ldc, beta}, ap, b, cp, bias);
        continue;
      }
      const int64_t rows = round_up(tail, kRowMultiple);
      if (rows == tail) {
        run_product({false, trans_b, rows, n, k, k, b_stride, ldc, beta}, ap, b, cp, bias);
        continue;
      }
      PooledScratch scratch;
      float* block = scratch.allocate<float>(rows * n);  // fewer than 256 rows
      run_product({false, trans_b, rows, n, k, k, b_stride, n, 0.0f}, ap, b, block, bias);
      for (int64_t i = 0; i < tail; ++i)
        for (int64_t j = 0; j < n; ++j) cp[i * ldc + j] = block[i * n + j] + (beta == 0.0f ? 0.0f : beta * cp[i * ldc + j]);
    }
  });
}

// op(A) = A^T [m, k] with k the token dimension (weight gradients X^T dY): k is zero-padded
// to a multiple of 64 and C is split into one panel per thread along its longer side.
void depth_varying(bool trans_b, int64_t m, int64_t n, int64_t k_padded, const uint16_t* a, const uint16_t* b,
                   float beta, float* c, int64_t ldc) {
  const int64_t threads = num_threads();
  const bool split_rows = m >= n;
  const int64_t extent = split_rows ? m : n;
  const int64_t panel = round_up((extent + threads - 1) / threads, kRowMultiple);
  const int64_t panels = (extent + panel - 1) / panel;
  const int64_t b_stride = trans_b ? k_padded : n;
  parallel_for(panels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t lo = p * panel, len = std::min(extent, lo + panel) - lo;
      if (split_rows)
        run_product({true, trans_b, len, n, k_padded, m, b_stride, ldc, beta}, a + lo, b, c + lo * ldc);
      else
        run_product({true, trans_b, m, len, k_padded, m, b_stride, ldc, beta}, a,
                    trans_b ? b + lo * k_padded : b + lo, c + lo);
    }
  });
}

}  // namespace

SharedGemmOperand::SharedGemmOperand(const float* data, int64_t rows, int64_t cols)
    : source_(data), rows_(rows), cols_(cols) {}

SharedGemmOperand::~SharedGemmOperand() {
  if (block_) storage_release(block_, granted_);
}

uint16_t* SharedGemmOperand::allocate_rounded() {
  const int64_t padded = round_up(rows_, kSharedRowMultiple);
  if (!block_) block_ = storage_acquire(static_cast<size_t>(std::max<int64_t>(padded * cols_, 1)) * sizeof(uint16_t), &granted_);
  return reinterpret_cast<uint16_t*>(block_);
}

const uint16_t* SharedGemmOperand::bf16_rows() {
  if (!ready_) {
    const int64_t padded = round_up(rows_, kSharedRowMultiple);
    to_bf16(source_, rows_, cols_, cols_, allocate_rounded(), padded, cols_);
    ready_ = true;
  }
  return reinterpret_cast<const uint16_t*>(block_);
}

void SharedGemmOperand::add_column_sums(float* out) {
  if (gemm_precision() != GemmPrecision::bf16 || ready_) return bcqnmt::add_column_sums(source_, rows_, cols_, out);
  const int64_t padded = round_up(rows_, kSharedRowMultiple);
  uint16_t* rounded = allocate_rounded();
  add_column_sums_visiting(source_, rows_, cols_, out, nullptr,
                           [&](int64_t r) { row_to_bf16(source_ + r * cols_, rounded + r * cols_, cols_); });
  std::fill(rounded + rows_ * cols_, rounded + padded * cols_, uint16_t{0});
  ready_ = true;
}

float round_to_bf16(float x) { return std::bit_cast<float>(static_cast<uint32_t>(bf16_bits(x)) << 16); }

std::string bf16_gemm_unavailable_reason() {
  static const std::string reason = [] {
    const auto isa = dnnl::get_effective_cpu_isa();
    if (isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx) return std::string();
    const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");  // oneDNN's own cap, named when it is the cause
    return std::string("bf16 matmuls need a CPU with AVX512-BF16 or AMX (oneDNN found neither on this one") +
           (cap != nullptr ? std::string(", capped by ONEDNN_MAX_CPU_ISA=") + cap : std::string()) + ")";
  }();
  return reason;
}

const NameTable<GemmPrecision>& gemm_precision_names() {
  static const NameTable<GemmPrecision> names("matmul precision", {{GemmPrecision::fp32, "fp32"}, {GemmPrecision::bf16, "bf16"}});
  return names;
}

void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* bias,
               SharedGemmOperand* shared_a, SharedGemmOperand* shared_b) {
  if (m == 0 || n == 0) return;
  if (bias && trans_a) throw std::invalid_argument("gemm_bf16: a bias needs op(A) = A");
  if (const std::string reason = bf16_gemm_unavailable_reason(); !reason.empty()) throw std::runtime_error(reason);
  PooledScratch a16, b16;
  if (!trans_a) {
    // [m, k] rows rounded up to a multiple of 16; B keeps its layout.
    const uint16_t* ar = rounded_rows(a, m, k, lda, round_up(m, kRowMultiple), a16, shared_a);
    const uint16_t* br =
        trans_b ? rounded_rows(b, n, k, ldb, n, b16, shared_b) : rounded_rows(b, k, n, ldb, k, b16, shared_b);
    rows_varying(trans_b, m, n, k, ar, br, trans_b ? k : n, beta, c, ldc, bias);
    return;
  }
  const int64_t depth = round_up(std::max<int64_t>(k, 1), kDepthMultiple);
  const uint16_t* ar = rounded_rows(a, k, m, lda, depth, a16, shared_a);  // A stored [k, m]
  const uint16_t* br;
  if (trans_b) {  // B stored [n, k]: its depth is its columns, padded with zeros
    if (shared_b) throw std::logic_error("gemm_bf16: a shared B needs op(A) = A or op(B) = B");
    br = b16.allocate<uint16_t>(n * depth);
    to_bf16(b, n, k, ldb, b16.data<uint16_t>(), n, depth);
  } else {
    br = rounded_rows(b, k, n, ldb, depth, b16, shared_b);
  }
  depth_varying(trans_b, m, n, depth, ar, br, beta, c, ldc);
}

void gemm_bf16_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  // Stored extents: the last row of a strided view ends at its last column, not at ld.
  const auto extent = [](int64_t rows, int64_t cols, int64_t ld) {
    return static_cast<size_t>(rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols);
  };
  std::vector<float> ar(extent(trans_a ? k : m, trans_a ? m : k, lda)), br(extent(trans_b ? n : k, trans_b ? k : n, ldb));
  for (size_t i = 0; i < ar.size(); ++i) ar[i] = round_to_bf16(a[i]);
  for (size_t i = 0; i < br.size(); ++i) br[i] = round_to_bf16(b[i]);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, ar.data(), static_cast<int>(lda),
              br.data(), static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

}  // namespace bcqnmt
