#include "core/cuda/device_param_engine.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/cuda/device_memory.h"
#include "core/optim/sparse_mezo.h"
#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/perturb.cuh"
#include "kernels/cuda/zo_passes.cuh"

namespace zotune::cuda {

namespace {

// An optimizer's ParamState on the GPU: one fp32 buffer per array, written by the passes on
// `stream`. It belongs to the optimizer (it outlives the engine that made it: resume replays on
// one engine and trains on the next, on the same model).
class DeviceStateCopy final : public ParamState::DeviceCopy {
 public:
  DeviceStateCopy(const ParamState& state, void* stream) : stream_(stream) {
    const cudaStream_t s = static_cast<cudaStream_t>(stream);
    for (size_t a = 0; a < state.arrays(); ++a) {
      const uint64_t n = state.length(a);
      arrays_.emplace_back(static_cast<size_t>(n) * sizeof(float));
      float* d = arrays_.back().as<float>();
      if (const std::vector<float>* host = state.host_values(a)) {
        // From pageable memory: returns once the values are staged, so the host array may go.
        check_status(cudaMemcpyAsync(d, host->data(), host->size() * sizeof(float), cudaMemcpyHostToDevice, s),
                     "upload of the optimizer state");
      } else {
        fill_f32(d, static_cast<int64_t>(n), state.initial(a), stream);
      }
    }
  }
  void download(size_t a, float* out) override {
    // Whichever stream wrote it last (the model's, or an earlier model's): wait for the device.
    check_status(cudaDeviceSynchronize(), "optimizer state download");
    check_status(cudaMemcpy(out, arrays_.at(a).get(), arrays_.at(a).bytes(), cudaMemcpyDeviceToHost),
                 "optimizer state download");
  }
  float* array(size_t a) const { return a < arrays_.size() ? arrays_[a].as<float>() : nullptr; }
  // Passes on another stream than the one that wrote the state last wait for the device once.
  void use_on(void* stream) {
    if (stream == stream_) return;
    check_status(cudaDeviceSynchronize(), "optimizer state handover");
    stream_ = stream;
  }

 private:
  std::vector<DeviceBuffer> arrays_;
  void* stream_;
};

ZoPassKind zo_pass_kind(ParamPassKind kind) {
  switch (kind) {
    case ParamPassKind::AdamUpdate: return ZoPassKind::AdamUpdate;
    case ParamPassKind::HizooProbe: return ZoPassKind::HizooProbe;
    case ParamPassKind::HizooUpdate: return ZoPassKind::HizooUpdate;
    case ParamPassKind::LozoAxpy: return ZoPassKind::LozoAxpy;
    case ParamPassKind::SparseAxpy: return ZoPassKind::SparseAxpy;
    case ParamPassKind::None: break;
  }
  throw Error("zo_pass_kind: a pass with no device kind");
}

class DeviceParamEngine final : public ParamEngine {
 public:
  DeviceParamEngine(CudaModel& model, const TrainableSpace& space) : model_(model), space_(space) {
    std::vector<PerturbSegment> segments;
    for (const TrainableTensor& t : space.tensors()) {
      PerturbSegment s;
      s.data = model.device_data(*t.view);
      s.first = t.first;
      s.n = t.view->numel;
      s.dtype = t.view->dtype;
      s.decay = t.weight_decay;
      segments.push_back(s);
      // Snapshot runs: adjacent trainable tensors of one dtype copy as one block.
      const size_t bytes = static_cast<size_t>(t.view->numel) * dtype_size(t.view->dtype);
      if (!runs_.empty() && runs_.back().dtype == t.view->dtype &&
          static_cast<char*>(runs_.back().data) + runs_.back().bytes == s.data) {
        runs_.back().bytes += bytes;
      } else {
        runs_.push_back({s.data, bytes, t.view->dtype});
      }
    }
    n_segments_ = static_cast<int>(segments.size());
    segments_ = DeviceBuffer(segments.size() * sizeof(PerturbSegment));
    check_status(cudaMemcpy(segments_.get(), segments.data(), segments.size() * sizeof(PerturbSegment),
                            cudaMemcpyHostToDevice),
                 "upload of the trainable segment table");
  }

