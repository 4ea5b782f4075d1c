// The PEFT hooks of the device forward passes (device_forward_{llama,opt,bert}.cpp): the CPU
// engine's PeftModules::lora / adapt / adapt_input (core/peft/peft_modules.h), called at the
// same points and computing the same thing:
//   LoRA:     out[N, out] += (alpha / r) (x[N, in] A^T) B^T
//   adapter:  h[N, hidden] <- h + s U(ReLU(D(h))), D and U TT layers (kernels/cuda/tt_linear.cuh)
// Activations arrive in the storage dtype (fp32/fp16/bf16) while the modules' tensors are fp32
// (in CudaModel's fp32 device buffer, at f.peft_tensor(view)): a module widens its input to fp32
// once, runs its GEMMs in fp32 (cuda::matmul; TF32 when the engine allows it, as every fp32
// GEMM), and adds its result into the storage-dtype activation with one rounding
// (cuda::scaled_add). Scratch comes from the arena after mark() and is rewound before a hook
// returns; launches only, on f.stream (capturable in the forward's CUDA graph). Every hook is a
// no-op (or returns its input) when the site carries no module, so the forwards call them
// unconditionally, as the CPU forwards do.
#pragma once
#include <cstdint>

#include "core/cuda/device_forward.h"
#include "core/peft/peft_modules.h"
#include "core/tensor/dtype.h"

namespace zotune::cuda {

bool peft_has_adapter(const DeviceForward& f, int layer, AdapterPoint point);

// out [N, out] in the storage dtype f.type, rows ld_out elements apart (a column slice of a
// fused QKV output: ld_out = q_dim + 2 kv_dim), += (alpha / r) (x A^T) B^T; x [N, in],
// contiguous, of x_type (the storage dtype, or fp32 for the residual stream).
void peft_lora(const DeviceForward& f, int layer, LoraTarget target, void* out, int64_t ld_out, const void* x,
               DType x_type, int N);

// h [N, hidden] in f.type <- h + s U(ReLU(D(h))), in place.
void peft_adapt(const DeviceForward& f, int layer, AdapterPoint point, void* h, int N);

// A projection's input: x [N, hidden] (f.type) itself without an adapter at (layer, point),
// else `adapted` (the caller's [N, hidden] buffer of f.type) holding a(x).
const void* peft_adapt_input(const DeviceForward& f, int layer, AdapterPoint point, const void* x, int N,
                             void* adapted);

// An output projection's adapter, which reads the projection's output with its bias (the CPU
// matmul adds it; the device forwards leave it to residual_add): without an adapter at (layer,
// point) returns `bias` for residual_add to add; with one, adds bias (may be null) to h
// [N, hidden], adapts h and returns null.
const void* peft_adapt_output(const DeviceForward& f, int layer, AdapterPoint point, void* h, const void* bias, int N);

}  // namespace zotune::cuda
