#include "core/cuda/device_load.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "core/cuda/device_memory.h"
#include "core/io/gguf.h"
#include "core/util/error.h"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/dequantize.cuh"
#include "kernels/cuda/device.cuh"

namespace zotune::cuda {
namespace {

namespace fs = std::filesystem;

using DequantizeLaunch = void (*)(const void* src, void* dst, DType dst_type, int64_t n, void* stream);

// The device dequantizer of a quantized ggml type; null for the plain and unsupported ones.
DequantizeLaunch quantized_launcher(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::Q4_0: return dequantize_q4_0;
    case GgmlType::Q4_1: return dequantize_q4_1;
    case GgmlType::Q5_0: return dequantize_q5_0;
    case GgmlType::Q5_1: return dequantize_q5_1;
    case GgmlType::Q8_0: return dequantize_q8_0;
    case GgmlType::Q2_K: return dequantize_q2_k;
    case GgmlType::Q3_K: return dequantize_q3_k;
    case GgmlType::Q4_K: return dequantize_q4_k;
    case GgmlType::Q5_K: return dequantize_q5_k;
    case GgmlType::Q6_K: return dequantize_q6_k;
    default: return nullptr;
  }
}

// The storage dtype whose little-endian bytes a plain ggml type's tensor already is.
std::optional<DType> plain_dtype(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32: return DType::F32;
    case GgmlType::F16: return DType::F16;
    case GgmlType::BF16: return DType::BF16;
    default: return std::nullopt;
  }
}

