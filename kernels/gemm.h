// Integer GEMM microkernels (u8 activations x s8/s4 weights -> int32) and
// the packed weight layouts they consume. A kernel and its packer are one
// unit (GemmConfig), chosen together once from an Isa (gemm_config()).
//
// Exact arithmetic (the contract every ISA variant meets bit for bit; the
// scalar kernel and kernels/reference.h are the reference):
//   acc[m][n] = wrap32( sum_k (a[m][k] - za) * w[n][k] + bias[n] )   int32
//   t = (float)acc                                  (round-to-nearest-even)
//   if wei_zp:  t = t - wei_zp[n] * (float)rowsum[m]  (two float roundings)
//               with rowsum[m] = sum_k (a[m][k] - za) (int32, exact)
//   y = t * scale[n];  if bias_f: y = y + bias_f[n]  (two float roundings, no FMA)
//   f32 output:  dst = y
//   u8  output:  dst = clamp(nearbyint(y) + zp, qmin, qmax)  (round half to even;
//                computed as nearbyint(min(max(y, qmin-zp), qmax-zp)) + zp)
// The packers fold the int32 bias and the zero-point compensation -za*sum_k w
// into one int32 per output channel, so kernels start from it and add a*w.
// The int4 kernels accumulate 16*w (nibble unpack trick) and multiply by
// 0.0625f first, which is exact, so int4 results equal int8 results for the
// same weight values.
// Overflow: the packer rejects layers where K*255*128 + |bias| (x16 for s4)
// could exceed 2^31-1, so acc is always exact.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"

