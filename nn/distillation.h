#pragma once
// Token-level knowledge distillation (Hinton et al. 2015, "Distilling the Knowledge in a
// Neural Network"; word-level KD for NMT in Kim & Rush 2016, "Sequence-Level Knowledge
// Distillation", section 3.1): the student learns the teacher's whole next-token
// distribution at every target position, not only the reference token. Here the teacher
// is the full-precision model and the student its quantized twin during QAT.
//   loss = (1 - w) CE(student, labels) + w KL(p_teacher || p_student)
// both means over the non-pad target tokens, so w = 0 is the plain label loss and w = 1
// pure distillation. Temperature 1, as Kim & Rush's word-level KD: a quantized student of
// the same architecture can match the teacher's distribution itself, not a softened one.
#include "nn/transformer.h"

namespace bcqnmt {

class Distillation {
 public:
  // teacher is read only (no gradients) and must be in eval mode and outlive this object;
  // weight in [0, 1]. NnError otherwise.
  Distillation(const Transformer& teacher, double weight);

  // The student's loss on one batch: source [B, S], target_in and target_out [B, T].
  // Materialises the [B, T, V] logits of both models (the label-only path does not).
  // `counts`, if given, receives the student's masked accuracy.
  Variable loss(const Transformer& student, const IndexTensor& source, const IndexTensor& target_in,
                const IndexTensor& target_out, TokenCounts* counts = nullptr) const;

  // The teacher's next-token distribution [B, T, V] (softmax of its logits, no graph).
  Tensor teacher_probabilities(const IndexTensor& source, const IndexTensor& target_in) const;

 private:
  const Transformer& teacher_;
  float weight_;
};

}  // namespace bcqnmt
