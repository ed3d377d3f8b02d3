// The quantized model file: save -> load gives identical logits; every
// corruption (magic, version, checksum, truncation) is a kInvalidModel naming the file.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "api/quantize.h"
#include "engine/error.h"

namespace lapq {
namespace {

namespace fs = std::filesystem;

void add_tensor(onnx::ModelProto& m, const std::string& name, std::vector<int64_t> dims, std::mt19937& rng, float lo,
                float hi) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) t->add_dims(d), n *= d;
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < n; ++i) t->add_float_data(u(rng));
}

onnx::NodeProto* add_node(onnx::ModelProto& m, const std::string& op, std::vector<std::string> in, std::string out) {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(out);
  for (auto& i : in) n->add_input(i);
  n->add_output(out);
  return n;
}

// x[N,3,8,8] -> 3 x (Conv3x3 + BN + Relu) -> GAP -> Flatten -> Gemm -> [N,5]
std::string small_cnn_onnx() {
  std::mt19937 rng(11);
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* imp = m.add_opset_import();
  imp->set_domain("");
  imp->set_version(13);
  auto* in = m.mutable_graph()->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("N");
  for (int d : {3, 8, 8}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  std::string cur = "x";
  int ic = 3;
  for (int i = 1; i <= 3; ++i) {
    const std::string c = "conv" + std::to_string(i);
    add_tensor(m, c + ".w", {6, ic, 3, 3}, rng, -0.4f, 0.4f);
    auto* conv = add_node(m, "Conv", {cur, c + ".w"}, c);
    auto* pads = conv->add_attribute();
    pads->set_name("pads");
    pads->set_type(onnx::AttributeProto::INTS);
    for (int k = 0; k < 4; ++k) pads->add_ints(1);
    add_tensor(m, c + ".g", {6}, rng, 0.5f, 1.5f);
    add_tensor(m, c + ".b", {6}, rng, -0.2f, 0.2f);
    add_tensor(m, c + ".m", {6}, rng, -0.1f, 0.1f);
    add_tensor(m, c + ".v", {6}, rng, 0.5f, 1.0f);
    add_node(m, "BatchNormalization", {c, c + ".g", c + ".b", c + ".m", c + ".v"}, c + ".bn");
    add_node(m, "Relu", {c + ".bn"}, c + ".relu");
    cur = c + ".relu";
    ic = 6;
  }
  add_node(m, "GlobalAveragePool", {cur}, "gap");
  add_node(m, "Flatten", {"gap"}, "flat");
  add_tensor(m, "fc.w", {5, 6}, rng, -0.8f, 0.8f);
  add_tensor(m, "fc.b", {5}, rng, -0.1f, 0.1f);
  auto* fc = add_node(m, "Gemm", {"flat", "fc.w", "fc.b"}, "logits");
  auto* tb = fc->add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  auto* out = m.mutable_graph()->add_output();
  out->set_name("logits");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  std::string s;
  m.SerializeToString(&s);
  return s;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("lapq_qmodel_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string str(const std::string& name) const { return (path / name).string(); }
};

std::string read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}
void write_bytes(const std::string& p, const std::string& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(b.data(), static_cast<std::streamsize>(b.size()));
}

Tensor random_images(int64_t n, uint32_t seed) {
  Tensor t(DType::kF32, {n, 3, 8, 8});
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  for (float& x : t.span<float>()) x = d(rng);
  return t;
}

class QModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    onnx_path = dir.str("small.onnx");
    write_bytes(onnx_path, small_cnn_onnx());
  }
  QuantizedModel make(quant::Preset preset, quant::InitMethod method) {
    ModelOptions mo;
    mo.num_threads = 1;  // tiny net: one thread
    Model fp32 = Model::load(onnx_path, mo);
    QuantizeOptions o;
    o.preset.preset = preset;
    o.preset.bits = {4, 4};
    o.lapq.method = method;
    o.lapq.quiet = true;
    o.lapq.num_threads = 1;
    o.lapq.maxiter = 1;
    o.lapq.max_evals = 30;
    std::vector<int> labels(32);
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % 5);
    o.calib = quant::make_calibration(random_images(32, 3), labels, 16);
    return quantize(fp32, o);
  }
  TempDir dir;
  std::string onnx_path;
};

