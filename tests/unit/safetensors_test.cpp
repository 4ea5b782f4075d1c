// safetensors: writer vs the Hugging Face library's bytes, write -> read round trips, sharded
// indexes, dtype conversion on read, and the real MiniLM-L6 file (values read with Python
// `safetensors` and hard-coded).
#include "core/io/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "io_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::fixture_path;
using test::model_path;
using test::read_bytes;
using test::TempDir;
using test::error_of;

template <typename T>
std::vector<T> read_as(const SafetensorsArchive& a, const std::string& name, DType dt) {
  const SafetensorsTensor& t = a.at(name);
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  std::vector<T> out(static_cast<size_t>(n));
  a.read(name, dt, out.data());
  return out;
}

// The tensors of tests/fixtures/safetensors/hf_reference.safetensors (see its generator).
struct ReferenceTensors {
  std::vector<float> embed;
  std::vector<uint16_t> norm, proj;
  std::vector<int64_t> ids{-7, 993, 1993, 2993};
  std::vector<uint8_t> flags{0, 1, 255};
  ReferenceTensors() {
    for (int i = 0; i < 6; ++i) embed.push_back(i * 0.5f - 1.0f);
    for (int i = 0; i < 3; ++i) norm.push_back(f32_to_f16(i * 0.25f - 0.25f));
    for (int i = 0; i < 4; ++i) proj.push_back(f32_to_bf16((i + 0.5f) * (i % 2 ? -1.0f : 1.0f)));
  }
  // Deliberately not in file order: the writer sorts.
  std::vector<SafetensorsEntry> entries() const {
    return {{"norm.bias", "F16", {3}, norm.data()},
            {"embed.weight", "F32", {2, 3}, embed.data()},
            {"flags", "U8", {3}, flags.data()},
            {"proj.weight", "BF16", {2, 2}, proj.data()},
            {"ids", "I64", {4}, ids.data()}};
  }
};

TEST(Safetensors, WriterMatchesHuggingFaceBytes) {
  const std::vector<uint8_t> reference = read_bytes(fixture_path("safetensors/hf_reference.safetensors"));
  ASSERT_FALSE(reference.empty());
  TempDir dir;
  const ReferenceTensors t;
  write_safetensors(dir.file("ours.safetensors"), t.entries(), {{"format", "pt"}});
  EXPECT_EQ(read_bytes(dir.file("ours.safetensors")), reference);
  EXPECT_FALSE(fs::exists(dir.file("ours.safetensors.tmp")));
}

