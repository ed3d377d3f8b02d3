// ONNX loader: tensor encodings, external data, constants, attributes,
// symbolic dims, opset / domain / op checks. Models are built in memory with
// the protobuf API (tests/integration/onnx_test_models.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "engine/plan.h"
#include "frontends/onnx/onnx_loader.h"
#include "tests/integration/onnx_test_models.h"

namespace lapq {
namespace {

namespace fs = std::filesystem;
using namespace lapq::testing;

Graph load(const onnx::ModelProto& m, const std::string& base_dir = "") {
  std::string bytes = serialize(m);
  return load_onnx_from_memory(bytes.data(), bytes.size(), "test.onnx", base_dir);
}

// Expects `fn` to throw lapq::Error with `code` and a message containing `part`.
template <class Fn>
void expect_error(Fn fn, ErrorCode code, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown; expected " << error_code_name(code);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "message: " << e.what();
  }
}

// An Identity-free model whose single node reads one initializer: y = x + c.
onnx::ModelProto add_const_model(const onnx::TensorProto& c, int elem_type = onnx::TensorProto::FLOAT) {
  onnx::ModelProto m = make_model();
  add_input(m, "x", {static_cast<int64_t>(c.dims_size() ? c.dims(0) : 1)}, elem_type);
  add_initializer(m, c);
  add_node(m, "Add", {"x", c.name()}, {"y"}, "add");
  add_output(m, "y");
  return m;
}

const Tensor& constant_of(const Graph& g, const std::string& name) {
  int id = g.find_value(name);
  EXPECT_GE(id, 0) << name;
  return g.values.at(id).constant;
}

TEST(OnnxLoader, LoadsConvReluWithSymbolicBatch) {
  Graph g = load(conv_relu_model());
  EXPECT_EQ(g.opset, 13);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[g.inputs[0]].shape, (Shape{-1, 2, 5, 5}));
  EXPECT_TRUE(g.values[g.inputs[0]].has_shape);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, "Conv");
  EXPECT_EQ(g.nodes[0].name, "conv");
  EXPECT_EQ(g.nodes[0].attrs.get_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(constant_of(g, "w").shape(), (Shape{3, 2, 3, 3}));
  EXPECT_FLOAT_EQ(constant_of(g, "b").data<float>()[1], -0.2f);
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.values[g.outputs[0]].name, "y");
}

TEST(OnnxLoader, MissingDimIsSymbolic) {
  onnx::ModelProto m = conv_relu_model();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->Clear();
  Graph g = load(m);
  EXPECT_EQ(g.values[g.inputs[0]].shape, (Shape{-1, 2, 5, 5}));
}

TEST(OnnxLoader, TypedFieldsAndRawDataGiveTheSameValues) {
  const std::vector<float> v = {1.5f, -2.f, 3.25f};
  Graph raw = load(add_const_model(float_tensor("c", {3}, v, true)));
  Graph typed = load(add_const_model(float_tensor("c", {3}, v, false)));
  EXPECT_TRUE(constant_of(raw, "c").equals(constant_of(typed, "c")));
  EXPECT_EQ(constant_of(raw, "c").to_f32(), v);
}

