// Subcommand registration. Each register_* adds its options and a callback that runs the
// command; callbacks throw zotune::Error for bad input, which main() prints.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"

namespace zotune::cli {

void register_inspect(CLI::App& app);
void register_generate(CLI::App& app);
void register_score(CLI::App& app);
void register_bench(CLI::App& app);
void register_show(CLI::App& app);
void register_config(CLI::App& app);
// command_line: argv joined, recorded in the run log's provenance.
void register_train(CLI::App& app, const std::string& command_line);
void register_eval(CLI::App& app);
void register_replay(CLI::App& app);
// zotune export LOG --out DIR: a run's model as a Hugging Face directory (cli_export.cpp).
void register_export(CLI::App& app);

void register_grid(CLI::App& app);
// zotune prompts RUN.yaml: a split's first examples as the loss reads them (cli_prompts.cpp).
void register_prompts(CLI::App& app);

// The trailing key=value arguments of train, eval and config (run-file overrides).
std::vector<std::string>* add_overrides_option(CLI::App* cmd);

// --dtype value to DType, with an error naming the option.
DType dtype_option(const std::string& value);

}  // namespace zotune::cli