struct Event {
  cudaEvent_t event = nullptr;
  Event() { check_status(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate (GGUF staging)"); }
  ~Event() {
    if (event != nullptr) cudaEventDestroy(event);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

// read_gguf_params' writer for a CudaModel. Each tensor moves in chunks of whole units (a block,
// or a row when the rows are reordered): the host copies a chunk from the file mapping into a
// pinned buffer, the model's stream uploads it and dequantizes (or converts) it into the
// parameter, and an event marks when that pinned buffer and its device twin are free again.
// Two slots alternate, so reading the file overlaps the GPU's work on the previous chunk.
class GgufUploader {
 public:
  GgufUploader(CudaModel& model, size_t staging_bytes)
      : model_(model), stream_(static_cast<cudaStream_t>(model.stream())), staging_bytes_(std::max<size_t>(staging_bytes, 1)) {}
  // Waits for the chunks in flight (also when a tensor's error unwinds the load) before the
  // staging buffers go.
  ~GgufUploader() {
    for (Slot& s : slots_)
      if (s.pending) cudaEventSynchronize(s.done.event);
  }

  void upload(const GgufFile& file, const GgufTensor& t, const ParamView& v, int rotary_head_dim) {
    const std::string what = file.path() + ": tensor '" + t.name + "'";
    const DequantizeLaunch dequantize = quantized_launcher(t.type);
    const std::optional<DType> plain = plain_dtype(t.type);
    int64_t block = 0;
    size_t block_bytes = 0;
    if ((dequantize == nullptr && !plain) || !ggml_type_block(t.type, &block, &block_bytes))
      throw Error(what + ": cannot dequantize ggml type " + ggml_type_name(t.type) +
                  " on the GPU (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
    if (t.numel <= 0 || t.numel != v.numel || t.shape.empty() || t.data == nullptr) throw Error(what + " holds no data");
    if (t.shape.back() % block != 0 || static_cast<uint64_t>(t.numel / block) * block_bytes != t.nbytes)
      throw Error(what + ": " + std::to_string(t.nbytes) + " bytes do not hold " + std::to_string(t.numel) + " " +
                  ggml_type_name(t.type) + " elements");
    const bool reordered = rotary_head_dim > 0;
    const int64_t row = v.numel / v.shape[0];  // elements per parameter row
    if (reordered && row % block != 0) {
      upload_dequantized_on_host(file, t, v, rotary_head_dim, what);
      return;
    }

    // Parameter element e of unit u is dequantized from unit u's bytes: a block of the file in
    // order, or row gguf_rotary_source_row(u) when reordered (rows are whole blocks).
    const int64_t unit_elems = reordered ? row : block;
    const size_t unit_bytes = static_cast<size_t>(unit_elems / block) * block_bytes;
    const int64_t units = v.numel / unit_elems;
    const int64_t per_chunk = std::max<int64_t>(1, static_cast<int64_t>(staging_bytes_ / unit_bytes));
    const bool same_bits = plain && *plain == v.dtype;  // the host path copies these bits too
    char* dst = static_cast<char*>(model_.device_data(v));
    for (int64_t first = 0; first < units; first += per_chunk) {
      const int64_t count = std::min(per_chunk, units - first);
      const size_t bytes = static_cast<size_t>(count) * unit_bytes;
      Slot& s = slots_[next_slot_];
      next_slot_ ^= 1;
      if (s.pending) check_status(cudaEventSynchronize(s.done.event), (what + ": GGUF upload").c_str());
      s.pending = false;
      auto* host = static_cast<uint8_t*>(s.host.reserve(std::max(bytes, staging_bytes_)));
      if (reordered) {
        for (int64_t r = 0; r < count; ++r)
          std::memcpy(host + static_cast<size_t>(r) * unit_bytes,
                      t.data + static_cast<size_t>(gguf_rotary_source_row(first + r, rotary_head_dim)) * unit_bytes,
                      unit_bytes);
      } else {
        std::memcpy(host, t.data + static_cast<size_t>(first) * unit_bytes, bytes);
      }
      void* out = dst + static_cast<size_t>(first * unit_elems) * dtype_size(v.dtype);
      const int64_t n = count * unit_elems;
      if (same_bits) {
        check_status(cudaMemcpyAsync(out, host, bytes, cudaMemcpyHostToDevice, stream_), (what + ": upload").c_str());
      } else {
        if (s.device.bytes() < bytes) s.device = DeviceBuffer(std::max(bytes, staging_bytes_));
        check_status(cudaMemcpyAsync(s.device.get(), host, bytes, cudaMemcpyHostToDevice, stream_),
                     (what + ": upload").c_str());
        if (dequantize != nullptr)
          dequantize(s.device.get(), out, v.dtype, n, stream_);
        else
          convert(s.device.get(), *plain, out, v.dtype, static_cast<size_t>(n), stream_);
      }
      check_status(cudaEventRecord(s.done.event, stream_), (what + ": cudaEventRecord").c_str());
      s.pending = true;
    }
  }

  // Waits until every chunk is in the model's buffers; CUDA errors surface here.
  void finish() {
    for (Slot& s : slots_) {
      if (s.pending) check_status(cudaEventSynchronize(s.done.event), "GGUF upload");
      s.pending = false;
    }
  }

 private:
  // A reordered tensor whose rows are not whole blocks (a quantized 1-D q/k bias; llama.cpp
  // stores those F32) reorders dequantized elements: the host path's dequantize and row order,
  // then one copy. Small by construction.
  void upload_dequantized_on_host(const GgufFile& file, const GgufTensor& t, const ParamView& v, int rotary_head_dim,
                                  const std::string& what) {
    const size_t elem = dtype_size(v.dtype);
    const int64_t rows = v.shape[0];
    const size_t row_bytes = static_cast<size_t>(v.numel / rows) * elem;
    std::vector<uint8_t> dequantized(static_cast<size_t>(v.numel) * elem), reordered(dequantized.size());
    file.dequantize(t, v.dtype, dequantized.data());
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(reordered.data() + static_cast<size_t>(r) * row_bytes,
                  dequantized.data() + static_cast<size_t>(gguf_rotary_source_row(r, rotary_head_dim)) * row_bytes,
                  row_bytes);
    check_status(cudaMemcpyAsync(model_.device_data(v), reordered.data(), reordered.size(), cudaMemcpyHostToDevice,
                                 stream_),
                 (what + ": upload").c_str());
    check_status(cudaStreamSynchronize(stream_), (what + ": upload").c_str());  // before `reordered` goes
  }

  struct Slot {
    PinnedBuffer host;
    DeviceBuffer device;  // the uploaded chunk the kernel reads (unused for same-dtype copies)
    Event done;           // recorded after the chunk's last operation on the stream
    bool pending = false;
  };
  CudaModel& model_;
  cudaStream_t stream_;
  size_t staging_bytes_;
  Slot slots_[2];
  int next_slot_ = 0;
};

bool is_gguf_file(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0 && !fs::is_directory(path);
}

}  // namespace

std::unique_ptr<CudaModel> load_model_on_device(const std::string& path, const LoadOptions& options,
                                                const CudaOptions& cuda_options, LoadReport* report,
                                                size_t staging_bytes) {
  // PEFT modules are initialized from the host weights (Model::initialize_peft): host path.
  if (!is_gguf_file(path) || options.peft.kind != PeftKind::None)
    return CudaModel::from_host(load_model(path, options, report), cuda_options);
  if (!fs::exists(path)) throw Error(path + ": no such model file or directory");
  const GgufFile file = GgufFile::open(path);
  const ModelConfig config = gguf_model_config(file, options);
  std::unique_ptr<CudaModel> model = CudaModel::uninitialized(config, options.dtype, cuda_options);
  // uninitialized() zero-fills on the legacy default stream, which does not order with the
  // model's non-blocking stream: the fill must be done before the uploads land.
  check_status(cudaDeviceSynchronize(), "cudaDeviceSynchronize (before the GGUF upload)");
  GgufUploader uploader(*model, staging_bytes);
  read_gguf_params(
      file, config, model->params(),
      [&](const GgufTensor& t, const ParamView& v, int rotary_head_dim) { uploader.upload(file, t, v, rotary_head_dim); },
      report);
  uploader.finish();
  return model;
}

}  // namespace zotune::cuda