TEST(OnnxLoader, IntegerAndBoolFields) {
  struct Case {
    int elem;
    DType dtype;
  } cases[] = {{onnx::TensorProto::INT8, DType::kI8},   {onnx::TensorProto::UINT8, DType::kU8},
               {onnx::TensorProto::INT16, DType::kI16}, {onnx::TensorProto::INT32, DType::kI32},
               {onnx::TensorProto::BOOL, DType::kBool}};
  for (const Case& c : cases) {
    onnx::TensorProto t;
    t.set_name("c");
    t.set_data_type(c.elem);
    t.add_dims(3);
    for (int x : {0, 1, c.elem == onnx::TensorProto::BOOL ? 1 : 5}) t.add_int32_data(x);
    Graph g = load(add_const_model(t, c.elem));
    const Tensor& k = constant_of(g, "c");
    EXPECT_EQ(k.dtype(), c.dtype) << dtype_name(c.dtype);
    EXPECT_EQ(k.to_i64(), (std::vector<int64_t>{0, 1, c.elem == onnx::TensorProto::BOOL ? 1 : 5}));
  }
  onnx::TensorProto i64;
  i64.set_name("c");
  i64.set_data_type(onnx::TensorProto::INT64);
  i64.add_dims(2);
  i64.add_int64_data(int64_t{1} << 40);
  i64.add_int64_data(-7);
  Graph g = load(add_const_model(i64, onnx::TensorProto::INT64));
  EXPECT_EQ(constant_of(g, "c").to_i64(), (std::vector<int64_t>{int64_t{1} << 40, -7}));

  onnx::TensorProto f64;
  f64.set_name("c");
  f64.set_data_type(onnx::TensorProto::DOUBLE);
  f64.add_dims(2);
  f64.add_double_data(0.1);
  f64.add_double_data(-1e300);
  Graph gd = load(add_const_model(f64, onnx::TensorProto::DOUBLE));
  EXPECT_EQ(constant_of(gd, "c").dtype(), DType::kF64);
  EXPECT_EQ(constant_of(gd, "c").data<double>()[1], -1e300);
}

TEST(OnnxLoader, InputThatIsAlsoAnInitializerIsAConstant) {
  onnx::ModelProto m = conv_relu_model();
  add_input(m, "w", {3, 2, 3, 3});  // listed as an input too (IR < 4 style)
  Graph g = load(m);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[g.inputs[0]].name, "x");
  EXPECT_TRUE(g.values[g.find_value("w")].is_constant());
}

