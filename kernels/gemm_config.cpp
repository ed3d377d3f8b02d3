// The kernel+packer table: one GemmConfig per (ISA, weight container).
// Operators ask gemm_config(); they never name an ISA themselves.
#include <cpuid.h>

#include <cstdlib>
#include <cstring>

#include "engine/error.h"
#include "kernels/gemm.h"

namespace lapq {

namespace {

// GFNI inside the avx512vnni level: CPUID.(7,0):ECX[8]. Its EVEX (zmm) form needs
// only AVX512F and the zmm OS state, which the level already checked. LAPQ_GFNI=0
// keeps the plain int4 kernels (A/B measurements, tests of both variants).
bool use_int4_gfni() {
  static const bool use = [] {
    const char* env = std::getenv("LAPQ_GFNI");
    if (env && std::strcmp(env, "0") == 0) return false;
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 0, a, b, c, d);
    return (c & bit_GFNI) != 0;
  }();
  return use;
}

}  // namespace

const GemmConfig& gemm_config(Isa isa, bool int4) {
  static const GemmConfig scalar8{"u8s8_gemm_1x16c4__scalar", Isa::scalar, GemmLayout::n16c4_s8,
                                  u8s8_gemm_1x16c4__scalar, 1, 16, 4, false};
  static const GemmConfig scalar4{"u8s4_gemm_1x16c8__scalar", Isa::scalar, GemmLayout::n16c8_s4,
                                  u8s4_gemm_1x16c8__scalar, 1, 16, 8, false};
  static const GemmConfig avx2_8{"u16s16_gemm_6x16c2__avx2", Isa::avx2, GemmLayout::n16c2_s16,
                                 u16s16_gemm_6x16c2__avx2, 6, 16, 2, true};
  static const GemmConfig avx2_4{"u16s4_gemm_6x16c2__avx2", Isa::avx2, GemmLayout::n16c2_s4,
                                 u16s4_gemm_6x16c2__avx2, 6, 16, 2, true};
  // AVX-VNNI: vpdpbusd on ymm, int8 and int4 (nibbles unpacked to 16*w, as on avx512vnni).
  static const GemmConfig avxvnni8{"u8s8_gemm_6x16c4__avxvnni", Isa::avxvnni, GemmLayout::n16c4_s8,
                                   u8s8_gemm_6x16c4__avxvnni, 6, 16, 4, false, u8s8_igemm_6x16c4__avxvnni};
  static const GemmConfig avxvnni4{"u8s4_gemm_6x16c8__avxvnni", Isa::avxvnni, GemmLayout::n16c8_s4,
                                   u8s4_gemm_6x16c8__avxvnni, 6, 16, 8, false, u8s4_igemm_6x16c8__avxvnni};
  static const GemmConfig avx512_8{"u16s16_gemm_8x32c2__avx512", Isa::avx512, GemmLayout::n16c2_s16,
                                   u16s16_gemm_8x32c2__avx512, 8, 32, 2, true};
  static const GemmConfig avx512_4{"u16s4_gemm_8x32c2__avx512", Isa::avx512, GemmLayout::n16c2_s4,
                                   u16s4_gemm_8x32c2__avx512, 8, 32, 2, true};
  static const GemmConfig vnni8 = [] {
    GemmConfig c{"u8s8_gemm_6x64c4__avx512vnni", Isa::avx512vnni, GemmLayout::n16c4_s8,
                 u8s8_gemm_6x64c4__avx512vnni, 6, 64, 4, false, u8s8_igemm_1to6x64c4__avx512vnni};
    c.igemm_exact_rows = true;
    return c;
  }();
  static const GemmConfig vnni4{"u8s4_gemm_6x64c8__avx512vnni", Isa::avx512vnni, GemmLayout::n16c8_s4,
                                u8s4_gemm_6x64c8__avx512vnni, int(kU8s4MaxRows), 64, 8, false, u8s4_igemm_6x64c8__avx512vnni,
                                u8s4_unpack_panel__avx512vnni, u8s4_panel_gemm_6x64c4__avx512vnni,
                                u8s4_panel_igemm_6x64c4__avx512vnni};
  // The same kernels with GFNI nibble unpacking (one vgf2p8affineqb per nibble half),
  // chosen at run time within the avx512vnni level when the host has GFNI.
  static const GemmConfig vnni4_gfni{"u8s4_gemm_6x64c8__avx512vnni_gfni", Isa::avx512vnni, GemmLayout::n16c8_s4,
                                     u8s4_gemm_6x64c8__avx512vnni_gfni, int(kU8s4MaxRows), 64, 8, false,
                                     u8s4_igemm_6x64c8__avx512vnni_gfni, u8s4_unpack_panel__avx512vnni_gfni,
                                     u8s4_panel_gemm_6x64c4__avx512vnni, u8s4_panel_igemm_6x64c4__avx512vnni};
  LAPQ_CHECK(isa_supported(isa), ErrorCode::kUnsupported,
             "gemm_config: ISA ", isa_name(isa), " is not supported by this CPU (host: ", isa_name(host_isa()), ")");
  switch (isa) {
    case Isa::scalar: return int4 ? scalar4 : scalar8;
    case Isa::avx2: return int4 ? avx2_4 : avx2_8;
    case Isa::avxvnni: return int4 ? avxvnni4 : avxvnni8;
    case Isa::avx512: return int4 ? avx512_4 : avx512_8;
    case Isa::avx512vnni: return int4 ? (use_int4_gfni() ? vnni4_gfni : vnni4) : vnni8;
  }
  return scalar8;
}

}  // namespace lapq
