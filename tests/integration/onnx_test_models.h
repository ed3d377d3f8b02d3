// Builds small ONNX models in memory with the official protobuf types, for
// the frontend tests (tests link onnx_proto + protobuf themselves).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace lapq::testing {

inline onnx::ModelProto make_model(int opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.mutable_graph()->set_name("test");
  auto* imp = m.add_opset_import();
  imp->set_domain("");
  imp->set_version(opset);
  return m;
}

// dims: -1 = symbolic ("N").
inline void add_input(onnx::ModelProto& m, const std::string& name, const std::vector<int64_t>& dims,
                      int elem_type = onnx::TensorProto::FLOAT) {
  auto* in = m.mutable_graph()->add_input();
  in->set_name(name);
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    if (d < 0) shape->add_dim()->set_dim_param("N");
    else shape->add_dim()->set_dim_value(d);
  }
}

inline void add_output(onnx::ModelProto& m, const std::string& name) {
  auto* out = m.mutable_graph()->add_output();
  out->set_name(name);
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
}

inline onnx::NodeProto* add_node(onnx::ModelProto& m, const std::string& op, const std::vector<std::string>& inputs,
                                 const std::vector<std::string>& outputs, const std::string& name = "") {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

inline onnx::TensorProto float_tensor(const std::string& name, const std::vector<int64_t>& dims,
                                      const std::vector<float>& values, bool raw = true) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  if (raw) {
    t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  } else {
    for (float v : values) t.add_float_data(v);
  }
  return t;
}

inline void add_initializer(onnx::ModelProto& m, const onnx::TensorProto& t) {
  *m.mutable_graph()->add_initializer() = t;
}

inline std::string serialize(const onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// y = Relu(Conv(x[N,2,5,5], w[3,2,3,3], b[3])): a tiny valid model.
inline onnx::ModelProto conv_relu_model() {
  onnx::ModelProto m = make_model();
  add_input(m, "x", {-1, 2, 5, 5});
  std::vector<float> w(3 * 2 * 3 * 3), b = {0.1f, -0.2f, 0.3f};
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i % 7) - 3) * 0.25f;
  add_initializer(m, float_tensor("w", {3, 2, 3, 3}, w));
  add_initializer(m, float_tensor("b", {3}, b));
  auto* conv = add_node(m, "Conv", {"x", "w", "b"}, {"c"}, "conv");
  auto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  add_node(m, "Relu", {"c"}, {"y"}, "relu");
  add_output(m, "y");
  return m;
}

}  // namespace lapq::testing
