#pragma once
// Which implementation the fast ops run: their optimised kernels (the default), or the
// plain reference paths they are tested against — attention composed of primitive ops,
// linear as matmul + add, each GEMM as one BLAS call. Training the same model both ways
// shows that speed changed nothing but speed (tests/test_nn_fast_path.cpp).
namespace bcqnmt {

enum class KernelPath { fast, reference };
void set_kernel_path(KernelPath path);
KernelPath kernel_path();

}  // namespace bcqnmt
