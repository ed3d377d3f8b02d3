// The bad-input catalogue (docs/errors.md) end to end: each input, built in
// the test (protobuf models, stb-written images), through the `lapq` binary;
// checks the exit status and the message. Rows already checked elsewhere
// (test_cli, test_onnx_loader, test_image_decode, test_dataset,
// test_qmodel_file, test_limits) are not repeated here.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "../integration/onnx_test_models.h"
#include "engine/error.h"
#include "frontends/image/image.h"
#include "tests/apps/cli_runner.h"

namespace fs = std::filesystem;
using namespace lapq::testing;
using lapq::ErrorCode;

namespace {

int code(ErrorCode c) { return static_cast<int>(c); }

void write_model(const std::string& path, const onnx::ModelProto& m) { write_file(path, serialize(m)); }

// y[N,2] = Flatten(GlobalAveragePool(Conv(x[N,1,8,8], w[2,1,3,3]))), with a
// gray 8x8 sidecar so `lapq` can feed it images. w[0] = `w0`.
onnx::ModelProto tiny_model(float w0) {
  onnx::ModelProto m = make_model(13);
  add_input(m, "x", {-1, 1, 8, 8});
  std::vector<float> w(18);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i % 5) - 0.2f;
  w[0] = w0;
  add_initializer(m, float_tensor("w", {2, 1, 3, 3}, w));
  add_node(m, "Conv", {"x", "w"}, {"c"}, "conv");
  add_node(m, "GlobalAveragePool", {"c"}, {"p"}, "gap");
  add_node(m, "Flatten", {"p"}, {"y"}, "flat");
  add_output(m, "y");
  return m;
}

void write_tiny_model(const std::string& path, float w0) {
  write_model(path, tiny_model(w0));
  std::ofstream(path + ".json") << R"({"input_size": [1, 8, 8], "resize": null, "crop": null,
                                      "mean": [0.5], "std": [0.5], "color": "gray"})";
}

// DIR/a and DIR/b with `n` gray 8x8 PNGs each.
void write_image_folder(const std::string& dir, int n) {
  for (const char* cls : {"a", "b"}) {
    fs::create_directories(fs::path(dir) / cls);
    for (int i = 0; i < n; ++i) {
      lapq::Image img{8, 8, 1, std::vector<uint8_t>(64)};
      for (size_t p = 0; p < img.pixels.size(); ++p) img.pixels[p] = static_cast<uint8_t>(p * 3 + i * 17 + cls[0]);
      lapq::write_image_file((fs::path(dir) / cls / (std::to_string(i) + ".png")).string(), img,
                             lapq::ImageFormat::kPng);
    }
  }
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

// NaN / Inf weights: loading warns (and inference runs), quantizing refuses
// naming the tensor.
TEST(BadInputs, NonFiniteWeightsWarnOnLoadAndQuantizeRefuses) {
  TempDir tmp;
  write_image_folder(tmp.str("calib"), 2);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    SCOPED_TRACE(bad);
    write_tiny_model(tmp.str("nan.onnx"), bad);
    auto r = run_command(lapq_bin() + " info --model " + tmp.str("nan.onnx"));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "lapq: warning: model '" + tmp.str("nan.onnx") +
                                       "' has NaN / Inf weights in 1 tensor(s) ('w')"))
        << r.output;
    r = run_command(lapq_bin() + " quantize --model " + tmp.str("nan.onnx") + " --calib " + tmp.str("calib") +
                    " --calib-size 4 --bits w8a8 --method max --out " + tmp.str("q.lapq"));
    EXPECT_EQ(r.status, code(ErrorCode::kInvalidModel)) << r.output;
    EXPECT_TRUE(contains(r.output, "cannot quantize: tensor 'w' holds 1 NaN / Inf value(s) (of 18)")) << r.output;
    EXPECT_FALSE(fs::exists(tmp.str("q.lapq")));
  }
  // A NaN outside the quantized layers (here a constant added to the logits)
  // would still reach the calibration statistics: refused too.
  onnx::ModelProto k = tiny_model(0.5f);
  k.mutable_graph()->mutable_node(2)->set_output(0, "f");
  add_initializer(k, float_tensor("k", {2}, {0.f, std::numeric_limits<float>::quiet_NaN()}));
  add_node(k, "Add", {"f", "k"}, {"y"}, "add");
  write_model(tmp.str("k.onnx"), k);
  std::filesystem::copy_file(tmp.str("nan.onnx.json"), tmp.str("k.onnx.json"));
  auto r = run_command(lapq_bin() + " quantize --model " + tmp.str("k.onnx") + " --calib " + tmp.str("calib") +
                       " --calib-size 4 --bits w8a8 --method max --out " + tmp.str("q.lapq"));
  EXPECT_EQ(r.status, code(ErrorCode::kInvalidModel)) << r.output;
  EXPECT_TRUE(contains(r.output, "cannot quantize: tensor 'k' holds 1 NaN value(s) (of 2)")) << r.output;
  // The same model with finite weights quantizes (the refusal is about the NaN).
  write_tiny_model(tmp.str("ok.onnx"), 0.5f);
  r = run_command(lapq_bin() + " quantize --model " + tmp.str("ok.onnx") + " --calib " + tmp.str("calib") +
                       " --calib-size 4 --bits w8a8 --method max --out " + tmp.str("q.lapq"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "warning")) << r.output;
}

