// The samplers (core/data/sampling.h) against real numpy: tests/fixtures/data/
// numpy_permutations.json holds numpy 1.24 legacy RandomState draws and the MeZO / LM-BFF
// splits computed by the reference code (make_numpy_permutations.py there), and the split
// functions keep their documented sizes and invariants.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/records.h"
#include "core/data/sampling.h"
#include "core/train/task.h"
#include "core/util/error.h"
#include "io_test_util.h"

namespace zotune::data {
namespace {

using nlohmann::json;
using test::error_of;

const json& numpy_fixture() {
  static const json fixture = [] {
    std::ifstream in(test::fixture_path("data/numpy_permutations.json"));
    return json::parse(in);
  }();
  return fixture;
}

// A fixture entry: {"n", "all"} or {"n", "first", "last", "weighted_sum"} (sum of i * x[i]).
void expect_matches(const std::vector<int64_t>& got, const json& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.at("n").get<size_t>()) << what;
  if (want.contains("all")) {
    EXPECT_EQ(got, want.at("all").get<std::vector<int64_t>>()) << what;
    return;
  }
  const auto first = want.at("first").get<std::vector<int64_t>>();
  const auto last = want.at("last").get<std::vector<int64_t>>();
  EXPECT_EQ(std::vector<int64_t>(got.begin(), got.begin() + first.size()), first) << what;
  EXPECT_EQ(std::vector<int64_t>(got.end() - last.size(), got.end()), last) << what;
  int64_t weighted = 0;
  for (size_t i = 0; i < got.size(); ++i) weighted += static_cast<int64_t>(i) * got[i];
  EXPECT_EQ(weighted, want.at("weighted_sum").get<int64_t>()) << what;
}

bool disjoint(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::set<int64_t> sa(a.begin(), a.end());
  for (int64_t x : b) {
    if (sa.count(x)) return false;
  }
  return true;
}

TEST(NumpyLegacyRandom, PermutationsMatchNumpy) {
  for (const auto& p : numpy_fixture().at("permutations")) {
    const auto seed = p.at("seed").get<uint32_t>();
    const auto n = p.at("n").get<int64_t>();
    expect_matches(NumpyLegacyRandom(seed).permutation(n), p,
                   "seed " + std::to_string(seed) + ", n " + std::to_string(n));
  }
}

TEST(NumpyLegacyRandom, ListShuffleMatchesNumpy) {
  const json& s = numpy_fixture().at("list_shuffle");
  auto words = s.at("input").get<std::vector<std::string>>();
  NumpyLegacyRandom(s.at("seed").get<uint32_t>()).shuffle(words);
  EXPECT_EQ(words, s.at("output").get<std::vector<std::string>>());
}

TEST(NumpyLegacyRandom, IntervalStaysInRangeAndSeedsRepeat) {
  NumpyLegacyRandom a(5), b(5);
  for (uint64_t max : {0ull, 1ull, 2ull, 3ull, 1000ull, 0xffffffffull, 0x100000000ull, 0xffffffffffffffffull}) {
    for (int t = 0; t < 20; ++t) {
      const uint64_t x = a.interval(max);
      EXPECT_LE(x, max);
      EXPECT_EQ(x, b.interval(max));
    }
  }
  EXPECT_EQ(NumpyLegacyRandom(3).interval(0), 0u);
  EXPECT_EQ(NumpyLegacyRandom(9).permutation(500), NumpyLegacyRandom(9).permutation(500));
  EXPECT_NE(NumpyLegacyRandom(9).permutation(500), NumpyLegacyRandom(10).permutation(500));
}

TEST(Sampling, MezoSst2SplitMatchesReference) {
  const json& ref = numpy_fixture().at("mezo_sst2_seed0");
  const SplitSizes sizes = mezo_split_sizes("sst2");
  EXPECT_EQ(sizes.num_train, ref.at("num_train").get<int64_t>());
  EXPECT_EQ(sizes.num_dev, ref.at("num_dev").get<int64_t>());
  const Splits s = mezo_splits(67349, 872, sizes.num_train, sizes.num_dev, sizes.num_test, 0, "sst2");
  expect_matches(s.train, ref.at("train"), "train");
  expect_matches(s.dev, ref.at("dev"), "dev");
  expect_matches(s.test, ref.at("test"), "test");  // all 872 validation rows, permuted
  EXPECT_TRUE(disjoint(s.train, s.dev));
}

TEST(Sampling, MezoCbSizesReproduceRunPyShrink) {
  // MeZO asks 1000 train / 100 dev of CB's 250; run.py keeps the permutation's 250 entries,
  // dev = the last 100: the same indices as mezo_split_sizes' 150/100.
  const json& ref = numpy_fixture().at("mezo_cb_seed0");
  const SplitSizes sizes = mezo_split_sizes("cb");
  EXPECT_EQ(sizes.num_train, 150);
  EXPECT_EQ(sizes.num_dev, 100);
  const Splits s = mezo_splits(250, 56, sizes.num_train, sizes.num_dev, sizes.num_test, 0, "cb");
  expect_matches(s.train, ref.at("train"), "train");
  expect_matches(s.dev, ref.at("dev"), "dev");
  expect_matches(s.test, ref.at("test"), "test");
}

TEST(Sampling, SplitSizesAsDocumented) {
  for (const char* task : {"sst2", "sst5", "mr", "trec", "rte", "boolq", "wic", "multirc", "record", "squad",
                           "drop", "snli", "mnli", "qnli"}) {
    const SplitSizes s = mezo_split_sizes(task);
    EXPECT_EQ(s.num_train, 1000) << task;
    EXPECT_EQ(s.num_dev, 500) << task;
    EXPECT_EQ(s.num_test, 1000) << task;
  }
  EXPECT_EQ(mezo_split_sizes("copa").num_train, 300);
  EXPECT_EQ(mezo_split_sizes("copa").num_dev, 100);
  EXPECT_EQ(mezo_split_sizes("wsc").num_train, 54);
  EXPECT_EQ(mezo_split_sizes("wsc").num_dev, 500);
  struct Row {
    const char* task;
    int64_t train, dev;
  };
  for (const Row& r : {Row{"sst2", 1000, 500}, Row{"boolq", 1000, 500}, Row{"rte", 1000, 500}, Row{"copa", 300, 100},
                       Row{"wic", 1000, 500}, Row{"wsc", 450, 100}, Row{"cb", 200, 50}, Row{"trec", 1000, 500}}) {
    const SplitSizes s = bszo_split_sizes(r.task);
    EXPECT_EQ(s.num_train, r.train) << r.task;
    EXPECT_EQ(s.num_dev, r.dev) << r.task;
    EXPECT_EQ(s.num_test, 1000) << r.task;
  }
  // Tasks BSZO did not run take MeZO's sizes (its run.py is MeZO's); unknown tasks still throw.
  EXPECT_EQ(bszo_split_sizes("multirc").num_train, 1000);
  EXPECT_EQ(bszo_split_sizes("multirc").num_dev, 500);
  EXPECT_EQ(bszo_split_sizes("cb").num_train, 200) << "Table 6, not MeZO's 150";
  EXPECT_NE(error_of([] { bszo_split_sizes("SST-2"); }).find("unknown task 'SST-2'"), std::string::npos);
  EXPECT_NE(error_of([] { mezo_split_sizes("SST-2"); }).find("unknown task 'SST-2'"), std::string::npos);
}

TEST(Sampling, MezoSplitsSizesDisjointAndRepeatable) {
  // BSZO's WSC on the official 554-row train set and 104-row validation set.
  const SplitSizes sizes = bszo_split_sizes("wsc");
  const Splits a = mezo_splits(554, 104, sizes.num_train, sizes.num_dev, sizes.num_test, 0, "wsc");
  const Splits b = mezo_splits(554, 104, sizes.num_train, sizes.num_dev, sizes.num_test, 0, "wsc");
  EXPECT_EQ(a.train.size(), 450u);
  EXPECT_EQ(a.dev.size(), 100u);
  EXPECT_EQ(a.test.size(), 104u);  // min(1000, |eval|)
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.dev, b.dev);
  EXPECT_EQ(a.test, b.test);
  EXPECT_TRUE(disjoint(a.train, a.dev));
  EXPECT_EQ(std::set<int64_t>(a.test.begin(), a.test.end()).size(), 104u);
  for (int64_t i : a.train) EXPECT_LT(i, 554);
  const Splits other = mezo_splits(554, 104, sizes.num_train, sizes.num_dev, sizes.num_test, 1, "wsc");
  EXPECT_NE(a.train, other.train);
}

