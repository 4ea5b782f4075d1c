// TrainableSpace: the parameters being trained, numbered by one global element index
// (the Philox counter of every direction). Tensors are concatenated in the order the
// model declared them; frozen tensors take no index. PEFT modules (LoRA, TT adapters,
// prefixes) register their tensors in the same ParamStore and are selected the same way.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model.h"
#include "kernels/cpu/perturb.h"

namespace zotune {

// What a parameter is, from its Hugging Face name: decides freezing and weight decay. Head:
// lm_head, cls (MLM), classifier, OPT's project_out; BERT's pooler is body, as in BertModel.
// Peft: a PEFT module's tensor ("peft." names, core/peft), whatever its kind.
enum class ParamRole { Embedding, Norm, Head, Bias, Weight, Peft };
ParamRole param_role(const std::string& name);

struct TrainableSelection {
  // Peft: only the PEFT modules' tensors, the backbone frozen (trainable.mode lora / adapter / prefix).
  enum class Mode { Full, Head, Peft } mode = Mode::Full;
  bool freeze_embeddings = false;
  bool freeze_norms = false;
  bool freeze_head = false;
  bool freeze_biases = false;
};

struct TrainableTensor {
  const ParamView* view = nullptr;
  uint64_t first = 0;       // global trainable index of the tensor's element 0
  bool weight_decay = true; // MeZO decays weights, not biases or norms
};

class TrainableSpace {
 public:
  // Errors name the model when the selection leaves nothing to train.
  static TrainableSpace select(const Model& model, const TrainableSelection& selection);

  uint64_t size() const { return size_; }
  const std::vector<TrainableTensor>& tensors() const { return tensors_; }

  // params += sum_j terms[j].coeff * z_j over every trainable element, one pass; decayed
  // tensors are first scaled by `decay_scale` (1 = none), fused into the same pass.
  void apply(ParamStore& params, const std::vector<cpu::DirectionTerm>& terms, DirectionKind kind,
             float decay_scale = 1.0f) const;

  // One term in the papers' arithmetic (model.perturbation: reference): every trainable
  // tensor gets params += term.coeff * round_dtype(z), rounded once (cpu::perturb_in_dtype).
  void apply_in_dtype(ParamStore& params, const cpu::DirectionTerm& term, DirectionKind kind) const;

  // Bytes of every trainable tensor, in order (snapshots for the exact perturbation mode).
  size_t bytes() const;
  void copy_out(const ParamStore& params, std::vector<uint8_t>& out) const;
  void copy_in(ParamStore& params, const std::vector<uint8_t>& in) const;
  // FNV-1a over the bits of every trainable element: equal on every replica or they diverged.
  uint64_t checksum(const ParamStore& params) const;

 private:
  std::vector<TrainableTensor> tensors_;
  uint64_t size_ = 0;
};

}  // namespace zotune
