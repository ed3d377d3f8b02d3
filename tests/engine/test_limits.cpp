// Resource limits and checked shape arithmetic, through the real path a user
// file takes: ONNX bytes -> loader -> graph passes (constant folding runs the
// reference ops) -> shape inference. Every overflowing or absurd case must
// end in lapq::Error (kLimit, or the code of a plain inconsistency), never in
// undefined behaviour: the sanitizer suite (tools/test_sanitize.sh) runs this
// file with UBSan, which fails on any signed overflow on the way.
#include <gtest/gtest.h>

#include <climits>
#include <functional>
#include <limits>

#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/onnx/onnx_loader.h"
#include "tests/integration/onnx_test_models.h"

namespace lapq {
namespace {

using namespace lapq::testing;
constexpr int64_t kMax = INT64_MAX;
constexpr int64_t kMin = INT64_MIN;

// Load, optimize (folds constants) and infer shapes with symbolic dims = 1.
Graph load_and_infer(const onnx::ModelProto& m) {
  const std::string bytes = serialize(m);
  Graph g = load_onnx_from_memory(bytes.data(), bytes.size(), "limits.onnx", "");
  optimize(g);
  std::vector<Shape> shapes;
  for (int v : g.inputs) {
    Shape s = g.values[v].shape;
    for (int64_t& d : s) if (d < 0) d = 1;
    shapes.push_back(s);
  }
  infer_shapes(g, shapes);
  return g;
}

// Expects the model to fail with `code` and a message containing `part`.
void expect_error(const onnx::ModelProto& m, ErrorCode code, const std::string& part) {
  try {
    load_and_infer(m);
    ADD_FAILURE() << "loaded; expected " << error_code_name(code) << " with '" << part << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "message: " << e.what();
  }
}

void set_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void set_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void set_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

onnx::TensorProto i64_tensor(const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<int64_t>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t.add_dims(d);
  for (int64_t v : values) t.add_int64_data(v);
  return t;
}
onnx::TensorProto i64_vector(const std::string& name, const std::vector<int64_t>& values) {
  return i64_tensor(name, {static_cast<int64_t>(values.size())}, values);
}

// y = op(x[1,1,4,4]) with the given attributes.
onnx::ModelProto unary_model(const std::string& op, const std::function<void(onnx::NodeProto*)>& attrs,
                             const std::vector<int64_t>& x_shape = {1, 1, 4, 4}) {
  onnx::ModelProto m = make_model(13);
  add_input(m, "x", x_shape);
  attrs(add_node(m, op, {"x"}, {"y"}, "n"));
  add_output(m, "y");
  return m;
}

// y = Conv(x[1,1,4,4], w[1,1,3,3]) with the given attributes (or an empty
// w[0,2,3,3] with `group`).
onnx::ModelProto conv_model(const std::function<void(onnx::NodeProto*)>& attrs, int64_t group = 1) {
  onnx::ModelProto m = make_model(13);
  add_input(m, "x", {1, 1, 4, 4});
  if (group == 1) add_initializer(m, float_tensor("w", {1, 1, 3, 3}, std::vector<float>(9, 1.f)));
  else add_initializer(m, float_tensor("w", {0, 2, 3, 3}, {}));
  auto* n = add_node(m, "Conv", {"x", "w"}, {"y"}, "n");
  if (group != 1) set_int(n, "group", group);
  attrs(n);
  add_output(m, "y");
  return m;
}

// y = op(x[shape], c) where c is an int64 initializer (Reshape shape, Expand
// shape, Tile repeats, ...).
onnx::ModelProto with_i64_input(const std::string& op, const std::vector<int64_t>& x_shape,
                                const std::vector<int64_t>& c) {
  onnx::ModelProto m = make_model(13);
  add_input(m, "x", x_shape);
  add_initializer(m, i64_vector("c", c));
  add_node(m, op, {"x", "c"}, {"y"}, "n");
  add_output(m, "y");
  return m;
}

TEST(Limits, ConvAndPoolWindowArithmetic) {
  // Pads, dilations, strides near INT64_MAX: checked, never wrapped.
  expect_error(conv_model([](auto* n) { set_ints(n, "pads", {kMax, 0, 0, 0}); }), ErrorCode::kLimit, "Conv 'n'");
  expect_error(conv_model([](auto* n) { set_ints(n, "pads", {kMax, 0, kMax, 0}); }), ErrorCode::kLimit, "overflows");
  expect_error(conv_model([](auto* n) { set_ints(n, "dilations", {int64_t{1} << 62, 1}); }), ErrorCode::kLimit,
               "overflows");
  // A dilation that fits but makes the window larger than the padded input.
  expect_error(conv_model([](auto* n) { set_ints(n, "dilations", {int64_t{1} << 40, 1}); }),
               ErrorCode::kShapeMismatch, "kernel extent");
  // A huge stride is fine: one output row.
  Graph g = load_and_infer(conv_model([](auto* n) { set_ints(n, "strides", {kMax, kMax}); }));
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{1, 1, 1, 1}));
  g = load_and_infer(conv_model([](auto* n) {
    set_string(n, "auto_pad", "SAME_UPPER");
    set_ints(n, "strides", {kMax, kMax});
  }));
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{1, 1, 1, 1}));
  // group * weight channels overflows (0 output channels divide by any group).
  expect_error(conv_model([](auto*) {}, kMax), ErrorCode::kLimit, "overflows");

  // Pools: kernel from an attribute.
  expect_error(unary_model("MaxPool", [](auto* n) { set_ints(n, "kernel_shape", {kMax, 1}); }),
               ErrorCode::kShapeMismatch, "kernel extent");
  expect_error(unary_model("MaxPool", [](auto* n) {
                 set_ints(n, "kernel_shape", {2, 2});
                 set_ints(n, "pads", {kMax, 0, 1, 0});
               }),
               ErrorCode::kLimit, "MaxPool 'n'");
  expect_error(unary_model("MaxPool", [](auto* n) {
                 set_ints(n, "kernel_shape", {3, 3});
                 set_ints(n, "dilations", {kMax / 2 + 1, 1});
               }),
               ErrorCode::kLimit, "overflows");
  // ceil_mode with a stride near INT64_MAX: (out - 1) * stride is not formed in int64.
  g = load_and_infer(unary_model("AveragePool", [](auto* n) {
    set_ints(n, "kernel_shape", {2, 2});
    set_ints(n, "strides", {kMax, kMax});
    set_int(n, "ceil_mode", 1);
  }));
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{1, 1, 1, 1}));
  // A 30-byte model asking for a 4096x4096 window over a padded 4x4 input
  // (2^24 outputs x 2^24 window positions): refused, not run for hours.
  expect_error(unary_model("MaxPool", [](auto* n) {
                 set_ints(n, "kernel_shape", {4096, 4096});
                 set_ints(n, "pads", {4095, 4095, 4095, 4095});
               }),
               ErrorCode::kLimit, "window positions");
}

