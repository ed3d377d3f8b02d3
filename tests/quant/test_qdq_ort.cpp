// The exported QDQ model in ONNX Runtime (onnxruntime-node, bench/ort/run_ort.js)
// against lapq's own integer network on the same inputs: the embedded model
// quantized W8A8 (deploy, max clipping), exported with int32 biases (the form ORT
// fuses into QLinearConv / QGemm). Skips when node or onnxruntime-node is missing.
//
// Why not bit-identical: ORT requantizes each layer with its own arithmetic
// (the int32 bias rounded to s_in*s_w, a float multiplier applied in another
// order), so an output code can differ by one where a value falls next to a
// rounding boundary, and such differences propagate. The bounds below allow
// that and nothing more: logits within a few output steps of the final layer
// (relative to the logit range) and top-1 agreeing on nearly every input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "api/quantize.h"
#include "frontends/dataset/image_folder.h"
#include "quant/qdq_export.h"

namespace lapq {
namespace {

namespace fs = std::filesystem;

std::string ort_modules() {
  const char* env = std::getenv("ORT_NODE_MODULES");
  return env ? env : std::string(LAPQ_SOURCE_DIR) + "/build/ort/node_modules";
}

// Fashion-MNIST-like inputs: the 8 reference images with noise and shifts.
Tensor inputs(int64_t n, uint32_t seed) {
  const std::string dir = std::string(LAPQ_SOURCE_DIR) + "/models/";
  std::ifstream f(dir + "fashion_resnet_ref_input.bin", std::ios::binary);
  std::vector<float> ref(8 * 28 * 28);
  f.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(ref.size() * 4));
  EXPECT_TRUE(f.good()) << "cannot read the reference input";
  Tensor t(DType::kF32, {n, 1, 28, 28});
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 0.3f);
  std::uniform_int_distribution<int> shift(-2, 2);
  for (int64_t i = 0; i < n; ++i) {
    const float* src = ref.data() + (i % 8) * 784;
    const int dy = shift(rng), dx = shift(rng);
    float* dst = t.data<float>() + i * 784;
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const int sy = std::clamp(y + dy, 0, 27), sx = std::clamp(x + dx, 0, 27);
        dst[y * 28 + x] = src[sy * 28 + sx] + noise(rng);
      }
  }
  return t;
}

// Why ORT cannot run here (empty: it can).
std::string ort_missing() {
  if (std::system("command -v node > /dev/null 2>&1") != 0) return "node is not installed";
  if (!fs::exists(ort_modules() + "/onnxruntime-node"))
    return "onnxruntime-node is not installed in " + ort_modules() + " (bench/compare_ort.sh installs it)";
  return "";
}

// Exports `qm` as QDQ (int32 bias), runs ORT on x, returns its output 0 ([N, classes]).
std::vector<float> run_ort(const QuantizedModel& qm, const Tensor& x, int64_t classes) {
  const fs::path dir = fs::temp_directory_path() / ("lapq_qdq_ort_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string model = (dir / "m.onnx").string(), in = (dir / "in.f32").string(), out = (dir / "out.f32").string();
  quant::save_qdq(model, qm.graph(), qm.config());
  {
    std::ofstream f(in, std::ios::binary);
    f.write(static_cast<const char*>(x.raw()), static_cast<std::streamsize>(x.nbytes()));
  }
  std::string shape;
  for (int64_t d : x.shape()) shape.append(shape.empty() ? "" : ",").append(std::to_string(d));
  const std::string cmd = "ORT_NODE_MODULES='" + ort_modules() + "' node '" + LAPQ_SOURCE_DIR +
                          "/bench/ort/run_ort.js' --model '" + model + "' --input '" + in + "' --shape " + shape +
                          " --output '" + out + "'";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  std::vector<float> y(static_cast<size_t>(x.dim(0) * classes), 0.f);
  std::ifstream f(out, std::ios::binary);
  f.read(reinterpret_cast<char*>(y.data()), static_cast<std::streamsize>(y.size() * 4));
  EXPECT_TRUE(f.good()) << "ORT wrote no logits";
  fs::remove_all(dir);
  return y;
}

int argmax(const float* p, int64_t k) { return static_cast<int>(std::max_element(p, p + k) - p); }

TEST(QdqOrt, ExportedW8A8ModelAgreesWithLapq) {
  if (const std::string why = ort_missing(); !why.empty()) GTEST_SKIP() << why;
  ModelOptions mo;
  mo.num_threads = 1;
  Model fp32 = Model::load(std::string(LAPQ_SOURCE_DIR) + "/models/fashion_resnet.onnx", mo);
  QuantizeOptions o;
  o.preset.bits = {8, 8};
  o.lapq.method = quant::InitMethod::kMax;
  o.lapq.quiet = true;
  o.lapq.num_threads = 1;
  o.lapq.objective = quant::Objective::kKl;  // unlabelled calibration images
  o.calib = quant::make_calibration(inputs(64, 1), std::vector<int>(64, -1), 32);
  QuantizedModel qm = quantize(fp32, o);
  const int64_t n = 256, k = 10;
  const Tensor x = inputs(n, 2);
  const std::vector<float> ort = run_ort(qm, x, k);
  const Tensor ours = qm.forward(x);
  ASSERT_EQ(ours.numel(), n * k);
  int agree = 0;
  float range = 0.f, diff = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    const float* a = ours.data<float>() + i * k;
    const float* b = ort.data() + i * k;
    agree += argmax(a, k) == argmax(b, k);
    for (int64_t j = 0; j < k; ++j) {
      range = std::max(range, std::fabs(a[j]));
      diff = std::max(diff, std::fabs(a[j] - b[j]));
    }
  }
  std::printf("ORT vs lapq on %lld inputs: top-1 agreement %d/%lld, max |dlogit| %.4f (%.2f%% of max |logit| %.3f)\n",
              (long long)n, agree, (long long)n, diff, 100.0 * diff / range, range);
  EXPECT_GE(agree, n - n / 50);     // >= 98 %
  EXPECT_LE(diff, 0.02f * range);   // within 2 % of the logit range (measured: 0.5 %)
}

