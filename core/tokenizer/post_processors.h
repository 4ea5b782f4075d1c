// Post-processors (Hugging Face `tokenizers` semantics): add the special tokens around one
// sequence or a pair ([CLS] A [SEP] B [SEP], <s> A </s></s> B </s>, BOS A, ...) and set the
// token type ids.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace zotune::tok {

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;  // same length as ids
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // encodings: one (A) or two (A, B); replaced by the parts to concatenate, in order.
  virtual void process(std::vector<Encoding>& encodings, bool add_special_tokens) const = 0;
};
using PostProcessorPtr = std::unique_ptr<PostProcessor>;

// No post-processor: type id 0 for A, 1 for B.
void default_process(std::vector<Encoding>& encodings);

struct TemplatePiece {
  bool is_sequence = false;
  int sequence = 0;       // 0 = $A, 1 = $B (when is_sequence)
  std::string special;    // special token name (when !is_sequence)
  int32_t type_id = 0;
};

class TemplateProcessor : public PostProcessor {
 public:
  TemplateProcessor(std::vector<TemplatePiece> single, std::vector<TemplatePiece> pair,
                    std::map<std::string, std::vector<int32_t>> special_ids)
      : single_(std::move(single)), pair_(std::move(pair)), special_ids_(std::move(special_ids)) {}
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;
  const std::vector<TemplatePiece>& single() const { return single_; }
  const std::map<std::string, std::vector<int32_t>>& special_ids() const { return special_ids_; }

 private:
  std::vector<TemplatePiece> single_, pair_;
  std::map<std::string, std::vector<int32_t>> special_ids_;
};

// [CLS] A [SEP] (B [SEP]); type ids 0 up to the first [SEP], then 1.
class BertProcessor : public PostProcessor {
 public:
  BertProcessor(int32_t cls_id, int32_t sep_id) : cls_id_(cls_id), sep_id_(sep_id) {}
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }

 private:
  int32_t cls_id_, sep_id_;
};

// <s> A </s> (</s> B </s>); every type id 0.
class RobertaProcessor : public PostProcessor {
 public:
  RobertaProcessor(int32_t cls_id, int32_t sep_id) : cls_id_(cls_id), sep_id_(sep_id) {}
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }

 private:
  int32_t cls_id_, sep_id_;
};

// ByteLevel only trims offsets, which ids do not carry: the parts pass through unchanged.
class ByteLevelProcessor : public PostProcessor {
 public:
  void process(std::vector<Encoding>&, bool) const override {}
};

class SequenceProcessor : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<PostProcessorPtr> steps) : steps_(std::move(steps)) {}
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;
  const std::vector<PostProcessorPtr>& steps() const { return steps_; }

 private:
  std::vector<PostProcessorPtr> steps_;
};

}  // namespace zotune::tok