TEST(Safetensors, ReadsHuggingFaceFile) {
  const SafetensorsArchive a = SafetensorsArchive::open(fixture_path("safetensors/hf_reference.safetensors"));
  const ReferenceTensors t;
  EXPECT_EQ(a.names(), (std::vector<std::string>{"embed.weight", "flags", "ids", "norm.bias", "proj.weight"}));
  EXPECT_EQ(a.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(read_as<float>(a, "embed.weight", DType::F32), t.embed);
  EXPECT_EQ(read_as<uint16_t>(a, "norm.bias", DType::F16), t.norm);
  EXPECT_EQ(read_as<uint16_t>(a, "proj.weight", DType::BF16), t.proj);
  EXPECT_EQ(a.read_int("ids"), t.ids);
  EXPECT_EQ(a.read_int("flags"), (std::vector<int64_t>{0, 1, 255}));
  EXPECT_EQ(a.at("embed.weight").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.at("proj.weight").dtype, "BF16");
  EXPECT_EQ(a.at("proj.weight").nbytes, 8u);
}

TEST(Safetensors, RoundTripEveryIntegerWidthAndEmptyTensors) {
  TempDir dir;
  const std::vector<int32_t> i32{-5, 0, 2147483647, -2147483647 - 1};
  const std::vector<int16_t> i16{-32768, 32767};
  const std::vector<int8_t> i8{-128, 127, -1};
  const std::vector<uint16_t> u16{65535, 0};
  const std::vector<uint32_t> u32{4294967295u};
  const std::vector<uint64_t> u64{1, uint64_t{1} << 63};
  const std::vector<uint8_t> flags{1, 0, 1};
  const std::vector<double> f64{1.0 / 3, -1e30, 1e-50};
  const std::string path = dir.file("ints.safetensors");
  write_safetensors(path, {{"i32", "I32", {2, 2}, i32.data()},
                           {"i16", "I16", {2}, i16.data()},
                           {"i8", "I8", {3}, i8.data()},
                           {"u16", "U16", {2}, u16.data()},
                           {"u32", "U32", {1}, u32.data()},
                           {"u64", "U64", {2}, u64.data()},
                           {"mask", "BOOL", {3}, flags.data()},
                           {"f64", "F64", {3}, f64.data()},
                           {"empty", "F32", {0, 4}, nullptr},
                           {"scalar", "I32", {}, i32.data()}});
  const std::vector<uint8_t> bytes = read_bytes(path);
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ(header_len % 8, 0u) << "data section must start 8-byte aligned";

  const SafetensorsArchive a = SafetensorsArchive::open(path);
  EXPECT_TRUE(a.metadata().empty());
  EXPECT_EQ(a.read_int("i32"), (std::vector<int64_t>{-5, 0, 2147483647, -2147483648LL}));
  EXPECT_EQ(a.read_int("i16"), (std::vector<int64_t>{-32768, 32767}));
  EXPECT_EQ(a.read_int("i8"), (std::vector<int64_t>{-128, 127, -1}));
  EXPECT_EQ(a.read_int("u16"), (std::vector<int64_t>{65535, 0}));
  EXPECT_EQ(a.read_int("u32"), (std::vector<int64_t>{4294967295LL}));
  EXPECT_EQ(a.read_int("mask"), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(a.read_int("scalar"), (std::vector<int64_t>{-5}));
  EXPECT_TRUE(a.at("scalar").shape.empty());
  EXPECT_EQ(a.at("empty").nbytes, 0u);
  EXPECT_EQ(a.at("empty").shape, (std::vector<int64_t>{0, 4}));
  const std::string too_big = error_of([&] { a.read_int("u64"); });
  EXPECT_NE(too_big.find("tensor 'u64': element 1 (9223372036854775808) does not fit in int64"), std::string::npos) << too_big;
  // Every tensor sits at a multiple of its element size from the start of the file.
  for (const std::string& name : a.names()) {
    const SafetensorsTensor& t = a.at(name);
    const size_t element = t.dtype == "F64" || t.dtype == "I64" || t.dtype == "U64" ? 8
                           : t.dtype == "I32" || t.dtype == "U32" || t.dtype == "F32" ? 4
                           : t.dtype == "I16" || t.dtype == "U16" ? 2 : 1;
    EXPECT_EQ((t.data - a.at("u64").data) % element, 0) << name;
  }
  const std::vector<float> f = read_as<float>(a, "f64", DType::F32);
  EXPECT_EQ(f, (std::vector<float>{static_cast<float>(1.0 / 3), -1e30f, 0.0f}));
}

TEST(Safetensors, ReadConvertsBetweenFloatDtypes) {
  TempDir dir;
  std::vector<float> f32;
  for (int i = 0; i < 10000; ++i) f32.push_back(std::sin(i * 0.37f) * std::pow(10.0f, static_cast<float>(i % 9 - 4)));
  std::vector<uint16_t> f16(f32.size()), bf16(f32.size());
  convert(f32.data(), DType::F32, f16.data(), DType::F16, f32.size());
  convert(f32.data(), DType::F32, bf16.data(), DType::BF16, f32.size());
  const std::vector<int64_t> shape{100, 100};
  const std::string path = dir.file("floats.safetensors");
  write_safetensors(path, {{"a", safetensors_dtype_name(DType::F32), shape, f32.data()},
                           {"b", safetensors_dtype_name(DType::F16), shape, f16.data()},
                           {"c", safetensors_dtype_name(DType::BF16), shape, bf16.data()}});
  const SafetensorsArchive a = SafetensorsArchive::open(path);
  const std::vector<std::pair<std::string, DType>> stored{{"a", DType::F32}, {"b", DType::F16}, {"c", DType::BF16}};
  const std::vector<const void*> originals{f32.data(), f16.data(), bf16.data()};
  for (size_t s = 0; s < stored.size(); ++s) {
    for (DType out : {DType::F32, DType::F16, DType::BF16}) {
      std::vector<uint8_t> got(f32.size() * dtype_size(out)), want(got.size());
      a.read(stored[s].first, out, got.data());
      convert(originals[s], stored[s].second, want.data(), out, f32.size());
      EXPECT_EQ(got, want) << stored[s].first << " -> " << dtype_name(out);
    }
  }
  const std::string not_float = error_of([&] {
    int64_t x;
    SafetensorsArchive::open(fixture_path("safetensors/hf_reference.safetensors")).read("ids", DType::F32, &x);
  });
  EXPECT_NE(not_float.find("hf_reference.safetensors: tensor 'ids' has integer dtype I64"), std::string::npos) << not_float;
  const std::string not_int = error_of([&] { a.read_int("a"); });
  EXPECT_NE(not_int.find("floats.safetensors: tensor 'a' has floating-point dtype F32"), std::string::npos) << not_int;
  const std::string missing = error_of([&] { a.at("zzz"); });
  EXPECT_NE(missing.find("floats.safetensors: no tensor 'zzz'"), std::string::npos) << missing;
  EXPECT_EQ(a.find("zzz"), nullptr);
}

TEST(Safetensors, WriterReplacesAtomicallyAndValidates) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  const float one = 1.0f, two = 2.0f;
  write_safetensors(path, {{"x", "F32", {1}, &one}});
  write_safetensors(path, {{"x", "F32", {1}, &two}}, {{"step", "2"}});
  const SafetensorsArchive a = SafetensorsArchive::open(path);
  EXPECT_EQ(read_as<float>(a, "x", DType::F32), (std::vector<float>{2.0f}));
  EXPECT_EQ(a.metadata().at("step"), "2");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1) << "no .tmp left behind";

  EXPECT_NE(error_of([&] { write_safetensors(path, {{"x", "F32", {1}, &one}, {"x", "F32", {1}, &one}}); })
                .find("tensor 'x' is given twice"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_safetensors(path, {{"q", "Q4", {1}, &one}}); }).find("tensor 'q': unknown dtype 'Q4'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_safetensors(path, {{"n", "F32", {-1}, &one}}); }).find("tensor 'n': shape [-1] has a negative"),
            std::string::npos);
  const std::string no_dir = error_of([&] { write_safetensors(dir.file("no/such/dir/x.safetensors"), {{"x", "F32", {1}, &one}}); });
  EXPECT_NE(no_dir.find("no/such/dir/x.safetensors: cannot create"), std::string::npos) << no_dir;
  EXPECT_EQ(read_as<float>(SafetensorsArchive::open(path), "x", DType::F32), (std::vector<float>{2.0f})) << "failed writes leave the old file";
}

