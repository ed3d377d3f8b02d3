// QDQ models whose int8 weights use code -128 (PyTorch's symmetric qint8 range
// [-128, 127]) run on the integer kernels through the full-range weight grid
// (GridKind::kSymmetricFull), under every LAPQ_MAX_ISA cap (ISA_CAPS):
//  - a real PyTorch export (tests/quant/data/pytorch_qdq_fullrange.onnx, made by
//    tools/make_pytorch_qdq_fixture.py) imports with every conv / FC on the
//    integer kernels, lapq's grid reproduces the file's dequantized weights bit
//    for bit, the fast kernels equal the scalar reference bit for bit, and the
//    logits match PyTorch's within one output step;
//  - a QDQ file built here with int8 code -128 (per tensor and per channel), uint8
//    weights with zero point 128, and an INT4-range hint;
//  - the random ResNet-style graph on the full-range grid (W8A8 / W4A8 / W4A4,
//    weights clipped so -2^(b-1) is common): fast == reference on every value;
//  - .lapq save / load and QDQ export / import round trips.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "api/quantize.h"
#include "engine/error.h"
#include "frontends/image/preprocess_config.h"
#include "quant/qdq_export.h"
#include "quant/qdq_import.h"
#include "quant/qmodel_file.h"
#include "tests/quant/test_quantized_network_util.h"

