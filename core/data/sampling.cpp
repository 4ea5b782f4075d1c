// The papers' samplers (sampling.h): numpy's legacy RandomState stream and the MeZO, BSZO and
// LM-BFF splits built on it.
#include "core/data/sampling.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <unordered_map>

#include "core/util/error.h"

namespace zotune::data {

// std::mt19937(seed) runs MT19937's init_genrand, which is what np.random.seed(int) does.
NumpyLegacyRandom::NumpyLegacyRandom(uint32_t seed) : mt_(seed) {}

uint64_t NumpyLegacyRandom::interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;  // smallest all-ones value >= max
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t value;
  if (max <= 0xffffffffULL) {
    do {
      value = static_cast<uint32_t>(mt_()) & mask;
    } while (value > max);
  } else {
    // numpy's mt19937_next64: (next32 << 32) | next32. C leaves the order of the two calls
    // unspecified; high word first is what GCC builds do. Only shuffles of more than 2^32
    // elements get here.
    do {
      const uint64_t high = static_cast<uint32_t>(mt_());
      const uint64_t low = static_cast<uint32_t>(mt_());
      value = ((high << 32) | low) & mask;
    } while (value > max);
  }
  return value;
}

std::vector<int64_t> NumpyLegacyRandom::permutation(int64_t n) {
  check(n >= 0, "permutation: negative length " + std::to_string(n));
  std::vector<int64_t> x(static_cast<size_t>(n));
  std::iota(x.begin(), x.end(), int64_t{0});  // np.arange(n), then shuffled
  shuffle(x);
  return x;
}

Splits mezo_splits(int64_t n_train_file, int64_t n_eval_file, int64_t num_train, int64_t num_dev, int64_t num_test,
                   uint32_t seed, const std::string& what) {
  check(num_train >= 0 && num_dev >= 0 && num_test >= 0,
        what + ": split sizes must be non-negative, got train " + std::to_string(num_train) + ", dev " +
            std::to_string(num_dev) + ", test " + std::to_string(num_test));
  check(n_eval_file >= 0, what + ": negative eval file size " + std::to_string(n_eval_file));
  check(n_train_file >= num_train + num_dev,
        what + ": the train file holds " + std::to_string(n_train_file) + " examples, fewer than num_train + num_dev = " +
            std::to_string(num_train) + " + " + std::to_string(num_dev));
  Splits s;
  // sample_subset(train, seed, num_train + num_dev): one permutation, its head; dev = the last
  // num_dev of that head.
  const std::vector<int64_t> train_perm = NumpyLegacyRandom(seed).permutation(n_train_file);
  s.train.assign(train_perm.begin(), train_perm.begin() + num_train);
  s.dev.assign(train_perm.begin() + num_train, train_perm.begin() + num_train + num_dev);
  // sample_subset(valid, seed, num_eval): a fresh np.random.seed(seed) (temp_seed), so the eval
  // permutation does not depend on the train one.
  const std::vector<int64_t> eval_perm = NumpyLegacyRandom(seed).permutation(n_eval_file);
  s.test.assign(eval_perm.begin(), eval_perm.begin() + std::min(num_test, n_eval_file));
  return s;
}

SplitSizes mezo_split_sizes(const std::string& task) {
  // The sizes MeZO ends up with (see sampling.h): mezo.sh's 1000/500 (CB, COPA: dev 100) cut
  // to the official train sets of CB (250), COPA (400) and WSC (554).
  static const std::map<std::string, SplitSizes> kExceptions = {
      {"cb", {150, 100, 1000}},
      {"copa", {300, 100, 1000}},
      {"wsc", {54, 500, 1000}},
  };
  static const char* const kDefault[] = {"sst2", "sst5",   "mr",     "trec",  "rte",  "boolq", "wic",
                                         "multirc", "record", "squad", "drop", "snli", "mnli",  "qnli"};
  if (const auto it = kExceptions.find(task); it != kExceptions.end()) return it->second;
  for (const char* name : kDefault) {
    if (task == name) return SplitSizes{};
  }
  throw Error("mezo_split_sizes: unknown task '" + task +
              "' (known: sst2 sst5 mr trec rte cb boolq wic wsc copa multirc record squad drop snli mnli qnli)");
}

SplitSizes bszo_split_sizes(const std::string& task) {
  // BSZO Table 6 (bszo.md b), num_test = 1000 capped at |eval| by mezo_splits.
  static const std::map<std::string, SplitSizes> kTable6 = {
      {"sst2", {1000, 500, 1000}}, {"boolq", {1000, 500, 1000}}, {"rte", {1000, 500, 1000}},
      {"copa", {300, 100, 1000}},  {"wic", {1000, 500, 1000}},   {"wsc", {450, 100, 1000}},
      {"cb", {200, 50, 1000}},     {"trec", {1000, 500, 1000}},
  };
  // A task Table 6 does not list (BSZO did not run it) gets what BSZO's run.py, MeZO's with the
  // same split arguments, would take: MeZO's sizes.
  const auto it = kTable6.find(task);
  if (it == kTable6.end()) return mezo_split_sizes(task);
  return it->second;
}

Splits lmbff_k_shot(const std::vector<std::string>& train_labels, int64_t n_eval_file, int k, uint32_t seed) {
  check(k >= 1, "lmbff_k_shot: k must be at least 1, got " + std::to_string(k));
  check(n_eval_file >= 0, "lmbff_k_shot: negative eval file size " + std::to_string(n_eval_file));
  // np.random.shuffle(train_lines) with the rows' indices in place of the rows.
  std::vector<int64_t> order(train_labels.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  NumpyLegacyRandom(seed).shuffle(order);
  // label_list: a dict, so groups in order of the label's first appearance in `order`.
  std::vector<std::vector<int64_t>> groups;
  std::unordered_map<std::string, size_t> group_of;
  for (int64_t row : order) {
    const auto [it, inserted] = group_of.emplace(train_labels[static_cast<size_t>(row)], groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(row);
  }
  Splits s;
  const auto kk = static_cast<size_t>(k);
  for (const auto& g : groups) s.train.insert(s.train.end(), g.begin(), g.begin() + std::min(kk, g.size()));
  for (const auto& g : groups) {
    if (g.size() > kk) s.dev.insert(s.dev.end(), g.begin() + kk, g.begin() + std::min(2 * kk, g.size()));
  }
  if (n_eval_file > kLmbffMaxTest) {
    const std::vector<int64_t> perm = NumpyLegacyRandom(kLmbffTestSeed).permutation(n_eval_file);
    s.test.assign(perm.begin(), perm.begin() + kLmbffMaxTest);
  } else {
    s.test.resize(static_cast<size_t>(n_eval_file));
    std::iota(s.test.begin(), s.test.end(), int64_t{0});
  }
  return s;
}

}  // namespace zotune::data
