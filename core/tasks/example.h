// The interface between task definitions (core/tasks/task_registry.h: data rows -> examples
// -> token sequences, per prompt template) and the objectives that train and score them
// (core/tasks/prompt_task.h: losses, predictions, metrics). Nothing here knows a task by name.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace zotune::tasks {

// One example of a task, in the task's own terms, before any template.
struct Example {
  std::map<std::string, std::string> text;  // named text fields ("sentence", "premise", ...)
  int label = -1;                           // classification: gold class index; -1 = unlabeled
  std::vector<std::string> options;         // multiple choice: the candidates (COPA choices, ReCoRD entities)
  std::vector<int> correct;                 // multiple choice: indices of the correct options
  std::vector<std::string> answers;         // generation: gold answers (SQuAD, DROP)
  std::string where;                        // "file:line" of the row, for error messages
};

// What a task reports: accuracy (classification, multiple choice) or SQuAD-style token F1
// (generation), as a fraction in [0, 1].
enum class Metric { Accuracy, F1 };

// How a model reads an encoded example (one per template family).
enum class Format {
  CandidateLM,         // decoders: one sequence per candidate; score = mean log-likelihood of its option tokens
  MaskedLM,            // encoders with an MLM head: label-word logits at the one mask position
  ClassificationHead,  // encoders without one: the classification head's logits over the classes
  Generation,          // decoders: greedy continuation of the prompt, F1 against the answers
};

// A prompt followed by an option; only the option's tokens are scored.
// ids = tokens(prompt + option) (BOS included when the tokenizer adds it), option_len =
// #tokens(prompt + option) - #tokens(prompt), as MeZO computes it (baselines.md 8.2).
struct ScoredSequence {
  std::vector<int32_t> ids;
  int option_len = 0;
};

struct EncodedExample {
  Format format = Format::CandidateLM;
  // CandidateLM: one sequence per candidate (label words or options); correct = the gold
  // candidate indices (classification: exactly one). Generation: candidates[0] is the prompt
  // plus the training target (" answer\n"), option_len = the target's tokens.
  std::vector<ScoredSequence> candidates;
  std::vector<int> correct;
  // MaskedLM / ClassificationHead: the one input sequence (token types for sentence pairs).
  // Generation: ids = the prompt alone, the start of greedy decoding.
  std::vector<int32_t> ids;
  std::vector<int32_t> token_types;
  int mask_position = -1;            // MaskedLM: index into ids of the mask token
  std::vector<int32_t> label_words;  // MaskedLM: token id of each class's label word
  int label = -1;                    // MaskedLM / ClassificationHead: gold class
  std::vector<std::string> answers;  // Generation: gold answers for F1
  // The candidates (CandidateLM) or classes (MaskedLM, ClassificationHead) as text, for a
  // text metric over chosen candidates (PromptTaskOptions::metric F1); empty otherwise.
  std::vector<std::string> candidate_texts;
  std::string where;                 // "file:line", for error messages
};

}  // namespace zotune::tasks
