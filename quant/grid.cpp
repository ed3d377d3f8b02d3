// Quantization grids: construction, fake-quantization and integer codes (see grid.h).
#include "quant/grid.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace lapq::quant {

void check_bits(int bits, const char* where) {
  LAPQ_CHECK(bits >= kMinBits && bits <= kMaxBits, ErrorCode::kInvalidArgument, where, ": bit width ", bits,
             " is not supported (lapq quantizes to ", kMinBits, "..", kMaxBits, " bits)");
}

const char* grid_kind_name(GridKind kind) {
  switch (kind) {
    case GridKind::kLapqMidRise: return "lapq-midrise";
    case GridKind::kSymmetric: return "symmetric";
    case GridKind::kUnsigned: return "unsigned";
    case GridKind::kAsymmetric: return "asymmetric";
    case GridKind::kSymmetricFull: return "symmetric-full";
  }
  return "?";
}

bool grid_kind_from_name(std::string_view name, GridKind* kind) {
  for (GridKind k : {GridKind::kLapqMidRise, GridKind::kSymmetric, GridKind::kUnsigned, GridKind::kAsymmetric,
                     GridKind::kSymmetricFull})
    if (name == grid_kind_name(k)) {
      *kind = k;
      return true;
    }
  return false;
}

bool is_weight_grid(GridKind kind) {
  return kind == GridKind::kLapqMidRise || kind == GridKind::kSymmetric || kind == GridKind::kSymmetricFull;
}

float clamp_alpha(float alpha, float reference) {
  const float ref = std::isfinite(reference) ? std::fabs(reference) : 0.0f;
  const float floor = std::max(kAlphaFloorRel * ref, kAlphaFloorAbs);
  // !(alpha >= floor) also catches NaN.
  return !(alpha >= floor) ? floor : alpha;
}

namespace {
int levels(int bits) { return 1 << bits; }
}  // namespace

Grid make_lapq_weight_grid(float alpha, int bits) {
  check_bits(bits, "make_lapq_weight_grid");
  alpha = clamp_alpha(alpha);
  Grid g;
  g.kind = GridKind::kLapqMidRise;
  g.bits = bits;
  g.lo = -alpha;
  g.hi = alpha;
  g.step = 2.0f * alpha / static_cast<float>(levels(bits) - 1);
  return g;
}

Grid make_symmetric_grid(float alpha, int bits) {
  check_bits(bits, "make_symmetric_grid");
  alpha = clamp_alpha(alpha);
  Grid g;
  g.kind = GridKind::kSymmetric;
  g.bits = bits;
  g.lo = -alpha;
  g.hi = alpha;
  g.step = alpha / static_cast<float>((1 << (bits - 1)) - 1);
  return g;
}

Grid make_symmetric_full_grid(float alpha, int bits) {
  check_bits(bits, "make_symmetric_full_grid");
  alpha = clamp_alpha(alpha);
  Grid g;
  g.kind = GridKind::kSymmetricFull;
  g.bits = bits;
  // Dividing by a power of two is exact (alpha >= 1e-12 stays a normal float): step * 2^(b-1) == alpha.
  g.step = alpha / static_cast<float>(1 << (bits - 1));
  g.lo = -alpha;
  g.hi = alpha - g.step;
  return g;
}

Grid make_unsigned_grid(float alpha, int bits) {
  check_bits(bits, "make_unsigned_grid");
  alpha = clamp_alpha(alpha);
  Grid g;
  g.kind = GridKind::kUnsigned;
  g.bits = bits;
  g.lo = 0.0f;
  g.hi = alpha;
  g.step = alpha / static_cast<float>(levels(bits) - 1);
  return g;
}

Grid make_asymmetric_grid(float lo, float hi, int bits) {
  check_bits(bits, "make_asymmetric_grid");
  LAPQ_CHECK(std::isfinite(lo) && std::isfinite(hi), ErrorCode::kInvalidArgument,
             "make_asymmetric_grid: range [", lo, ", ", hi, "] is not finite");
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const float width = clamp_alpha(hi - lo, std::max(-lo, hi));
  if (hi - lo < width) hi = lo + width;
  Grid g;
  g.kind = GridKind::kAsymmetric;
  g.bits = bits;
  g.lo = lo;
  g.hi = hi;
  const int qmax = levels(bits) - 1;
  g.step = (hi - lo) / static_cast<float>(qmax);
  const float zp = std::nearbyint(-lo / g.step);
  g.zero_point = static_cast<int32_t>(std::clamp(zp, 0.0f, static_cast<float>(qmax)));
  return g;
}

