#pragma once
// The quantized models of one run, side by side. Each variant lives in its own directory,
//   RUN/quantized/NAME/settings.json   how it was made (the resolved quantization settings)
//   RUN/quantized/NAME/latest.ckpt best.ckpt   its quantization-aware training (fp32 latent)
//   RUN/quantized/NAME/model.bcq       its best packed BCQ model
// and is picked by NAME in evaluate, translate, info and plot (`--model NAME`; "fp" is the
// full-precision model). The default name says how the variant was made
// ("3bit-greedy-projection", "chung2020-alternating-ste-kd0.5"), so two different settings
// never share a directory; an explicit --name that exists with other settings is an error.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/quantization_config.h"
#include "apps/run_directory.h"

namespace bcqnmt {

// The name of the full-precision model wherever a command takes a model name.
inline constexpr const char* kFullPrecisionModel = "fp";

// The settings that make a variant what it is: the config with the bit allocation resolved
// (the file's content, not its path) and without "epochs" (a run may be extended).
nlohmann::json variant_settings(const QuantizationConfig& q);

// "<bits>bit" or the bits file's stem, the solver, the mode, and "-kd<w>" with distillation.
std::string default_variant_name(const QuantizationConfig& q);

// Throws AppError unless name is 1-64 of [A-Za-z0-9._-], does not start with '.' or '-', and is not "fp".
void check_variant_name(const std::string& name);

// Records settings for a new variant (atomically), or checks them against the stored ones
// when the variant already holds a checkpoint or model (a directory with settings.json only,
// left by a start that failed, is taken over). When they differ: AppError naming both, or
// with `replace` (--restart) the variant's checkpoints and model are removed and the new
// settings recorded; returns the differences replaced ("" when none).
std::string adopt_variant_settings(const RunDirectory& run, const std::string& name, const nlohmann::json& settings,
                                   bool replace);

// Names of every variant directory (finished or not), and of those with a model.bcq; sorted.
// A model.bcq is written at every new best, so it exists long before its training ends.
std::vector<std::string> all_variants(const RunDirectory& run);
std::vector<std::string> finished_variants(const RunDirectory& run);

// "" when the variant's quantization-aware training is over (PhaseStanding::finished, apps/
// trainer.h): its latest.ckpt has trained the epochs its manifest's resolved config asks for
// (config.json's for a variant made before manifests), or early stopping ended it, or it has
// no training at all (post-training quantization).
// Otherwise where it stands: "at epoch 1 of 30".
std::string unfinished_training(const RunDirectory& run, const std::string& name);

}  // namespace bcqnmt
