// Graph IR: what to compute. Index-based (values and nodes refer to each other
// by position, no raw pointers), printable one node per line, free of pass or
// plan state (that lives in Plan / pass-local tables).
//
//   Value: name, dtype, shape (-1 = unknown dim), optional constant data,
//          producer node (-1 for graph inputs and constants).
//   Node:  ONNX op type, name, input / output value ids (-1 = an omitted
//          optional input), typed attributes, a fused activation.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/tensor.h"

namespace lapq {

// An attribute value: int, float, string, ints, floats or a tensor.
using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>, Tensor>;

class Attributes {
 public:
  bool has(const std::string& name) const { return map_.count(name) != 0; }
  void set(const std::string& name, AttrValue v) { map_[name] = std::move(v); }
  void erase(const std::string& name) { map_.erase(name); }
  // Typed getters: return `fallback` when absent; throw kInvalidModel when
  // present with another type (the message names the attribute).
  int64_t get_int(const std::string& name, int64_t fallback) const;
  float get_float(const std::string& name, float fallback) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> fallback = {}) const;
  std::vector<float> get_floats(const std::string& name, std::vector<float> fallback = {}) const;
  const Tensor* get_tensor(const std::string& name) const;
  const std::map<std::string, AttrValue>& all() const { return map_; }

 private:
  std::map<std::string, AttrValue> map_;
};

// An activation fused into the node that produces its input (by the
// activation-fusion pass). Applied elementwise to the node's output.
struct FusedActivation {
  enum class Kind : uint8_t { kNone, kRelu, kClip, kLeakyRelu, kSigmoid, kHardSigmoid, kHardSwish };
  Kind kind = Kind::kNone;
  float alpha = 0.f;  // Clip: min; LeakyRelu: slope; HardSigmoid: alpha
  float beta = 0.f;   // Clip: max; HardSigmoid: beta
  float apply(float x) const;
  // In place over n values; one vectorizable loop per kind.
  void apply(float* x, int64_t n) const;
  std::string str() const;
};

struct Value {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;          // may hold -1 (unknown) before shape inference with concrete inputs
  bool has_shape = false;  // false: rank unknown too
  Tensor constant;      // non-empty for initializers and folded constants
  int producer = -1;    // node id, -1 for graph inputs / constants
  bool is_constant() const { return !constant.empty(); }
};

struct Node {
  std::string op;    // ONNX op type, e.g. "Conv"
  std::string name;  // ONNX node name (may be empty; printing falls back to the output name)
  std::vector<int> inputs;
  std::vector<int> outputs;
  Attributes attrs;
  FusedActivation activation;
  // Number of present (non -1) inputs.
  int num_inputs_present() const;
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] >= 0; }
};

class Graph {
 public:
  int opset = 13;        // default-domain opset of the model
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;   // topologically sorted after validate()
  std::vector<int> inputs;   // non-constant graph inputs
  std::vector<int> outputs;

  int add_value(Value v);
  // Adds a node; sets producer of its outputs.
  int add_node(Node n);
  // Value id by name, or -1.
  int find_value(const std::string& name) const;
  const std::string& node_label(int node_id) const;  // name, or first output's name

  // For each value, the ids of the nodes that read it.
  std::vector<std::vector<int>> consumers() const;
  // Checks structure: ids in range, every input produced before use (sorts
  // the nodes topologically if needed), no cycles, each value produced once.
  // Throws kInvalidModel naming the offending node / value.
  void validate_and_sort();
  // Removes nodes marked dead and values nobody references, renumbering ids.
  void compact(const std::vector<bool>& node_dead);

  // One node per line: "%out[1,16,32,32] = Conv(%in, %w) {strides=[1,1]} +relu".
  std::string to_string() const;
};

}  // namespace lapq
