// ONNX QDQ export and import: export -> import gives back the same quantized
// network (identical config grids, bit-identical logits) on the random
// ResNet-style graph (every bit width / grid / granularity / BN form the
// executor supports without bias correction) and on the embedded model
// quantized W8A8 (deploy); malformed QDQ is a clear lapq::Error.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "api/quantize.h"
#include "engine/error.h"
#include "quant/qdq_export.h"
#include "quant/qdq_import.h"
#include "tests/quant/test_quantized_network_util.h"

namespace lapq::quant {
namespace {

using testing::all_variants;
using testing::make_config;
using testing::make_resnet;
using testing::random_input;
using testing::Variant;

const Shape kShape{3, 3, 10, 10};

void expect_same_grids(const QuantConfig& a, const QuantConfig& b, const std::string& what) {
  ASSERT_EQ(a.weights.size(), b.weights.size()) << what;
  for (size_t i = 0; i < a.weights.size(); ++i) {
    const WeightQuant &x = a.weights[i], &y = b.weights[i];
    EXPECT_EQ(x.node_name, y.node_name) << what;
    EXPECT_EQ(x.bits, y.bits) << what << " " << x.node_name;
    EXPECT_EQ(x.grid, y.grid) << what << " " << x.node_name;
    EXPECT_EQ(x.per_channel, y.per_channel) << what << " " << x.node_name;
    ASSERT_EQ(x.alpha.size(), y.alpha.size()) << what << " " << x.node_name;
    for (size_t c = 0; c < x.alpha.size(); ++c)  // the same step (alpha may differ by an ulp with the same step)
      EXPECT_EQ(int_params(make_grid(x.grid, x.alpha[c], x.bits)).scale,
                int_params(make_grid(y.grid, y.alpha[c], y.bits)).scale)
          << what << " " << x.node_name << " channel " << c;
  }
  ASSERT_EQ(a.acts.size(), b.acts.size()) << what;
  for (size_t j = 0; j < a.acts.size(); ++j) {
    const ActQuant &x = a.acts[j], &y = b.acts[j];
    EXPECT_EQ(x.bits, y.bits) << what << " " << x.value_name;
    const auto grid = [](const ActQuant& q) {
      return q.grid == GridKind::kUnsigned ? make_unsigned_grid(q.alpha, q.bits)
                                           : make_asymmetric_grid(q.lo, q.alpha, q.bits);
    };
    const IntParams px = int_params(grid(x)), py = int_params(grid(y));
    EXPECT_EQ(px.scale, py.scale) << what << " " << x.value_name;
    EXPECT_EQ(px.zero_point, py.zero_point) << what << " " << x.value_name;
    EXPECT_EQ(px.code_max, py.code_max) << what << " " << x.value_name;
  }
}

TEST(Qdq, RandomResNetRoundTripIsBitIdentical) {
  const Tensor calib = random_input(kShape, 1), x = random_input(kShape, 2);
  int tested = 0;
  for (Variant v : all_variants()) {
    if (v.bias_correction) continue;  // not expressible in QDQ (tested below)
    for (bool paper : {false, true}) {
      v.quantize_input = !paper;
      const Graph g = make_resnet(v.fold_bn);
      const QuantConfig cfg = make_config(g, v, calib);
      QdqExportOptions o;
      o.int32_bias = false;  // the FP32 bias as it is: exact
      const std::string bytes = export_qdq(g, cfg, o);
      const QdqImport r = import_qdq_from_memory(bytes, v.str());
      expect_same_grids(cfg, r.file.config, v.str());
      QuantizedNetwork a(g, cfg, kShape, 1), b(r.graph, r.file.config, kShape, 1);
      EXPECT_TRUE(a.forward(x).equals(b.forward(x))) << v.str() << "\n" << r.summary;
      ++tested;
    }
  }
  EXPECT_EQ(tested, 32);
}

TEST(Qdq, BiasCorrectionIsRefusedNamingTheLayer) {
  Variant v;
  v.bias_correction = true;
  const Graph g = make_resnet(false);
  const QuantConfig cfg = make_config(g, v, random_input(kShape, 1));
  try {
    export_qdq(g, cfg);
    FAIL() << "exported a bias-corrected layer";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("'stem'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bias correction"), std::string::npos) << e.what();
  }
}

// int32 bias (ONNX Runtime's fused form): the grids come back; the bias is
// rounded to s_in*s_w, so the logits are close, not identical.
TEST(Qdq, Int32BiasKeepsGridsAndRoundsTheBias) {
  Variant v;
  v.wgrid = GridKind::kSymmetric;
  v.fold_bn = true;
  v.per_channel = true;
  const Graph g = make_resnet(true);
  const Tensor calib = random_input(kShape, 1), x = random_input(kShape, 2);
  const QuantConfig cfg = make_config(g, v, calib);
  const std::string bytes = export_qdq(g, cfg);
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(bytes));
  int int32_bias = 0;
  for (const auto& t : m.graph().initializer()) int32_bias += t.data_type() == onnx::TensorProto::INT32;
  EXPECT_EQ(int32_bias, 8);  // the 7 convs and the FC have a bias and a quantized input
  const QdqImport r = import_qdq_from_memory(bytes, "int32 bias");
  expect_same_grids(cfg, r.file.config, "int32 bias");
  QuantizedNetwork a(g, cfg, kShape, 1), b(r.graph, r.file.config, kShape, 1);
  const Tensor la = a.forward(x), lb = b.forward(x);
  float range = 0.f, diff = 0.f;
  for (int64_t i = 0; i < la.numel(); ++i) {
    range = std::max(range, std::fabs(la.data<float>()[i]));
    diff = std::max(diff, std::fabs(la.data<float>()[i] - lb.data<float>()[i]));
  }
  // A bias error of at most s_in*s_w/2 is ~1/255 of an output step: at most a few codes flip.
  EXPECT_LT(diff, 0.05f * range);
}