TEST(Limits, ReshapeFlattenSqueezeRank) {
  expect_error(with_i64_input("Reshape", {1, 16}, {int64_t{1} << 40, int64_t{1} << 40}), ErrorCode::kLimit,
               "Reshape 'n'");
  expect_error(with_i64_input("Reshape", {1, 16}, {-1, int64_t{1} << 62, 8}), ErrorCode::kLimit, "overflows");
  expect_error(with_i64_input("Reshape", {1, 16}, {-1, 0, -1}), ErrorCode::kInvalidModel, "more than one -1");
  expect_error(with_i64_input("Reshape", {1, 16}, {kMin}), ErrorCode::kInvalidModel, "invalid dim");
  // -1 next to a zero-sized dim: nothing to divide by.
  expect_error(with_i64_input("Reshape", {2, 0}, {-1, 0}), ErrorCode::kShapeMismatch, "cannot reshape");
  // Rank limit: 40 dims of 1 are 1 element, but no model needs them.
  std::vector<int64_t> ones(40, 1);
  ones[0] = 16;
  expect_error(with_i64_input("Reshape", {1, 16}, ones), ErrorCode::kLimit, "rank 40");
  std::vector<int64_t> axes(32);
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  expect_error(with_i64_input("Unsqueeze", {1, 16}, axes), ErrorCode::kLimit, "rank 34 exceeds");
  // Inputs are checked at load: a declared [2^40, 2^40] input never reaches inference.
  expect_error(unary_model("Relu", [](auto*) {}, {int64_t{1} << 40, int64_t{1} << 40}), ErrorCode::kLimit,
               "graph input 'x'");
}