TEST(Safetensors, ShardedIndexAndDirectories) {
  TempDir dir;
  const std::vector<float> a{1, 2, 3, 4}, b{5, 6};
  const std::vector<uint16_t> c{f32_to_bf16(7.0f)};
  write_safetensors(dir.file("model-00001-of-00002.safetensors"), {{"layer.0.w", "F32", {2, 2}, a.data()}}, {{"format", "pt"}});
  write_safetensors(dir.file("model-00002-of-00002.safetensors"),
                    {{"layer.1.w", "F32", {2}, b.data()}, {"layer.1.b", "BF16", {1}, c.data()}});
  {
    std::ofstream index(dir.file("model.safetensors.index.json"));
    index << R"({"metadata": {"total_size": 26},
                 "weight_map": {"layer.0.w": "model-00001-of-00002.safetensors",
                                "layer.1.w": "model-00002-of-00002.safetensors",
                                "layer.1.b": "model-00002-of-00002.safetensors"}})";
  }
  for (const std::string& path : {dir.file("model.safetensors.index.json"), dir.path().string()}) {
    const SafetensorsArchive s = SafetensorsArchive::open(path);
    EXPECT_EQ(s.names(), (std::vector<std::string>{"layer.0.w", "layer.1.b", "layer.1.w"})) << path;
    EXPECT_EQ(read_as<float>(s, "layer.0.w", DType::F32), a);
    EXPECT_EQ(read_as<float>(s, "layer.1.w", DType::F32), b);
    EXPECT_EQ(read_as<float>(s, "layer.1.b", DType::F32), (std::vector<float>{7.0f}));
    EXPECT_EQ(fs::path(s.at("layer.0.w").file).filename(), "model-00001-of-00002.safetensors");
    EXPECT_EQ(fs::path(s.at("layer.1.b").file).filename(), "model-00002-of-00002.safetensors");
    EXPECT_EQ(s.metadata().at("total_size"), "26");
    EXPECT_EQ(s.metadata().at("format"), "pt");
  }

  // A directory holding model.safetensors prefers it.
  TempDir single;
  write_safetensors(single.file("model.safetensors"), {{"only", "F32", {2}, b.data()}});
  EXPECT_EQ(SafetensorsArchive::open(single.path().string()).names(), (std::vector<std::string>{"only"}));

  TempDir empty;
  const std::string none = error_of([&] { SafetensorsArchive::open(empty.path().string()); });
  EXPECT_NE(none.find("neither model.safetensors nor model.safetensors.index.json"), std::string::npos) << none;
}