int count_nodes(const std::string& bytes, const std::string& op) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  int n = 0;
  for (const auto& node : m.graph().node()) n += node.op_type() == op;
  return n;
}

// quantize_layer_outputs (the form ORT runs fully on int8): the three FP32 conv
// outputs that feed residual adds get 8-bit grids fitted on the calibration
// batch; the import runs that more quantized model, close to the original.
TEST(Qdq, QuantizedLayerOutputsForOrt) {
  Variant v;
  v.wgrid = GridKind::kSymmetric;
  v.fold_bn = true;
  const Graph g = make_resnet(true);
  const Tensor calib = random_input(kShape, 1), x = random_input(kShape, 2);
  const QuantConfig cfg = make_config(g, v, calib);
  QdqExportOptions o;
  o.quantize_layer_outputs = true;
  try {
    export_qdq(g, cfg, o);
    FAIL() << "exported without calibration inputs";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("calibration"), std::string::npos) << e.what();
  }
  o.calib = {calib};
  const std::string bytes = export_qdq(g, cfg, o);
  EXPECT_EQ(count_nodes(bytes, "QuantizeLinear"), static_cast<int>(cfg.acts.size()) + 3);
  const QdqImport r = import_qdq_from_memory(bytes, "layer outputs");
  ASSERT_EQ(r.file.config.acts.size(), cfg.acts.size() + 3);
  for (const char* name : {"b1.conv2_out", "b2.conv2_out", "b2.proj_out"}) {
    const auto it = std::find_if(r.file.config.acts.begin(), r.file.config.acts.end(),
                                 [&](const ActQuant& a) { return a.value_name == name; });
    ASSERT_NE(it, r.file.config.acts.end()) << name;
    EXPECT_EQ(it->bits, 8);
  }
  QuantizedNetwork a(g, cfg, kShape, 1), b(r.graph, r.file.config, kShape, 1);
  const Tensor la = a.forward(x), lb = b.forward(x);
  float range = 0.f, diff = 0.f;
  for (int64_t i = 0; i < la.numel(); ++i) {
    range = std::max(range, std::fabs(la.data<float>()[i]));
    diff = std::max(diff, std::fabs(la.data<float>()[i] - lb.data<float>()[i]));
  }
  EXPECT_GT(diff, 0.f);            // a different (more quantized) model
  EXPECT_LT(diff, 0.05f * range);  // three more 8-bit roundings: close
}

