#include "nn/distillation.h"

#include "nn/error.h"

namespace bcqnmt {

Distillation::Distillation(const Transformer& teacher, double weight) : teacher_(teacher), weight_(static_cast<float>(weight)) {
  if (!(weight >= 0.0 && weight <= 1.0))
    throw NnError("distillation weight must be in [0, 1], got " + std::to_string(weight));
  if (teacher.training()) throw NnError("distillation: put the teacher in eval mode (no dropout) first");
}

Tensor Distillation::teacher_probabilities(const IndexTensor& source, const IndexTensor& target_in) const {
  NoGradGuard no_grad;
  return softmax(teacher_.forward(source, target_in)).value();
}

Variable Distillation::loss(const Transformer& student, const IndexTensor& source, const IndexTensor& target_in,
                            const IndexTensor& target_out, TokenCounts* counts) const {
  if (weight_ == 0.0f) return student.masked_loss(source, target_in, target_out, counts);
  const Tensor teacher = teacher_probabilities(source, target_in);
  const Variable logits = student.forward(source, target_in);  // [B, T, V]
  if (counts) *counts = masked_accuracy(logits.value(), target_out);
  const Variable soft = kl_divergence(logits, teacher, target_out, kPadId);
  if (weight_ == 1.0f) return soft;
  return masked_loss(logits, target_out) * (1.0f - weight_) + soft * weight_;
}

}  // namespace bcqnmt
