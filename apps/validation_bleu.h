#pragma once
// "val_bleu": the test protocol's metric (greedy decoding, nltk corpus BLEU, the reference's
// evaluation) on a fixed validation subset, so training can keep the checkpoint that
// translates best rather than the one that predicts the next token best
// (TrainingConfig::validation_bleu_pairs and best_metric).
#include <string>

#include "apps/experiment.h"
#include "apps/trainer.h"

namespace bcqnmt {

// A scorer of the first e.training.validation_bleu_pairs validation pairs of the corpus in
// `data_dir`, for Trainer::set_bleu_scorer; an empty function when that count is 0. The
// scorer holds its own copy of the sentences and vocabularies. Throws DataError if the
// split cannot be read.
BleuScorer validation_bleu_scorer(const Experiment& e, const std::string& data_dir);

}  // namespace bcqnmt