// A .lapq file with a flipped bit, another version, or --pre: status and message through the CLI.
TEST(BadInputs, QuantizedModelFileErrorsExitWithTheirStatus) {
  TempDir tmp;
  write_image_folder(tmp.str("calib"), 2);
  write_tiny_model(tmp.str("ok.onnx"), 0.5f);
  auto r = run_command(lapq_bin() + " quantize --model " + tmp.str("ok.onnx") + " --calib " + tmp.str("calib") +
                       " --calib-size 4 --bits w8a8 --method max --out " + tmp.str("q.lapq"));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string image = tmp.str("calib/a/0.png");
  r = run_command(lapq_bin() + " classify --model " + tmp.str("q.lapq") + " " + image);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(tmp.str("q.lapq"), std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(good.size(), 100u);
  std::string bad = good;
  bad[good.size() / 2] ^= 0x10;
  write_file(tmp.str("sum.lapq"), bad);
  r = run_command(lapq_bin() + " classify --model " + tmp.str("sum.lapq") + " " + image);
  EXPECT_EQ(r.status, code(ErrorCode::kInvalidModel)) << r.output;
  EXPECT_TRUE(contains(r.output, "checksum") && contains(r.output, tmp.str("sum.lapq"))) << r.output;
  bad = good;
  bad[8] = 7;  // version 7
  write_file(tmp.str("version.lapq"), bad);
  r = run_command(lapq_bin() + " classify --model " + tmp.str("version.lapq") + " " + image);
  EXPECT_EQ(r.status, code(ErrorCode::kInvalidModel)) << r.output;
  EXPECT_TRUE(contains(r.output, "version 7")) << r.output;
  r = run_command(lapq_bin() + " classify --model " + tmp.str("q.lapq") + " --pre crop=4 " + image);
  EXPECT_EQ(r.status, code(ErrorCode::kInvalidArgument)) << r.output;
  EXPECT_TRUE(contains(r.output, "--pre / --labels do not apply")) << r.output;
}

// Non-image files in a data folder are skipped and counted (eval says so);
// a folder with nothing but non-image files is a bad dataset.
TEST(BadInputs, NonImageFilesAreSkippedAndAFolderWithoutImagesIsRefused) {
  TempDir tmp;
  write_tiny_model(tmp.str("m.onnx"), 0.5f);
  write_image_folder(tmp.str("data"), 2);
  std::ofstream(tmp.str("data/a/notes.txt")) << "not an image";
  auto r = run_command(lapq_bin() + " eval --model " + tmp.str("m.onnx") + " --data " + tmp.str("data"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "images   4 (2 classes, some non-image files skipped)")) << r.output;

  fs::create_directories(tmp.path / "txt" / "a");
  std::ofstream(tmp.str("txt/a/readme.md")) << "# no images here";
  r = run_command(lapq_bin() + " eval --model " + tmp.str("m.onnx") + " --data " + tmp.str("txt"));
  EXPECT_EQ(r.status, code(ErrorCode::kBadDataset)) << r.output;
  EXPECT_TRUE(contains(r.output, "has no images")) << r.output;
  // An image-named file that is not an image is a bad image, not skipped.
  std::ofstream(tmp.str("data/b/fake.png")) << "text pretending to be a PNG";
  r = run_command(lapq_bin() + " eval --model " + tmp.str("m.onnx") + " --data " + tmp.str("data"));
  EXPECT_EQ(r.status, code(ErrorCode::kBadImage)) << r.output;
  EXPECT_TRUE(contains(r.output, "fake.png")) << r.output;
}

// Graph-level errors through the CLI: exit status and the named node.
TEST(BadInputs, ModelErrorsExitWithTheirStatus) {
  TempDir tmp;
  struct Case {
    const char* name;
    onnx::ModelProto model;
    ErrorCode code;
    const char* message;
  };
  std::vector<Case> cases;
  {
    onnx::ModelProto m = tiny_model(0.5f);
    m.mutable_opset_import(0)->set_version(19);
    cases.push_back({"opset19", m, ErrorCode::kUnsupported, "uses ONNX opset 19; lapq supports opsets 7..18"});
  }
  {
    onnx::ModelProto m = tiny_model(0.5f);
    m.mutable_opset_import(0)->set_domain("com.example");
    cases.push_back({"nodomain", m, ErrorCode::kInvalidModel, "declares no opset for the default ONNX domain"});
  }
  {
    onnx::ModelProto m = tiny_model(0.5f);
    m.mutable_graph()->mutable_node(1)->set_input(0, "y");  // gap reads flat's output: a cycle
    cases.push_back({"cycle", m, ErrorCode::kInvalidModel, "the graph has a cycle through node 'gap'"});
  }
  {
    onnx::ModelProto m = tiny_model(0.5f);
    m.mutable_graph()->mutable_node(0)->set_input(1, "w_missing");
    cases.push_back({"dangling", m, ErrorCode::kInvalidModel, "reads 'w_missing', which no node, input or"});
  }
  {
    onnx::ModelProto m = tiny_model(0.5f);
    m.mutable_graph()->mutable_initializer(0)->set_dims(1, 3);  // w[2,3,3,3] against a 1-channel input
    m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(2 * 3 * 3 * 3 * 4, '\0'));
    cases.push_back({"channels", m, ErrorCode::kShapeMismatch, "input has 1 channels but weight expects 3"});
  }
  {
    // A 100-byte model asking for 2^40 elements.
    onnx::ModelProto m = make_model(13);
    add_input(m, "x", {1});
    onnx::TensorProto s;
    s.set_name("s");
    s.set_data_type(onnx::TensorProto::INT64);
    s.add_dims(2);
    s.add_int64_data(int64_t{1} << 20);
    s.add_int64_data(int64_t{1} << 20);
    add_initializer(m, s);
    add_node(m, "ConstantOfShape", {"s"}, {"c"}, "huge");
    add_node(m, "Add", {"x", "c"}, {"y"}, "add");
    add_output(m, "y");
    cases.push_back({"huge", m, ErrorCode::kLimit, "ConstantOfShape 'huge'"});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = tmp.str(std::string(c.name) + ".onnx");
    write_model(path, c.model);
    auto r = run_command(lapq_bin() + " info --model " + path);
    EXPECT_EQ(r.status, code(c.code)) << r.output;
    EXPECT_TRUE(contains(r.output, std::string("lapq: error (") + lapq::error_code_name(c.code) + "): "))
        << r.output;
    EXPECT_TRUE(contains(r.output, c.message)) << r.output;
  }
}

// Truncations of a valid model, at a few cut points, through the CLI.
TEST(BadInputs, TruncatedModelExitsInvalidModel) {
  TempDir tmp;
  const std::string full = serialize(tiny_model(0.5f));
  for (size_t n : {size_t{1}, full.size() / 2, full.size() - 1}) {
    write_file(tmp.str("t.onnx"), full.substr(0, n));
    auto r = run_command(lapq_bin() + " info --model " + tmp.str("t.onnx"));
    EXPECT_EQ(r.status, code(ErrorCode::kInvalidModel)) << n << ": " << r.output;
    EXPECT_TRUE(contains(r.output, tmp.str("t.onnx"))) << r.output;
  }
}
