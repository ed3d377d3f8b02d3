#include "engine/graph.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <sstream>
#include <unordered_map>

namespace lapq {

namespace {
template <class T>
const T* get_typed(const std::map<std::string, AttrValue>& m, const std::string& name, const char* want) {
  auto it = m.find(name);
  if (it == m.end()) return nullptr;
  const T* p = std::get_if<T>(&it->second);
  LAPQ_CHECK(p, ErrorCode::kInvalidModel, "attribute '", name, "' is not of type ", want);
  return p;
}
}  // namespace

int64_t Attributes::get_int(const std::string& name, int64_t fallback) const {
  auto p = get_typed<int64_t>(map_, name, "int");
  return p ? *p : fallback;
}
float Attributes::get_float(const std::string& name, float fallback) const {
  auto it = map_.find(name);
  if (it != map_.end() && std::holds_alternative<int64_t>(it->second))
    return static_cast<float>(std::get<int64_t>(it->second));
  auto p = get_typed<float>(map_, name, "float");
  return p ? *p : fallback;
}
std::string Attributes::get_string(const std::string& name, const std::string& fallback) const {
  auto p = get_typed<std::string>(map_, name, "string");
  return p ? *p : fallback;
}
std::vector<int64_t> Attributes::get_ints(const std::string& name, std::vector<int64_t> fallback) const {
  auto p = get_typed<std::vector<int64_t>>(map_, name, "ints");
  return p ? *p : fallback;
}
std::vector<float> Attributes::get_floats(const std::string& name, std::vector<float> fallback) const {
  auto p = get_typed<std::vector<float>>(map_, name, "floats");
  return p ? *p : fallback;
}
const Tensor* Attributes::get_tensor(const std::string& name) const {
  return get_typed<Tensor>(map_, name, "tensor");
}

float FusedActivation::apply(float x) const {
  switch (kind) {
    case Kind::kNone: return x;
    case Kind::kRelu: return x > 0.f ? x : 0.f;
    case Kind::kClip: return std::min(std::max(x, alpha), beta);
    case Kind::kLeakyRelu: return x >= 0.f ? x : alpha * x;
    case Kind::kSigmoid: return 1.f / (1.f + std::exp(-x));
    case Kind::kHardSigmoid: return std::max(0.f, std::min(1.f, alpha * x + beta));
    case Kind::kHardSwish: return x * std::max(0.f, std::min(1.f, x / 6.f + 0.5f));
  }
  return x;
}

void FusedActivation::apply(float* x, int64_t n) const {
  const float a = alpha, b = beta;
  switch (kind) {
    case Kind::kNone: return;
    case Kind::kRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.f ? x[i] : 0.f;
      return;
    case Kind::kClip:
      for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], a), b);
      return;
    case Kind::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0.f ? x[i] : a * x[i];
      return;
    default:
      for (int64_t i = 0; i < n; ++i) x[i] = apply(x[i]);
  }
}

std::string FusedActivation::str() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::kNone: return "";
    case Kind::kRelu: return "relu";
    case Kind::kClip: os << "clip(" << alpha << "," << beta << ")"; return os.str();
    case Kind::kLeakyRelu: os << "leaky_relu(" << alpha << ")"; return os.str();
    case Kind::kSigmoid: return "sigmoid";
    case Kind::kHardSigmoid: os << "hard_sigmoid(" << alpha << "," << beta << ")"; return os.str();
    case Kind::kHardSwish: return "hard_swish";
  }
  return "";
}

int Node::num_inputs_present() const {
  return static_cast<int>(std::count_if(inputs.begin(), inputs.end(), [](int v) { return v >= 0; }));
}

int Graph::add_value(Value v) {
  if (v.is_constant()) {  // a constant's shape and dtype are its data's
    v.shape = v.constant.shape();
    v.dtype = v.constant.dtype();
    v.has_shape = true;
  }
  values.push_back(std::move(v));
  return static_cast<int>(values.size()) - 1;
}

int Graph::add_node(Node n) {
  int id = static_cast<int>(nodes.size());
  for (int o : n.outputs) {
    LAPQ_CHECK(o >= 0 && o < static_cast<int>(values.size()), ErrorCode::kInternal, "add_node: bad output id");
    values[o].producer = id;
  }
  nodes.push_back(std::move(n));
  return id;
}

int Graph::find_value(const std::string& n) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == n) return static_cast<int>(i);
  return -1;
}

const std::string& Graph::node_label(int id) const {
  const Node& n = nodes.at(id);
  if (!n.name.empty() || n.outputs.empty()) return n.name;
  return values.at(n.outputs[0]).name;
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> c(values.size());
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int v : nodes[i].inputs)
      if (v >= 0 && (c[v].empty() || c[v].back() != static_cast<int>(i))) c[v].push_back(static_cast<int>(i));
  return c;
}