TEST(Sampling, MezoSplitsErrorWhenTrainFileTooSmall) {
  const SplitSizes sizes = mezo_split_sizes("boolq");
  EXPECT_EQ(error_of([&] { mezo_splits(64, 3270, sizes.num_train, sizes.num_dev, sizes.num_test, 0, "boolq"); }),
            "boolq: the train file holds 64 examples, fewer than num_train + num_dev = 1000 + 500");
  const SplitSizes wsc = bszo_split_sizes("wsc");
  EXPECT_NE(error_of([&] { mezo_splits(32, 104, wsc.num_train, wsc.num_dev, wsc.num_test, 0, "wsc"); }).find("wsc: "),
            std::string::npos);
}

TEST(Sampling, LmbffSst2K16MatchesReference) {
  const json& ref = numpy_fixture().at("lmbff_sst2_k16_seed13");
  const std::string label_chars = ref.at("labels").get<std::string>();
  std::vector<std::string> labels;
  for (char c : label_chars) labels.emplace_back(1, c);
  // The fixture's labels are those of the real file (when it is here).
  const std::string real = std::string(ZOTUNE_SHARED_DATA_DIR) + "/SST-2/lm-bff/train.tsv";
  if (std::filesystem::exists(real)) {
    const auto rows = read_tsv(real);
    ASSERT_EQ(rows.size(), labels.size());
    for (size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(rows[i].fields.at("label"), labels[i]) << rows[i].where;
  }
  const Splits s = lmbff_k_shot(labels, 872, ref.at("k").get<int>(), ref.at("seed").get<uint32_t>());
  EXPECT_EQ(s.train, ref.at("train").get<std::vector<int64_t>>());
  EXPECT_EQ(s.dev, ref.at("dev").get<std::vector<int64_t>>());
  EXPECT_TRUE(disjoint(s.train, s.dev));
  // 872 <= 1000 dev rows: the whole original dev set, in file order.
  ASSERT_EQ(s.test.size(), 872u);
  for (size_t i = 0; i < s.test.size(); ++i) ASSERT_EQ(s.test[i], static_cast<int64_t>(i));
}

TEST(Sampling, LmbffLargeTestIsSeed42Head) {
  const std::vector<std::string> labels = {"a", "b", "a", "b", "a", "b"};
  const Splits s = lmbff_k_shot(labels, 2210, 1, 13);  // SST-5's 2210 test rows
  expect_matches(s.test, numpy_fixture().at("lmbff_test_seed42_n2210"), "test");
}

TEST(Sampling, LmbffPerLabelCountsAndShortGroups) {
  // 3 labels: "x" has 40 rows, "y" 20, "z" 5 (fewer than 2k = 32: train takes 5, dev none).
  std::vector<std::string> labels;
  for (int i = 0; i < 40; ++i) labels.push_back("x");
  for (int i = 0; i < 20; ++i) labels.push_back("y");
  for (int i = 0; i < 5; ++i) labels.push_back("z");
  for (uint32_t seed : kLmbffSeeds) {
    const Splits s = lmbff_k_shot(labels, 100, 16, seed);
    EXPECT_EQ(s.train.size(), 16u + 16u + 5u) << seed;
    EXPECT_EQ(s.dev.size(), 16u + 4u) << seed;
    EXPECT_TRUE(disjoint(s.train, s.dev)) << seed;
    std::map<std::string, int> train_counts;
    for (int64_t i : s.train) train_counts[labels[static_cast<size_t>(i)]]++;
    EXPECT_EQ(train_counts, (std::map<std::string, int>{{"x", 16}, {"y", 16}, {"z", 5}})) << seed;
    const Splits again = lmbff_k_shot(labels, 100, 16, seed);
    EXPECT_EQ(s.train, again.train);
    EXPECT_EQ(s.dev, again.dev);
  }
  EXPECT_EQ(error_of([&] { lmbff_k_shot(labels, 100, 0, 13); }), "lmbff_k_shot: k must be at least 1, got 0");
}

}  // namespace
}  // namespace zotune::data