TEST(OnnxLoader, ConstantNodesBecomeConstants) {
  onnx::ModelProto m = make_model();
  add_input(m, "x", {3});
  auto* k = add_node(m, "Constant", {}, {"k"}, "k");
  auto* a = k->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  *a->mutable_t() = float_tensor("", {3}, {1.f, 2.f, 3.f});
  auto* s = add_node(m, "Constant", {}, {"s"}, "s");
  a = s->add_attribute();
  a->set_name("value_float");
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(0.5f);
  auto* v = add_node(m, "Constant", {}, {"v"}, "v");
  a = v->add_attribute();
  a->set_name("value_ints");
  a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(4);
  a->add_ints(-1);
  add_node(m, "Add", {"x", "k"}, {"t"}, "add");
  add_node(m, "Mul", {"t", "s"}, {"y"}, "mul");
  add_output(m, "y");
  add_output(m, "v");
  Graph g = load(m);
  EXPECT_EQ(g.nodes.size(), 2u);  // the Constant nodes are gone
  EXPECT_EQ(constant_of(g, "k").to_f32(), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(constant_of(g, "s").shape(), Shape{});
  EXPECT_EQ(constant_of(g, "s").to_f32(), (std::vector<float>{0.5f}));
  EXPECT_EQ(constant_of(g, "v").dtype(), DType::kI64);
  EXPECT_EQ(constant_of(g, "v").to_i64(), (std::vector<int64_t>{4, -1}));
}

TEST(OnnxLoader, AttributesOfEveryType) {
  onnx::ModelProto m = conv_relu_model();
  auto* relu = m.mutable_graph()->mutable_node(1);
  auto add = [&](const char* name, onnx::AttributeProto::AttributeType type) {
    auto* a = relu->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  };
  add("i", onnx::AttributeProto::INT)->set_i(-5);
  add("f", onnx::AttributeProto::FLOAT)->set_f(2.5f);
  add("s", onnx::AttributeProto::STRING)->set_s("constant");
  auto* ints = add("is", onnx::AttributeProto::INTS);
  ints->add_ints(1);
  ints->add_ints(2);
  auto* floats = add("fs", onnx::AttributeProto::FLOATS);
  floats->add_floats(0.25f);
  *add("t", onnx::AttributeProto::TENSOR)->mutable_t() = float_tensor("", {2}, {7.f, 8.f});
  Graph g = load(m);
  const Attributes& at = g.nodes[1].attrs;
  EXPECT_EQ(at.get_int("i", 0), -5);
  EXPECT_EQ(at.get_float("f", 0), 2.5f);
  EXPECT_EQ(at.get_string("s", ""), "constant");
  EXPECT_EQ(at.get_ints("is"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(at.get_floats("fs"), (std::vector<float>{0.25f}));
  ASSERT_NE(at.get_tensor("t"), nullptr);
  EXPECT_EQ(at.get_tensor("t")->to_f32(), (std::vector<float>{7.f, 8.f}));

  auto* g_attr = add("body", onnx::AttributeProto::GRAPH);
  g_attr->mutable_g()->set_name("sub");
  expect_error([&] { load(m); }, ErrorCode::kUnsupported, "'body'");
}

TEST(OnnxLoader, NodesOutOfOrderAreSorted) {
  onnx::ModelProto m = make_model();
  add_input(m, "x", {4});
  add_node(m, "Relu", {"t"}, {"y"}, "second");
  add_node(m, "Neg", {"x"}, {"t"}, "first");
  add_output(m, "y");
  Graph g = load(m);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].name, "first");
  EXPECT_EQ(g.nodes[1].name, "second");
}

// ---- external data -------------------------------------------------------------------

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lapq_onnx_ext_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "weights");
    // 2 floats of padding, then the 3 values.
    std::vector<float> file = {9.f, 9.f, 1.f, 2.f, 3.f};
    write_file((dir_ / "weights" / "c.bin").string(),
               std::string(reinterpret_cast<const char*>(file.data()), file.size() * sizeof(float)));
  }
  void TearDown() override { fs::remove_all(dir_); }

  onnx::ModelProto model(const std::string& location, const std::string& offset, const std::string& length) {
    onnx::TensorProto t;
    t.set_name("c");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(3);
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto kv = [&](const char* k, const std::string& v) {
      if (v.empty()) return;
      auto* e = t.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    kv("location", location);
    kv("offset", offset);
    kv("length", length);
    return add_const_model(t);
  }

  fs::path dir_;
};

TEST_F(ExternalData, ReadsOffsetAndLength) {
  Graph g = load(model("weights/c.bin", "8", "12"), dir_.string());
  EXPECT_EQ(constant_of(g, "c").to_f32(), (std::vector<float>{1.f, 2.f, 3.f}));
  // Through a file on disk: the model's folder is the base.
  write_file((dir_ / "m.onnx").string(), serialize(model("weights/c.bin", "8", "")));
  Graph h = load_onnx((dir_ / "m.onnx").string());
  EXPECT_EQ(constant_of(h, "c").to_f32(), (std::vector<float>{1.f, 2.f, 3.f}));
}

TEST_F(ExternalData, RefusesPathsOutsideTheModelFolder) {
  expect_error([&] { load(model("../c.bin", "", ""), dir_.string()); }, ErrorCode::kInvalidModel, "leaves the model");
  expect_error([&] { load(model("weights/../../x.bin", "", ""), dir_.string()); }, ErrorCode::kInvalidModel,
               "leaves the model");
  expect_error([&] { load(model((dir_ / "weights/c.bin").string(), "", ""), dir_.string()); },
               ErrorCode::kInvalidModel, "absolute path");
  fs::create_symlink("/etc", dir_ / "etc_link");
  expect_error([&] { load(model("etc_link/hostname", "", ""), dir_.string()); }, ErrorCode::kInvalidModel,
               "outside the model");
}

