// Quantization grids: the level sets lapq quantizes onto, fake-quantization
// (quantize + dequantize in float) and the integer codes the engine deploys.
// The formulas, rounding rule and integer forms are derived in
// docs/quantization-math.md; lapq-method.md states the LAPQ grids.
//
// Five grids, b = 2..8 bits, n = 2^b:
//   kLapqMidRise  weights (LAPQ): n levels over [-alpha, alpha], zero is NOT a level.
//                 step = 2 alpha/(n-1); q = rne(clamp((w+alpha)/step, 0, n-1));
//                 w_hat = step/2 * (2q - n + 1): odd codes in [-(n-1), n-1].
//   kSymmetric    ordinary restricted-range signed grid, zero included:
//                 step = alpha/(2^(b-1)-1); q in [-(2^(b-1)-1), 2^(b-1)-1].
//   kSymmetricFull the full signed range (PyTorch's qint8 [-128, 127]), zero included:
//                 step = alpha/2^(b-1); q = rne(clamp(w/step, -2^(b-1), 2^(b-1)-1));
//                 levels lo = -alpha .. hi = alpha - step (one more level than
//                 kSymmetric, on the negative side). The power-of-two divisor makes
//                 alpha = 2^(b-1) * scale recover any file's scale exactly.
//   kUnsigned     ReLU outputs: step = alpha/(n-1); q = rne(clamp(x/step, 0, n-1)).
//   kAsymmetric   [lo, hi] with a zero point (residual sums, network input, LeakyReLU):
//                 step = (hi-lo)/(n-1); zp = clamp(rne(-lo/step), 0, n-1);
//                 q = clamp(rne(x/step) + zp, 0, n-1); x_hat = (q - zp) step.
// rne = round half to even (std::nearbyint in the default FP mode).
//
// Every grid has an integer form x_hat = scale * (code - zero_point) (IntParams);
// the fake-quant functions compute exactly that product, so a fake-quantized
// tensor is bit-identical to dequantizing the deployed integer codes.
//
// Inputs are assumed finite (NaN/Inf weights are rejected by the callers that
// read models; the Lp fitters check max|x| for finiteness).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace lapq::quant {

inline constexpr int kMinBits = 2;
inline constexpr int kMaxBits = 8;

// Throws Error(kInvalidArgument) unless 2 <= bits <= 8; `where` names the caller.
void check_bits(int bits, const char* where);

enum class GridKind : uint8_t { kLapqMidRise, kSymmetric, kUnsigned, kAsymmetric, kSymmetricFull };
// "lapq-midrise", "symmetric", "unsigned", "asymmetric", "symmetric-full" (the names
// stored in .lapq files and QDQ weight grid hints).
const char* grid_kind_name(GridKind kind);
// The kind named `name` (grid_kind_name's inverse); false for an unknown name.
bool grid_kind_from_name(std::string_view name, GridKind* kind);
// Grids whose codes are signed weight codes (kLapqMidRise, kSymmetric, kSymmetricFull).
bool is_weight_grid(GridKind kind);

// Smallest clipping value any grid accepts: alpha (or hi - lo) is raised to
// max(kAlphaFloorRel * reference, kAlphaFloorAbs) so a grid never collapses to a
// zero step (the LAPQ reference lets alpha <= 0 through and the loss explodes).
inline constexpr float kAlphaFloorAbs = 1e-12f;
inline constexpr float kAlphaFloorRel = 1e-8f;
// max(alpha, floor) with the floor above; reference = max|x| of the data (0 = unknown).
float clamp_alpha(float alpha, float reference = 0.0f);

// A fully specified grid. Build it with the make_* functions, never by hand.
struct Grid {
  GridKind kind = GridKind::kUnsigned;
  int bits = 8;
  float lo = 0.0f;       // smallest level (kLapqMidRise / kSymmetric / kSymmetricFull: -alpha, kUnsigned: 0)
  float hi = 0.0f;       // largest level  (alpha, except kSymmetricFull: alpha - step)
  float step = 0.0f;     // distance between adjacent levels
  int32_t zero_point = 0;  // kAsymmetric only (0 for the others)
  // The clipping value the grid was made from (make_grid(kind, alpha(), bits) == *this).
  float alpha() const { return kind == GridKind::kSymmetricFull ? -lo : hi; }
};

