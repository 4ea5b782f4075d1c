// task.max_length as a run uses it (core/train/sequence_length.h): auto per template family
// (MeZO's 2048 for decoders, LM-BFF's 128 / 256 for encoder prompts), capped at the model's
// positions; a number above them is an error naming the limit.
#include <gtest/gtest.h>

#include "core/config/run_config.h"
#include "core/train/sequence_length.h"
#include "io_test_util.h"

namespace zotune {
namespace {

ModelConfig model_of(Architecture arch, int max_position, int pad = 1) {
  ModelConfig m;
  m.arch = arch;
  m.max_position = max_position;
  m.pad_token_id = pad;
  return m;
}

RunConfig run(const std::string& task, const std::string& max_length = "") {
  return parse_run_config("model:\n  path: m\ntask:\n  name: " + task + "\n" +
                              (max_length.empty() ? "" : "  max_length: " + max_length + "\n"),
                          "r.yaml");
}

TEST(SequenceLength, AutoPerTemplateFamilyCappedAtThePositions) {
  using tasks::TemplateFamily;
  const ModelConfig opt = model_of(Architecture::OPT, 2048), llama = model_of(Architecture::Llama, 8192);
  const ModelConfig roberta = model_of(Architecture::RoBERTa, 514), bert = model_of(Architecture::BERT, 512);
  const ModelConfig small = model_of(Architecture::Llama, 1024);
  EXPECT_EQ(usable_positions(roberta), 512) << "positions start at pad + 1";
  EXPECT_EQ(resolved_max_length(run("boolq"), TemplateFamily::MezoDecoder, llama), 2048) << "MeZO's max_length";
  EXPECT_EQ(resolved_max_length(run("boolq"), TemplateFamily::MezoDecoder, opt), 2048);
  EXPECT_EQ(resolved_max_length(run("boolq"), TemplateFamily::MezoDecoder, small), 1024) << "capped";
  EXPECT_EQ(resolved_max_length(run("lm"), std::nullopt, llama), 2048) << "the lm task is a decoder's";
  EXPECT_EQ(resolved_max_length(run("sst2"), TemplateFamily::LmBffMlm, roberta), 128) << "LM-BFF";
  EXPECT_EQ(resolved_max_length(run("rte"), TemplateFamily::LmBffMlm, roberta), 256) << "LM-BFF's sentence pairs";
  EXPECT_EQ(resolved_max_length(run("mnli"), TemplateFamily::ClassificationHead, bert), 256);
  EXPECT_EQ(resolved_max_length(run("rte"), TemplateFamily::BszoMlm, roberta), 512) << "RoBERTa's positions";
}

TEST(SequenceLength, AGivenNumberIsKeptOrRefused) {
  const ModelConfig roberta = model_of(Architecture::RoBERTa, 514);
  EXPECT_EQ(resolved_max_length(run("sst2", "64"), tasks::TemplateFamily::LmBffMlm, roberta), 64);
  EXPECT_EQ(resolved_max_length(run("sst2", "512"), tasks::TemplateFamily::LmBffMlm, roberta), 512);
  EXPECT_EQ(test::error_of([&] { resolved_max_length(run("sst2", "2048"), tasks::TemplateFamily::LmBffMlm, roberta); }),
            "r.yaml: task.max_length: 2048 exceeds the 512 positions of m (max_position_embeddings); give at most 512 "
            "or leave it auto");
}

}  // namespace
}  // namespace zotune
