// Fused dense layer. With X [N, in], W [in, out], dY [N, out]:
//   Y = X W + 1 b^T        dX = dY W^T        dW = X^T dY        db = sum_rows dY
#include "core/error.h"
#include "core/gemm.h"
#include "core/gemm_bf16.h"
#include "core/ops.h"

namespace bcqnmt {

Variable linear(const Variable& x, const Variable& w, const Variable& b) {
  if (kernel_path() == KernelPath::reference) return b.defined() ? add(matmul(x, w), b) : matmul(x, w);
  const Tensor& xv = x.value();
  const Tensor& wv = w.value();
  BCQNMT_CHECK(wv.dim() == 2 && xv.dim() >= 1 && xv.size(-1) == wv.size(0),
               "linear: input " + shape_str(xv.shape()) + " does not fit weight " + shape_str(wv.shape()));
  const int64_t in = wv.size(0), out_features = wv.size(1), n = xv.numel() / std::max<int64_t>(in, 1);
  BCQNMT_CHECK(!b.defined() || b.numel() == out_features,
               "linear: bias of " + std::to_string(b.numel()) + " for " + std::to_string(out_features) + " outputs");
  Shape shape = xv.shape();
  shape.back() = out_features;
  Tensor y(shape);  // [N, out]
  if (b.defined())
    gemm_bias(false, false, n, out_features, in, xv.data(), in, wv.data(), out_features, b.value().data(), y.data(),
              out_features);
  else
    gemm(false, false, n, out_features, in, 1.0f, xv.data(), in, wv.data(), out_features, 0.0f, y.data(), out_features);
  std::vector<Variable> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  return Variable::make_result(y, inputs, [xv, wv, n, in, out_features](Node& self) {
    const float* dy = self.grad.data();
    Node& nx = *self.inputs[0];
    Node& nw = *self.inputs[1];
    float beta = 0.0f;
    SharedGemmOperand shared_dy(dy, n, out_features);  // bf16 matmuls round dY once for both products
    if (self.inputs.size() > 2 && self.inputs[2]->requires_grad)
      shared_dy.add_column_sums(self.inputs[2]->grad_buffer().data());  // db = sum_rows dY
    if (nx.requires_grad) {
      float* dx = nx.grad_output(beta).data();
      gemm(false, true, n, in, out_features, 1.0f, dy, out_features, wv.data(), out_features, beta, dx, in,
           {.shared_a = &shared_dy});
    }
    if (nw.requires_grad) {
      float* dw = nw.grad_output(beta).data();
      gemm(true, false, in, out_features, n, 1.0f, xv.data(), in, dy, out_features, beta, dw, out_features,
           {.shared_b = &shared_dy});
    }
  });
}

}  // namespace bcqnmt
