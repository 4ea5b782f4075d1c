// Loading a model file straight into the CUDA engine. A GGUF file's tensors go up to the GPU
// as they are stored (quantized blocks, or F32/F16/BF16 values), one bounded chunk at a time,
// and kernels/cuda/dequantize (or convert) writes the storage dtype in place in the CudaModel's
// device buffers: no host copy of the parameters and no host dequantization, where the host
// path (load_model + CudaModel::from_host) first builds the whole model in host memory. The
// weights are bit for bit the host path's (same tensors, same rotary row order, the CPU's
// float operations).
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "core/cuda/cuda_model.h"

namespace zotune::cuda {

// Bytes of one pinned staging chunk. Two are in flight: the host fills one from the file while
// the GPU copies and dequantizes the other (each has a device twin of the same size).
constexpr size_t kGgufStagingBytes = size_t{32} << 20;

// The model at `path` on the GPU. A .gguf file without PEFT modules (options.peft.kind None) is
// dequantized on the device through staging chunks of `staging_bytes` (a chunk holds at least
// one block, or one row of a q/k projection whose rows are reordered); anything else
// (safetensors, PEFT runs) is load_model on the host, then CudaModel::from_host. Errors name the
// file and tensor: missing, wrong shape, a ggml type the GPU cannot dequantize, data that does
// not hold its shape.
std::unique_ptr<CudaModel> load_model_on_device(const std::string& path, const LoadOptions& options,
                                                const CudaOptions& cuda_options, LoadReport* report = nullptr,
                                                size_t staging_bytes = kGgufStagingBytes);

}  // namespace zotune::cuda
