// Loading one model on every rank of a run: rank 0 reads the weights (a 13B checkpoint read
// P times from a shared file system is P times the I/O), every other rank builds the same
// model from its config alone and receives the parameters by broadcast, one flat buffer per
// dtype. Rank 0's load error, if any, is broadcast first, so every rank fails with the same
// message instead of waiting in a broadcast that never comes.
#pragma once
#include <string>

#include "core/model/pretrained.h"
#include "distributed/communicator.h"

namespace zotune {

// On rank 0 the LoadReport is load_pretrained's; elsewhere it is empty.
Pretrained load_pretrained_replicated(const std::string& model_path, const LoadOptions& options, Communicator& comm);

}  // namespace zotune