namespace lapq::quant {
namespace {

using testing::make_config;
using testing::make_resnet;
using testing::random_input;
using testing::Variant;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

const std::string kFixture = std::string(LAPQ_SOURCE_DIR) + "/tests/quant/data/pytorch_qdq_fullrange";

struct Fixture {
  QdqImport imp;
  nlohmann::json meta;
  Tensor input;
  std::vector<float> torch_logits;
};

Fixture load_fixture() {
  Fixture f;
  f.imp = import_qdq_from_memory(read_file(kFixture + ".onnx"), "pytorch_qdq_fullrange.onnx");
  f.meta = nlohmann::json::parse(read_file(kFixture + ".json"));
  f.input = Tensor(DType::kF32, f.meta.at("input_shape").get<Shape>());
  const std::vector<float> in = f.meta.at("input").get<std::vector<float>>();
  EXPECT_EQ(static_cast<int64_t>(in.size()), f.input.numel());
  std::copy(in.begin(), in.end(), f.input.data<float>());
  f.torch_logits = f.meta.at("logits").get<std::vector<float>>();
  return f;
}

// Fast network == scalar-reference network on `x`, bit for bit (logits), and every
// weight of the config on the integer kernels. Returns the fast logits.
Tensor expect_integer_and_reference_equal(const Graph& g, const QuantConfig& cfg, const Tensor& x,
                                          const std::string& what) {
  PlanOptions fast_opt, ref_opt;
  fast_opt.num_threads = ref_opt.num_threads = 1;
  ref_opt.allow_fast = false;
  QuantizedNetwork fast(g, cfg, x.shape(), fast_opt), ref(g, cfg, x.shape(), ref_opt);
  for (size_t i = 0; i < cfg.weights.size(); ++i) {
    EXPECT_TRUE(fast.weight_is_integer(i)) << what << ": " << cfg.weights[i].node_name << "\n" << fast.summary();
    if (fast.weight_is_integer(i))
      EXPECT_NE(fast.plan().impl_name(fast.node_of_weight(i)), "reference") << what << ": " << cfg.weights[i].node_name;
  }
  const Tensor yf = fast.forward(x), yr = ref.forward(x);
  EXPECT_TRUE(yf.equals(yr)) << what;
  return yf;
}

// The weight codes (int_params form) of every layer; count of codes == value.
int64_t count_codes(const Graph& g, const QuantConfig& cfg, int value) {
  const std::vector<int16_t> codes = weight_codes(g, cfg);
  return std::count(codes.begin(), codes.end(), static_cast<int16_t>(value));
}

TEST(QdqFullRange, PyTorchExportRunsOnIntegerKernels) {
  const Fixture f = load_fixture();
  const QuantConfig& cfg = f.imp.file.config;
  // Every conv / FC on the full-range grid, every scale recovered exactly, nothing in FP32.
  EXPECT_EQ(f.imp.summary.find("FP32"), std::string::npos) << f.imp.summary;
  EXPECT_EQ(f.imp.summary.find("rounded"), std::string::npos) << f.imp.summary;
  ASSERT_EQ(cfg.weights.size(), 4u) << f.imp.summary;
  for (const WeightQuant& w : cfg.weights) {
    EXPECT_EQ(w.grid, GridKind::kSymmetricFull) << w.node_name;
    EXPECT_EQ(w.bits, 8) << w.node_name;
  }
  EXPECT_TRUE(cfg.weights[0].per_channel);
  EXPECT_FALSE(cfg.weights[3].per_channel);  // the Linear: per tensor
  EXPECT_EQ(cfg.acts.size(), 6u) << f.imp.summary;
  EXPECT_NE(f.imp.summary.find("W8 symmetric-full per-channel"), std::string::npos) << f.imp.summary;
  // The grid reproduces the file's dequantized weights exactly (fake-quant == DQ(codes)),
  // so lapq's simulation and the integer network run PyTorch's weights, not a rounding of them.
  for (const WeightQuant& w : cfg.weights) {
    const Tensor m = weight_oc_first(f.imp.graph, w.node);
    const int64_t OC = m.dim(0), K = m.dim(1);
    std::vector<Grid> grids;
    for (int64_t c = 0; c < OC; ++c) grids.push_back(make_grid(w.grid, w.alpha[w.per_channel ? c : 0], w.bits));
    std::vector<float> hat(static_cast<size_t>(m.numel()));
    quantize_dequantize_per_channel(grids, m.span<float>(), hat);
    for (int64_t i = 0; i < OC * K; ++i)
      ASSERT_EQ(hat[i], m.data<float>()[i]) << w.node_name << " element " << i;
  }
  // Code -128 is really used, as many times as PyTorch's own rounding gives.
  int64_t want_minus128 = 0;
  for (const auto& [layer, n] : f.meta.at("weight_codes_minus128").items()) want_minus128 += n.get<int64_t>();
  EXPECT_GT(want_minus128, 0);
  EXPECT_EQ(count_codes(f.imp.graph, cfg, -128), want_minus128);

  const Tensor y = expect_integer_and_reference_equal(f.imp.graph, cfg, f.input, "pytorch fixture");
  ASSERT_EQ(y.numel(), static_cast<int64_t>(f.torch_logits.size()));
  // PyTorch runs the same QDQ model in float (FP32 convs on dequantized values,
  // fake-quantization x * (1/s)); lapq accumulates exactly in int32 and requantizes
  // once. Both logits sit on the output grid (scale s, zero point z), so they differ
  // by whole steps. A hidden activation code can differ by one only where a value is
  // within float rounding (~1e-6 relative) of a rounding boundary; such a flip moves
  // a logit by |w| * s_hidden, well below one output step here. Bound: one step.
  const float s_out = f.meta.at("logits_scale").get<float>();
  float max_diff = 0.f;
  int differing = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float d = std::fabs(y.data<float>()[i] - f.torch_logits[i]);
    max_diff = std::max(max_diff, d);
    differing += d > 0.f;
  }
  EXPECT_LE(max_diff, s_out * 1.001f) << "max |logit diff| " << max_diff << " (output step " << s_out << ")";
  std::cout << "[ pytorch  ] max |logit diff| vs PyTorch " << max_diff << " (output step " << s_out << "), "
            << differing << " of " << y.numel() << " logits differ\n"
            << f.imp.summary;
}

// .lapq round trip: version-2 file, same grids, same logits bit for bit; and the QDQ
// export of that model comes back on the same grids (hint "symmetric-full:8"), also
// without the hint (the codes alone: -128 is used).
TEST(QdqFullRange, SaveLoadAndExportImportRoundTrips) {
  Fixture f = load_fixture();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("lapq_fullrange_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.lapq").string();
  f.imp.file.preprocess = preprocess_for_model_input({-1, 3, 12, 12}, true, "pytorch_qdq_fullrange.onnx");
  QuantizedModel qm(f.imp.file, f.imp.graph, "pytorch_qdq_fullrange", 1);
  qm.save(path);
  const std::string bytes = read_file(path);
  ASSERT_GT(bytes.size(), 12u);
  EXPECT_EQ(bytes[8], 2) << "format version";
  EXPECT_EQ(qmodel_version_for(qm.config()), 2u);
  QuantizedModel back = QuantizedModel::load(path, 1);
  for (const WeightQuant& w : back.config().weights) EXPECT_EQ(w.grid, GridKind::kSymmetricFull);
  const Tensor y = qm.forward(f.input);
  EXPECT_TRUE(y.equals(back.forward(f.input)));

  // An older (version 1) header cannot carry the new grid: a clear error.
  std::string v1 = bytes;
  v1[8] = 1;
  const std::string v1_path = (dir / "v1.lapq").string();
  std::ofstream(v1_path, std::ios::binary).write(v1.data(), static_cast<std::streamsize>(v1.size()));
  try {
    QuantizedModel::load(v1_path, 1);
    FAIL() << "loaded symmetric-full from a version 1 file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("needs version 2"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);

  QdqExportOptions eo;
  eo.int32_bias = false;
  const std::string qdq = export_qdq(qm.graph(), qm.config(), eo);
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(qdq));
  int hints = 0;
  for (const auto& p : m.metadata_props()) hints += p.value() == "symmetric-full:8";
  EXPECT_EQ(hints, 4);
  for (bool strip : {false, true}) {
    if (strip) m.clear_metadata_props();
    std::string b;
    ASSERT_TRUE(m.SerializeToString(&b));
    const QdqImport r = import_qdq_from_memory(b, strip ? "export without hints" : "export");
    ASSERT_EQ(r.file.config.weights.size(), 4u) << r.summary;
    for (size_t i = 0; i < 4; ++i) {
      const WeightQuant &a = qm.config().weights[i], &c = r.file.config.weights[i];
      EXPECT_EQ(c.grid, GridKind::kSymmetricFull) << c.node_name;
      EXPECT_EQ(c.per_channel, a.per_channel) << c.node_name;
      ASSERT_EQ(c.alpha.size(), a.alpha.size());
      for (size_t k = 0; k < a.alpha.size(); ++k) EXPECT_EQ(c.alpha[k], a.alpha[k]) << c.node_name;
    }
    QuantizedNetwork net(r.graph, r.file.config, f.input.shape(), 1);
    EXPECT_TRUE(net.forward(f.input).equals(y)) << r.summary;
  }
}

// ---- a QDQ file built here ---------------------------------------------------------

// x[1,4,6,6] -> Q/DQ (uint8, zp 100) -> Conv 3x3 pad 1 (DQ of int8 or uint8 codes) + Relu
// -> Q/DQ (uint8, zp 0) -> y
struct Builder {
  onnx::ModelProto m;
  onnx::GraphProto* g;
  Builder() : g(m.mutable_graph()) {
    m.set_ir_version(7);
    m.add_opset_import()->set_version(13);
    auto* in = g->add_input();
    in->set_name("x");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int d : {1, 4, 6, 6}) tt->mutable_shape()->add_dim()->set_dim_value(d);
    auto* out = g->add_output();
    out->set_name("y");
    out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  void floats(const std::string& name, std::vector<float> v, bool vector) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    if (vector) t->add_dims(static_cast<int64_t>(v.size()));
    for (float x : v) t->add_float_data(x);
  }
  void bytes(const std::string& name, int type, std::vector<int64_t> dims, const std::string& raw) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(raw);
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (auto& s : in) n->add_input(s);
    n->add_output(out);
    return n;
  }
  // codes: OC x 4 x 3 x 3 (int8 values; uint8 when `u8_zp` >= 0: codes + u8_zp)
  void build(const std::vector<int8_t>& codes, const std::vector<float>& w_scale, int u8_zp = -1) {
    const int64_t oc = static_cast<int64_t>(codes.size()) / 36;
    floats("a_scale", {0.05f}, false);
    bytes("a_zp", onnx::TensorProto::UINT8, {}, std::string(1, static_cast<char>(100)));
    floats("y_scale", {0.1f}, false);
    bytes("y_zp", onnx::TensorProto::UINT8, {}, std::string(1, '\0'));
    std::string raw(codes.size(), '\0');
    for (size_t i = 0; i < codes.size(); ++i) raw[i] = static_cast<char>(u8_zp >= 0 ? codes[i] + u8_zp : codes[i]);
    const int type = u8_zp >= 0 ? onnx::TensorProto::UINT8 : onnx::TensorProto::INT8;
    bytes("w", type, {oc, 4, 3, 3}, raw);
    const bool pc = w_scale.size() > 1;
    floats("w_scale", w_scale, pc);
    bytes("w_zp", type, pc ? std::vector<int64_t>{oc} : std::vector<int64_t>{},
          std::string(w_scale.size(), static_cast<char>(u8_zp >= 0 ? u8_zp : 0)));
    node("QuantizeLinear", {"x", "a_scale", "a_zp"}, "xq");
    node("DequantizeLinear", {"xq", "a_scale", "a_zp"}, "xdq");
    auto* dq = node("DequantizeLinear", {"w", "w_scale", "w_zp"}, "wdq");
    if (pc) {
      auto* a = dq->add_attribute();
      a->set_name("axis");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(0);
    }
    auto* conv = node("Conv", {"xdq", "wdq"}, "conv");
    for (const char* k : {"pads"}) {
      auto* a = conv->add_attribute();
      a->set_name(k);
      a->set_type(onnx::AttributeProto::INTS);
      for (int i = 0; i < 4; ++i) a->add_ints(1);
    }
    node("Relu", {"conv"}, "relu");
    node("QuantizeLinear", {"relu", "y_scale", "y_zp"}, "yq");
    node("DequantizeLinear", {"yq", "y_scale", "y_zp"}, "y");
  }
  std::string str() const {
    std::string s;
    m.SerializeToString(&s);
    return s;
  }
};

