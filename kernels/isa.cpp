#include "kernels/isa.h"

#include <cpuid.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "engine/error.h"

namespace lapq {
namespace {

uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

Isa detect_host_isa() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::scalar;
  const bool osxsave = c & bit_OSXSAVE, avx = c & bit_AVX, fma = c & bit_FMA;
  if (!osxsave || !avx) return Isa::scalar;
  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;       // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;     // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, nullptr) < 7) return Isa::scalar;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & bit_AVX2;
  const bool avx512 = (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512VL) && (b & bit_AVX512DQ);
  const bool vnni = c & bit_AVX512VNNI;
  if (!(avx2 && fma && os_ymm)) return Isa::scalar;
  if (!(avx512 && os_zmm)) return Isa::avx2;
  return vnni ? Isa::avx512vnni : Isa::avx512;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512vnni: return "avx512vnni";
  }
  return "unknown";
}

Isa parse_isa(const char* name) {
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::avx512vnni})
    if (std::strcmp(name, isa_name(i)) == 0) return i;
  throw Error(ErrorCode::kInvalidArgument,
              detail::cat("LAPQ_MAX_ISA='", name, "' is not one of scalar|avx2|avx512|avx512vnni"));
}

Isa host_isa() {
  static const Isa isa = detect_host_isa();
  return isa;
}

Isa requested_isa_cap() {
  const char* env = std::getenv("LAPQ_MAX_ISA");
  return (env && *env) ? parse_isa(env) : Isa::avx512vnni;
}

Isa active_isa() {
  static const Isa cap = requested_isa_cap();
  return static_cast<int>(cap) < static_cast<int>(host_isa()) ? cap : host_isa();
}

}  // namespace lapq
