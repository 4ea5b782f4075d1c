// Which examples a run uses: the papers' samplers, reproduced index for index.
//
// MeZO (docs/papers/baselines.md 8.1) and BSZO (bszo.md b) draw with numpy's legacy global
// RandomState: np.random.seed(seed); np.random.permutation(n). NumpyLegacyRandom reproduces
// that stream (MT19937 seeded by init_genrand, numpy's masked-rejection random_interval and
// its Fisher-Yates shuffle from the last element down), so the selected indices are the ones
// the reference code selected on the same files.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace zotune::data {

class NumpyLegacyRandom {
 public:
  explicit NumpyLegacyRandom(uint32_t seed);
  // np.random.permutation(n) after np.random.seed(seed).
  std::vector<int64_t> permutation(int64_t n);
  // np.random.shuffle(x) on a list or 1-D array, in place: for i = n-1 down to 1, swap x[i]
  // with x[interval(i)] (numpy's list path and its 1-D array path draw the same stream).
  template <class T>
  void shuffle(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;) {
      const auto j = static_cast<size_t>(interval(i));
      std::swap(x[i], x[j]);
    }
  }
  // numpy's random_interval(max): uniform in [0, max] by masked rejection: mask = the smallest
  // all-ones value >= max; draw (32-bit draws while max fits in 32 bits, else 64-bit draws made
  // of two 32-bit ones, high word first) & mask until the value is <= max.
  uint64_t interval(uint64_t max);

 private:
  std::mt19937 mt_;
};

// MeZO's split of a train file and an eval file (baselines.md 8.1): one permutation of the
// train indices with `seed`, its first num_train + num_dev entries, the last num_dev of those
// the dev set; test = the first min(num_test, n_eval) entries of a permutation of the eval
// indices with the same seed (MeZO: valid samples sampled with seed = train_set_seed).
// Throws naming `what` when the file holds fewer than num_train + num_dev examples.
struct Splits {
  std::vector<int64_t> train, dev, test;  // indices into the train file (train, dev) and eval file (test)
};
Splits mezo_splits(int64_t n_train_file, int64_t n_eval_file, int64_t num_train, int64_t num_dev, int64_t num_test,
                   uint32_t seed, const std::string& what);

// MeZO's per-task sizes and BSZO's Table 6 sizes, as (num_train, num_dev); num_test is 1000,
// which mezo_splits caps at |eval| (min(1000, |eval|)). MeZO's mezo.sh asks 1000/500 (CB and
// COPA: dev 100) and run.py quietly takes the whole permutation when the train set is smaller,
// dev = its last num_dev, train = the rest; so mezo_split_sizes gives the sizes MeZO actually
// ends up with on the official train sets, which select the same indices: CB 250 -> 150/100,
// COPA 400 -> 300/100, WSC 554 -> 54/500 (WSC is not special-cased in mezo.sh). Every other
// task (sst2 sst5 mr trec rte boolq wic multirc record squad drop snli mnli qnli): 1000/500.
// BSZO: sst2 boolq rte wic trec 1000/500, copa 300/100, wsc 450/100, cb 200/50.
// Both throw for a task name they do not know (lowercase, as core/tasks registers them).
struct SplitSizes {
  int64_t num_train = 1000, num_dev = 500, num_test = 1000;
};
SplitSizes mezo_split_sizes(const std::string& task);
// Table 6; a task it does not list gets mezo_split_sizes (throws for a task neither knows).
SplitSizes bszo_split_sizes(const std::string& task);

// LM-BFF's k-shot data (MeZO medium_models/tools/generate_k_shot_data.py, mode k-shot-1k-test;
// baselines.md 9): np.random.seed(seed), shuffle the train rows, group them by label in order
// of first appearance in the shuffled rows; train = the first k of each group, dev = the next k
// of each group (fewer when a group runs out, as Python's slicing does), group after group.
// Test: when the eval file holds more than 1000 rows, np.random.seed(42) and the first 1000 of
// the shuffled rows (GLUE path; pandas' sample(n=1000, random_state=42) on the CSV path draws
// the same indices); otherwise every eval row in file order, unshuffled.
// `train_labels[i]` is train row i's label (any string); k >= 1. A label with fewer than 2k
// rows is not an error (LM-BFF does not check); lmbff_k_shot throws only for k < 1.
Splits lmbff_k_shot(const std::vector<std::string>& train_labels, int64_t n_eval_file, int k, uint32_t seed);
inline constexpr int64_t kLmbffMaxTest = 1000;
inline constexpr uint32_t kLmbffTestSeed = 42;
inline constexpr uint32_t kLmbffSeeds[5] = {13, 21, 42, 87, 100};

}  // namespace zotune::data
