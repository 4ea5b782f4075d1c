#include "core/cuda/device_peft.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/scaled_add.cuh"
#include "kernels/cuda/tt_linear.cuh"

namespace zotune::cuda {

namespace {

const PeftModules::Adapter* adapter_at(const DeviceForward& f, int layer, AdapterPoint point) {
  return f.peft != nullptr ? f.peft->adapter_at(layer, point) : nullptr;
}

// x [n] of `type` as fp32: x itself when it is fp32, else a widened copy in the arena.
const float* widen(const DeviceForward& f, const void* x, DType type, size_t n) {
  if (type == DType::F32) return static_cast<const float*>(x);
  float* wide = f.arena->take<float>(n);
  convert(x, type, wide, DType::F32, n, f.stream);
  return wide;
}

// Rows of one probe group: the batch is probe_groups() equal blocks (1 without batched probes).
int group_rows(const DeviceForward& f, int N, const char* what) {
  const int groups = f.peft->probe_groups();
  check(N % groups == 0, std::string(what) + ": " + std::to_string(N) + " rows do not split into " +
                             std::to_string(groups) + " probe groups");
  return N / groups;
}

// Floats from group g's copy of the PEFT tensor at `view` to group g + 1's: the bank's stride
// (PeftModules::bank_stride, 256-byte multiple) with probe groups on, 0 (unused) without.
int64_t group_stride(const DeviceForward& f, size_t view) {
  const int groups = f.peft->probe_groups();
  if (groups == 1) return 0;
  const float* first = f.peft_tensor(view, 0);
  const int64_t stride = f.peft_tensor(view, 1) - first;
  check(f.peft_tensor(view, groups - 1) == first + (groups - 1) * stride,
        "probe bank: the groups' copies of a PEFT tensor are not evenly spaced");
  return stride;
}

// U(ReLU(D(x))) for x [N, hidden] fp32, the N rows being probe_groups() blocks of n rows, block
// g through group g's modules: [N, hidden] fp32 in the arena (the caller rewinds). Each TT
// layer is one tt_linear_batched over all groups; the ReLU runs once over all N rows.
const float* adapter_update(const DeviceForward& f, const PeftModules::Adapter& a, const float* x, int N, int n) {
  Arena& arena = *f.arena;
  const int groups = f.peft->probe_groups();
  float* mid = arena.take<float>(static_cast<size_t>(N) * a.bottleneck);
  float* update = arena.take<float>(static_cast<size_t>(N) * a.hidden);
  // One workspace for both TT layers: the second's group kernel runs after the first's GEMMs
  // (stream order).
  const int64_t ws_floats = std::max(tt_linear_batched_workspace_floats(a.down.shape, n, groups),
                                     tt_linear_batched_workspace_floats(a.up.shape, n, groups));
  float* workspace = arena.take<float>(static_cast<size_t>(ws_floats));
  tt_linear_batched(*f.blas, mid, x, a.down.shape, f.peft_tensor(a.down.first_core, 0),
                    group_stride(f, a.down.first_core), f.peft_tensor(a.down.bias, 0), group_stride(f, a.down.bias),
                    n, groups, workspace);
  bias_activation(mid, DType::F32, nullptr, N, a.bottleneck, Activation::ReLU, f.stream);
  tt_linear_batched(*f.blas, update, mid, a.up.shape, f.peft_tensor(a.up.first_core, 0),
                    group_stride(f, a.up.first_core), f.peft_tensor(a.up.bias, 0), group_stride(f, a.up.bias), n,
                    groups, workspace);
  return update;
}

}  // namespace

bool peft_has_adapter(const DeviceForward& f, int layer, AdapterPoint point) {
  return adapter_at(f, layer, point) != nullptr;
}

void peft_lora(const DeviceForward& f, int layer, LoraTarget target, void* out, int64_t ld_out, const void* x,
               DType x_type, int N) {
  const PeftModules::Lora* m = f.peft != nullptr ? f.peft->lora_at(layer, target) : nullptr;
  if (m == nullptr || N == 0) return;
  const PeftSettings& settings = f.peft->settings();
  const int r = static_cast<int>(settings.lora_rank);
  Arena& arena = *f.arena;
  const size_t mark = arena.mark();
  const float* x32 = widen(f, x, x_type, static_cast<size_t>(N) * m->in);
  float* xa = arena.take<float>(static_cast<size_t>(N) * r);          // x A^T [N, r]
  float* delta = arena.take<float>(static_cast<size_t>(N) * m->out);  // (x A^T) B^T [N, out]
  // Group g's rows [g n, (g + 1) n) through its own A and B: two strided-batched GEMMs over
  // all groups (plain GEMMs with one group).
  const int n = group_rows(f, N, "LoRA"), groups = f.peft->probe_groups();
  matmul_strided_batched(*f.blas, xa, DType::F32, static_cast<int64_t>(n) * r, x32, static_cast<int64_t>(n) * m->in,
                         f.peft_tensor(m->a, 0), group_stride(f, m->a), DType::F32, n, m->in, r, groups);
  matmul_strided_batched(*f.blas, delta, DType::F32, static_cast<int64_t>(n) * m->out, xa, static_cast<int64_t>(n) * r,
                         f.peft_tensor(m->b, 0), group_stride(f, m->b), DType::F32, n, r, m->out, groups);
  const float scale = static_cast<float>(settings.lora_alpha / settings.lora_rank);  // as the CPU hook's
  scaled_add(out, f.type, ld_out, delta, scale, N, m->out, f.stream);
  arena.rewind(mark);
}

void peft_adapt(const DeviceForward& f, int layer, AdapterPoint point, void* h, int N) {
  const PeftModules::Adapter* a = adapter_at(f, layer, point);
  if (a == nullptr || N == 0) return;
  Arena& arena = *f.arena;
  const size_t mark = arena.mark();
  const float* h32 = widen(f, h, f.type, static_cast<size_t>(N) * a->hidden);
  const float scale = static_cast<float>(f.peft->settings().adapter_scale);
  const int n = group_rows(f, N, "adapter");
  const float* update = adapter_update(f, *a, h32, N, n);
  scaled_add(h, f.type, a->hidden, update, scale, N, a->hidden, f.stream);
  arena.rewind(mark);
}

const void* peft_adapt_input(const DeviceForward& f, int layer, AdapterPoint point, const void* x, int N,
                             void* adapted) {
  const PeftModules::Adapter* a = adapter_at(f, layer, point);
  if (a == nullptr || N == 0) return x;
  const size_t n = static_cast<size_t>(N) * a->hidden;
  check_status(cudaMemcpyAsync(adapted, x, n * dtype_size(f.type), cudaMemcpyDeviceToDevice,
                               static_cast<cudaStream_t>(f.stream)),
               "copy of a pre-adapter's input");
  peft_adapt(f, layer, point, adapted, N);
  return adapted;
}

const void* peft_adapt_output(const DeviceForward& f, int layer, AdapterPoint point, void* h, const void* bias, int N) {
  const PeftModules::Adapter* a = adapter_at(f, layer, point);
  if (a == nullptr) return bias;
  if (bias != nullptr) bias_activation(h, f.type, bias, N, a->hidden, Activation::Identity, f.stream);
  peft_adapt(f, layer, point, h, N);
  return nullptr;
}

}  // namespace zotune::cuda
