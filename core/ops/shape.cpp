// Shape ops: reshape (a view), permute/transpose, slice and concat (copies).
#include <numeric>

#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace bcqnmt {

Variable reshape(const Variable& x, Shape shape) {
  Tensor out = x.value().reshape(std::move(shape));
  return Variable::make_result(out, {x}, [](Node& self) { self.inputs[0]->accumulate_grad(self.grad); });
}

namespace {

// Writes dst = src permuted: dst index (i0..in) holds src at position perm-mapped.
void permute_copy(const Tensor& src, const std::vector<int>& perm, Tensor& dst) {
  const int rank = src.dim();
  std::vector<int64_t> src_strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) src_strides[d] = src_strides[d + 1] * src.size(d + 1);
  // Stride in src for each dst dimension.
  std::vector<int64_t> stride(rank);
  for (int d = 0; d < rank; ++d) stride[d] = src_strides[perm[d]];
  const Shape& out_shape = dst.shape();
  const int64_t inner = out_shape.back();
  const int64_t rows = dst.numel() / std::max<int64_t>(inner, 1);
  const float* ps = src.data();
  float* pd = dst.data();
  parallel_for(rows, 64, [&](int64_t b, int64_t e) {
    std::vector<int64_t> idx(rank, 0);
    for (int64_t r = b; r < e; ++r) {
      int64_t rem = r, offset = 0;
      for (int d = rank - 2; d >= 0; --d) {
        idx[d] = rem % out_shape[d];
        rem /= out_shape[d];
        offset += idx[d] * stride[d];
      }
      const int64_t s_last = stride[rank - 1];
      float* row = pd + r * inner;
      for (int64_t j = 0; j < inner; ++j) row[j] = ps[offset + j * s_last];
    }
  });
}

}  // namespace

Variable permute(const Variable& x, const std::vector<int>& perm) {
  const int rank = x.dim();
  std::vector<int> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> identity(rank);
  std::iota(identity.begin(), identity.end(), 0);
  BCQNMT_CHECK(sorted == identity, "permute: not a permutation of the " + std::to_string(rank) + " dimensions of " +
                                       shape_str(x.shape()));
  Shape out_shape(rank);
  for (int d = 0; d < rank; ++d) out_shape[d] = x.size(perm[d]);
  Tensor out(out_shape);
  permute_copy(x.value(), perm, out);
  std::vector<int> inverse(rank);
  for (int d = 0; d < rank; ++d) inverse[perm[d]] = d;
  return Variable::make_result(out, {x}, [inverse](Node& self) {
    Tensor g(self.inputs[0]->value.shape());
    permute_copy(self.grad, inverse, g);
    self.inputs[0]->accumulate_grad(g);
  });
}

Variable transpose(const Variable& x, int d0, int d1) {
  const int rank = x.dim();
  if (d0 < 0) d0 += rank;
  if (d1 < 0) d1 += rank;
  BCQNMT_CHECK(d0 >= 0 && d0 < rank && d1 >= 0 && d1 < rank, "transpose: dimension out of range for " + shape_str(x.shape()));
  std::vector<int> perm(rank);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[d0], perm[d1]);
  return permute(x, perm);
}

namespace {

// View of a tensor as [outer, mid, inner] around dimension `dim`.
struct Split3 {
  int64_t outer = 1, mid = 1, inner = 1;
};
Split3 split_at(const Shape& shape, int dim) {
  Split3 s;
  for (int d = 0; d < dim; ++d) s.outer *= shape[d];
  s.mid = shape[dim];
  for (size_t d = dim + 1; d < shape.size(); ++d) s.inner *= shape[d];
  return s;
}

// Copies `len` slabs of `inner` floats between a [outer, src_mid, inner] and a
// [outer, dst_mid, inner] layout, at mid offsets src_off / dst_off; add=true accumulates.
void copy_slab(const float* src, int64_t src_mid, int64_t src_off, float* dst, int64_t dst_mid, int64_t dst_off,
               int64_t outer, int64_t len, int64_t inner, bool add) {
  parallel_for(outer, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, len * inner)),
               [&](int64_t b, int64_t e) {
                 for (int64_t o = b; o < e; ++o) {
                   const float* s = src + (o * src_mid + src_off) * inner;
                   float* d = dst + (o * dst_mid + dst_off) * inner;
                   if (add)
                     for (int64_t j = 0; j < len * inner; ++j) d[j] += s[j];
                   else
                     std::copy(s, s + len * inner, d);
                 }
               });
}

}  // namespace

Variable slice(const Variable& x, int dim, int64_t begin, int64_t end) {
  if (dim < 0) dim += x.dim();
  BCQNMT_CHECK(dim >= 0 && dim < x.dim(), "slice: dimension out of range for " + shape_str(x.shape()));
  BCQNMT_CHECK(0 <= begin && begin <= end && end <= x.size(dim),
               "slice: [" + std::to_string(begin) + ", " + std::to_string(end) + ") of dimension " +
                   std::to_string(dim) + " in " + shape_str(x.shape()));
  Shape out_shape = x.shape();
  out_shape[dim] = end - begin;
  Tensor out(out_shape);
  const Split3 s = split_at(x.shape(), dim);
  copy_slab(x.value().data(), s.mid, begin, out.data(), end - begin, 0, s.outer, end - begin, s.inner, false);
  return Variable::make_result(out, {x}, [s, begin, end](Node& self) {
    copy_slab(self.grad.data(), end - begin, 0, self.inputs[0]->grad_buffer().data(), s.mid, begin, s.outer,
              end - begin, s.inner, true);
  });
}

Variable concat(const std::vector<Variable>& xs, int dim) {
  BCQNMT_CHECK(!xs.empty(), "concat: no inputs");
  const int rank = xs[0].dim();
  if (dim < 0) dim += rank;
  BCQNMT_CHECK(dim >= 0 && dim < rank, "concat: dimension out of range for " + shape_str(xs[0].shape()));
  Shape out_shape = xs[0].shape();
  out_shape[dim] = 0;
  for (const auto& x : xs) {
    Shape a = x.shape(), b = xs[0].shape();
    BCQNMT_CHECK(x.dim() == rank, "concat: ranks differ, " + shape_str(a) + " vs " + shape_str(b));
    a[dim] = b[dim] = 0;
    BCQNMT_CHECK(a == b, "concat: shapes " + shape_str(x.shape()) + " and " + shape_str(xs[0].shape()) +
                             " differ outside dimension " + std::to_string(dim));
    out_shape[dim] += x.size(dim);
  }
  Tensor out(out_shape);
  const Split3 so = split_at(out_shape, dim);
  std::vector<int64_t> offsets;
  int64_t off = 0;
  for (const auto& x : xs) {
    offsets.push_back(off);
    copy_slab(x.value().data(), x.size(dim), 0, out.data(), so.mid, off, so.outer, x.size(dim), so.inner, false);
    off += x.size(dim);
  }
  return Variable::make_result(out, xs, [so, offsets](Node& self) {
    for (size_t i = 0; i < self.inputs.size(); ++i) {
      Node& in = *self.inputs[i];
      if (!in.requires_grad || so.outer * so.inner == 0) continue;
      const int64_t len = in.value.numel() / (so.outer * so.inner);
      copy_slab(self.grad.data(), so.mid, offsets[i], in.grad_buffer().data(), len, 0, so.outer, len, so.inner, true);
    }
  });
}

}  // namespace bcqnmt