std::vector<int8_t> random_codes(int64_t n, int lo, int hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int8_t> c(static_cast<size_t>(n));
  for (auto& v : c) v = static_cast<int8_t>(d(rng));
  c[0] = static_cast<int8_t>(lo);  // the extreme code is used
  return c;
}

// The QDQ semantics of Builder's model, in double: y codes.
std::vector<int> qdq_reference(const std::vector<int8_t>& codes, const std::vector<float>& w_scale, const Tensor& x) {
  const int oc = static_cast<int>(codes.size()) / 36;
  std::vector<int> y(static_cast<size_t>(oc) * 36);
  for (int o = 0; o < oc; ++o)
    for (int h = 0; h < 6; ++h)
      for (int w = 0; w < 6; ++w) {
        double acc = 0;
        for (int c = 0; c < 4; ++c)
          for (int kh = 0; kh < 3; ++kh)
            for (int kw = 0; kw < 3; ++kw) {
              const int ih = h + kh - 1, iw = w + kw - 1;
              if (ih < 0 || ih >= 6 || iw < 0 || iw >= 6) continue;
              const float q = std::clamp(std::nearbyint(x.data<float>()[(c * 6 + ih) * 6 + iw] / 0.05f) + 100.f, 0.f,
                                         255.f);
              const float s = w_scale[w_scale.size() > 1 ? o : 0];
              acc += double((q - 100.f) * 0.05f) * double(codes[((o * 4 + c) * 3 + kh) * 3 + kw] * s);
            }
        y[(o * 6 + h) * 6 + w] = static_cast<int>(std::clamp(std::nearbyint(std::max(acc, 0.0) / 0.1), 0.0, 255.0));
      }
  return y;
}