// --- the real all-MiniLM-L6-v2 file --------------------------------------------------------

const std::string kMiniLm = "minilm-l6/model.safetensors";

class MiniLmSafetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(model_path(kMiniLm))) GTEST_SKIP() << model_path(kMiniLm) << " not fetched";
  }
};

double sum(const std::vector<float>& v, size_t begin, size_t end) {
  double s = 0;
  for (size_t i = begin; i < end; ++i) s += v[i];
  return s;
}

TEST_F(MiniLmSafetensors, LoadsWithKnownShapesAndValues) {
  const SafetensorsArchive a = SafetensorsArchive::open(model_path("minilm-l6"));  // the directory
  EXPECT_EQ(a.names().size(), 104u);
  EXPECT_EQ(a.metadata().at("format"), "pt");
  const SafetensorsTensor& emb = a.at("embeddings.word_embeddings.weight");
  EXPECT_EQ(emb.dtype, "F32");
  EXPECT_EQ(emb.shape, (std::vector<int64_t>{30522, 384}));
  EXPECT_EQ(a.at("encoder.layer.0.attention.self.query.weight").shape, (std::vector<int64_t>{384, 384}));

  const std::vector<float> w = read_as<float>(a, "embeddings.word_embeddings.weight", DType::F32);
  for (float x : w) ASSERT_TRUE(std::isfinite(x));
  EXPECT_EQ(w[0], -0.019989013671875f);
  EXPECT_EQ(w[1], -0.0034027099609375f);
  EXPECT_EQ(w[2], -0.014678955078125f);
  EXPECT_EQ(w[101 * 384], -0.01761939749121666f);  // [CLS]
  EXPECT_EQ(w[101 * 384 + 2], 0.047105543315410614f);
  EXPECT_NEAR(sum(w, 101 * 384, 102 * 384), 2.1904991320334375, 1e-9);
  EXPECT_NEAR(sum(w, 0, w.size()), 138.05072214923618, 1e-6);

  const std::vector<float> q = read_as<float>(a, "encoder.layer.0.attention.self.query.weight", DType::F32);
  EXPECT_EQ(q[0], -0.1486196219921112f);
  EXPECT_NEAR(sum(q, 0, q.size()), 13.52819408863644, 1e-8);
  const std::vector<float> ln = read_as<float>(a, "encoder.layer.5.output.LayerNorm.bias", DType::F32);
  EXPECT_EQ(ln[1], 0.06616555154323578f);

  std::vector<int64_t> positions(512);
  for (int i = 0; i < 512; ++i) positions[i] = i;
  EXPECT_EQ(a.at("embeddings.position_ids").dtype, "I64");
  EXPECT_EQ(a.read_int("embeddings.position_ids"), positions);

  // bf16 storage rounds each value to nearest even.
  const std::vector<uint16_t> wb = read_as<uint16_t>(a, "embeddings.word_embeddings.weight", DType::BF16);
  EXPECT_EQ(wb[101 * 384 + 2], f32_to_bf16(0.047105543315410614f));
}

}  // namespace
}  // namespace zotune
