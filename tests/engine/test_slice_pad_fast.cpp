// The "copy" fast candidates of Slice and Pad (constant mode; engine/ops/
// slice_pad_gather.cpp) against the reference ops, byte for byte, on awkward
// shapes: every rank 1-5, negative steps, steps > 1 on the innermost dim,
// clamped / negative starts, empty outputs, negative pads (crops), pads on
// one axis (the option-A shortcut), constant values from the attribute and
// from input 2, 1- / 2- / 8-byte dtypes; edge / reflect Pad is declined.
#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "engine/op_registry.h"

namespace lapq {
namespace {

Tensor iota_tensor(DType dt, const Shape& s) {
  Tensor t(dt, s);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    switch (dt) {
      case DType::kF32: t.data<float>()[i] = static_cast<float>(i) * 0.5f - 7.f; break;
      case DType::kU8: t.data<uint8_t>()[i] = static_cast<uint8_t>(i * 7 + 1); break;
      case DType::kI16: t.data<int16_t>()[i] = static_cast<int16_t>(i * 3 - 100); break;
      case DType::kI64: t.data<int64_t>()[i] = i * 1000003 - 5; break;
      default: ADD_FAILURE() << "dtype";
    }
  }
  return t;
}

Tensor i64(std::vector<int64_t> v) { return Tensor::from<int64_t>({static_cast<int64_t>(v.size())}, std::span<const int64_t>(v)); }

struct Result {
  Tensor reference, fast;
  bool created = false;
  std::string why;
};

// One node: input 0 a variable, the others constants (nullptr = omitted).
Result run(const std::string& op, const Attributes& attrs, const Tensor& x, std::vector<const Tensor*> rest) {
  Graph g;
  g.opset = 18;
  Node n;
  n.op = op;
  n.name = "n";
  n.attrs = attrs;
  Value xv;
  xv.name = "x";
  xv.dtype = x.dtype();
  xv.shape = x.shape();
  xv.has_shape = true;
  n.inputs.push_back(g.add_value(std::move(xv)));
  for (size_t i = 0; i < rest.size(); ++i) {
    if (!rest[i]) {
      n.inputs.push_back(-1);
      continue;
    }
    Value c;
    c.name = "c" + std::to_string(i);
    c.constant = rest[i]->clone();
    n.inputs.push_back(g.add_value(std::move(c)));
  }
  Value y;
  y.name = "y";
  n.outputs.push_back(g.add_value(std::move(y)));
  g.add_node(std::move(n));
  std::vector<const Tensor*> in = {&x};
  for (const Tensor* t : rest) in.push_back(t);
  Result r;
  r.reference = run_reference(g, 0, in)[0];
  Value& yv = g.values[g.nodes[0].outputs[0]];
  yv.dtype = r.reference.dtype();
  yv.shape = r.reference.shape();
  yv.has_shape = true;
  const OpSchema* s = OpRegistry::get().find(op);
  const FastCandidate* copy = nullptr;
  for (const FastCandidate& c : s->fast)
    if (c.name == "copy") copy = &c;
  EXPECT_TRUE(copy) << op << " has no 'copy' candidate";
  if (!copy) return r;
  KernelRequest req{.graph = g, .node = g.nodes[0], .num_threads = 2, .in = {}, .out = {&yv}};
  for (int v : g.nodes[0].inputs) req.in.push_back(v >= 0 ? &g.values[v] : nullptr);
  std::unique_ptr<OpKernel> k = copy->create(req, &r.why);
  if (!k) return r;
  r.created = true;
  r.fast = Tensor(yv.dtype, yv.shape);
  Tensor* out[] = {&r.fast};
  k->run(in, out);
  return r;
}

struct SliceCase {
  Shape shape;
  std::vector<int64_t> starts, ends, axes, steps;
};

TEST(SlicePadFast, SliceEqualsReference) {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::vector<SliceCase> cases = {
      {{64, 16, 8, 8}, {0, 0}, {kMax, kMax}, {2, 3}, {2, 2}},  // option-A shortcut: x[:, :, ::2, ::2]
      {{2, 3, 4, 5}, {1}, {3}, {1}, {1}},                       // middle dim, rows below stay contiguous
      {{2, 3, 4, 5}, {-1, 4}, {-kMax, 0}, {3, 2}, {-1, -2}},    // negative steps
      {{7}, {2}, {6}, {0}, {3}},
      {{3, 1, 9}, {0, 0}, {1, 9}, {0, 2}, {1, 1}},
      {{2, 3, 4, 5, 6}, {1, 1, 0}, {3, 5, 6}, {1, 3, 4}, {1, 2, 5}},
      {{4, 6}, {3}, {3}, {1}, {1}},                              // empty output
      {{5, 7}, {-100, 100}, {100, -100}, {0, 1}, {1, -1}},       // clamped
      {{33, 17}, {1, 0}, {32, 17}, {0, 1}, {1, 1}},              // full rows: one copy
  };
  for (DType dt : {DType::kF32, DType::kU8, DType::kI16, DType::kI64})
    for (const SliceCase& c : cases) {
      SCOPED_TRACE(shape_str(c.shape) + " dtype " + dtype_name(dt));
      const Tensor x = iota_tensor(dt, c.shape);
      const Tensor s = i64(c.starts), e = i64(c.ends), a = i64(c.axes), st = i64(c.steps);
      const Result r = run("Slice", {}, x, {&s, &e, &a, &st});
      ASSERT_TRUE(r.created) << r.why;
      EXPECT_TRUE(r.fast.equals(r.reference));
    }
}

struct PadCase {
  Shape shape;
  std::vector<int64_t> pads;
};

TEST(SlicePadFast, ConstantPadEqualsReference) {
  const std::vector<PadCase> cases = {
      {{4, 16, 8, 8}, {0, 8, 0, 0, 0, 8, 0, 0}},     // option-A channel padding
      {{2, 3, 5, 7}, {0, 0, 1, 2, 0, 0, 3, 1}},     // spatial padding
      {{2, 3, 5, 7}, {1, -1, 0, -2, -1, 2, 1, -3}},  // mixed grow / crop
      {{9}, {3, 4}},
      {{3, 4}, {0, 0, 0, 0}},
      {{2, 0, 3}, {0, 1, 1, 0, 2, 1}},               // empty input dim
      {{2, 3, 2, 2, 3}, {1, 0, 1, 0, 1, 0, 1, 1, 0, 2}},
      {{1, 5, 1, 1}, {0, -5, 0, 0, 0, 0, 0, 0}},     // everything cropped away
  };
  for (DType dt : {DType::kF32, DType::kU8, DType::kI64})
    for (const PadCase& c : cases)
      for (int value_from : {0, 1, 2}) {  // none, attribute "value" (opset < 11 form), input 2
        SCOPED_TRACE(shape_str(c.shape) + " dtype " + dtype_name(dt) + " value " + std::to_string(value_from));
        const Tensor x = iota_tensor(dt, c.shape);
        const Tensor pads = i64(c.pads);
        Attributes a;
        if (value_from == 1) a.set("value", 3.f);
        Tensor v = iota_tensor(dt, {});
        const Result r = run("Pad", a, x, {&pads, value_from == 2 ? &v : nullptr});
        ASSERT_TRUE(r.created) << r.why;
        EXPECT_TRUE(r.fast.equals(r.reference));
      }
  // Axes input (opset 18): pad only axis 1.
  const Tensor x = iota_tensor(DType::kF32, {2, 3, 4});
  const Tensor pads = i64({2, 1}), axes = i64({1});
  const Result r = run("Pad", {}, x, {&pads, nullptr, &axes});
  ASSERT_TRUE(r.created) << r.why;
  EXPECT_TRUE(r.fast.equals(r.reference));
  EXPECT_EQ(r.fast.shape(), (Shape{2, 6, 4}));
}

TEST(SlicePadFast, EdgeAndReflectPadAreDeclined) {
  for (const char* mode : {"edge", "reflect"}) {
    Attributes a;
    a.set("mode", std::string(mode));
    const Tensor x = iota_tensor(DType::kF32, {2, 3});
    const Tensor pads = i64({1, 1, 1, 1});
    const Result r = run("Pad", a, x, {&pads});
    EXPECT_FALSE(r.created) << mode;
    EXPECT_NE(r.why.find("constant"), std::string::npos) << r.why;
  }
}

}  // namespace
}  // namespace lapq
