#include "core/model/packed_tokens.h"

#include <string>

#include "core/util/error.h"

namespace zotune {

namespace {

int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace

PackedTokens pack_tokens(const Batch& batch, const std::vector<int64_t>& rows, int groups, int token_multiple,
                         int slot_multiple) {
  const int64_t slots = static_cast<int64_t>(batch.batch) * batch.seq_len;
  check(batch.mask.size() == static_cast<size_t>(slots),
        "pack_tokens: the mask has " + std::to_string(batch.mask.size()) + " entries for " + std::to_string(slots) +
            " slots");
  check(groups >= 1 && batch.batch % groups == 0,
        "pack_tokens: " + std::to_string(batch.batch) + " sequences do not split into " + std::to_string(groups) +
            " probe groups");
  check(token_multiple >= 1 && slot_multiple >= 1, "pack_tokens: multiples must be at least 1");
  PackedTokens p;
  p.batch = batch.batch;
  p.seq_len = batch.seq_len;
  p.padded_seq_len = round_up(batch.seq_len, slot_multiple);
  const int64_t wide = static_cast<int64_t>(batch.batch) * p.padded_seq_len;
  p.packed_of.assign(static_cast<size_t>(wide), -1);
  p.mask.assign(static_cast<size_t>(wide), 0);
  const int per_group = batch.batch / groups;
  int first_group_tokens = -1;
  for (int g = 0; g < groups; ++g) {
    const size_t start = p.padded_of.size();
    for (int b = g * per_group; b < (g + 1) * per_group; ++b)
      for (int t = 0; t < batch.seq_len; ++t) {
        if (batch.mask[static_cast<size_t>(b) * batch.seq_len + t] == 0) continue;
        const int64_t slot = static_cast<int64_t>(b) * p.padded_seq_len + t;
        p.mask[slot] = 1;
        p.packed_of[slot] = static_cast<int32_t>(p.padded_of.size());
        p.padded_of.push_back(static_cast<int32_t>(slot));
      }
    const int real = static_cast<int>(p.padded_of.size() - start);
    if (g == 0) first_group_tokens = real;
    check(real == first_group_tokens, "pack_tokens: probe group " + std::to_string(g) + " has " +
                                          std::to_string(real) + " real tokens, group 0 " +
                                          std::to_string(first_group_tokens));
    p.padded_of.resize(start + round_up(real, token_multiple), -1);
  }
  p.rows.reserve(rows.size());
  for (int64_t r : rows) {
    check(r >= 0 && r < slots, "pack_tokens: row " + std::to_string(r) + " is outside the batch's " +
                                   std::to_string(slots) + " slots");
    const int64_t b = r / batch.seq_len, t = r % batch.seq_len;
    const int32_t packed = p.packed_of[b * p.padded_seq_len + t];
    check(packed >= 0, "pack_tokens: row " + std::to_string(r) + " (sequence " + std::to_string(b) + ", slot " +
                           std::to_string(t) + ") is padding: the head reads real tokens only");
    p.rows.push_back(packed);
  }
  return p;
}

std::vector<int32_t> packed_values(const PackedTokens& packed, const std::vector<int32_t>& values) {
  check(values.size() == static_cast<size_t>(packed.batch) * packed.seq_len,
        "packed_values: " + std::to_string(values.size()) + " values for " +
            std::to_string(static_cast<int64_t>(packed.batch) * packed.seq_len) + " slots");
  std::vector<int32_t> out;
  out.reserve(packed.padded_of.size());
  for (int32_t slot : packed.padded_of) {
    if (slot < 0) {
      out.push_back(0);
      continue;
    }
    const int b = slot / packed.padded_seq_len, t = slot % packed.padded_seq_len;
    out.push_back(values[static_cast<size_t>(b) * packed.seq_len + t]);
  }
  return out;
}

}  // namespace zotune