Grid make_lapq_weight_grid(float alpha, int bits);
Grid make_symmetric_grid(float alpha, int bits);
Grid make_symmetric_full_grid(float alpha, int bits);
Grid make_unsigned_grid(float alpha, int bits);
// lo is raised to <= 0 and hi to >= 0 (zero must be representable: a zero-padded
// border must quantize to exactly zero); hi - lo is floored like alpha.
Grid make_asymmetric_grid(float lo, float hi, int bits);
// The single-parameter grids by kind (kAsymmetric: [-alpha, alpha]).
Grid make_grid(GridKind kind, float alpha, int bits);

// Integer form of a grid: x_hat = scale * (code - zero_point).
//   kLapqMidRise: code = 2q - n + 1 (odd, s8 for b <= 7), scale = step/2, zp 0
//   kSymmetric:   code = q (s8), scale = step, zp 0
//   kSymmetricFull: code = q in [-2^(b-1), 2^(b-1)-1] (s8: -128..127 at 8 bits, -8..7 at 4), scale = step, zp 0
//   kUnsigned:    code = q (u8), scale = step, zp 0
//   kAsymmetric:  code = q (u8), scale = step, zp = zero_point
struct IntParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  int32_t code_min = 0;
  int32_t code_max = 0;
  bool is_signed = false;  // codes stored as int8 (true) or uint8 (false)
};
IntParams int_params(const Grid& g);

// The integer code of one value (in [code_min, code_max]) and its dequantized value.
int32_t quantize_code(const Grid& g, float x);
float fake_quantize(const Grid& g, float x);

// dst[i] = fake_quantize(g, src[i]). src and dst may be the same span; sizes must match.
// Vectorizable (no calls in the loop).
void quantize_dequantize(const Grid& g, std::span<const float> src, std::span<float> dst);

// Integer codes. quantize_s8 accepts kSymmetric, kSymmetricFull and kLapqMidRise with bits <= 7
// (8-bit LAPQ codes span [-255, 255] and do not fit s8: kUnsupported);
// quantize_u8 accepts kUnsigned and kAsymmetric. Returns int_params(g).
IntParams quantize_s8(const Grid& g, std::span<const float> src, std::span<int8_t> dst);
IntParams quantize_u8(const Grid& g, std::span<const float> src, std::span<uint8_t> dst);

// ---- Per output channel (OC-first weights: [OC, ...], grids.size() == OC) ----
// Each channel c (src.size()/OC consecutive values) uses grids[c].
void quantize_dequantize_per_channel(std::span<const Grid> grids, std::span<const float> src,
                                     std::span<float> dst);
// Codes per channel; returns one IntParams per channel.
std::vector<IntParams> quantize_s8_per_channel(std::span<const Grid> grids, std::span<const float> src,
                                               std::span<int8_t> dst);

// ---- Weight bias correction (LAPQ "-bcw") ----
// For each output channel c of an OC-first weight: shift_c = mean(wei_c) - mean(wei_hat_c)
// (means in double), then wei_hat_c[i] += shift_c. Returns the shifts. In integer form the
// corrected weight is scale_c * code + shift_c, i.e. a real-valued weight zero point
// -shift_c / scale_c; its effect on a conv output is shift_c * (sum of the input window).
std::vector<float> bias_correct_weights(std::span<const float> wei, std::span<float> wei_hat, int64_t oc);

// ---- The shared inner loop (used by grid.cpp and lp_init.cpp) ----
namespace detail {
#ifdef __FAST_MATH__
#error "quant/grid.h relies on IEEE float semantics (the rounding trick below); do not build with -ffast-math"
#endif
// Every grid in one affine form:
//   r = rne(clamp((x + offset) / step, rmin, rmax));  x_hat = (r * mul + add) * scale
// kLapqMidRise: offset alpha, r = q in [0, n-1], mul 2, add -(n-1), scale step/2.
// Others: offset 0, r = code - zero_point, mul 1, add 0, scale step.
struct Affine {
  float offset, step, rmin, rmax, mul, add, scale;
};
Affine affine_of(const Grid& g);
// Round half to even for |v| <= 2^22: adding and subtracting 1.5 * 2^23 leaves the
// nearest integer (ties to even, the default rounding mode) and, unlike a call to
// nearbyint, vectorizes on baseline SSE2. Only used on values already clamped to the
// grid's code range (|v| <= 255), where it equals std::nearbyint exactly (tested).
inline float rne_small(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}
inline float fake_quantize_affine(const Affine& a, float x) {
  float v = (x + a.offset) / a.step;
  v = v < a.rmin ? a.rmin : v;
  v = v > a.rmax ? a.rmax : v;
  const float r = rne_small(v);
  return (r * a.mul + a.add) * a.scale;
}
}  // namespace detail

}  // namespace lapq::quant
