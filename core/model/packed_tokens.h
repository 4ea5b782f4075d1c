// The real tokens of a padded batch, packed: the plan behind the CUDA engine's unpadded forward
// (engine.unpadded). A batch [batch, seq_len] padded to its longest sequence is largely padding
// when its sequences vary in length (SST-2's sentences, RTE's premises); every row-wise op and
// every GEMM of a decoder can run on the real tokens alone, and only attention needs the padded
// layout back.
//
// Two roundings keep the shapes few, so that a captured forward (one CUDA graph per shape) is
// replayed rather than captured anew for each batch: the packed tokens of each probe group are
// padded with dummy rows to a multiple of `token_multiple`, and the padded layout attention runs
// on is widened to a multiple of `slot_multiple` slots per sequence (more padding at the end of
// each sequence: masked keys, and after every real query, so a causal query never sees them).
#pragma once
#include <cstdint>
#include <vector>

#include "core/model/model.h"

namespace zotune {

struct PackedTokens {
  int batch = 0;
  int seq_len = 0;         // the batch's own slots per sequence
  int padded_seq_len = 0;  // slots per sequence of the layout attention runs on (>= seq_len)
  // padded_of[i]: the slot (b * padded_seq_len + t) of packed row i, -1 for a dummy row; rows
  // in batch order (sequence by sequence, left to right), each probe group's block of
  // sequences one block of rows ending in its dummy rows: [tokens].
  std::vector<int32_t> padded_of;
  // packed_of[j]: the packed row of slot j of the widened layout, -1 for padding:
  // [batch * padded_seq_len].
  std::vector<int32_t> packed_of;
  // The widened layout's mask: the batch's, and 0 in the added slots: [batch * padded_seq_len].
  std::vector<uint8_t> mask;
  // The requested head rows as packed rows (given as flat indices b * seq_len + t).
  std::vector<int64_t> rows;

  int tokens() const { return static_cast<int>(padded_of.size()); }
};

// The packing of `batch` (whose sequences are `groups` equal blocks) with head rows `rows`
// (flat indices b * seq_len + t). Every row must be a real token (mask 1): the head reads real
// tokens only; a row on padding is an error naming it, as is a group with another count of
// real tokens than the first.
PackedTokens pack_tokens(const Batch& batch, const std::vector<int64_t>& rows, int groups = 1, int token_multiple = 1,
                         int slot_multiple = 1);

// `values` [batch * seq_len] (ids, positions, token types) at the packed rows; 0 at dummy rows.
std::vector<int32_t> packed_values(const PackedTokens& packed, const std::vector<int32_t>& values);

}  // namespace zotune