TEST(QdqFullRange, BuiltQdqWithCodeMinus128) {
  const Tensor x = random_input({1, 4, 6, 6}, 4);
  struct Case {
    const char* what;
    std::vector<float> scale;
    int u8_zp;
    GridKind want;
  };
  const Case cases[] = {
      {"int8 per tensor", {0.01f}, -1, GridKind::kSymmetricFull},
      {"int8 per channel", {0.01f, 0.02f, 0.003f, 0.05f, 0.0071f}, -1, GridKind::kSymmetricFull},
      {"uint8 zero point 128 per channel", {0.01f, 0.02f, 0.003f, 0.05f, 0.0071f}, 128, GridKind::kSymmetricFull},
  };
  for (const Case& c : cases) {
    const std::vector<int8_t> codes = random_codes(5 * 36, -128, 127, 11);
    Builder b;
    b.build(codes, c.scale, c.u8_zp);
    const QdqImport r = import_qdq_from_memory(b.str(), c.what);
    ASSERT_EQ(r.file.config.weights.size(), 1u) << c.what << "\n" << r.summary;
    const WeightQuant& w = r.file.config.weights[0];
    EXPECT_EQ(w.grid, c.want) << c.what << "\n" << r.summary;
    EXPECT_EQ(w.bits, 8);
    EXPECT_EQ(r.summary.find("rounded"), std::string::npos) << r.summary;
    for (size_t k = 0; k < c.scale.size(); ++k)
      EXPECT_EQ(int_params(make_grid(w.grid, w.alpha[k], w.bits)).scale, c.scale[k]) << c.what;
    EXPECT_EQ(count_codes(r.graph, r.file.config, -128), std::count(codes.begin(), codes.end(), int8_t{-128}));
    const Tensor y = expect_integer_and_reference_equal(r.graph, r.file.config, x, c.what);
    const std::vector<int> want = qdq_reference(codes, c.scale, x);
    int off_by_one = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const int got = static_cast<int>(std::nearbyint(y.data<float>()[i] / 0.1f));
      ASSERT_LE(std::abs(got - want[i]), 1) << c.what << " element " << i;
      off_by_one += got != want[i];
    }
    EXPECT_LE(off_by_one, 2) << c.what;  // only next to a rounding boundary (float vs exact sums)
  }
  {  // restricted codes [-127, 127] keep the symmetric grid (lapq's default form)
    Builder b;
    b.build(random_codes(5 * 36, -127, 127, 12), {0.5f}, -1);
    const QdqImport r = import_qdq_from_memory(b.str(), "restricted");
    ASSERT_EQ(r.file.config.weights.size(), 1u);
    EXPECT_EQ(r.file.config.weights[0].grid, GridKind::kSymmetric);
  }
  {  // INT4 range through lapq's hint: codes -8..7 on the 4-bit full grid (int4 kernels)
    const std::vector<int8_t> codes = random_codes(5 * 36, -8, 7, 13);
    Builder b;
    b.build(codes, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, -1);
    auto* p = b.m.add_metadata_props();
    p->set_key(std::string(kQdqWeightGridKey) + "w");
    p->set_value("symmetric-full:4");
    const QdqImport r = import_qdq_from_memory(b.str(), "int4 hint");
    ASSERT_EQ(r.file.config.weights.size(), 1u);
    EXPECT_EQ(r.file.config.weights[0].grid, GridKind::kSymmetricFull);
    EXPECT_EQ(r.file.config.weights[0].bits, 4);
    EXPECT_EQ(count_codes(r.graph, r.file.config, -8), std::count(codes.begin(), codes.end(), int8_t{-8}));
    expect_integer_and_reference_equal(r.graph, r.file.config, x, "int4 hint");
    // A hint the codes contradict: -9 is not a 4-bit code.
    Builder bad;
    std::vector<int8_t> c9 = codes;
    c9[5] = -9;
    bad.build(c9, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, -1);
    *bad.m.add_metadata_props() = *p;
    try {
      import_qdq_from_memory(bad.str(), "bad hint");
      FAIL() << "imported codes off the hinted grid";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
      EXPECT_NE(std::string(e.what()).find("not on the symmetric-full:4 grid"), std::string::npos) << e.what();
    }
  }
  {  // Restricted codes whose scale no float alpha gives on the restricted grid (alpha / 127
     // skips some floats): the full-range grid holds the same codes with the exact scale.
    float odd_scale = 0.f;
    for (float sc = 0.6f; sc < 0.61f && odd_scale == 0.f; sc = std::nextafter(sc, 1.f)) {
      bool reachable = false;
      float a = std::nextafter(std::nextafter(sc * 127.f, 0.f), 0.f);
      for (int k = 0; k < 5 && !reachable; ++k, a = std::nextafter(a, 1e9f))
        reachable = int_params(make_symmetric_grid(a, 8)).scale == sc;
      if (!reachable) odd_scale = sc;
    }
    ASSERT_GT(odd_scale, 0.f);
    Builder b;
    b.build(random_codes(5 * 36, -127, 127, 15), {odd_scale}, -1);
    const QdqImport r = import_qdq_from_memory(b.str(), "restricted, odd scale");
    ASSERT_EQ(r.file.config.weights.size(), 1u);
    EXPECT_EQ(r.file.config.weights[0].grid, GridKind::kSymmetricFull) << r.summary;
    EXPECT_EQ(r.summary.find("rounded"), std::string::npos) << r.summary;
    EXPECT_EQ(int_params(make_grid(GridKind::kSymmetricFull, r.file.config.weights[0].alpha[0], 8)).scale, odd_scale);
  }
  {  // A Clip on weight codes (Q(float weight) -> Clip -> DQ): the clipped codes are the weight.
    Builder b;
    b.build(random_codes(5 * 36, -128, 127, 16), {0.01f}, -1);
    std::vector<float> wf(5 * 36);
    std::mt19937 rng(17);
    std::uniform_real_distribution<float> d(-1.5f, 1.5f);
    for (float& v : wf) v = d(rng);
    wf[3] = -1.5f;  // code -150 -> saturates at -128 -> clipped to -100
    b.floats("wf", wf, false);
    auto& wt = *b.g->mutable_initializer(b.g->initializer_size() - 1);
    for (int dd : {5, 4, 3, 3}) wt.add_dims(dd);
    b.bytes("lo", onnx::TensorProto::INT8, {}, std::string(1, static_cast<char>(-100)));
    b.bytes("hi", onnx::TensorProto::INT8, {}, std::string(1, static_cast<char>(100)));
    b.node("QuantizeLinear", {"wf", "w_scale", "w_zp"}, "wq");
    b.node("Clip", {"wq", "lo", "hi"}, "wqc");
    for (auto& n : *b.g->mutable_node())
      if (n.output(0) == "wdq") n.set_input(0, "wqc");
    const QdqImport r = import_qdq_from_memory(b.str(), "clipped weight codes");
    ASSERT_EQ(r.file.config.weights.size(), 1u) << r.summary;
    EXPECT_EQ(r.file.config.weights[0].grid, GridKind::kSymmetric);  // codes -100..100
    const Tensor& w = r.graph.values[r.graph.find_value("wdq")].constant;
    for (int64_t i = 0; i < w.numel(); ++i) {
      const float code = std::clamp(std::nearbyint(wf[i] / 0.01f), -100.f, 100.f);
      ASSERT_EQ(w.data<float>()[i], code * 0.01f) << i;
    }
    EXPECT_EQ(w.data<float>()[3], -100.f * 0.01f);
    expect_integer_and_reference_equal(r.graph, r.file.config, x, "clipped weight codes");
  }
  {  // Not on any lapq grid: uint8 weights with another zero point stay FP32, said so.
    Builder b;
    b.build(random_codes(5 * 36, -100, 100, 14), {0.01f}, 120);
    const QdqImport r = import_qdq_from_memory(b.str(), "uint8 zp 120");
    EXPECT_TRUE(r.file.config.weights.empty());
    EXPECT_NE(r.summary.find("FP32 (weight zero point != 0"), std::string::npos) << r.summary;
  }
}

