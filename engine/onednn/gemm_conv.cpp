// kGemm convolution (see conv.h): a 1x1 stride-1 convolution on NCHW data is
// one GEMM per image, dst(OC, HW) = wei(OC, IC) x src(IC, HW), with no layout
// conversion at all. The HW columns are cut into blocks; each block is one
// dnnl_sgemm (single-threaded: oneDNN runs it sequentially inside our
// parallel region) followed by bias + activation on that block while its
// OC x cols outputs are still in L2.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/onednn/conv.h"
#include "engine/onednn/context.h"

namespace lapq::onednn {

namespace {

using Kind = FusedActivation::Kind;

// dst(rows, cols) with leading dimension ld: dst = act(dst + bias[row]).
// The formulas are FusedActivation::apply's, one loop per kind so each
// inner loop is branch-free and vectorizes.
template <class F>
void epilogue(float* dst, int64_t rows, int64_t cols, int64_t ld, const float* bias, F act) {
  for (int64_t r = 0; r < rows; ++r) {
    float* d = dst + r * ld;
    const float b = bias ? bias[r] : 0.f;
    for (int64_t c = 0; c < cols; ++c) d[c] = act(d[c] + b);
  }
}

void apply_epilogue(float* dst, int64_t rows, int64_t cols, int64_t ld, const float* bias, const FusedActivation& a) {
  const float alpha = a.alpha, beta = a.beta;
  switch (a.kind) {
    case Kind::kNone: epilogue(dst, rows, cols, ld, bias, [](float x) { return x; }); break;
    case Kind::kRelu: epilogue(dst, rows, cols, ld, bias, [](float x) { return x > 0.f ? x : 0.f; }); break;
    case Kind::kClip:
      epilogue(dst, rows, cols, ld, bias, [=](float x) { return std::min(std::max(x, alpha), beta); });
      break;
    case Kind::kLeakyRelu:
      epilogue(dst, rows, cols, ld, bias, [=](float x) { return x >= 0.f ? x : alpha * x; });
      break;
    case Kind::kSigmoid:
      epilogue(dst, rows, cols, ld, bias, [](float x) { return 1.f / (1.f + std::exp(-x)); });
      break;
    case Kind::kHardSigmoid:
      epilogue(dst, rows, cols, ld, bias,
               [=](float x) { return std::max(0.f, std::min(1.f, alpha * x + beta)); });
      break;
    case Kind::kHardSwish:
      epilogue(dst, rows, cols, ld, bias,
               [](float x) { return x * std::max(0.f, std::min(1.f, x / 6.f + 0.5f)); });
      break;
  }
}

class GemmConvKernel final : public OpKernel {
 public:
  GemmConvKernel(const ConvShape& s, const float* wei, const float* bias, const FusedActivation& act,
                 const FusedActivation* sum_activation)
      : N_(s.N), IC_(s.IC), OC_(s.OC), HW_(s.OH * s.OW), wei_(wei, wei + s.OC * s.IC),
        act_(sum_activation ? *sum_activation : act), beta_(sum_activation ? 1.f : 0.f), shape_(s) {
    if (bias) bias_.assign(bias, bias + s.OC);
    strided_ = s.stride_h != 1 || s.stride_w != 1;
    // src(IC, OH * OW) gathered from the strided pixels of one image.
    if (strided_) Workspace::get().reserve(align64(sizeof(float) * IC_ * HW_));
    // Columns per block: the block's outputs (OC x cols floats) stay within
    // ~256 KiB of L2; at least 64 columns so the GEMM stays efficient.
    const int64_t by_cache = (int64_t{256} << 10) / (4 * std::max<int64_t>(OC_, 1));
    block_cols_ = std::clamp<int64_t>(by_cache / 16 * 16, 64, std::max<int64_t>(HW_, 1));
  }

  void run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const float* src = static_cast<const float*>(in[0]->raw());
    float* dst = static_cast<float*>(out[0]->raw());
    if (!strided_) return run_gemm(src, IC_ * HW_, dst, N_);
    Workspace::Lease lease = Workspace::get().acquire();
    float* gathered = reinterpret_cast<float*>(lease.data);
    const ConvShape& s = shape_;
    for (int64_t n = 0; n < N_; ++n) {
      const float* src_n = src + n * IC_ * s.H * s.W;
#pragma omp parallel for schedule(static)
      for (int64_t c = 0; c < IC_; ++c)
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          const float* row = src_n + (c * s.H + oh * s.stride_h) * s.W;
          float* g = gathered + (c * s.OH + oh) * s.OW;
          for (int64_t ow = 0; ow < s.OW; ++ow) g[ow] = row[ow * s.stride_w];
        }
      run_gemm(gathered, 0, dst + n * OC_ * HW_, 1);
    }
  }

  // `images` GEMMs: src image i at src + i * src_image_stride (IC, HW).
  void run_gemm(const float* src, int64_t src_image_stride, float* dst, int64_t images) {
    const bool need_epilogue = !bias_.empty() || act_.kind != Kind::kNone;
    const float* bias = bias_.empty() ? nullptr : bias_.data();
    // With several threads, smaller blocks so every thread gets work.
    const int threads = omp_get_max_threads();
    int64_t cols = block_cols_;
    if (threads > 1) cols = std::max<int64_t>(16, std::min(cols, (HW_ + threads * 2 - 1) / (threads * 2)));
    const int64_t blocks_per_image = (HW_ + cols - 1) / cols;
    const int64_t total = images * blocks_per_image;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < total; ++b) {
      const int64_t n = b / blocks_per_image, j0 = (b % blocks_per_image) * cols;
      const int64_t nc = std::min(cols, HW_ - j0);
      const float* s = src + n * src_image_stride + j0;
      float* d = dst + n * OC_ * HW_ + j0;
      // Row-major: d(OC, nc; ld HW) = wei(OC, IC) x s(IC, nc; ld HW).
      // beta = 1 with residual fusion: d = wei x s + d (the residual), then bias and activation.
      dnnl_sgemm('N', 'N', OC_, nc, IC_, 1.f, wei_.data(), IC_, s, HW_, beta_, d, HW_);
      if (need_epilogue) apply_epilogue(d, OC_, nc, HW_, bias, act_);
    }
  }

  std::string impl_name() const override {
    return std::string(strided_ ? "onednn:sgemm_1x1_strided(nchw)" : "onednn:sgemm_1x1(nchw)") +
           (beta_ != 0.f ? "+sum" : "");
  }
  bool fuses_activation() const override { return true; }

 private:
  int64_t N_, IC_, OC_, HW_;
  std::vector<float> wei_;   // (OC, IC) row-major
  std::vector<float> bias_;  // (OC) or empty
  FusedActivation act_;  // the residual sum's activation with residual fusion
  float beta_ = 0.f;     // 1: dst holds the residual on entry (residual fusion)
  int64_t block_cols_ = 64;
  ConvShape shape_;
  bool strided_ = false;
};

}  // namespace

std::unique_ptr<OpKernel> make_gemm_conv(const ConvShape& s, const float* wei, const float* bias,
                                         const FusedActivation& act, const FusedActivation* sum_activation) {
  return std::make_unique<GemmConvKernel>(s, wei, bias, act, sum_activation);
}

}  // namespace lapq::onednn