Grid make_grid(GridKind kind, float alpha, int bits) {
  switch (kind) {
    case GridKind::kLapqMidRise: return make_lapq_weight_grid(alpha, bits);
    case GridKind::kSymmetric: return make_symmetric_grid(alpha, bits);
    case GridKind::kUnsigned: return make_unsigned_grid(alpha, bits);
    case GridKind::kAsymmetric: return make_asymmetric_grid(-alpha, alpha, bits);
    case GridKind::kSymmetricFull: return make_symmetric_full_grid(alpha, bits);
  }
  throw Error(ErrorCode::kInvalidArgument, "make_grid: unknown grid kind");
}

IntParams int_params(const Grid& g) {
  IntParams p;
  const int qmax = levels(g.bits) - 1;
  switch (g.kind) {
    case GridKind::kLapqMidRise:
      p.scale = g.step / 2.0f;
      p.code_min = -qmax;
      p.code_max = qmax;
      p.is_signed = true;
      break;
    case GridKind::kSymmetric:
      p.scale = g.step;
      p.code_max = (1 << (g.bits - 1)) - 1;
      p.code_min = -p.code_max;
      p.is_signed = true;
      break;
    case GridKind::kSymmetricFull:
      p.scale = g.step;
      p.code_max = (1 << (g.bits - 1)) - 1;
      p.code_min = -(1 << (g.bits - 1));
      p.is_signed = true;
      break;
    case GridKind::kUnsigned:
      p.scale = g.step;
      p.code_max = qmax;
      break;
    case GridKind::kAsymmetric:
      p.scale = g.step;
      p.zero_point = g.zero_point;
      p.code_max = qmax;
      break;
  }
  return p;
}

namespace detail {
Affine affine_of(const Grid& g) {
  const IntParams ip = int_params(g);
  Affine a{};
  a.step = g.step;
  if (g.kind == GridKind::kLapqMidRise) {
    const float qmax = static_cast<float>(levels(g.bits) - 1);
    a.offset = g.hi;  // alpha
    a.rmin = 0.0f;
    a.rmax = qmax;
    a.mul = 2.0f;
    a.add = -qmax;
    a.scale = ip.scale;
  } else {
    a.offset = 0.0f;
    a.rmin = static_cast<float>(ip.code_min - ip.zero_point);
    a.rmax = static_cast<float>(ip.code_max - ip.zero_point);
    a.mul = 1.0f;
    a.add = 0.0f;
    a.scale = ip.scale;
  }
  return a;
}
}  // namespace detail

// The scalar path uses std::nearbyint, the reference rounding; the vector path
// (detail::fake_quantize_affine) must agree with it bit for bit (tests/quant).
int32_t quantize_code(const Grid& g, float x) {
  const detail::Affine a = detail::affine_of(g);
  float v = (x + a.offset) / a.step;
  if (std::isnan(v)) v = 0.0f;  // codes of NaN are undefined; keep the conversion defined
  v = std::clamp(v, a.rmin, a.rmax);
  const float r = std::nearbyint(v);
  const int32_t ri = static_cast<int32_t>(r);
  if (g.kind == GridKind::kLapqMidRise) return 2 * ri - (levels(g.bits) - 1);
  return ri + g.zero_point;
}

float fake_quantize(const Grid& g, float x) {
  const IntParams ip = int_params(g);
  return static_cast<float>(quantize_code(g, x) - ip.zero_point) * ip.scale;
}

void quantize_dequantize(const Grid& g, std::span<const float> src, std::span<float> dst) {
  LAPQ_CHECK(src.size() == dst.size(), ErrorCode::kInvalidArgument, "quantize_dequantize: src has ", src.size(),
             " values, dst ", dst.size());
  const detail::Affine a = detail::affine_of(g);
  const float* s = src.data();
  float* d = dst.data();
  const size_t n = src.size();
  for (size_t i = 0; i < n; ++i) d[i] = detail::fake_quantize_affine(a, s[i]);
}

namespace {
template <class T>
void quantize_codes(const Grid& g, std::span<const float> src, std::span<T> dst) {
  const detail::Affine a = detail::affine_of(g);
  const float* s = src.data();
  T* d = dst.data();
  const size_t n = src.size();
  const float bias = a.add + (g.kind == GridKind::kAsymmetric ? static_cast<float>(g.zero_point) : 0.0f);
  for (size_t i = 0; i < n; ++i) {
    float v = (s[i] + a.offset) / a.step;
    v = v < a.rmin ? a.rmin : v;
    v = v > a.rmax ? a.rmax : v;
    // r * mul + add (+ zp) is a small integer, exact in float.
    d[i] = static_cast<T>(static_cast<int32_t>(detail::rne_small(v) * a.mul + bias));
  }
}
}  // namespace

