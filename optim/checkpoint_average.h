#pragma once
// Checkpoint averaging: the element-wise mean of the parameters of the last few epochs'
// checkpoints (Vaswani et al. 2017, section 6.1: "averaging the last 5 checkpoints"; fairseq's
// average_checkpoints.py, Marian's exponential smoothing being the running variant). The
// average sits nearer the centre of the region the noisy optimizer wanders in at the end of
// training, which usually validates and translates a little better than any one of them.
#include <vector>

#include "optim/checkpoint.h"

namespace bcqnmt {

// The mean of every parameter over `checkpoints` (accumulated in double); step, epoch,
// config and vocabularies are the last one's. The average is a model, not a training state:
// it carries no optimizer moments (a third of the file each; no optimizer ever produced
// these weights) and no metrics. Training resumes from latest.ckpt, never from an average.
// CheckpointError if the list is empty or the checkpoints differ in config, vocabularies,
// parameter names or shapes.
Checkpoint average_checkpoints(const std::vector<Checkpoint>& checkpoints);

}  // namespace bcqnmt