// The random ResNet-style graph (3x3, 1x1 stride 2, depthwise, FC; BN folded and not)
// on the full-range grid with weights clipped at half their max |w|, so both extreme
// codes are frequent: the fast kernels equal the scalar reference on the logits and
// the full-range codes reach the int8 / int4 kernels. Export -> import keeps the grid.
TEST(QdqFullRange, RandomResNetOnFullRangeGrid) {
  const Shape shape{2, 3, 10, 10};
  const Tensor calib = random_input(shape, 1), x = random_input(shape, 2);
  const int bits[3][2] = {{8, 8}, {4, 8}, {4, 4}};
  for (const auto& wa : bits)
    for (bool pc : {false, true}) {
      Variant v;
      v.wbits = wa[0];
      v.abits = wa[1];
      v.per_channel = pc;
      v.fold_bn = pc;
      v.wgrid = GridKind::kSymmetricFull;
      const Graph g = make_resnet(v.fold_bn);
      QuantConfig cfg = make_config(g, v, calib);
      for (WeightQuant& w : cfg.weights)
        for (float& a : w.alpha) a *= 0.5f;
      const std::string what = v.str();
      const int lowest = -(1 << (v.wbits - 1));
      EXPECT_GT(count_codes(g, cfg, lowest), 20) << what;
      const Tensor y = expect_integer_and_reference_equal(g, cfg, x, what);
      QdqExportOptions eo;
      eo.int32_bias = false;
      const QdqImport r = import_qdq_from_memory(export_qdq(g, cfg, eo), what);
      ASSERT_EQ(r.file.config.weights.size(), cfg.weights.size());
      for (const WeightQuant& w : r.file.config.weights) {
        EXPECT_EQ(w.grid, GridKind::kSymmetricFull) << what << " " << w.node_name;
        EXPECT_EQ(w.bits, v.wbits) << what << " " << w.node_name;
      }
      QuantizedNetwork back(r.graph, r.file.config, shape, 1);
      EXPECT_TRUE(back.forward(x).equals(y)) << what << "\n" << r.summary;
    }
}

}  // namespace
}  // namespace lapq::quant