// The shared CIFAR-10 ResNet-20 (real images; skips without ../shared/data), W8A8
// deploy with max clipping on 128 calibration images: ORT's and lapq's top-1 on
// 500 test images. Predictions near a tie flip when one code flips (measured on
// 1,000 images: 98.5 % agreement, top-1 80.7 % lapq vs 81.1 % ORT).
TEST(QdqOrt, Resnet20W8A8Top1MatchesLapq) {
  const std::string dir = std::string(LAPQ_SHARED_DATA_DIR) + "/cifar10";
  if (!fs::exists(dir + "/resnet20.onnx")) GTEST_SKIP() << "no " << dir << "/resnet20.onnx";
  if (std::getenv("LAPQ_SANITIZER_RUN"))
    GTEST_SKIP() << "500 real images are too slow under the sanitizers; the Release suite runs this";
  if (const std::string why = ort_missing(); !why.empty()) GTEST_SKIP() << why;
  ModelOptions mo;
  mo.preprocess_overrides = {"resize=none", "crop=none"};
  mo.labels_path = dir + "/labels.txt";
  Model fp32 = Model::load(dir + "/resnet20.onnx", mo);
  QuantizeOptions o;
  o.preset.bits = {8, 8};
  o.lapq.method = quant::InitMethod::kMax;
  o.lapq.quiet = true;
  o.calib_dir = dir + "/calib";
  o.calib_size = 128;
  QuantizedModel qm = quantize(fp32, o);
  const ImageFolder test = ImageFolder::open(dir + "/test", fp32.labels());
  const quant::CalibrationSet data = quant::load_calibration(test, 500, 0, 500, fp32.preprocess());
  ASSERT_EQ(data.batches.size(), 1u);
  const Tensor& x = data.batches[0];
  const std::vector<int>& labels = data.labels[0];
  const int64_t n = x.dim(0), k = 10;
  const std::vector<float> ort = run_ort(qm, x, k);
  const Tensor ours = qm.forward(x);
  int hit_ort = 0, hit_lapq = 0, agree = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int a = argmax(ours.data<float>() + i * k, k), b = argmax(ort.data() + i * k, k);
    hit_lapq += a == labels[i];
    hit_ort += b == labels[i];
    agree += a == b;
  }
  std::printf("ResNet-20 W8A8 on %lld test images: top-1 lapq %.1f %%, ORT %.1f %%, agreement %d\n", (long long)n,
              100.0 * hit_lapq / n, 100.0 * hit_ort / n, agree);
  EXPECT_GE(agree, n - 3 * n / 100);                  // >= 97 %
  EXPECT_LE(std::abs(hit_ort - hit_lapq), n / 100);  // within 1 point
}

}  // namespace
}  // namespace lapq
