// Every file in tests/fixtures/malformed/ (made by make_malformed.py there) must be rejected
// with a zotune::Error naming the file and the offending tensor or key, both when opened
// from disk and when parsed from memory. Run under -fsanitize=address,undefined this also
// shows the parsers neither crash nor touch memory outside the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "core/io/gguf.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "io_test_util.h"

namespace zotune {
namespace {

using test::fixture_path;
using test::read_bytes;

struct Malformed {
  const char* file;
  std::vector<std::string> expected;  // substrings of the message besides the file name
};

void PrintTo(const Malformed& m, std::ostream* os) { *os << m.file; }

const Malformed kFiles[] = {
    // safetensors
    {"too_short.safetensors", {"5 bytes, too short for the 8-byte header length"}},
    {"truncated.safetensors", {"tensor 'w'", "data_offsets [0, 24] run past the end of the 14-byte data section"}},
    {"header_past_eof.safetensors", {"header length 1000 runs past the end of the 72-byte file"}},
    {"header_garbage.safetensors", {"header is not valid JSON"}},
    {"header_not_object.safetensors", {"header is [1,2,3], expected a JSON object"}},
    {"lying_offsets.safetensors", {"tensor 'embed'", "data_offsets [0, 4096] run past the end of the 64-byte data section"}},
    {"reversed_offsets.safetensors", {"tensor 'b'", "data_offsets [8, 4] end before they begin"}},
    {"overlapping.safetensors", {"tensor 'second'", "overlaps tensor 'first'"}},
    {"unknown_dtype.safetensors", {"tensor 'q'", "unknown dtype 'Q7'"}},
    {"shape_mismatch.safetensors",
     {"tensor 'model.layers.0.mlp.up_proj.weight': data_offsets [0, 96] hold 96 bytes but shape [4, 8] of BF16 needs 64"}},
    {"negative_dim.safetensors", {"tensor 'neg'", "negative dimension -4"}},
    {"metadata_not_string.safetensors", {"\"__metadata__\" key 'epoch'", "expected a string"}},
    {"duplicate_tensor.safetensors", {"tensor 'w' appears twice"}},
    // GGUF
    {"bad_magic.gguf", {"not a GGUF file (magic 'GGML'"}},
    {"version1.gguf", {"GGUF version 1 is not supported"}},
    {"version99.gguf", {"unsupported GGUF version 99"}},
    {"big_endian.gguf", {"big-endian GGUF"}},
    {"truncated_metadata.gguf", {"key 'general.name'", "runs past the end of the file"}},
    {"string_past_eof.gguf", {"key 'general.name'", "length 1000000000", "runs past the end of the file"}},
    {"absurd_array_length.gguf", {"key 'tokenizer.ggml.tokens'", "array of 1152921504606846976 elements"}},
    {"unknown_value_type.gguf", {"key 'general.weird'", "unknown value type 42"}},
    {"duplicate_key.gguf", {"key 'general.name'", "appears more than once"}},
    {"bad_alignment.gguf", {"key 'general.alignment'", "power-of-two"}},
    {"deep_nesting.gguf", {"key 'general.nested'", "nested deeper than"}},
    {"absurd_tensor_count.gguf", {"tensor count 4611686018427387904 cannot fit"}},
    {"tensor_data_past_eof.gguf", {"tensor 'blk.0.attn_q.weight'", "runs past the end of the 40-byte data section"}},
    {"unknown_ggml_type.gguf", {"tensor 'mystery'", "unknown ggml type 77"}},
    {"misaligned_offset.gguf", {"tensor 'b'", "data offset 8 is not a multiple of the alignment 32"}},
    {"zero_dim.gguf", {"tensor 'empty'", "dimension 1 is 0"}},
    {"row_not_block_multiple.gguf", {"tensor 'row'", "not a multiple of Q4_0's block of 32"}},
    {"too_many_dims.gguf", {"tensor 'five_d'", "n_dims 5"}},
    {"overlapping_tensors.gguf", {"tensor 'late'", "overlaps tensor 'early'"}},
};

// Sharded indexes: files only (no from-memory form).
const Malformed kIndexes[] = {
    {"missing_shard.safetensors.index.json", {"shard 'shard_gone.safetensors'", "tensor 'lost'", "is missing"}},
    {"absent_tensor.safetensors.index.json",
     {"tensor 'absent' is listed in shard 'shard_ok.safetensors' but absent from", "shard_ok.safetensors"}},
};

bool is_gguf(const std::string& file) { return file.size() > 5 && file.compare(file.size() - 5, 5, ".gguf") == 0; }

void expect_message(const std::string& message, const std::string& file, const Malformed& m) {
  EXPECT_NE(message.find(file), std::string::npos) << "message does not name " << file << ": " << message;
  for (const std::string& part : m.expected)
    EXPECT_NE(message.find(part), std::string::npos) << "message lacks \"" << part << "\": " << message;
}

std::string open_error(const Malformed& m) {
  const std::string path = fixture_path(std::string("malformed/") + m.file);
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << path << " is missing: run tests/fixtures/malformed/make_malformed.py";
    return "";
  }
  try {
    if (is_gguf(path)) {
      GgufFile::open(path);
    } else {
      SafetensorsArchive::open(path);
    }
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " opened without an error";
  return "";
}

class MalformedFile : public ::testing::TestWithParam<Malformed> {};
class MalformedIndex : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedFile, OpenThrowsErrorNamingFileAndCulprit) {
  expect_message(open_error(GetParam()), GetParam().file, GetParam());
}

TEST_P(MalformedIndex, OpenThrowsErrorNamingFileAndCulprit) {
  expect_message(open_error(GetParam()), GetParam().file, GetParam());
}

TEST_P(MalformedFile, FromMemoryThrowsTheSameError) {
  const Malformed& m = GetParam();
  const std::vector<uint8_t> bytes = read_bytes(fixture_path(std::string("malformed/") + m.file));
  const std::string name = std::string("mem:") + m.file;
  std::string message;
  try {
    if (is_gguf(m.file)) {
      GgufFile::from_memory(bytes.data(), bytes.size(), name);
    } else {
      SafetensorsArchive::from_memory(bytes.data(), bytes.size(), name);
    }
    FAIL() << m.file << " parsed without an error";
  } catch (const Error& e) {
    message = e.what();
  }
  expect_message(message, name, m);
}

std::string test_name(const ::testing::TestParamInfo<Malformed>& info) {
  std::string name = info.param.file;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MalformedFile, ::testing::ValuesIn(kFiles), test_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, MalformedIndex, ::testing::ValuesIn(kIndexes), test_name);

// Bytes of a valid file that its parse depends on: up to the end of the last tensor's data
// (GGUF pads after it to the alignment; those bytes may go).
size_t bytes_needed(const std::string& fixture, const std::vector<uint8_t>& bytes) {
  size_t end = 0;
  if (is_gguf(fixture)) {
    const GgufFile f = GgufFile::from_memory(bytes.data(), bytes.size(), fixture);
    for (const GgufTensor& t : f.tensors()) end = std::max(end, static_cast<size_t>(t.data - bytes.data()) + t.nbytes);
  } else {
    const SafetensorsArchive a = SafetensorsArchive::from_memory(bytes.data(), bytes.size(), fixture);
    for (const std::string& name : a.names())
      end = std::max(end, static_cast<size_t>(a.at(name).data - bytes.data()) + a.at(name).nbytes);
  }
  return end;
}

// Every truncation of a valid file short of its last tensor byte must fail cleanly.
TEST(MalformedTruncation, EveryPrefixShortOfTheLastTensorByteIsRejected) {
  for (const char* fixture : {"gguf/tiny.gguf", "safetensors/hf_reference.safetensors"}) {
    const std::vector<uint8_t> bytes = read_bytes(fixture_path(fixture));
    ASSERT_FALSE(bytes.empty()) << fixture;
    const size_t needed = bytes_needed(fixture, bytes);
    ASSERT_GT(needed, 0u);
    for (size_t n = 0; n < needed; ++n) {
      // A copy of exactly n bytes, so AddressSanitizer catches any read beyond them.
      const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      const std::string name = std::string(fixture) + "[:" + std::to_string(n) + "]";
      try {
        if (is_gguf(fixture)) {
          GgufFile::from_memory(prefix.data(), prefix.size(), name);
        } else {
          SafetensorsArchive::from_memory(prefix.data(), prefix.size(), name);
        }
        ADD_FAILURE() << name << " parsed";
      } catch (const Error& e) {
        ASSERT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace zotune