  void apply(const std::vector<cpu::DirectionTerm>& terms, DirectionKind kind, float decay_scale) override {
    if (terms.empty() && decay_scale == 1.0f) return;
    perturb_segments(segments_.as<PerturbSegment>(), n_segments_, space_.size(), terms.data(),
                     static_cast<int>(terms.size()), kind, decay_scale, model_.stream());
  }

  void apply_in_dtype(const cpu::DirectionTerm& term, DirectionKind kind) override {
    perturb_segments_in_dtype(segments_.as<PerturbSegment>(), n_segments_, space_.size(), term, kind, model_.stream());
  }

  // The stateful baselines' passes (MeZO-Adam, HiZOO, LOZO, Sparse-MeZO) run as their
  // ParamPassSpec, one zo_pass_segments launch each (LOZO: and one for its factors), with the
  // optimizer's state on the device. A pass without a spec (a host-only closure) is refused
  // before anything touches the device.
  bool supports_tensor_passes() const override { return true; }
  void apply_pass(const TensorPass& pass, const std::string& optimizer) override {
    const ParamPassSpec& spec = pass.spec;
    if (spec.kind == ParamPassKind::None)
      throw Error("optimizer " + optimizer +
                  ": this parameter pass has no CUDA implementation; run it with engine.device: cpu");
    if (space_.tensors().empty()) return;
    ZoPassArgs a;
    a.kind = zo_pass_kind(spec.kind);
    a.reference = spec.reference, a.direction = spec.direction, a.seed = spec.seed, a.step = spec.step;
    a.coeff = spec.coeff;
    a.grad_scale = spec.grad_scale, a.beta1 = spec.beta1, a.beta2 = spec.beta2, a.adam_eps = spec.adam_eps;
    a.weight_decay = spec.weight_decay, a.step_size = spec.step_size, a.bias2_sqrt = spec.bias2_sqrt;
    a.keep = spec.keep, a.sample = spec.sample, a.step_c = spec.step_c, a.step_decay = spec.step_decay;
    a.restore = spec.restore, a.rank = spec.rank, a.decay_scale = spec.decay_scale, a.sparsity = spec.sparsity;
    a.random_mask = spec.random_mask;
    switch (spec.kind) {
      case ParamPassKind::AdamUpdate:
      case ParamPassKind::HizooProbe:
      case ParamPassKind::HizooUpdate: {
        const size_t needed = spec.kind == ParamPassKind::AdamUpdate ? 2 : 1;
        check(spec.state != nullptr && spec.state->arrays() >= needed,
              "optimizer " + optimizer + ": its pass names no state arrays");
        DeviceStateCopy& state = device_state(*spec.state, optimizer);
        a.state0 = state.array(0);
        a.state1 = needed > 1 ? state.array(1) : nullptr;
        break;
      }
      case ParamPassKind::LozoAxpy: {
        check(spec.rank >= 1, "optimizer " + optimizer + ": optimizer.rank must be at least 1");
        prepare_low_rank(spec.rank);
        lozo_factors(factor_ranges_.as<LowRankFactorRange>(), n_factor_ranges_, factor_total_, factors_.as<float>(),
                     spec.seed, spec.step, spec.window, spec.direction, model_.stream());
        a.extras = extras_.as<ZoSegmentExtra>();
        a.factors = factors_.as<float>();
        break;
      }
      case ParamPassKind::SparseAxpy:
        if (!spec.random_mask) {
          check(spec.thresholds != nullptr, "optimizer " + optimizer + ": its magnitude mask has no thresholds");
          prepare_thresholds(*spec.thresholds);
          a.extras = extras_.as<ZoSegmentExtra>();
        }
        break;
      case ParamPassKind::None: break;
    }
    zo_pass_segments(segments_.as<PerturbSegment>(), n_segments_, space_.tensors().front().first, space_.size(), a,
                     model_.stream());
  }

