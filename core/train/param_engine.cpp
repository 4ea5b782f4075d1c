#include "core/train/param_engine.h"

#include "core/util/error.h"

#ifdef ZOTUNE_HAVE_CUDA
#include "core/cuda/cuda_model.h"
#include "core/cuda/device_param_engine.h"
#endif

namespace zotune {

namespace {

class HostParamEngine final : public ParamEngine {
 public:
  HostParamEngine(Model& model, const TrainableSpace& space) : model_(model), space_(space) {}
  void apply(const std::vector<cpu::DirectionTerm>& terms, DirectionKind kind, float decay_scale) override {
    space_.apply(model_.params(), terms, kind, decay_scale);
  }
  void apply_in_dtype(const cpu::DirectionTerm& term, DirectionKind kind) override {
    space_.apply_in_dtype(model_.params(), term, kind);
  }
  bool supports_tensor_passes() const override { return true; }
  void apply_pass(const TensorPass& pass, const std::string&) override {
    // Widen, let the optimizer rewrite, round back once (as TrainableSpace::apply's decay).
    std::vector<float> values;
    for (size_t k = 0; k < space_.tensors().size(); ++k) {
      const TrainableTensor& t = space_.tensors()[k];
      void* data = model_.params().data(*t.view);
      values.resize(static_cast<size_t>(t.view->numel));
      convert(data, t.view->dtype, values.data(), DType::F32, values.size());
      pass(k, t, values.data());
      convert(values.data(), DType::F32, data, t.view->dtype, values.size());
    }
  }
  void save_snapshot() override { space_.copy_out(model_.params(), snapshot_); }
  void restore_snapshot() override { space_.copy_in(model_.params(), snapshot_); }
  uint64_t checksum() override { return space_.checksum(model_.params()); }
  size_t extra_bytes() const override { return snapshot_.size(); }

 private:
  Model& model_;
  const TrainableSpace& space_;
  std::vector<uint8_t> snapshot_;
};

}  // namespace

std::unique_ptr<ParamEngine> make_param_engine(Model& model, const TrainableSpace& space) {
  if (model.on_device()) {
#ifdef ZOTUNE_HAVE_CUDA
    return cuda::make_device_param_engine(static_cast<cuda::CudaModel&>(model), space);
#else
    throw Error("a device model in a build without CUDA");
#endif
  }
  return std::make_unique<HostParamEngine>(model, space);
}

}  // namespace zotune
