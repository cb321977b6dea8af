#pragma once
// Tensor: a float32, contiguous, row-major view into shared storage.
//
// Storage is 64-byte aligned (one cache line, one AVX-512 register) and reference counted,
// so reshape() and row ranges are free views. There are no strided views: an op that
// changes the memory order (permute) writes a new tensor, which keeps every kernel simple
// and every BLAS call on contiguous data.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bcqnmt {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[64, 27, 128]"

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape);  // uninitialised values
  static Tensor zeros(Shape shape);
  static Tensor full(Shape shape, float value);
  static Tensor from(Shape shape, const std::vector<float>& values);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int dim() const { return static_cast<int>(shape_.size()); }
  int64_t size(int d) const;  // negative d counts from the back
  int64_t numel() const { return numel_; }
  float* data() { return storage_.get() + offset_; }
  const float* data() const { return storage_.get() + offset_; }

  // A view with another shape over the same values; one dimension may be -1.
  Tensor reshape(Shape shape) const;
  // Rows [begin, end) of the first dimension, as a view.
  Tensor rows(int64_t begin, int64_t end) const;
  Tensor clone() const;
  void fill(float value);
  void copy_from(const Tensor& other);  // same numel
  float item() const;                   // the value of a one-element tensor
  std::vector<float> to_vector() const;
  bool same_storage(const Tensor& other) const { return storage_ == other.storage_; }

 private:
  std::shared_ptr<float> storage_;
  int64_t offset_ = 0;
  int64_t numel_ = 0;
  Shape shape_;
};

// A tensor with its parameter name ("encoder/layer_0/ffn/dense_0/kernel"): how checkpoints
// and nn/module.h's load_parameters carry a model's weights.
struct NamedTensor {
  std::string name;
  Tensor value;
};

// Integer tensor for token ids and labels; never differentiated.
struct IndexTensor {
  Shape shape;
  std::vector<int32_t> data;
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
};

}  // namespace bcqnmt