TEST(Limits, ExpandTileConcatConstantOfShapeRange) {
  expect_error(with_i64_input("Expand", {1, 1}, {int64_t{1} << 31, int64_t{1} << 31}), ErrorCode::kLimit,
               "Expand 'n'");
  expect_error(with_i64_input("Tile", {2, 2}, {int64_t{1} << 62, 4}), ErrorCode::kLimit, "overflows");
  expect_error(with_i64_input("Tile", {2, 2}, {int64_t{1} << 20, int64_t{1} << 20}), ErrorCode::kLimit, "Tile 'n'");
  {
    onnx::ModelProto m = make_model(13);
    add_input(m, "a", {int64_t{1} << 31});
    add_input(m, "b", {int64_t{1} << 31});
    set_int(add_node(m, "Concat", {"a", "b"}, {"y"}, "n"), "axis", 0);
    add_output(m, "y");
    expect_error(m, ErrorCode::kLimit, "Concat 'n'");
  }
  for (int64_t n : {int64_t{1} << 40, int64_t{1} << 31}) {
    // 2^40 elements: above the element limit at inference; 2^31 float32
    // elements: within it, but 8 GiB, above the per-tensor byte limit that
    // constant folding hits before allocating.
    onnx::ModelProto m = make_model(13);
    add_initializer(m, i64_vector("s", {n}));
    add_node(m, "ConstantOfShape", {"s"}, {"y"}, "n");
    add_output(m, "y");
    expect_error(m, ErrorCode::kLimit, n == int64_t{1} << 40 ? "ConstantOfShape 'n'" : "bytes per tensor");
  }
  auto range = [](int64_t start, int64_t limit, int64_t delta) {
    onnx::ModelProto m = make_model(13);
    add_initializer(m, i64_tensor("s", {}, {start}));
    add_initializer(m, i64_tensor("l", {}, {limit}));
    add_initializer(m, i64_tensor("d", {}, {delta}));
    add_node(m, "Range", {"s", "l", "d"}, {"y"}, "n");
    add_output(m, "y");
    return m;
  };
  expect_error(range(kMin, kMax, 1), ErrorCode::kLimit, "Range 'n'");
  expect_error(range(kMax, kMin, -1), ErrorCode::kLimit, "Range 'n'");
  expect_error(range(0, 5, 0), ErrorCode::kInvalidModel, "delta is 0");
  // INT64_MIN .. INT64_MAX in steps of INT64_MAX: three values; i * delta
  // passes INT64_MAX, the values do not.
  Graph g = load_and_infer(range(kMin, kMax, kMax));
  const Tensor& y = g.values[g.outputs[0]].constant;
  ASSERT_EQ(y.shape(), (Shape{3}));
  EXPECT_EQ(y.to_i64(), (std::vector<int64_t>{kMin, -1, kMax - 1}));
  g = load_and_infer(range(kMax, kMin, kMin));
  EXPECT_EQ(g.values[g.outputs[0]].constant.to_i64(), (std::vector<int64_t>{kMax, -1}));
}

// y = Slice(c, starts, ends, axes, steps) with c = [0, 1, 2, 3, 4] constant:
// constant folding runs the reference implementation on the plan.
std::vector<int64_t> fold_slice(int64_t start, int64_t end, int64_t step) {
  onnx::ModelProto m = make_model(13);
  add_initializer(m, i64_vector("c", {0, 1, 2, 3, 4}));
  add_initializer(m, i64_vector("st", {start}));
  add_initializer(m, i64_vector("en", {end}));
  add_initializer(m, i64_vector("ax", {0}));
  add_initializer(m, i64_vector("sp", {step}));
  add_node(m, "Slice", {"c", "st", "en", "ax", "sp"}, {"y"}, "n");
  add_output(m, "y");
  Graph g = load_and_infer(m);
  return g.values[g.outputs[0]].constant.to_i64();
}

