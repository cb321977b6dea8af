#pragma once
// BCQ for a whole Transformer: which parameters are quantized, with how many bits, how
// training sees them (projection or straight-through), the packed `.bcq` file, and the
// quantized inference path that runs on the lookup-table kernels.
//
// Quantized (as the reference): every weight matrix (Linear kernels, alpha per OUTPUT
// row, i.e. the kernel [in, out] is quantized as its transpose [out, in]) and both
// embedding tables (per row = per token). Biases and LayerNorm parameters stay fp32.
// Which weights these are and how each is oriented comes from the layers holding them
// (quant/bcq_model_layers.h).
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/transformer.h"
#include "quant/bcq_mixed_matrix.h"
#include "quant/bcq_model_layers.h"
#include "quant/bcq_solvers.h"
#include "quant/bit_allocation.h"

namespace bcqnmt {

struct QuantizeSettings {
  BitAllocation bits;     // per parameter group (quant/bit_allocation.h)
  BcqOptions solver;      // method, cycles, group size; solver.bits is ignored (bits come from `bits`)
  // Token counts per vocabulary id from the training data, for frequency-clustered
  // embeddings (used only when bits.embedding_uses_clusters()).
  std::vector<int64_t> source_token_counts, target_token_counts;
};

// The bits of a parameter's group ("encoder/layer_0/ffn/dense_0/kernel" -> bits.encoder_ffn,
// by bit_group_of in quant/bit_allocation.h); *quantized = false (and 0 returned) when it
// stays fp32 (biases "/bias", LayerNorm "/gamma", "/beta"). Embedding tables return
// bits.embedding even when frequency clusters replace it. QuantError for a weight matrix of
// no known group.
int bits_for_parameter(const std::string& name, const BitAllocation& bits, bool* quantized);

// One quantized weight (quant/bcq_model_layers.h) in BCQ form, rows = output rows: read
// along its layer's output axis (a Linear kernel [in, out] is quantized as its transpose
// [out, in]; an embedding table [V, D] per row), in frequency clusters when
// settings.bits.embedding_uses_clusters() and its rows are tokens (encoder tables use the
// source counts, decoder tables the target counts). `value` has w.shape (w.value, or the
// latent weight a straight-through transform sees).
BcqMixedMatrix bcq_quantize_parameter(const QuantizedWeight& w, const Tensor& value, const QuantizeSettings& settings);
// `value` (of shape w.shape) as BCQ reads it, rows = output rows: [out, in] for a Linear
// kernel, [V, D] for a table. QuantError if it is not a matrix.
Tensor bcq_rows_first(const QuantizedWeight& w, const Tensor& value);
// The [rows, cols] the weight is quantized as ([out, in] for a kernel [in, out]).
std::pair<int64_t, int64_t> bcq_quantized_shape(const QuantizedWeight& w);
// Back to the weight's own layout, w.shape (kernels transposed back to [in, out]).
Tensor bcq_dequantize_parameter(const QuantizedWeight& w, const BcqMixedMatrix& m);

// The quantized form of every quantized parameter of one model.
class BcqModel {
 public:
  BcqModel() = default;
  explicit BcqModel(std::map<std::string, BcqMixedMatrix> matrices) : matrices_(std::move(matrices)) {}

  // Quantizes the model's current weights.
  static BcqModel quantize(const Transformer& model, const QuantizeSettings& settings);

  // Periodic projection (the reference's schedule): overwrite each quantized parameter
  // with its dequantized value.
  void write_dequantized(Transformer& model) const;

  // The packed file: config, vocabulary fingerprints, sign bit planes in 64-bit words,
  // fp32 alphas, fp32 biases/LayerNorm, checksum. Written atomically.
  void save(const std::filesystem::path& path, const Transformer& model, uint64_t source_vocab_fingerprint,
            uint64_t target_vocab_fingerprint) const;

  const std::map<std::string, BcqMixedMatrix>& matrices() const { return matrices_; }

 private:
  std::map<std::string, BcqMixedMatrix> matrices_;  // by parameter name, rows = output rows
};

struct LoadedBcqModel {
  std::unique_ptr<Transformer> model;
  BcqModel bcq;
  uint64_t source_vocab_fingerprint = 0, target_vocab_fingerprint = 0;
  // With kernels: bytes of packed weights the attached kernels hold (the model's remaining
  // dense tensors come on top). `bcq` is a separate copy, only needed to re-save or report;
  // a translator may drop it.
  int64_t kernel_bytes = 0;
};

// Reads a .bcq file (QuantError naming the file on a bad magic, truncation, checksum or
// inconsistency). `kernels`: pack every quantized Linear and Embedding into its lookup-table
// kernel (Linear::pack, Embedding::pack: the dense weight is gone, the model runs with
// gradients off only; runtime memory ~ the file's size; num_parameters() unchanged);
// otherwise every dense weight holds its dequantized value (the fp32 model carrying the
// dequantized weights, for comparison).
LoadedBcqModel load_bcq_model(const std::filesystem::path& path, bool kernels);

// Straight-through estimator: every quantized parameter is used through a transform whose
// forward is bcq_dequantize(bcq_quantize(W)) and whose backward passes the gradient
// unchanged to the fp32 latent W.
void enable_straight_through(Transformer& model, const QuantizeSettings& settings);
void disable_straight_through(Transformer& model);

// Sizes for `bcqnmt info`: per part (embeddings, encoder, decoder, final layer), bytes
// fp32 vs packed and average bits per quantized weight.
struct BcqSizeReport {
  struct Part {
    std::string name;
    int64_t parameters = 0, quantized_parameters = 0;
    int64_t fp32_bytes = 0, packed_bytes = 0;
    double average_bits = 0.0;
  };
  std::vector<Part> parts;
  int64_t file_bytes = 0;
};
BcqSizeReport bcq_size_report(const BcqModel& bcq, const Transformer& model);

// The exact size of the .bcq file save() would write (vocabulary fingerprints do not change it).
int64_t bcq_file_bytes(const BcqModel& bcq, const Transformer& model);

}  // namespace bcqnmt