  void save_snapshot() override { copy(true); }
  void restore_snapshot() override {
    check(snapshot_.bytes() > 0, "restore_snapshot before save_snapshot");
    copy(false);
  }

  uint64_t checksum() override {
    // FNV-1a over the trainable bytes in space order, as TrainableSpace::checksum: the bits
    // come to the host run by run (a rare check, every run.checksum_every steps).
    model_.synchronize();
    uint64_t h = 1469598103934665603ull;
    std::vector<uint8_t> host;
    for (const Run& r : runs_) {
      host.resize(r.bytes);
      check_status(cudaMemcpy(host.data(), r.data, r.bytes, cudaMemcpyDeviceToHost), "checksum download");
      for (uint8_t b : host) h = (h ^ b) * 1099511628211ull;
    }
    return h;
  }

  size_t extra_bytes() const override { return snapshot_.bytes(); }

 private:
  struct Run {
    void* data;
    size_t bytes;
    DType dtype;
  };

  void copy(bool save) {
    size_t total = 0;
    for (const Run& r : runs_) total += r.bytes;
    if (snapshot_.bytes() != total) snapshot_ = DeviceBuffer(total);
    size_t at = 0;
    const cudaStream_t s = static_cast<cudaStream_t>(model_.stream());
    for (const Run& r : runs_) {
      char* snap = snapshot_.as<char>() + at;
      check_status(save ? cudaMemcpyAsync(snap, r.data, r.bytes, cudaMemcpyDeviceToDevice, s)
                        : cudaMemcpyAsync(r.data, snap, r.bytes, cudaMemcpyDeviceToDevice, s),
                   "snapshot copy");
      at += r.bytes;
    }
  }

  // The optimizer's state on the device: moved there on its first device pass (uploaded, or
  // filled with its initial values), then kept there.
  DeviceStateCopy& device_state(ParamState& state, const std::string& optimizer) {
    for (size_t a = 0; a < state.arrays(); ++a)
      check(state.length(a) >= space_.size(), "optimizer " + optimizer + ": its state array " + std::to_string(a) +
                                                  " holds " + std::to_string(state.length(a)) + " values for " +
                                                  std::to_string(space_.size()) + " trainable parameters");
    if (!state.device()) state.move_to_device(std::make_unique<DeviceStateCopy>(state, model_.stream()));
    auto* copy = dynamic_cast<DeviceStateCopy*>(state.device());
    check(copy != nullptr, "optimizer " + optimizer + ": its state lives on another device engine");
    copy->use_on(model_.stream());
    return *copy;
  }

  // The per-segment extras, uploaded when they change (once per run for each use: after the
  // work queued on the stream that may still read the previous table).
  void upload_extras() {
    model_.synchronize();
    if (extras_.bytes() != extras_host_.size() * sizeof(ZoSegmentExtra))
      extras_ = DeviceBuffer(extras_host_.size() * sizeof(ZoSegmentExtra));
    check_status(cudaMemcpy(extras_.get(), extras_host_.data(), extras_.bytes(), cudaMemcpyHostToDevice),
                 "upload of the segment extras");
  }