TEST(Limits, SliceWithExtremeStartsEndsSteps) {
  using V = std::vector<int64_t>;
  EXPECT_EQ(fold_slice(kMin, kMax, 1), (V{0, 1, 2, 3, 4}));
  EXPECT_EQ(fold_slice(kMin, kMax, kMax), (V{0}));
  EXPECT_EQ(fold_slice(kMax, kMin, -1), (V{4, 3, 2, 1, 0}));
  EXPECT_EQ(fold_slice(kMax, kMin, kMin), (V{4}));
  EXPECT_EQ(fold_slice(1, kMax, 3), (V{1, 4}));
  EXPECT_EQ(fold_slice(kMax, kMax, kMin), (V{}));  // start and end both clamp to the last element
  EXPECT_EQ(fold_slice(kMin, kMin, 1), (V{}));
  EXPECT_EQ(fold_slice(kMin, kMin, kMin), (V{0}));  // start clamps to 0, end to -1
  expect_error(with_i64_input("Slice", {5}, {0}), ErrorCode::kInvalidModel, "starts and ends");
}

TEST(Limits, PadAndGather) {
  auto pad = [](std::vector<int64_t> pads) {
    onnx::ModelProto m = make_model(13);
    add_input(m, "x", {2, 3});
    add_initializer(m, i64_vector("p", pads));
    add_node(m, "Pad", {"x", "p"}, {"y"}, "n");
    add_output(m, "y");
    return m;
  };
  expect_error(pad({kMax, 0, kMax, 0}), ErrorCode::kLimit, "overflows");
  expect_error(pad({kMax - 10, 0, 0, 0}), ErrorCode::kLimit, "Pad 'n'");
  expect_error(pad({kMin, 0, kMax, 0}), ErrorCode::kShapeMismatch, "crop dim 0 of [2,3] below zero");
  expect_error(pad({-3, 0, 0, 0}), ErrorCode::kShapeMismatch, "crop dim 0 of [2,3] below zero");
  Graph g = load_and_infer(pad({-2, 0, 1, 0}));
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{1, 3}));

  for (int64_t index : {kMin, kMax, int64_t{-4}, int64_t{3}}) {
    onnx::ModelProto m = make_model(13);
    add_input(m, "x", {3, 2});
    add_initializer(m, i64_vector("i", {0, index}));
    add_node(m, "Gather", {"x", "i"}, {"y"}, "n");
    add_output(m, "y");
    expect_error(m, ErrorCode::kInvalidModel, "out of range for axis 0 of size 3");
  }
}

// Found by fuzz_onnx_loader (tests/fuzz/corpus/onnx/regression_nan_shape_to_int):
// a float tensor used as shape data (here Pad's pads) holding NaN reached a
// float -> int64 cast, undefined for NaN and out-of-range values.
TEST(Limits, FloatShapeDataConvertsWithoutOverflow) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(Tensor::from<double>({5}, {nan, 1e30, -inf, -2.9, 1e18}).to_i64(),
            (std::vector<int64_t>{0, kMax, kMin, -2, 1000000000000000000}));
  EXPECT_EQ(Tensor::from<float>({2}, {std::numeric_limits<float>::quiet_NaN(), 3e19f}).to_i64(),
            (std::vector<int64_t>{0, kMax}));
  onnx::ModelProto m = make_model(13);
  add_input(m, "x", {2, 3});
  add_initializer(m, float_tensor("p", {4}, {std::numeric_limits<float>::quiet_NaN(), 1e30f, -1e30f, 0.f}));
  add_node(m, "Pad", {"x", "p"}, {"y"}, "n");
  add_output(m, "y");
  expect_error(m, ErrorCode::kShapeMismatch, "crop dim 0 of [2,3] below zero");
}

// ---- loader limits ---------------------------------------------------------

