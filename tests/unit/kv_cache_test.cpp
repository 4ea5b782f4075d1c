// The KV cache's two forms (core/model/model.h): the CPU engine's make_cache keeps keys and
// values in host vectors; a cache whose keys and values live on a device engine (KVCache::device,
// core/cuda) is refused by the CPU forward with an error instead of writing into empty vectors.
// The device cache itself is tested on the GPU (tests/cuda/engine/cuda_generation_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/model/model.h"
#include "core/util/error.h"
#include "parity_test_util.h"

namespace zotune {
namespace {

// Stands in for a device engine's storage: the CPU forward must not touch it.
struct ForeignDeviceStorage final : DeviceKVStorage {};

TEST(KvCache, CpuCachesKeepKeysAndValuesOnTheHost) {
  std::unique_ptr<Model> model = load_model((test::parity_dir() / "llama_gqa").string());
  const ModelConfig& c = model->config();
  const KVCache cache = model->make_cache(2, 5);
  EXPECT_EQ(cache.device, nullptr);
  ASSERT_EQ(cache.k.size(), static_cast<size_t>(c.num_layers));
  ASSERT_EQ(cache.v.size(), static_cast<size_t>(c.num_layers));
  EXPECT_EQ(cache.k[0].size(), static_cast<size_t>(2 * 5 * c.num_kv_heads * c.head_dim));
  EXPECT_EQ(cache.valid.size(), 10u);
  EXPECT_EQ(cache.real_tokens.size(), 2u);
}

TEST(KvCache, CpuForwardRefusesADeviceCache) {
  std::unique_ptr<Model> model = load_model((test::parity_dir() / "llama_gqa").string());
  const Batch batch = Batch::from_sequences({{3, 4, 5}, {6}}, 0, /*pad_left=*/true);
  KVCache device;
  device.batch = 2;
  device.capacity = 4;
  device.valid.assign(8, 0);
  device.real_tokens.assign(2, 0);
  device.device = std::make_shared<ForeignDeviceStorage>();
  try {
    model->forward(batch, {2, 5}, &device);
    ADD_FAILURE() << "the CPU forward accepted a cache without host keys and values";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device engine"), std::string::npos) << e.what();
  }
  // The same batch through a host cache works and fills its first three slots.
  KVCache host = model->make_cache(2, 4);
  EXPECT_EQ(model->forward(batch, {2, 5}, &host).size(), 2u * model->output_width());
  EXPECT_EQ(host.length, 3);
  EXPECT_EQ(host.real_tokens, (std::vector<int32_t>{3, 1}));
}

}  // namespace
}  // namespace zotune