// The embedded model quantized W8A8 with the deploy preset (max clipping, random calibration).
TEST(Qdq, EmbeddedModelW8A8RoundTripIsBitIdentical) {
  ModelOptions mo;
  mo.num_threads = 1;
  Model fp32 = Model::load(std::string(LAPQ_SOURCE_DIR) + "/models/fashion_resnet.onnx", mo);
  for (bool per_channel : {false, true}) {
    QuantizeOptions o;
    o.preset.bits = {8, 8};
    o.preset.per_channel = per_channel;
    o.lapq.method = InitMethod::kMax;
    o.lapq.quiet = true;
    o.lapq.num_threads = 1;
    const Tensor calib = random_input({32, 1, 28, 28}, 5);
    o.lapq.objective = Objective::kKl;  // unlabelled calibration images
    o.calib = make_calibration(calib, std::vector<int>(32, -1), 16);
    QuantizedModel qm = quantize(fp32, o);
    QdqExportOptions eo;
    eo.int32_bias = false;
    const QdqImport r = import_qdq_from_memory(export_qdq(qm.graph(), qm.config(), eo), "fashion_resnet");
    expect_same_grids(qm.config(), r.file.config, "fashion_resnet");
    QuantizedModel back(r.file, r.graph, "fashion_resnet.qdq", 1);
    const Tensor x = random_input({4, 1, 28, 28}, 9);
    EXPECT_TRUE(qm.forward(x).equals(back.forward(x))) << r.summary;
  }
}

// ---- malformed QDQ ----------------------------------------------------------------

// x[1,2,4,4] -> Q -> DQ -> Conv(DQ(w int8 [3,2,1,1])) -> y
struct TinyQdq {
  onnx::ModelProto m;
  onnx::TensorProto* w_scale = nullptr;
  onnx::TensorProto* w_zp = nullptr;
  onnx::TensorProto* a_scale = nullptr;
  onnx::NodeProto* w_dq = nullptr;
  TinyQdq() {
    m.set_ir_version(7);
    auto* imp = m.add_opset_import();
    imp->set_version(13);
    auto* g = m.mutable_graph();
    auto* in = g->add_input();
    in->set_name("x");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int d : {1, 2, 4, 4}) tt->mutable_shape()->add_dim()->set_dim_value(d);
    auto* w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::INT8);
    for (int d : {3, 2, 1, 1}) w->add_dims(d);
    w->set_raw_data(std::string("\x01\x02\x03\xfd\x05\x7f", 6));
    w_scale = scalar("w_scale", 0.5f);
    w_zp = g->add_initializer();
    w_zp->set_name("w_zp");
    w_zp->set_data_type(onnx::TensorProto::INT8);
    w_zp->set_raw_data(std::string(1, '\0'));
    a_scale = scalar("a_scale", 0.1f);
    auto* a_zp = g->add_initializer();
    a_zp->set_name("a_zp");
    a_zp->set_data_type(onnx::TensorProto::UINT8);
    a_zp->set_raw_data(std::string(1, '\x80'));
    node("QuantizeLinear", {"x", "a_scale", "a_zp"}, "xq");
    node("DequantizeLinear", {"xq", "a_scale", "a_zp"}, "xdq");
    w_dq = node("DequantizeLinear", {"w", "w_scale", "w_zp"}, "wdq");
    node("Conv", {"xdq", "wdq"}, "y");
    auto* out = g->add_output();
    out->set_name("y");
    out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  onnx::TensorProto* scalar(const std::string& name, float v) {
    auto* t = m.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(v);
    return t;
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = m.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (auto& s : in) n->add_input(s);
    n->add_output(out);
    return n;
  }
  std::string bytes() const {
    std::string s;
    m.SerializeToString(&s);
    return s;
  }
};