// ---- Minibatches (core/train/task.h): data.sampler epoch, as the Hugging Face dataloader
// draws them, and the independent per-step draws.
namespace zotune {
namespace {

TEST(EpochSampler, EachExampleOncePerEpochLastBatchPartial) {
  const int n = 37, batch = 8;  // ceil(37 / 8) = 5 steps per epoch: 8, 8, 8, 8, 5
  ASSERT_EQ(steps_per_epoch(n, batch), 5);
  for (uint32_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int> seen;
    for (uint32_t b = 0; b < 5; ++b) {
      const std::vector<int> mb = epoch_minibatch(7, epoch * 5 + b, n, batch);
      EXPECT_EQ(static_cast<int>(mb.size()), b < 4 ? batch : n - 4 * batch) << "epoch " << epoch << " batch " << b;
      seen.insert(seen.end(), mb.begin(), mb.end());
    }
    EXPECT_EQ(seen, epoch_permutation(7, epoch, n)) << "batches are the epoch's permutation taken in order";
    std::sort(seen.begin(), seen.end());
    std::vector<int> all(n);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(seen, all) << "every example exactly once in epoch " << epoch;
  }
  // A batch at least the size of the set: one step per epoch, the whole (shuffled) set.
  EXPECT_EQ(steps_per_epoch(5, 16), 1);
  EXPECT_EQ(epoch_minibatch(7, 3, 5, 16), epoch_permutation(7, 3, 5));
  EXPECT_EQ(epoch_minibatch(7, 0, 48, 16).size(), 16u) << "divisible: no partial batch";
  EXPECT_EQ(epoch_minibatch(7, 2, 48, 16).size(), 16u);
}

TEST(EpochSampler, DeterministicAndDifferentPerEpochAndSeed) {
  const int n = 1000;
  const std::vector<int> e0 = epoch_permutation(3, 0, n);
  EXPECT_EQ(e0, epoch_permutation(3, 0, n)) << "a pure function of (seed, epoch)";
  EXPECT_NE(e0, epoch_permutation(3, 1, n));
  EXPECT_NE(e0, epoch_permutation(4, 0, n));
  std::vector<int> identity(n);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(e0, identity);
  // Shuffled, not just rotated: few fixed points (a uniform permutation has 1 on average).
  int fixed = 0;
  for (int i = 0; i < n; ++i) fixed += e0[i] == i;
  EXPECT_LT(fixed, 8);
  // A resumed run (or any rank) asking for step 130 alone gets the same batch: 63 steps per epoch.
  const std::vector<int> mb = epoch_minibatch(3, 130, n, 16);
  const std::vector<int> e2 = epoch_permutation(3, 2, n);
  EXPECT_EQ(mb, std::vector<int>(e2.begin() + 4 * 16, e2.begin() + 5 * 16));
  EXPECT_EQ(epoch_minibatch(3, 62, n, 16).size(), 8u) << "1000 = 62 * 16 + 8";
}

constexpr std::array<int, 8> kIndependentGolden = {37, 56, 31, 4, 41, 18, 23, 21};  // sample_minibatch(0, 0, 100, 8)

TEST(EpochSampler, IndependentOptionUnchanged) {
  // The independent sampler's draws as they were before the epoch sampler existed (golden
  // values from the previous build): distinct, in range, keyed by (seed, step).
  const std::vector<int> a = sample_minibatch(0, 0, 100, 8);
  EXPECT_EQ(a, sample_minibatch(0, 0, 100, 8));
  EXPECT_NE(a, sample_minibatch(0, 1, 100, 8));
  EXPECT_EQ(std::set<int>(a.begin(), a.end()).size(), 8u);
  for (int i : a) EXPECT_TRUE(i >= 0 && i < 100);
  EXPECT_EQ(sample_minibatch(5, 9, 4, 16), (std::vector<int>{0, 1, 2, 3})) << "batch >= n: all, in order";
  EXPECT_EQ(a, (std::vector<int>(kIndependentGolden.begin(), kIndependentGolden.end())));
}

}  // namespace
}  // namespace zotune
