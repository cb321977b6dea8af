// docs/bcq.md: relative squared error ||w - w_q||^2 / ||w||^2 of the three solvers of
// quant/bcq_solvers.h on N(0, 1) rows, as a Markdown table.
#pragma once
#include <cstdio>
#include <ostream>
#include <vector>

#include "quant/bcq_solvers.h"

namespace bcqnmt::examples {

inline void run_example_bcq_error_table(std::ostream& out) {
  const int64_t rows = 128, cols = 512;
  Rng rng(2018);
  Tensor w({rows, cols});  // [rows, cols], N(0, 1)
  for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = rng.normal();

  auto relative_error = [&](int bits, BcqMethod method, int cycles) {
    const Tensor wq = bcq_quantize(w, BcqOptions{bits, 0, method, cycles}).dequantize();  // [rows, cols]
    double err = 0, norm = 0;
    for (int64_t i = 0; i < w.numel(); ++i) {
      err += (double(w.data()[i]) - wq.data()[i]) * (double(w.data()[i]) - wq.data()[i]);
      norm += double(w.data()[i]) * w.data()[i];
    }
    return err / norm;
  };
  out << "| bits | greedy | refined greedy | alternating, 2 cycles | alternating, 10 cycles |\n"
      << "|---|---|---|---|---|\n";
  for (int bits = 1; bits <= 4; ++bits) {
    char line[160];
    std::snprintf(line, sizeof line, "| %d | %.3f | %.3f | %.3f | %.3f |\n", bits,
                  relative_error(bits, BcqMethod::greedy, 0), relative_error(bits, BcqMethod::refined_greedy, 0),
                  relative_error(bits, BcqMethod::alternating, 2), relative_error(bits, BcqMethod::alternating, 10));
    out << line;
  }
}

}  // namespace bcqnmt::examples
