// ParamState (core/optim/param_pass.h): the stateful optimizers' per-parameter arrays live on
// the host or on a device copy, wherever the last pass ran. The device side is faked here (a
// DeviceCopy that serves seeded values), so the moves the CUDA engine relies on are checked
// without a GPU: lazy materialization at the initial value, the host arrays released when the
// state moves to the device, and every array downloaded once when the host asks again.
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <vector>

#include "core/model/model.h"
#include "core/optim/param_pass.h"
#include "core/train/engine_setup.h"
#include "io_test_util.h"

namespace zotune {
namespace {

using test::error_of;

// Array a, element i on the "device" = 1000 a + i + 0.5 (never an initial value below).
class FakeDeviceCopy final : public ParamState::DeviceCopy {
 public:
  explicit FakeDeviceCopy(const ParamState& state, int* downloads) : state_(state), downloads_(downloads) {}
  void download(size_t a, float* out) override {
    ++*downloads_;
    for (uint64_t i = 0; i < state_.length(a); ++i) out[i] = 1000.0f * static_cast<float>(a) + static_cast<float>(i) + 0.5f;
  }

 private:
  const ParamState& state_;
  int* downloads_;
};

TEST(ParamState, ArraysMaterializeAtTheirInitialValueOnFirstHostUse) {
  ParamState s;
  const size_t m = s.add_array(5, 0.0f), sigma = s.add_array(3, 1.0f);
  EXPECT_EQ(s.arrays(), 2u);
  EXPECT_EQ(s.host_values(m), nullptr);  // nothing to upload yet: the device fills the initial value
  EXPECT_EQ(s.host(sigma), std::vector<float>(3, 1.0f));
  EXPECT_EQ(s.host_values(m), nullptr);  // only the array asked for is materialized
  s.host(m)[2] = 7.0f;
  ASSERT_NE(s.host_values(m), nullptr);
  EXPECT_EQ((*s.host_values(m))[2], 7.0f);
}

TEST(ParamState, MovingToTheDeviceReleasesTheHostArraysAndTheHostGetsEveryArrayBackOnce) {
  ParamState s;
  const size_t m = s.add_array(4, 0.0f), v = s.add_array(2, 0.0f);
  s.host(m)[1] = 3.0f;
  int downloads = 0;
  s.move_to_device(std::make_unique<FakeDeviceCopy>(s, &downloads));
  ASSERT_NE(s.device(), nullptr);
  EXPECT_EQ(s.host_values(m), nullptr);  // released: the device copy holds the state now
  EXPECT_NE(error_of([&] { s.add_array(1, 0.0f); }).find("after the state moved to the device"), std::string::npos);
  // The first host access brings every array back (a host pass may read any of them) and
  // drops the device copy; later accesses download nothing.
  EXPECT_EQ(s.host(v), (std::vector<float>{1000.5f, 1001.5f}));
  EXPECT_EQ(downloads, 2);
  EXPECT_EQ(s.device(), nullptr);
  EXPECT_EQ(s.host(m), (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f}));
  EXPECT_EQ(downloads, 2);
}

TEST(ParamState, BadArgumentsAreErrors) {
  ParamState s;
  s.add_array(2, 0.0f);
  EXPECT_NE(error_of([&] { s.host(1); }).find("array 1 of 1"), std::string::npos);
  EXPECT_NE(error_of([&] { s.move_to_device(nullptr); }).find("no device copy"), std::string::npos);
}

// engine.probe_batch: auto on the host engine is not bounded by memory; the per-token estimate
// counts the logits (vocab fp32) beside the activations.
TEST(ProbeBatchAuto, HostEngineIsUnboundedAndTheEstimateCountsTheLogits) {
  const std::unique_ptr<Model> model = load_model(test::fixture_path("train/tiny_lm"));
  EXPECT_EQ(probe_groups_that_fit(*model, 1 << 20), std::numeric_limits<int>::max());
  ModelConfig c;
  c.hidden_size = 576;
  c.intermediate_size = 1536;
  c.vocab_size = 49152;
  EXPECT_DOUBLE_EQ(probe_group_bytes_per_token(c), 4.0 * (16 * 576 + 3 * 1536 + 49152));
}

}  // namespace
}  // namespace zotune
