// read_gguf_vocabulary: the tokenizer.ggml.* keys llama.cpp's converter writes, as plain data.
#include <limits>

#include "core/io/gguf.h"
#include "core/util/error.h"

namespace zotune {
namespace {

int32_t to_int32(const GgufFile& f, const std::string& key, int64_t v) {
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    throw Error(f.path() + ": key '" + key + "' value " + std::to_string(v) + " does not fit in int32");
  return static_cast<int32_t>(v);
}

void read_id(const GgufFile& f, const std::string& key, int32_t* id) {
  if (f.find(key)) *id = to_int32(f, key, f.get_int(key));
}

void read_flag(const GgufFile& f, const std::string& key, bool* flag) {
  if (f.find(key)) *flag = f.get_bool(key);
}

}  // namespace

GgufVocabulary read_gguf_vocabulary(const GgufFile& f) {
  const std::string prefix = "tokenizer.ggml.";
  GgufVocabulary v;
  if (!f.find(prefix + "tokens")) throw Error(f.path() + ": key 'tokenizer.ggml.tokens' is missing: the file embeds no tokenizer");
  v.tokens = f.get_string_array(prefix + "tokens");
  if (f.find(prefix + "model")) v.model = f.get_string(prefix + "model");
  if (f.find(prefix + "pre")) v.pre = f.get_string(prefix + "pre");
  if (f.find(prefix + "merges")) v.merges = f.get_string_array(prefix + "merges");

  // Per-token arrays, when present, must line up with the tokens one to one.
  const auto check_length = [&](const std::string& key, size_t n) {
    if (n != v.tokens.size())
      throw Error(f.path() + ": key '" + key + "' has " + std::to_string(n) + " entries but tokenizer.ggml.tokens has " +
                  std::to_string(v.tokens.size()));
  };
  if (f.find(prefix + "token_type")) {
    const std::vector<int64_t> types = f.get_int_array(prefix + "token_type");
    check_length(prefix + "token_type", types.size());
    v.token_types.reserve(types.size());
    for (int64_t t : types) v.token_types.push_back(to_int32(f, prefix + "token_type", t));
  }
  if (f.find(prefix + "scores")) {
    const std::vector<double> scores = f.get_float_array(prefix + "scores");
    check_length(prefix + "scores", scores.size());
    v.scores.assign(scores.begin(), scores.end());
  }

  read_id(f, prefix + "bos_token_id", &v.bos_id);
  read_id(f, prefix + "eos_token_id", &v.eos_id);
  read_id(f, prefix + "unknown_token_id", &v.unk_id);
  read_id(f, prefix + "padding_token_id", &v.pad_id);
  // llama.cpp spells the separator key "seperator"; accept the correct spelling too.
  read_id(f, prefix + "seperator_token_id", &v.sep_id);
  read_id(f, prefix + "separator_token_id", &v.sep_id);
  read_id(f, prefix + "cls_token_id", &v.cls_id);
  read_id(f, prefix + "mask_token_id", &v.mask_id);
  read_flag(f, prefix + "add_bos_token", &v.add_bos);
  read_flag(f, prefix + "add_eos_token", &v.add_eos);
  read_flag(f, prefix + "add_space_prefix", &v.add_space_prefix);
  return v;
}

}  // namespace zotune