TEST_F(ExternalData, ChecksSizesBeforeReading) {
  expect_error([&] { load(model("weights/c.bin", "12", "12"), dir_.string()); }, ErrorCode::kInvalidModel,
               "has only 20 bytes");
  expect_error([&] { load(model("weights/c.bin", "0", "8"), dir_.string()); }, ErrorCode::kInvalidModel,
               "needs 12");
  expect_error([&] { load(model("weights/c.bin", "x", ""), dir_.string()); }, ErrorCode::kInvalidModel, "offset");
  expect_error([&] { load(model("weights/missing.bin", "", ""), dir_.string()); }, ErrorCode::kIo,
               "does not exist");
  expect_error([&] { load(model("weights/c.bin", "", ""), ""); }, ErrorCode::kInvalidModel, "without a base folder");
  // Offsets near INT64_MAX are compared, never added (no overflow in the message either).
  expect_error([&] { load(model("weights/c.bin", "9223372036854775807", "12"), dir_.string()); },
               ErrorCode::kInvalidModel, "12 bytes at offset 9223372036854775807 of");
  // A 4 GiB tensor backed by a 20-byte file: refused from the sizes, before allocating 4 GiB.
  onnx::ModelProto big = model("weights/c.bin", "", "");
  big.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 30);
  expect_error([&] { load(big, dir_.string()); }, ErrorCode::kInvalidModel, "has only 20 bytes");
}

// ---- refusals ------------------------------------------------------------------------

TEST(OnnxLoader, DataSizeMustMatchShape) {
  onnx::TensorProto t = float_tensor("c", {3}, {1.f, 2.f});
  expect_error([&] { load(add_const_model(t)); }, ErrorCode::kInvalidModel, "needs 12");
  onnx::TensorProto typed = float_tensor("c", {3}, {1.f, 2.f}, false);
  expect_error([&] { load(add_const_model(typed)); }, ErrorCode::kInvalidModel, "needs 3");
  // 20 bytes claiming 10^12 elements: refused before allocating.
  onnx::TensorProto huge = float_tensor("c", {1000000, 1000000}, {1.f, 2.f, 3.f, 4.f, 5.f});
  expect_error([&] { load(add_const_model(huge)); }, ErrorCode::kLimit, "exceeds");
  onnx::TensorProto negative = float_tensor("c", {-3}, {});
  expect_error([&] { load(add_const_model(negative)); }, ErrorCode::kInvalidModel, "negative");
}

TEST(OnnxLoader, Float16IsUnsupported) {
  onnx::TensorProto t;
  t.set_name("c");
  t.set_data_type(onnx::TensorProto::FLOAT16);
  t.add_dims(1);
  t.add_int32_data(0x3c00);
  expect_error([&] { load(add_const_model(t)); }, ErrorCode::kUnsupported, "float16");
  onnx::ModelProto m = conv_relu_model();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT16);
  expect_error([&] { load(m); }, ErrorCode::kUnsupported, "float16");
}

TEST(OnnxLoader, OpsetRange) {
  for (int opset : {kMinOnnxOpset, kMaxOnnxOpset}) {
    onnx::ModelProto m = conv_relu_model();
    m.mutable_opset_import(0)->set_version(opset);
    EXPECT_EQ(load(m).opset, opset);
  }
  for (int opset : {6, 19}) {
    onnx::ModelProto m = conv_relu_model();
    m.mutable_opset_import(0)->set_version(opset);
    expect_error([&] { load(m); }, ErrorCode::kUnsupported, "opset " + std::to_string(opset));
  }
  onnx::ModelProto ai = conv_relu_model();
  ai.mutable_opset_import(0)->set_domain("ai.onnx");
  EXPECT_EQ(load(ai).opset, 13);
  onnx::ModelProto none = conv_relu_model();
  none.clear_opset_import();
  expect_error([&] { load(none); }, ErrorCode::kInvalidModel, "declares no opset");
}