namespace lapq {

// Epilogue arguments of one kernel call. Pointers are already offset to the
// call's first output channel / first row.
struct GemmEpilogue {
  const float* scale = nullptr;     // [nc] acc -> output units (required)
  const float* bias = nullptr;      // [nc] added after scaling, or nullptr
  const float* wei_zp = nullptr;    // [nc] real-valued weight zero points, or nullptr
  const int32_t* rowsum = nullptr;  // [mr] sum_k (a - za), required iff wei_zp
  float lo = 0.f, hi = 255.f;       // qmin - zp, qmax - zp (u8 output)
  int32_t zp = 0;                   // output zero point (u8 output)
  bool f32_out = false;             // true: dst is float
  // Optional: bytes the caller will read next (the next weight panel), pulled
  // toward L2 one cache line per K step by kernels that support it; a hint only.
  const void* prefetch = nullptr;
  size_t prefetch_bytes = 0;
};

// Packed weight layouts. One "block" holds 16 output channels; the output
// channels of a group are padded with zero weights to a multiple of 16.
enum class GemmLayout {
  // int32 bias[16]; int8 w[Kp/4][16][4]; Kp = round_up(K, 4). (vpdpbusd operand)
  n16c4_s8,
  // int32 bias16[16] (x16); uint8 w[Kp/8][16][4]: low nibble = w[8i+j],
  // high nibble = w[8i+4+j]; Kp = round_up(K, 8).
  n16c8_s4,
  // int32 bias[16]; int16 w[Kp/2][16][2]; Kp = round_up(K, 2). (vpmaddwd operand,
  // activations widened to u16)
  n16c2_s16,
  // int32 bias[16]; uint8 w[Kp/2][16]: low nibble = w[2i], high nibble = w[2i+1].
  n16c2_s4,
};

// Computes an mr x nc tile (mr <= config.mr, nc <= config.nr) of
// dst = epilogue(a * w^T):
//   a:   (mr, a_stride bytes) rows of Kp activations, u8 or u16 (a_u16 layouts)
//   w:   the packed blocks of the tile's channels, consecutive, w_block_bytes apart
//   dst: (mr, dst_stride elements) u8 or float
using GemmUkernel = void (*)(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
                             const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                             const GemmEpilogue* ep);

// Indirect GEMM (convolution without an im2col copy): row i of the tile reads
// its K = taps * kc activations from `taps` pointers ptrs[i * taps + t], kc
// bytes each (kc a multiple of the config's kr); rows beyond mr must repeat
// valid pointers. Same packed weights and epilogue as GemmUkernel.
using IgemmUkernel = void (*)(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs,
                              const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                              const GemmEpilogue* ep);

struct GemmConfig {
  const char* name = "";   // e.g. "u8s8_gemm_6x64c4__avx512vnni"
  Isa isa = Isa::scalar;
  GemmLayout layout = GemmLayout::n16c4_s8;
  GemmUkernel ukernel = nullptr;
  int mr = 1, nr = 16;     // register tile
  int kr = 4;              // K is padded to a multiple of kr
  bool a_u16 = false;      // activations must be widened to u16 (vpmaddwd kernels)
  IgemmUkernel igemm = nullptr;  // indirect variant, or nullptr
  // int4 only: unpack a panel of blocks to n16c4_s8 (plain weights and bias) once,
  // then run these kernels on it (used for tall tiles; weights still travel as nibbles).
  void (*panel_unpack)(const void* w, size_t nblocks, size_t kp, size_t w_block_bytes, void* out) = nullptr;
  GemmUkernel panel_ukernel = nullptr;
  IgemmUkernel panel_igemm = nullptr;
  // The igemm computes exactly mr rows at a cost proportional to mr, and its K loop
  // beats the ukernel's on long K: the conv driver splits M into balanced tiles for
  // it and also runs 1x1 GEMMs with K >= kIgemmDirectMinK through it (one pointer
  // per row).
  bool igemm_exact_rows = false;
};

// K from which the conv driver runs a direct (1x1) GEMM through an igemm with
// igemm_exact_rows (measured on avx512vnni: equal at K = 512 and M = 784, +3-9 %
// at K >= 1024 with 49-196 rows, 2-3 % slower at K = 64-256).
inline constexpr int kIgemmDirectMinK = 512;

// The kernel+packer unit for weights stored in 8-bit (int4 = false) or 4-bit
// containers on the given ISA (must not exceed host_isa()).
const GemmConfig& gemm_config(Isa isa, bool int4);

int gemm_layout_kr(GemmLayout layout);
size_t gemm_padded_k(GemmLayout layout, size_t k);
// Bytes of one 16-channel block of K (unpadded) inputs.
size_t gemm_block_bytes(GemmLayout layout, size_t k);

// Packs w: (n, k) int8 (values must fit the layout: [-8, 7] for s4 layouts)
// with int32 bias (nullptr = 0) and the compensation for activation zero
// point za, into ceil(n/16) blocks at dst (gemm_block_bytes each).
void pack_gemm_weights(GemmLayout layout, size_t n, size_t k, const int8_t* w, const int32_t* bias,
                       int32_t za, void* dst);
// Inverse of pack_gemm_weights: recovers w (n, k) and the original bias (n).
void unpack_gemm_weights(GemmLayout layout, size_t n, size_t k, const void* packed, int32_t za,
                         int8_t* w, int32_t* bias);

// Kernels (file name = function name).
void u8s8_gemm_1x16c4__scalar(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s4_gemm_1x16c8__scalar(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s8_gemm_6x64c4__avx512vnni(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s4_gemm_6x64c8__avx512vnni(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
// Indirect GEMM on exactly mr (1..6) rows (cost proportional to mr; rows beyond mr
// are never read) with a spill-free K loop: the igemm of the avx512vnni int8 config.
void u8s8_igemm_1to6x64c4__avx512vnni(size_t, size_t, size_t, size_t, const uint8_t* const*, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s4_igemm_6x64c8__avx512vnni(size_t, size_t, size_t, size_t, const uint8_t* const*, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s4_unpack_panel__avx512vnni(const void* w, size_t nblocks, size_t kp, size_t w_block_bytes, void* out);
// The same three with GFNI nibble unpacking (avx512vnni hosts with GFNI; see gemm_config()).
void u8s4_gemm_6x64c8__avx512vnni_gfni(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s4_igemm_6x64c8__avx512vnni_gfni(size_t, size_t, size_t, size_t, const uint8_t* const*, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s4_unpack_panel__avx512vnni_gfni(const void* w, size_t nblocks, size_t kp, size_t w_block_bytes, void* out);
// Rows per call of the int4 VNNI kernels (GemmConfig::mr): a 7x7 layer at batch 1
// (49 rows) is one call, which unpacks each K chunk of nibbles once for all rows.
// A multiple of 6, so tall tiles on unpacked panels split into whole 6-row tiles.
inline constexpr size_t kU8s4MaxRows = 60;
// The calling thread's scratch for the int4 kernels' unpacked weight panels: at
// least `bytes`, 64-byte aligned, grows only (no allocation once warm). Baseline
// code (kernels/pack.cpp), so the ISA files need no std containers of their own.
uint8_t* int4_panel_scratch(size_t bytes);
void u8s4_panel_gemm_6x64c4__avx512vnni(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s4_panel_igemm_6x64c4__avx512vnni(size_t, size_t, size_t, size_t, const uint8_t* const*, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s8_gemm_6x16c4__avxvnni(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s8_igemm_6x16c4__avxvnni(size_t, size_t, size_t, size_t, const uint8_t* const*, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s4_gemm_6x16c8__avxvnni(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u8s4_igemm_6x16c8__avxvnni(size_t, size_t, size_t, size_t, const uint8_t* const*, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u16s16_gemm_6x16c2__avx2(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u16s4_gemm_6x16c2__avx2(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u16s16_gemm_8x32c2__avx512(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);
void u16s4_gemm_8x32c2__avx512(size_t, size_t, size_t, const void*, size_t, const void*, size_t, void*, size_t, const GemmEpilogue*);

}  // namespace lapq