IntParams quantize_s8(const Grid& g, std::span<const float> src, std::span<int8_t> dst) {
  LAPQ_CHECK(src.size() == dst.size(), ErrorCode::kInvalidArgument, "quantize_s8: src has ", src.size(),
             " values, dst ", dst.size());
  LAPQ_CHECK(is_weight_grid(g.kind), ErrorCode::kInvalidArgument,
             "quantize_s8: a ", grid_kind_name(g.kind), " grid has unsigned codes (use quantize_u8)");
  LAPQ_CHECK(!(g.kind == GridKind::kLapqMidRise && g.bits > 7), ErrorCode::kUnsupported,
             "quantize_s8: ", g.bits, "-bit LAPQ mid-rise codes span [-", levels(g.bits) - 1, ", ",
             levels(g.bits) - 1, "] and do not fit int8; use the symmetric grid at 8 bits");
  quantize_codes<int8_t>(g, src, dst);
  return int_params(g);
}

IntParams quantize_u8(const Grid& g, std::span<const float> src, std::span<uint8_t> dst) {
  LAPQ_CHECK(src.size() == dst.size(), ErrorCode::kInvalidArgument, "quantize_u8: src has ", src.size(),
             " values, dst ", dst.size());
  LAPQ_CHECK(g.kind == GridKind::kUnsigned || g.kind == GridKind::kAsymmetric, ErrorCode::kInvalidArgument,
             "quantize_u8: a ", grid_kind_name(g.kind), " grid has signed codes (use quantize_s8)");
  quantize_codes<uint8_t>(g, src, dst);
  return int_params(g);
}

namespace {
// Elements per output channel of an OC-first tensor, with the checks every per-channel call needs.
size_t channel_size(size_t numel, size_t oc, const char* where) {
  LAPQ_CHECK(oc > 0 && numel % oc == 0, ErrorCode::kInvalidArgument, where, ": ", numel,
             " values do not split into ", oc, " output channels");
  return numel / oc;
}
}  // namespace

void quantize_dequantize_per_channel(std::span<const Grid> grids, std::span<const float> src,
                                     std::span<float> dst) {
  LAPQ_CHECK(src.size() == dst.size(), ErrorCode::kInvalidArgument, "quantize_dequantize_per_channel: src has ",
             src.size(), " values, dst ", dst.size());
  const size_t k = channel_size(src.size(), grids.size(), "quantize_dequantize_per_channel");
  for (size_t c = 0; c < grids.size(); ++c) quantize_dequantize(grids[c], src.subspan(c * k, k), dst.subspan(c * k, k));
}

std::vector<IntParams> quantize_s8_per_channel(std::span<const Grid> grids, std::span<const float> src,
                                               std::span<int8_t> dst) {
  LAPQ_CHECK(src.size() == dst.size(), ErrorCode::kInvalidArgument, "quantize_s8_per_channel: src has ",
             src.size(), " values, dst ", dst.size());
  const size_t k = channel_size(src.size(), grids.size(), "quantize_s8_per_channel");
  std::vector<IntParams> params;
  params.reserve(grids.size());
  for (size_t c = 0; c < grids.size(); ++c)
    params.push_back(quantize_s8(grids[c], src.subspan(c * k, k), dst.subspan(c * k, k)));
  return params;
}

std::vector<float> bias_correct_weights(std::span<const float> wei, std::span<float> wei_hat, int64_t oc) {
  LAPQ_CHECK(wei.size() == wei_hat.size(), ErrorCode::kInvalidArgument, "bias_correct_weights: wei has ",
             wei.size(), " values, wei_hat ", wei_hat.size());
  LAPQ_CHECK(oc > 0, ErrorCode::kInvalidArgument, "bias_correct_weights: ", oc, " output channels");
  const size_t k = channel_size(wei.size(), static_cast<size_t>(oc), "bias_correct_weights");
  std::vector<float> shift(static_cast<size_t>(oc));
  for (size_t c = 0; c < shift.size(); ++c) {
    double sum_w = 0.0, sum_q = 0.0;
    for (size_t i = c * k; i < (c + 1) * k; ++i) {
      sum_w += wei[i];
      sum_q += wei_hat[i];
    }
    shift[c] = static_cast<float>((sum_w - sum_q) / static_cast<double>(k));
    for (size_t i = c * k; i < (c + 1) * k; ++i) wei_hat[i] += shift[c];
  }
  return shift;
}

}  // namespace lapq::quant
