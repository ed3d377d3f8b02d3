// Bad model files and wrong shapes give a lapq::Error with the documented
// code (docs/onnx-frontend.md), never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/onnx/onnx_loader.h"
#include "tests/integration/onnx_test_models.h"

namespace lapq {
namespace {

namespace fs = std::filesystem;
using namespace lapq::testing;

class BadInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lapq_onnx_bad_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) { return (dir_ / name).string(); }

  // The code load_onnx throws for `bytes` written to a file, or -1 when it loads.
  int load_code(const std::string& bytes) {
    write_file(path("m.onnx"), bytes);
    try {
      load_onnx(path("m.onnx"));
      return -1;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("m.onnx"), std::string::npos) << e.what();
      return static_cast<int>(e.code());
    }
  }
  fs::path dir_;
};

constexpr int kInvalid = static_cast<int>(ErrorCode::kInvalidModel);

TEST_F(BadInputs, EveryTruncationIsAnInvalidModel) {
  const std::string full = serialize(conv_relu_model());
  ASSERT_EQ(load_code(full), -1);
  for (size_t n = 0; n < full.size(); ++n) {
    ASSERT_EQ(load_code(full.substr(0, n)), kInvalid) << "truncated to " << n << " of " << full.size() << " bytes";
  }
}

TEST_F(BadInputs, TruncatedRealModel) {
  const std::string model = std::string(LAPQ_SHARED_DATA_DIR) + "/cifar10/resnet20.onnx";
  if (!fs::exists(model)) GTEST_SKIP() << "no " << model;
  std::ifstream f(model, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (size_t n : {size_t{1}, size_t{100}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1})
    EXPECT_EQ(load_code(bytes.substr(0, n)), kInvalid) << "truncated to " << n;
}

TEST_F(BadInputs, RandomBytesAreAnInvalidModel) {
  std::mt19937 rng(1234);
  for (size_t size : {1u, 7u, 64u, 1000u, 100000u}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::string bytes(size, '\0');
      for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
      ASSERT_EQ(load_code(bytes), kInvalid) << size << " random bytes, trial " << trial;
    }
  }
}

TEST_F(BadInputs, ZeroLengthFile) {
  write_file(path("empty.onnx"), "");
  try {
    load_onnx(path("empty.onnx"));
    FAIL() << "an empty file loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_EQ(std::string(e.what()), "not a valid ONNX model: " + path("empty.onnx"));
  }
}

TEST_F(BadInputs, UnsupportedOperator) {
  onnx::ModelProto m = conv_relu_model();
  m.mutable_graph()->mutable_node(1)->set_op_type("Foo");
  m.mutable_graph()->mutable_node(1)->set_name("bar");
  write_file(path("foo.onnx"), serialize(m));
  try {
    load_onnx(path("foo.onnx"));
    FAIL() << "a model with an unknown op loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_EQ(std::string(e.what()), "unsupported operator 'Foo' (node 'bar', opset 13)");
  }
}

TEST_F(BadInputs, WrongInputShapeAtPlanCreation) {
  write_file(path("ok.onnx"), serialize(conv_relu_model()));
  Graph g = load_onnx(path("ok.onnx"));
  optimize(g);
  for (Shape bad : {Shape{1, 3, 5, 5}, Shape{1, 2, 5}, Shape{1, 2, 6, 5}}) {
    try {
      Plan plan(g, {bad});
      FAIL() << "planned for " << shape_str(bad);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kShapeMismatch) << e.what();
      EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
    }
  }
  // The symbolic batch accepts any size.
  for (int64_t n : {1, 4}) {
    Plan plan(g, {{n, 2, 5, 5}});
    EXPECT_EQ(plan.run({Tensor(DType::kF32, {n, 2, 5, 5})})[0].shape(), (Shape{n, 3, 5, 5}));
  }
}

}  // namespace
}  // namespace lapq
