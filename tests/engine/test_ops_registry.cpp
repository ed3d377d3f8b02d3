// The operator table itself and run_reference's contract.
#include <algorithm>

#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

TEST(OpRegistry, HasEveryDocumentedOp) {
  const char* ops[] = {"Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid",
                       "HardSigmoid", "HardSwish", "Add", "Sub", "Mul", "Div", "MaxPool", "AveragePool",
                       "GlobalAveragePool", "GlobalMaxPool", "Flatten", "Reshape", "Concat", "Slice", "Pad",
                       "Transpose", "Squeeze", "Unsqueeze", "Softmax", "LogSoftmax", "Identity", "Dropout", "Shape",
                       "Gather", "ConstantOfShape", "Constant", "Cast", "Range", "Equal", "Where", "Expand",
                       "ReduceMean", "Sqrt", "Neg", "Exp", "Log", "Tanh", "Floor", "Ceil", "Abs", "Min", "Max", "Sum",
                       "Mean", "Erf", "Pow", "Reciprocal", "Round", "Sin", "Cos", "Tan", "Softplus", "Softsign", "Sign",
                       "Elu", "Selu", "ThresholdedRelu", "Not", "Greater", "Less", "GreaterOrEqual", "LessOrEqual",
                       "And", "Or", "Xor", "Mod", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                       "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ArgMax", "ArgMin",
                       "LayerNormalization", "InstanceNormalization", "Split", "Tile", "Size"};
  const OpRegistry& r = OpRegistry::get();
  for (const char* op : ops) {
    const OpSchema* s = r.find(op);
    ASSERT_NE(s, nullptr) << op;
    EXPECT_EQ(s->type, op);
    EXPECT_NE(s->infer, nullptr) << op;
    EXPECT_NE(s->reference, nullptr) << op;
    EXPECT_LE(s->min_inputs, s->max_inputs) << op;
  }
  auto types = r.op_types();
  EXPECT_EQ(types.size(), std::size(ops));
  EXPECT_TRUE(std::is_sorted(types.begin(), types.end()));
  EXPECT_EQ(r.find("NoSuchOp"), nullptr);
  EXPECT_EQ(&OpRegistry::get(), &r);  // built once
}

TEST(OpRegistry, AddRejectsDuplicatesAndIncompleteSchemas) {
  OpRegistry r;
  OpSchema s = *OpRegistry::get().find("Relu");
  r.add(s);
  expect_error([&] { r.add(s); }, ErrorCode::kInternal, {"Relu", "twice"});
  OpSchema bad;
  bad.type = "X";
  expect_error([&] { r.add(bad); }, ErrorCode::kInternal, {"X"});
  ASSERT_NE(r.find_mutable("Relu"), nullptr);
  r.find_mutable("Relu")->fast.push_back({"test", nullptr});
  EXPECT_EQ(r.find("Relu")->fast.size(), s.fast.size() + 1);
}

TEST(OpRegistry, UnknownOpIsUnsupported) {
  expect_error([] { OpTest("FancyOp", 13, "f1").in(ramp({1})).run1(); }, ErrorCode::kUnsupported,
               {"FancyOp", "f1"});
}

TEST(OpRegistry, WhereFallsBackToOutputName) {
  Graph g;
  Node n;
  n.op = "Relu";
  Value out;
  out.name = "relu_out";
  n.outputs.push_back(g.add_value(out));
  g.add_node(n);
  std::vector<const Value*> in;
  std::vector<Value*> outs;
  InferContext ctx{g, g.nodes[0], 0, in, outs};
  EXPECT_EQ(ctx.where(), "Relu 'relu_out'");
}

TEST(OpRegistry, RunReferenceDoesNotApplyFusedActivation) {
  Graph g;
  Value a;
  a.name = "a";
  Value b;
  b.name = "b";
  Value y;
  y.name = "y";
  Node n;
  n.op = "Add";
  n.inputs = {g.add_value(a), g.add_value(b)};
  n.outputs = {g.add_value(y)};
  n.activation.kind = FusedActivation::Kind::kRelu;
  g.add_node(n);
  Tensor ta = f32({2}, {-3, 1}), tb = f32({2}, {1, 1});
  const Tensor* ins[] = {&ta, &tb};
  expect_f32(run_reference(g, 0, ins).at(0), {2}, {-2, 2});
}

TEST(OpRegistry, NormalizeOpsetFormsMarksOnlyLegacySoftmax) {
  Graph g;
  g.opset = 12;
  Node sm;
  sm.op = "Softmax";
  Node relu;
  relu.op = "Relu";
  g.nodes = {sm, relu};
  normalize_opset_forms(g);
  EXPECT_TRUE(g.nodes[0].attrs.has(kLegacyCoerce2dAttr));
  EXPECT_FALSE(g.nodes[1].attrs.has(kLegacyCoerce2dAttr));
  g.opset = 13;
  g.nodes = {sm};
  normalize_opset_forms(g);
  EXPECT_FALSE(g.nodes[0].attrs.has(kLegacyCoerce2dAttr));
}

}  // namespace
}  // namespace lapq::test