void Graph::validate_and_sort() {
  const int nv = static_cast<int>(values.size());
  std::vector<int> producer(nv, -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int v : nodes[i].inputs)
      LAPQ_CHECK(v >= -1 && v < nv, ErrorCode::kInvalidModel, "node '", node_label(i), "' has an invalid input id");
    for (int v : nodes[i].outputs) {
      LAPQ_CHECK(v >= 0 && v < nv, ErrorCode::kInvalidModel, "node '", node_label(i), "' has an invalid output id");
      LAPQ_CHECK(producer[v] < 0, ErrorCode::kInvalidModel, "value '", values[v].name,
                 "' is produced by two nodes ('", node_label(producer[v]), "' and '", node_label(i), "')");
      LAPQ_CHECK(!values[v].is_constant(), ErrorCode::kInvalidModel, "value '", values[v].name,
                 "' is both an initializer and the output of node '", node_label(i), "'");
      producer[v] = static_cast<int>(i);
    }
  }
  std::vector<bool> is_input(nv, false);
  for (int v : inputs) is_input[v] = true;
  // Kahn's algorithm; stable (keeps file order among ready nodes).
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> users(nv);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int v : nodes[i].inputs) {
      if (v < 0) continue;
      if (producer[v] >= 0) { ++pending[i]; users[v].push_back(static_cast<int>(i)); continue; }
      LAPQ_CHECK(values[v].is_constant() || is_input[v], ErrorCode::kInvalidModel, "node '", node_label(i),
                 "' (", nodes[i].op, ") reads '", values[v].name, "', which no node, input or initializer provides");
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < nodes.size(); ++i) if (pending[i] == 0) ready.push(static_cast<int>(i));
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.top(); ready.pop();
    order.push_back(i);
    for (int v : nodes[i].outputs)
      for (int u : users[v]) if (--pending[u] == 0) ready.push(u);
  }
  if (order.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i)
      LAPQ_CHECK(pending[i] == 0, ErrorCode::kInvalidModel, "the graph has a cycle through node '", node_label(i),
                 "' (", nodes[i].op, ")");
  }
  for (int v : outputs)
    LAPQ_CHECK(v >= 0 && v < nv && (producer[v] >= 0 || is_input[v] || values[v].is_constant()),
               ErrorCode::kInvalidModel, "graph output '", (v >= 0 && v < nv ? values[v].name : "?"),
               "' is not produced by any node");
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (int i : order) sorted.push_back(std::move(nodes[i]));
  nodes = std::move(sorted);
  for (auto& v : values) v.producer = -1;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int o : nodes[i].outputs) values[o].producer = static_cast<int>(i);
}

void Graph::compact(const std::vector<bool>& node_dead) {
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (i >= node_dead.size() || !node_dead[i]) kept.push_back(std::move(nodes[i]));
  nodes = std::move(kept);
  std::vector<bool> used(values.size(), false);
  for (auto& n : nodes) {
    for (int v : n.inputs) if (v >= 0) used[v] = true;
    for (int v : n.outputs) used[v] = true;
  }
  for (int v : inputs) used[v] = true;
  for (int v : outputs) used[v] = true;
  std::vector<int> remap(values.size(), -1);
  std::vector<Value> nv;
  for (size_t i = 0; i < values.size(); ++i)
    if (used[i]) { remap[i] = static_cast<int>(nv.size()); nv.push_back(std::move(values[i])); }
  values = std::move(nv);
  auto fix = [&](std::vector<int>& ids) { for (int& v : ids) if (v >= 0) v = remap[v]; };
  for (auto& n : nodes) { fix(n.inputs); fix(n.outputs); }
  fix(inputs);
  fix(outputs);
  for (auto& v : values) v.producer = -1;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int o : nodes[i].outputs) values[o].producer = static_cast<int>(i);
}

namespace {
std::string attr_str(const AttrValue& a) {
  std::ostringstream os;
  std::visit([&](const auto& x) {
    using T = std::decay_t<decltype(x)>;
    if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<float>>) {
      os << '[';
      for (size_t i = 0; i < x.size(); ++i) os << (i ? "," : "") << x[i];
      os << ']';
    } else if constexpr (std::is_same_v<T, Tensor>) {
      os << "tensor" << shape_str(x.shape());
    } else if constexpr (std::is_same_v<T, std::string>) {
      os << '"' << x << '"';
    } else {
      os << x;
    }
  }, a);
  return os.str();
}
}  // namespace

std::string Graph::to_string() const {
  std::ostringstream os;
  auto vstr = [&](int v) {
    if (v < 0) return std::string("_");
    const Value& val = values[v];
    std::string s = "%" + val.name;
    if (val.has_shape) s += shape_str(val.shape);
    if (val.is_constant()) s += "(const)";
    return s;
  };
  os << "graph " << name << " (opset " << opset << ")\n";
  for (int v : inputs) os << "  input " << vstr(v) << " " << dtype_name(values[v].dtype) << "\n";
  for (const Node& n : nodes) {
    os << "  ";
    for (size_t i = 0; i < n.outputs.size(); ++i) os << (i ? ", " : "") << vstr(n.outputs[i]);
    os << " = " << n.op << "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << vstr(n.inputs[i]);
    os << ")";
    if (!n.attrs.all().empty()) {
      os << " {";
      bool first = true;
      for (auto& [k, a] : n.attrs.all()) { os << (first ? "" : ", ") << k << "=" << attr_str(a); first = false; }
      os << "}";
    }
    if (n.activation.kind != FusedActivation::Kind::kNone) os << " +" << n.activation.str();
    os << "\n";
  }
  for (int v : outputs) os << "  output " << vstr(v) << "\n";
  return os.str();
}

}  // namespace lapq