// PyTorch's export of fake-quantized modules: weights as QuantizeLinear(float
// initializer, per-channel scale) -> DequantizeLinear; activation codes restricted by a
// Clip on the codes (7-bit: 0..127); zero points shared through Identity nodes.
// x[1,2,4,4] -> Q -> Clip -> DQ -> Conv 1x1 (3 out) + Relu -> Q -> Clip -> DQ -> y
TEST(Qdq, PyTorchStyleRunsOnIntegerKernels) {
  TinyQdq t;
  auto* g = t.m.mutable_graph();
  g->clear_node();
  auto* wf = g->add_initializer();
  wf->set_name("wf");
  wf->set_data_type(onnx::TensorProto::FLOAT);
  for (int d : {3, 2, 1, 1}) wf->add_dims(d);
  const float wv[6] = {0.5f, -0.25f, 0.125f, 0.9f, -0.7f, 0.3f};
  for (float v : wv) wf->add_float_data(v);
  auto* ws = g->add_initializer();
  ws->set_name("wf_scale");
  ws->set_data_type(onnx::TensorProto::FLOAT);
  ws->add_dims(3);
  for (float v : {0.5f / 127, 0.9f / 127, 0.7f / 127}) ws->add_float_data(v);
  auto* wz = g->add_initializer();
  wz->set_name("wf_zp");
  wz->set_data_type(onnx::TensorProto::INT8);
  wz->add_dims(3);
  wz->set_raw_data(std::string(3, '\0'));
  auto* hi = g->add_initializer();
  hi->set_name("code_hi");
  hi->set_data_type(onnx::TensorProto::UINT8);
  hi->set_raw_data(std::string(1, '\x7f'));
  for (auto& init : *g->mutable_initializer())
    if (init.name() == "a_zp") init.set_raw_data(std::string(1, '\x40'));  // zero point 64, inside 0..127
  t.node("Identity", {"a_zp"}, "a_zp_shared");
  t.node("QuantizeLinear", {"x", "a_scale", "a_zp_shared"}, "xq");
  t.node("Clip", {"xq", "", "code_hi"}, "xqc");
  t.node("DequantizeLinear", {"xqc", "a_scale", "a_zp_shared"}, "xdq");
  onnx::AttributeProto axis0;
  axis0.set_name("axis");
  axis0.set_type(onnx::AttributeProto::INT);
  axis0.set_i(0);
  *t.node("QuantizeLinear", {"wf", "wf_scale", "wf_zp"}, "wq")->add_attribute() = axis0;
  *t.node("DequantizeLinear", {"wq", "wf_scale", "wf_zp"}, "wdq")->add_attribute() = axis0;
  t.node("Conv", {"xdq", "wdq"}, "conv");
  t.node("Relu", {"conv"}, "relu");
  t.scalar("y_scale", 0.02f);
  auto* yz = g->add_initializer();
  yz->set_name("y_zp");
  yz->set_data_type(onnx::TensorProto::UINT8);
  yz->set_raw_data(std::string(1, '\0'));
  t.node("QuantizeLinear", {"relu", "y_scale", "y_zp"}, "yq");
  t.node("Clip", {"yq", "", "code_hi"}, "yqc");
  t.node("DequantizeLinear", {"yqc", "y_scale", "y_zp"}, "y");
  const QdqImport r = import_qdq_from_memory(t.bytes(), "pytorch-style");
  ASSERT_EQ(r.file.config.weights.size(), 1u) << r.summary;
  EXPECT_TRUE(r.file.config.weights[0].per_channel);
  ASSERT_EQ(r.file.config.acts.size(), 2u) << r.summary;
  for (const ActQuant& a : r.file.config.acts) EXPECT_EQ(a.bits, 7) << a.value_name;
  const Shape shape{1, 2, 4, 4};
  QuantizedNetwork net(r.graph, r.file.config, shape, 1);
  EXPECT_TRUE(net.weight_is_integer(0));
  // The QDQ semantics computed here: x codes 0..127 (zero point 64), weight
  // codes rne(w / s), float conv of the dequantized values, Relu, y codes 0..127.
  const Tensor x = random_input(shape, 3);
  const Tensor y = net.forward(x);
  const float sa = 0.1f, sy = 0.02f, wsc[3] = {0.5f / 127, 0.9f / 127, 0.7f / 127};
  float max_diff = 0.f;
  for (int oc = 0; oc < 3; ++oc)
    for (int p = 0; p < 16; ++p) {
      float acc = 0.f;
      for (int ic = 0; ic < 2; ++ic) {
        const float q = std::clamp(std::nearbyint(x.data<float>()[ic * 16 + p] / sa) + 64.f, 0.f, 127.f);
        const float w = std::nearbyint(wv[oc * 2 + ic] / wsc[oc]) * wsc[oc];
        acc += (q - 64.f) * sa * w;
      }
      const float ref = std::clamp(std::nearbyint(std::max(acc, 0.f) / sy), 0.f, 127.f) * sy;
      max_diff = std::max(max_diff, std::fabs(ref - y.data<float>()[oc * 16 + p]));
    }
  EXPECT_LE(max_diff, sy * 1.001f);  // at most one code, next to a rounding boundary
}

