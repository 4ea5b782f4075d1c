#include "core/train/replicated_load.h"

#include <cstdint>
#include <exception>
#include <optional>

#include "core/util/error.h"

namespace zotune {

Pretrained load_pretrained_replicated(const std::string& model_path, const LoadOptions& options, Communicator& comm) {
  if (comm.size() == 1) return load_pretrained(model_path, options);
  std::optional<Pretrained> loaded;
  std::string error;
  if (comm.rank() == 0) {
    try {
      loaded.emplace(load_pretrained(model_path, options));
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  comm.broadcast(error, 0);  // rank 0's outcome: "" when it loaded, else its message
  if (!error.empty()) throw Error(error);
  if (comm.rank() != 0)
    loaded.emplace(Pretrained{create_model(load_model_config(model_path, options), options.dtype, options.peft),
                              load_tokenizer(model_path), LoadReport{}});

  ParamStore& params = loaded->model->params();
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    // Every rank declared the same views from the same config, so the buffers match in size.
    const uint64_t bytes = static_cast<uint64_t>(params.numel(t)) * dtype_size(t);
    uint64_t root_bytes = bytes;
    comm.broadcast(&root_bytes, sizeof(root_bytes), 0);
    check(root_bytes == bytes, model_path + ": rank " + std::to_string(comm.rank()) + " built a " + dtype_name(t) +
                                   " parameter buffer of " + std::to_string(bytes) + " bytes, rank 0 one of " +
                                   std::to_string(root_bytes));
    if (bytes) comm.broadcast(params.buffer(t), bytes, 0);
  }
  return std::move(*loaded);
}

}  // namespace zotune