TEST_F(QModelFile, RoundTripGivesIdenticalLogits) {
  for (quant::Preset preset : {quant::Preset::kPaper, quant::Preset::kDeploy}) {
    QuantizedModel qm = make(preset, quant::InitMethod::kLapq);
    const std::string path = dir.str("m.lapq");
    qm.save(path);
    EXPECT_TRUE(quant::is_quantized_model_file(path));
    EXPECT_FALSE(quant::is_quantized_model_file(onnx_path));
    QuantizedModel back = QuantizedModel::load(path, 1);
    ASSERT_EQ(back.config().weights.size(), qm.config().weights.size());
    for (size_t i = 0; i < qm.config().weights.size(); ++i)
      EXPECT_EQ(back.config().weights[i].alpha, qm.config().weights[i].alpha);
    for (size_t i = 0; i < qm.config().acts.size(); ++i) {
      EXPECT_EQ(back.config().acts[i].alpha, qm.config().acts[i].alpha);
      EXPECT_EQ(back.config().acts[i].lo, qm.config().acts[i].lo);
    }
    EXPECT_EQ(back.report_json(), qm.report_json());
    const Tensor x = random_images(7, 99);
    const Tensor a = qm.forward(x), b = back.forward(x);
    EXPECT_TRUE(a.equals(b)) << quant::preset_name(preset);
  }
}

TEST_F(QModelFile, PaperPresetKeepsFirstAndLastConvFp32) {
  QuantizedModel qm = make(quant::Preset::kPaper, quant::InitMethod::kMax);
  ASSERT_EQ(qm.config().weights.size(), 1u);
  EXPECT_EQ(qm.config().weights[0].node_name, "conv2");
  EXPECT_TRUE(qm.config().weights[0].bias_correction);
  ASSERT_EQ(qm.config().acts.size(), 1u);
  EXPECT_EQ(qm.config().acts[0].value_name, "conv2.relu");
  EXPECT_FALSE(qm.config().batchnorm_folded);
}

void expect_invalid(const std::string& path, const std::string& what) {
  try {
    QuantizedModel::load(path);
    FAIL() << "loaded a bad file (" << what << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST_F(QModelFile, CorruptionsAreInvalidModelErrorsNamingTheFile) {
  QuantizedModel qm = make(quant::Preset::kDeploy, quant::InitMethod::kMax);
  const std::string good = dir.str("good.lapq");
  qm.save(good);
  const std::string bytes = read_bytes(good);
  ASSERT_GT(bytes.size(), 64u);

  std::string b = bytes;
  b[0] = 'X';
  write_bytes(dir.str("magic.lapq"), b);
  expect_invalid(dir.str("magic.lapq"), "magic");

  b = bytes;
  b[8] = 3;  // version 3 (this build reads 1..2)
  write_bytes(dir.str("version.lapq"), b);
  expect_invalid(dir.str("version.lapq"), "version 3");

  b = bytes;
  b[bytes.size() / 2] ^= 0x01;  // one bit in the payload
  write_bytes(dir.str("sum.lapq"), b);
  expect_invalid(dir.str("sum.lapq"), "checksum");

  write_bytes(dir.str("trunc.lapq"), bytes.substr(0, bytes.size() - 100));
  expect_invalid(dir.str("trunc.lapq"), "truncated");
  write_bytes(dir.str("short.lapq"), bytes.substr(0, 20));
  expect_invalid(dir.str("short.lapq"), "truncated");

  EXPECT_THROW(QuantizedModel::load(dir.str("missing.lapq")), Error);
  EXPECT_EQ(quant::fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);  // FNV-1a 64 reference value for "a"
  EXPECT_EQ(quant::fnv1a64("", 0), 0xcbf29ce484222325ull);
}

}  // namespace
}  // namespace lapq