void expect_qdq_error(const TinyQdq& t, ErrorCode code, const std::string& needle) {
  try {
    import_qdq_from_memory(t.bytes(), "tiny.onnx");
    FAIL() << "imported bad QDQ (" << needle << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tiny.onnx"), std::string::npos) << e.what();
  }
}

TEST(Qdq, TinyModelImports) {
  TinyQdq t;
  {  // ONNX Runtime's quantizer: the bias as int32 codes with an int32 zero point, per channel
    auto* g = t.m.mutable_graph();
    auto* b = g->add_initializer();
    b->set_name("b");
    b->set_data_type(onnx::TensorProto::INT32);
    b->add_dims(3);
    for (int v : {10, -20, 30}) b->add_int32_data(v);
    auto* bs = t.scalar("b_scale", 0.05f);
    bs->add_dims(3);
    bs->add_float_data(0.05f);
    bs->add_float_data(0.1f);
    auto* bz = g->add_initializer();
    bz->set_name("b_zp");
    bz->set_data_type(onnx::TensorProto::INT32);
    bz->add_dims(3);
    for (int k = 0; k < 3; ++k) bz->add_int32_data(0);
    auto* dq = t.node("DequantizeLinear", {"b", "b_scale", "b_zp"}, "bdq");
    auto* axis = dq->add_attribute();
    axis->set_name("axis");
    axis->set_type(onnx::AttributeProto::INT);
    axis->set_i(0);
    g->mutable_node(3)->add_input("bdq");  // Conv(xdq, wdq, bdq)
  }
  const QdqImport r = import_qdq_from_memory(t.bytes(), "tiny.onnx");
  const Tensor& bias = r.graph.values[r.graph.find_value("bdq")].constant;
  ASSERT_EQ(bias.numel(), 3);
  EXPECT_EQ(bias.data<float>()[0], 0.5f);
  EXPECT_EQ(bias.data<float>()[1], -1.0f);
  EXPECT_EQ(bias.data<float>()[2], 3.0f);
  ASSERT_EQ(r.file.config.weights.size(), 1u);
  EXPECT_EQ(r.file.config.weights[0].grid, GridKind::kSymmetric);
  EXPECT_EQ(r.file.config.weights[0].bits, 8);
  ASSERT_EQ(r.file.config.acts.size(), 1u);
  EXPECT_EQ(r.file.config.acts[0].grid, GridKind::kAsymmetric);
  const Grid g = make_asymmetric_grid(r.file.config.acts[0].lo, r.file.config.acts[0].alpha, 8);
  EXPECT_EQ(g.step, 0.1f);
  EXPECT_EQ(g.zero_point, 128);
  // The weight came back as codes * scale.
  const Tensor& w = r.graph.values[r.graph.find_value("wdq")].constant;
  EXPECT_EQ(w.data<float>()[3], -1.5f);
  EXPECT_EQ(w.data<float>()[5], 63.5f);
}

