#include "core/tokenizer/post_processors.h"

namespace zotune::tok {
namespace {

Encoding specials(std::vector<int32_t> ids, int32_t type_id) {
  Encoding e;
  e.type_ids.assign(ids.size(), type_id);
  e.ids = std::move(ids);
  return e;
}

void set_type(Encoding& e, int32_t type_id) { e.type_ids.assign(e.ids.size(), type_id); }

}  // namespace

void default_process(std::vector<Encoding>& encodings) {
  for (size_t i = 0; i < encodings.size(); ++i) set_type(encodings[i], static_cast<int32_t>(i));
}

void TemplateProcessor::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  const auto& pieces = encodings.size() == 2 ? pair_ : single_;
  std::vector<Encoding> out;
  for (const auto& piece : pieces) {
    if (piece.is_sequence) {
      Encoding e = encodings[std::min<size_t>(piece.sequence, encodings.size() - 1)];
      set_type(e, piece.type_id);
      out.push_back(std::move(e));
    } else if (add_special_tokens) {
      out.push_back(specials(special_ids_.at(piece.special), piece.type_id));
    }
  }
  encodings = std::move(out);
}

void BertProcessor::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  default_process(encodings);
  if (!add_special_tokens) return;
  std::vector<Encoding> out;
  out.push_back(specials({cls_id_}, 0));
  out.push_back(std::move(encodings[0]));
  out.push_back(specials({sep_id_}, 0));
  if (encodings.size() == 2) {
    out.push_back(std::move(encodings[1]));
    out.push_back(specials({sep_id_}, 1));
  }
  encodings = std::move(out);
}

void RobertaProcessor::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  for (auto& e : encodings) set_type(e, 0);
  if (!add_special_tokens) return;
  std::vector<Encoding> out;
  out.push_back(specials({cls_id_}, 0));
  out.push_back(std::move(encodings[0]));
  out.push_back(specials({sep_id_}, 0));
  if (encodings.size() == 2) {
    out.push_back(specials({sep_id_}, 0));
    out.push_back(std::move(encodings[1]));
    out.push_back(specials({sep_id_}, 0));
  }
  encodings = std::move(out);
}

void SequenceProcessor::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  for (const auto& step : steps_) step->process(encodings, add_special_tokens);
}

}  // namespace zotune::tok