  // LOZO's tables for rank r (lozo.cpp, lozo_axpy): a tensor with two or more dimensions and
  // at least r rows and columns is a [shape[0], numel / shape[0]] matrix with U and V in the
  // factor buffer; the others take the plain direction.
  void prepare_low_rank(int rank) {
    if (rank == low_rank_) return;
    extras_host_.resize(space_.tensors().size());
    std::vector<LowRankFactorRange> ranges;
    uint64_t at = 0;
    for (size_t k = 0; k < space_.tensors().size(); ++k) {
      const TrainableTensor& t = space_.tensors()[k];
      const std::vector<int64_t>& shape = t.view->shape;
      const int64_t n = t.view->numel;
      const int64_t rows = shape.size() >= 2 ? shape[0] : 1;
      const int64_t cols = rows > 0 ? n / rows : 0;
      ZoSegmentExtra& e = extras_host_[k];
      e.rows = e.cols = 0;
      e.u_offset = e.v_offset = at;
      if (shape.size() < 2 || rows < rank || cols < rank) continue;
      e.rows = rows, e.cols = cols;
      e.u_offset = at;
      ranges.push_back({t.first, rows * rank, at, false});
      at += static_cast<uint64_t>(rows * rank);
      e.v_offset = at;
      ranges.push_back({t.first, cols * rank, at, true});
      at += static_cast<uint64_t>(cols * rank);
    }
    upload_extras();
    factor_total_ = at;
    n_factor_ranges_ = static_cast<int>(ranges.size());
    factors_ = DeviceBuffer(std::max<uint64_t>(at, 1) * sizeof(float));
    factor_ranges_ = DeviceBuffer(std::max<size_t>(ranges.size(), 1) * sizeof(LowRankFactorRange));
    if (!ranges.empty())
      check_status(cudaMemcpy(factor_ranges_.get(), ranges.data(), ranges.size() * sizeof(LowRankFactorRange),
                              cudaMemcpyHostToDevice),
                   "upload of the LOZO factor table");
    low_rank_ = rank;
  }

  // Sparse-MeZO's magnitude thresholds: a tensor without one yet comes to the host once (its
  // values as the pass would read them: the step's unperturbed weights), then the table goes up.
  void prepare_thresholds(MagnitudeThresholds& thresholds) {
    std::vector<float> values;
    std::vector<uint8_t> raw;
    for (size_t k = 0; k < space_.tensors().size(); ++k) {
      if (thresholds.has(k)) continue;
      const TrainableTensor& t = space_.tensors()[k];
      const size_t n = static_cast<size_t>(t.view->numel);
      raw.resize(n * dtype_size(t.view->dtype));
      values.resize(n);
      model_.synchronize();
      check_status(cudaMemcpy(raw.data(), model_.device_data(*t.view), raw.size(), cudaMemcpyDeviceToHost),
                   "download of a tensor for its Sparse-MeZO magnitude threshold");
      convert(raw.data(), t.view->dtype, values.data(), DType::F32, n);
      thresholds.of(k, values.data(), t.view->numel);
    }
    const std::vector<float> want(thresholds.value.begin(),
                                  thresholds.value.begin() + static_cast<ptrdiff_t>(space_.tensors().size()));
    if (thresholds_uploaded_ && want == uploaded_thresholds_) return;
    extras_host_.resize(space_.tensors().size());
    for (size_t k = 0; k < extras_host_.size(); ++k) extras_host_[k].threshold = want[k];
    upload_extras();
    uploaded_thresholds_ = want;
    thresholds_uploaded_ = true;
  }

  CudaModel& model_;
  const TrainableSpace& space_;
  DeviceBuffer segments_;
  int n_segments_ = 0;
  // The passes' per-segment extras (kernels/cuda/zo_passes.cuh), host copy and device table.
  std::vector<ZoSegmentExtra> extras_host_;
  DeviceBuffer extras_;
  int low_rank_ = 0;  // the rank the LOZO tables hold (0: none)
  DeviceBuffer factor_ranges_, factors_;
  int n_factor_ranges_ = 0;
  uint64_t factor_total_ = 0;
  std::vector<float> uploaded_thresholds_;  // what the device table holds (compared by value:
  bool thresholds_uploaded_ = false;       // another optimizer's thresholds replace them)
  std::vector<Run> runs_;
  DeviceBuffer snapshot_;
};

}  // namespace

std::unique_ptr<ParamEngine> make_device_param_engine(CudaModel& model, const TrainableSpace& space) {
  return std::make_unique<DeviceParamEngine>(model, space);
}

}  // namespace zotune::cuda