TEST(OnnxLoader, OtherDomainsAreUnsupported) {
  onnx::ModelProto m = conv_relu_model();
  auto* imp = m.add_opset_import();
  imp->set_domain("com.microsoft");
  imp->set_version(1);
  m.mutable_graph()->mutable_node(1)->set_domain("com.microsoft");
  m.mutable_graph()->mutable_node(1)->set_op_type("FusedRelu");
  expect_error([&] { load(m); }, ErrorCode::kUnsupported, "node 'relu' uses operator 'FusedRelu' of domain 'com.microsoft'");
}

TEST(OnnxLoader, UnsupportedOperatorIsNamed) {
  onnx::ModelProto m = conv_relu_model();
  m.mutable_graph()->mutable_node(1)->set_op_type("Foo");
  m.mutable_graph()->mutable_node(1)->set_name("bar");
  expect_error([&] { load(m); }, ErrorCode::kUnsupported, "unsupported operator 'Foo' (node 'bar', opset 13)");
}

TEST(OnnxLoader, DanglingInputsAndCyclesAreInvalid) {
  onnx::ModelProto dangling = conv_relu_model();
  dangling.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
  expect_error([&] { load(dangling); }, ErrorCode::kInvalidModel, "'nowhere'");
  onnx::ModelProto cycle = make_model();
  add_input(cycle, "x", {2});
  add_node(cycle, "Add", {"x", "b"}, {"a"}, "n1");
  add_node(cycle, "Relu", {"a"}, {"b"}, "n2");
  add_output(cycle, "b");
  expect_error([&] { load(cycle); }, ErrorCode::kInvalidModel, "cycle");
  onnx::ModelProto no_output = conv_relu_model();
  no_output.mutable_graph()->clear_output();
  expect_error([&] { load(no_output); }, ErrorCode::kInvalidModel, "no graph outputs");
  onnx::ModelProto twice = conv_relu_model();
  add_node(twice, "Relu", {"x"}, {"c"}, "again");
  expect_error([&] { load(twice); }, ErrorCode::kInvalidModel, "'c'");
}

TEST(OnnxLoader, MissingFileIsAnIoError) {
  expect_error([] { load_onnx("/nonexistent/model.onnx"); }, ErrorCode::kIo, "/nonexistent/model.onnx");
}

TEST(OnnxLoader, LoadedModelRuns) {
  // Relu(Conv) on a ramp, checked against a direct loop.
  Graph g = load(conv_relu_model());
  Plan plan(std::move(g), {{1, 2, 5, 5}}, PlanOptions{.allow_fast = false});
  Tensor x(DType::kF32, {1, 2, 5, 5});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 11) * 0.1f - 0.4f;
  Tensor y = plan.run({x})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 3, 5, 5}));
  onnx::ModelProto m = conv_relu_model();
  std::string wb = m.graph().initializer(0).raw_data(), bb = m.graph().initializer(1).raw_data();
  const float* w = reinterpret_cast<const float*>(wb.data());
  const float* b = reinterpret_cast<const float*>(bb.data());
  for (int oc = 0; oc < 3; ++oc)
    for (int oh = 0; oh < 5; ++oh)
      for (int ow = 0; ow < 5; ++ow) {
        double acc = b[oc];
        for (int ic = 0; ic < 2; ++ic)
          for (int kh = 0; kh < 3; ++kh)
            for (int kw = 0; kw < 3; ++kw) {
              int ih = oh + kh - 1, iw = ow + kw - 1;
              if (ih < 0 || ih >= 5 || iw < 0 || iw >= 5) continue;
              acc += w[((oc * 2 + ic) * 3 + kh) * 3 + kw] * x.data<float>()[(ic * 5 + ih) * 5 + iw];
            }
        EXPECT_NEAR(y.data<float>()[(oc * 5 + oh) * 5 + ow], std::max(acc, 0.0), 1e-5);
      }
}

}  // namespace
}  // namespace lapq
