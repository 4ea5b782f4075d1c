// The committed Hugging Face parity fixtures (tests/fixtures/parity, made by
// tests/parity/make_parity_fixtures.py): the case list, the reference batches, and the
// relative error both the CPU parity test and the CUDA engine test compare logits by.
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "core/model/model.h"

namespace zotune::test {

inline std::filesystem::path parity_dir() { return std::filesystem::path(ZOTUNE_FIXTURES_DIR) / "parity"; }

// Every fixture folder with a reference.safetensors, sorted.
inline std::vector<std::string> parity_cases() {
  std::vector<std::string> cases;
  if (std::filesystem::exists(parity_dir()))
    for (const auto& e : std::filesystem::directory_iterator(parity_dir()))
      if (e.is_directory() && std::filesystem::exists(e.path() / "reference.safetensors"))
        cases.push_back(e.path().filename().string());
  std::sort(cases.begin(), cases.end());
  return cases;
}

struct RefBatch {
  Batch batch;
  std::vector<int64_t> valid_rows;  // flat indices of real tokens
};

// Batch `name` ("unpadded", "right", "left") of a reference file.
inline RefBatch read_batch(const SafetensorsArchive& ref, const std::string& name) {
  RefBatch r;
  const SafetensorsTensor& ids = ref.at(name + ".input_ids");
  r.batch.batch = static_cast<int>(ids.shape[0]);
  r.batch.seq_len = static_cast<int>(ids.shape[1]);
  for (int64_t v : ref.read_int(name + ".input_ids")) r.batch.ids.push_back(static_cast<int32_t>(v));
  std::vector<int64_t> mask = ref.read_int(name + ".attention_mask");
  for (size_t i = 0; i < mask.size(); ++i) {
    r.batch.mask.push_back(mask[i] ? 1 : 0);
    if (mask[i]) r.valid_rows.push_back(static_cast<int64_t>(i));
  }
  if (ref.find(name + ".token_type_ids"))
    for (int64_t v : ref.read_int(name + ".token_type_ids")) r.batch.token_types.push_back(static_cast<int32_t>(v));
  return r;
}

inline std::vector<float> read_f32(const SafetensorsArchive& ref, const std::string& name) {
  const SafetensorsTensor& t = ref.at(name);
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  std::vector<float> out(static_cast<size_t>(n));
  ref.read(name, DType::F32, out.data());
  return out;
}

// Relative error ||got - want|| / ||want|| (infinite when got has a non-finite value).
inline double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / den);
}

// Rows `rows` of a [n, width] row-major matrix.
inline std::vector<float> reference_rows(const std::vector<float>& all, const std::vector<int64_t>& rows, int width) {
  std::vector<float> out;
  for (int64_t r : rows) out.insert(out.end(), all.begin() + r * width, all.begin() + (r + 1) * width);
  return out;
}

}  // namespace zotune::test
