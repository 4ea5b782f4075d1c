#include "core/optim/trainable_space.h"

#include <cstring>

#include "core/util/error.h"

namespace zotune {

namespace {
bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }
bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}
}  // namespace

ParamRole param_role(const std::string& name) {
  if (name.rfind("peft.", 0) == 0) return ParamRole::Peft;
  if (contains(name, "embed_tokens") || contains(name, "embed_positions") || contains(name, "embeddings.word_") ||
      contains(name, "embeddings.position_") || contains(name, "embeddings.token_type_") || contains(name, "project_in"))
    return ParamRole::Embedding;
  if (contains(name, "layernorm") || contains(name, "LayerNorm") || contains(name, "layer_norm") ||
      contains(name, "model.norm.") || contains(name, ".norm.") || contains(name, "_norm."))
    return ParamRole::Norm;
  // The head is what sits on top of the transformer body, as Hugging Face draws the module
  // boundary: BERT's pooler belongs to BertModel (pretrained, part of the body), so head-only
  // training of a sequence classifier trains `classifier.*` alone: the linear probe.
  if (name.rfind("lm_head.", 0) == 0 || name.rfind("cls.", 0) == 0 || name.rfind("classifier.", 0) == 0 ||
      contains(name, "project_out"))
    return ParamRole::Head;
  if (ends_with(name, ".bias")) return ParamRole::Bias;
  return ParamRole::Weight;
}

TrainableSpace TrainableSpace::select(const Model& model, const TrainableSelection& sel) {
  TrainableSpace space;
  for (const ParamView& v : model.params().views()) {
    const ParamRole role = param_role(v.name);
    bool train = sel.mode == TrainableSelection::Mode::Full ||
                 (sel.mode == TrainableSelection::Mode::Head && role == ParamRole::Head) ||
                 (sel.mode == TrainableSelection::Mode::Peft && role == ParamRole::Peft);
    if (role == ParamRole::Embedding && sel.freeze_embeddings) train = false;
    if (role == ParamRole::Norm && sel.freeze_norms) train = false;
    if (role == ParamRole::Head && sel.freeze_head) train = false;
    if (ends_with(v.name, ".bias") && sel.freeze_biases) train = false;
    if (!train) continue;
    TrainableTensor t;
    t.view = &v;
    t.first = space.size_;
    t.weight_decay = role != ParamRole::Norm && !ends_with(v.name, ".bias");  // PEFT: cores, lora_A/B, prefixes yes; biases no
    space.tensors_.push_back(t);
    space.size_ += static_cast<uint64_t>(v.numel);
  }
  if (space.tensors_.empty())
    throw Error(model.config().source + ": the trainable selection leaves no parameter to train" +
                (sel.mode == TrainableSelection::Mode::Head ? " (head-only mode, but the model has no head tensors)"
                 : sel.mode == TrainableSelection::Mode::Peft
                     ? " (a PEFT mode, but the model declares no PEFT modules: load it with LoadOptions::peft)"
                     : ""));
  return space;
}

void TrainableSpace::apply(ParamStore& params, const std::vector<cpu::DirectionTerm>& terms, DirectionKind kind,
                           float decay_scale) const {
  for (const TrainableTensor& t : tensors_) {
    void* data = params.data(*t.view);
    if (decay_scale != 1.0f && t.weight_decay) {
      // Scale then add, each rounded once into the storage dtype, as the replay does.
      std::vector<float> tmp(static_cast<size_t>(t.view->numel));
      convert(data, t.view->dtype, tmp.data(), DType::F32, tmp.size());
      for (float& x : tmp) x *= decay_scale;
      convert(tmp.data(), DType::F32, data, t.view->dtype, tmp.size());
    }
    if (!terms.empty())
      cpu::perturb(data, t.view->dtype, t.view->numel, t.first, terms.data(), static_cast<int>(terms.size()), kind);
  }
}

void TrainableSpace::apply_in_dtype(ParamStore& params, const cpu::DirectionTerm& term, DirectionKind kind) const {
  for (const TrainableTensor& t : tensors_)
    cpu::perturb_in_dtype(params.data(*t.view), t.view->dtype, t.view->numel, t.first, term, kind);
}

size_t TrainableSpace::bytes() const {
  size_t b = 0;
  for (const TrainableTensor& t : tensors_) b += static_cast<size_t>(t.view->numel) * dtype_size(t.view->dtype);
  return b;
}

void TrainableSpace::copy_out(const ParamStore& params, std::vector<uint8_t>& out) const {
  out.resize(bytes());
  size_t at = 0;
  for (const TrainableTensor& t : tensors_) {
    const size_t n = static_cast<size_t>(t.view->numel) * dtype_size(t.view->dtype);
    std::memcpy(out.data() + at, params.data(*t.view), n);
    at += n;
  }
}

void TrainableSpace::copy_in(ParamStore& params, const std::vector<uint8_t>& in) const {
  check(in.size() == bytes(), "TrainableSpace::copy_in: snapshot size disagrees with the trainable space");
  size_t at = 0;
  for (const TrainableTensor& t : tensors_) {
    const size_t n = static_cast<size_t>(t.view->numel) * dtype_size(t.view->dtype);
    std::memcpy(params.data(*t.view), in.data() + at, n);
    at += n;
  }
}

uint64_t TrainableSpace::checksum(const ParamStore& params) const {
  uint64_t h = 1469598103934665603ull;
  for (const TrainableTensor& t : tensors_) {
    const uint8_t* p = static_cast<const uint8_t*>(params.data(*t.view));
    const size_t n = static_cast<size_t>(t.view->numel) * dtype_size(t.view->dtype);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

}  // namespace zotune
