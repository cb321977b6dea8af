#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/storage_pool.h"

namespace bcqnmt {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    BCQNMT_CHECK(d >= 0, "negative dimension in shape " + shape_str(shape));
    BCQNMT_CHECK(d == 0 || n <= std::numeric_limits<int64_t>::max() / d,
                 "shape " + shape_str(shape) + " has more elements than int64 counts");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {
std::shared_ptr<float> allocate_aligned(int64_t numel) {
  size_t granted = 0;
  float* p = storage_acquire(static_cast<size_t>(numel) * sizeof(float), &granted);
  return std::shared_ptr<float>(p, [granted](float* q) { storage_release(q, granted); });
}
}  // namespace

Tensor::Tensor(Shape shape)
    : storage_(allocate_aligned(shape_numel(shape))), numel_(shape_numel(shape)), shape_(std::move(shape)) {}

Tensor Tensor::zeros(Shape shape) { return full(std::move(shape), 0.0f); }

Tensor Tensor::full(Shape shape, float value) {
  Tensor t(std::move(shape));
  t.fill(value);
  return t;
}

Tensor Tensor::from(Shape shape, const std::vector<float>& values) {
  Tensor t(std::move(shape));
  BCQNMT_CHECK(static_cast<int64_t>(values.size()) == t.numel(),
               "Tensor::from: " + std::to_string(values.size()) + " values for shape " + shape_str(t.shape()));
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

int64_t Tensor::size(int d) const {
  int n = dim();
  if (d < 0) d += n;
  BCQNMT_CHECK(d >= 0 && d < n, "dimension " + std::to_string(d) + " out of range for shape " + shape_str(shape_));
  return shape_[d];
}

Tensor Tensor::reshape(Shape shape) const {
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      BCQNMT_CHECK(infer < 0, "reshape: more than one -1 in " + shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    BCQNMT_CHECK(known > 0 && numel_ % known == 0,
                 "reshape: cannot infer -1 for " + shape_str(shape) + " from " + shape_str(shape_));
    shape[infer] = numel_ / known;
  }
  BCQNMT_CHECK(shape_numel(shape) == numel_, "reshape: " + shape_str(shape_) + " -> " + shape_str(shape));
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  BCQNMT_CHECK(dim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0],
               "rows: [" + std::to_string(begin) + ", " + std::to_string(end) + ") of " + shape_str(shape_));
  int64_t row = shape_[0] == 0 ? 0 : numel_ / shape_[0];
  Tensor view = *this;
  view.offset_ += begin * row;
  view.shape_[0] = end - begin;
  view.numel_ = (end - begin) * row;
  return view;
}

Tensor Tensor::clone() const {
  Tensor t(shape_);
  if (numel_) std::memcpy(t.data(), data(), numel_ * sizeof(float));
  return t;
}

void Tensor::fill(float value) { std::fill(data(), data() + numel_, value); }

void Tensor::copy_from(const Tensor& other) {
  BCQNMT_CHECK(other.numel() == numel_, "copy_from: " + shape_str(other.shape()) + " into " + shape_str(shape_));
  if (numel_) std::memmove(data(), other.data(), numel_ * sizeof(float));
}

float Tensor::item() const {
  BCQNMT_CHECK(numel_ == 1, "item() of a tensor with shape " + shape_str(shape_));
  return data()[0];
}

std::vector<float> Tensor::to_vector() const { return std::vector<float>(data(), data() + numel_); }

}  // namespace bcqnmt