TEST(Limits, GraphSize) {
  // One node over the limit: refused before any node is built.
  onnx::ModelProto m = make_model(13);
  add_input(m, "x", {1});
  auto* nodes = m.mutable_graph()->mutable_node();
  nodes->Reserve(kMaxGraphNodes + 1);
  for (int i = 0; i <= kMaxGraphNodes; ++i) {
    auto* n = nodes->Add();
    n->set_op_type("Relu");
  }
  add_output(m, "x");
  expect_error(m, ErrorCode::kLimit, "1048577 nodes; lapq's limit is 1048576");

  // An ints attribute with more entries than any op needs.
  onnx::ModelProto a = unary_model("Relu", [](onnx::NodeProto* n) {
    set_ints(n, "junk", std::vector<int64_t>(kMaxAttributeElements + 1, 7));
  });
  expect_error(a, ErrorCode::kLimit, "attribute 'junk'");
  // An initializer of rank 33 (one element).
  onnx::ModelProto r = make_model(13);
  add_input(r, "x", {1});
  add_initializer(r, float_tensor("c", std::vector<int64_t>(33, 1), {1.f}));
  add_node(r, "Add", {"x", "c"}, {"y"}, "n");
  add_output(r, "y");
  expect_error(r, ErrorCode::kLimit, "rank 33");
}

// The loader does not recurse into subgraphs (it refuses them); protobuf's
// parser stops at 100 nested messages, so a deeply nested file is invalid
// before lapq sees it, without a stack overflow.
TEST(Limits, NestedSubgraphs) {
  auto nested = [](int depth) {
    onnx::ModelProto m = make_model(13);
    add_input(m, "x", {1});
    onnx::NodeProto* n = add_node(m, "If", {"x"}, {"y"}, "if0");
    for (int i = 0; i < depth; ++i) {
      auto* a = n->add_attribute();
      a->set_name("then_branch");
      a->set_type(onnx::AttributeProto::GRAPH);
      n = a->mutable_g()->add_node();
      n->set_op_type("If");
    }
    add_output(m, "y");
    return m;
  };
  expect_error(nested(3), ErrorCode::kUnsupported, "unsupported operator 'If'");
  expect_error(nested(200), ErrorCode::kInvalidModel, "not a valid ONNX model");
  // A GRAPH attribute on a known op: the attribute type is named.
  onnx::ModelProto g = unary_model("Relu", [](onnx::NodeProto* n) {
    auto* a = n->add_attribute();
    a->set_name("body");
    a->set_type(onnx::AttributeProto::GRAPH);
    a->mutable_g()->set_name("sub");
  });
  expect_error(g, ErrorCode::kUnsupported, "attribute 'body' of node 'n' (Relu) has type GRAPH");
}

TEST(Limits, TensorBytesLimitIsAdjustable) {
  const size_t saved = max_tensor_bytes();
  EXPECT_EQ(saved, kDefaultMaxTensorBytes);
  set_max_tensor_bytes(1000);
  EXPECT_NO_THROW(Tensor(DType::kF32, {250}));
  try {
    Tensor t(DType::kF32, {251});
    ADD_FAILURE() << "allocated 1004 bytes with a 1000-byte limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimit);
    EXPECT_NE(std::string(e.what()).find("needs 1004 bytes, above lapq's limit of 1000"), std::string::npos)
        << e.what();
  }
  set_max_tensor_bytes(saved);
  // An empty tensor with huge other dims: every partial product must fit.
  EXPECT_THROW(shape_numel({0, int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_EQ(shape_numel({0, int64_t{1} << 20, int64_t{1} << 10}), 0);
}

// The activations of a plan together: refused with kLimit before allocating,
// naming the input shape and both byte counts; the default (the machine's
// memory) lets a normal model through.
TEST(Limits, ActivationBytesLimitIsChecked) {
  const size_t saved = max_activation_bytes();
  EXPECT_GT(saved, size_t{1} << 20);
  const Graph g = load_and_infer(conv_model([](auto*) {}));
  EXPECT_NO_THROW(Plan(g, {{1, 1, 4, 4}}));
  set_max_activation_bytes(80);  // x 64 B + y 16 B fit exactly
  EXPECT_NO_THROW(Plan(g, {{1, 1, 4, 4}}));
  set_max_activation_bytes(79);
  try {
    Plan p(g, {{1, 1, 4, 4}});
    ADD_FAILURE() << "planned 80 bytes of activations with a 79-byte limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimit);
    const std::string what = e.what();
    EXPECT_NE(what.find("for input shape [1,1,4,4] need 80 bytes, above lapq's limit of 79 bytes"),
              std::string::npos) << what;
  }
  set_max_activation_bytes(saved);
}

}  // namespace
}  // namespace lapq
