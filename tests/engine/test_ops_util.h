// Test helpers for the operator tests: build a one-node graph, run the
// reference implementation (through run_reference, i.e. with shape
// inference), compare results.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/op_registry.h"

namespace lapq::test {

class OpTest {
 public:
  explicit OpTest(std::string op, int opset = 13, std::string name = "node0") {
    graph_.opset = opset;
    node_.op = std::move(op);
    node_.name = std::move(name);
  }
  // Appends an input (its data is also what inference sees as constant).
  OpTest& in(Tensor t) {
    Value v;
    v.name = "in" + std::to_string(node_.inputs.size());
    v.dtype = t.dtype();
    v.shape = t.shape();
    v.has_shape = true;
    node_.inputs.push_back(graph_.add_value(v));
    inputs_.push_back(std::move(t));
    present_.push_back(true);
    return *this;
  }
  // Appends an omitted optional input.
  OpTest& none() {
    node_.inputs.push_back(-1);
    inputs_.emplace_back();
    present_.push_back(false);
    return *this;
  }
  OpTest& attr(const std::string& k, AttrValue v) {
    node_.attrs.set(k, std::move(v));
    return *this;
  }
  OpTest& outputs(int n) {
    num_outputs_ = n;
    return *this;
  }
  std::vector<Tensor> run() {
    Graph g = graph_;
    Node n = node_;
    for (int i = 0; i < num_outputs_; ++i) {
      Value v;
      v.name = "out" + std::to_string(i);
      n.outputs.push_back(g.add_value(v));
    }
    g.add_node(n);
    normalize_opset_forms(g);
    std::vector<const Tensor*> ptrs;
    for (size_t i = 0; i < inputs_.size(); ++i) ptrs.push_back(present_[i] ? &inputs_[i] : nullptr);
    return run_reference(g, 0, ptrs);
  }
  Tensor run1() { return run().at(0); }

  // Shape inference only, with the given input values (shapes may hold -1,
  // constants may be absent). Returns the output values.
  static std::vector<Value> infer(const std::string& op, const std::vector<Value>& ins, const Attributes& attrs = {},
                                  int num_outputs = 1, int opset = 13) {
    Graph g;
    g.opset = opset;
    Node n;
    n.op = op;
    n.name = "node0";
    n.attrs = attrs;
    std::vector<const Value*> in_ptrs;
    for (const Value& v : ins) in_ptrs.push_back(&v);
    std::vector<Value> outs(num_outputs);
    std::vector<Value*> out_ptrs;
    for (Value& v : outs) out_ptrs.push_back(&v);
    InferContext ctx{g, n, 0, in_ptrs, out_ptrs};
    const OpSchema* s = OpRegistry::get().find(op);
    if (!s) throw Error(ErrorCode::kUnsupported, "no op " + op);
    s->infer(ctx);
    return outs;
  }

 private:
  Graph graph_;
  Node node_;
  std::vector<Tensor> inputs_;
  std::vector<bool> present_;
  int num_outputs_ = 1;
};

inline Value shaped(Shape s, DType t = DType::kF32) {
  Value v;
  v.name = "x";
  v.dtype = t;
  v.shape = std::move(s);
  v.has_shape = true;
  return v;
}
inline Value constant(Tensor t) {
  Value v = shaped(t.shape(), t.dtype());
  v.constant = std::move(t);
  return v;
}

inline Tensor f32(Shape s, std::vector<float> v) { return Tensor::from<float>(std::move(s), std::span<const float>(v)); }
inline Tensor i64(Shape s, std::vector<int64_t> v) {
  return Tensor::from<int64_t>(std::move(s), std::span<const int64_t>(v));
}
inline Tensor i32(Shape s, std::vector<int32_t> v) {
  return Tensor::from<int32_t>(std::move(s), std::span<const int32_t>(v));
}
inline Tensor boolean(Shape s, std::vector<int> v) {
  Tensor t(DType::kBool, std::move(s));
  for (size_t i = 0; i < v.size(); ++i) t.data<bool>()[i] = v[i] != 0;
  return t;
}
// Deterministic pseudo-random floats in [-1, 1) (no <random> state to share).
inline Tensor ramp(Shape s, uint32_t seed = 1) {
  Tensor t(DType::kF32, std::move(s));
  uint32_t x = seed * 2654435761u + 12345u;
  for (float& v : t.span<float>()) {
    x = x * 1664525u + 1013904223u;
    v = static_cast<float>(x >> 8) / static_cast<float>(1u << 23) - 1.f;
  }
  return t;
}

// Shape equal and every element within `tol` (absolute + relative).
inline void expect_near(const Tensor& got, const Tensor& want, float tol = 1e-5f) {
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(shape_str(got.shape()), shape_str(want.shape()));
  auto g = got.to_f32(), w = want.to_f32();
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], w[i], tol * (1.f + std::fabs(w[i]))) << "at flat index " << i;
}
inline void expect_f32(const Tensor& got, Shape shape, std::vector<float> want, float tol = 1e-5f) {
  expect_near(got, f32(std::move(shape), std::move(want)), tol);
}
// Exact comparison (integers, bools, data movement).
inline void expect_exact(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(shape_str(got.shape()), shape_str(want.shape()));
  EXPECT_TRUE(got.equals(want));
  if (!got.equals(want) && got.dtype() != DType::kF16) {
    auto g = got.to_i64(), w = want.to_i64();
    for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i], w[i]) << "at flat index " << i;
  }
}

// Expects fn() to throw lapq::Error with `code` and a message containing
// every string of `parts`.
template <class Fn>
void expect_error(Fn&& fn, ErrorCode code, std::vector<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected lapq::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

}  // namespace lapq::test