TEST(Qdq, BadQdqIsAClearError) {
  {
    TinyQdq t;
    t.w_scale->set_float_data(0, 0.f);
    expect_qdq_error(t, ErrorCode::kInvalidModel, "scale[0] = 0");
  }
  {
    TinyQdq t;
    t.a_scale->set_float_data(0, -1.f);
    expect_qdq_error(t, ErrorCode::kInvalidModel, "must be finite and > 0");
  }
  {  // per-axis scale of length 2 on axis 0 (3 output channels)
    TinyQdq t;
    t.w_scale->add_dims(2);
    t.w_scale->add_float_data(0.25f);
    t.w_zp->add_dims(2);
    t.w_zp->set_raw_data(std::string(2, '\0'));
    auto* a = t.w_dq->add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(0);
    expect_qdq_error(t, ErrorCode::kInvalidModel, "per-axis scale has 2 values but axis 0");
  }
  {  // a valid per-axis scale, but on the input channels
    TinyQdq t;
    t.w_scale->add_dims(2);
    t.w_scale->add_float_data(0.25f);
    t.w_zp->add_dims(2);
    t.w_zp->set_raw_data(std::string(2, '\0'));
    expect_qdq_error(t, ErrorCode::kUnsupported, "per-axis weight scale on axis 1");
  }
  {
    TinyQdq t;
    t.w_zp->set_data_type(onnx::TensorProto::UNDEFINED);
    expect_qdq_error(t, ErrorCode::kInvalidModel, "'w_zp' has no data type");
  }
  {
    TinyQdq t;
    t.w_zp->set_data_type(onnx::TensorProto::UINT8);
    expect_qdq_error(t, ErrorCode::kInvalidModel, "zero point type");
  }
  {  // requantization: the DequantizeLinear uses another scale
    TinyQdq t;
    t.scalar("b_scale", 0.2f);
    t.m.mutable_graph()->mutable_node(1)->set_input(1, "b_scale");
    expect_qdq_error(t, ErrorCode::kUnsupported, "different grids");
  }
  {  // the QuantizeLinear reads its own pair's output: a cycle
    TinyQdq t;
    t.m.mutable_graph()->mutable_node(0)->set_input(0, "xdq");
    expect_qdq_error(t, ErrorCode::kInvalidModel, "form a cycle");
  }
  {  // a grid hint that the codes contradict (odd codes expected)
    TinyQdq t;
    auto* p = t.m.add_metadata_props();
    p->set_key(std::string(kQdqWeightGridKey) + "w");
    p->set_value("lapq-midrise:4");
    expect_qdq_error(t, ErrorCode::kInvalidModel, "not on the lapq-midrise:4 grid");
  }
}

// Found by fuzz_qdq_import (tests/fuzz/corpus/qdq/regression_nan_float_weight):
// a NaN in a float weight quantized by QuantizeLinear (PyTorch's form) reached
// an undefined float -> int8 cast; it is a clear error, an infinity saturates.
TEST(Qdq, NanFloatWeightIsAClearError) {
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    TinyQdq t;
    auto* wf = t.m.mutable_graph()->add_initializer();
    wf->set_name("wf");
    wf->set_data_type(onnx::TensorProto::FLOAT);
    for (int d : {3, 2, 1, 1}) wf->add_dims(d);
    for (float v : {0.5f, bad, 1.f, -1.f, 2.f, 0.f}) wf->add_float_data(v);
    t.node("QuantizeLinear", {"wf", "w_scale", "w_zp"}, "wq");
    t.w_dq->set_input(0, "wq");
    if (std::isnan(bad)) {
      expect_qdq_error(t, ErrorCode::kInvalidModel, "element 1 of the weight is NaN");
    } else {
      const QdqImport r = import_qdq_from_memory(t.bytes(), "tiny.onnx");
      EXPECT_EQ(r.graph.values[r.graph.find_value("wdq")].constant.data<float>()[1], 63.5f);  // code 127 * 0.5
    }
  }
}

}  // namespace
}  // namespace lapq::quant
