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

// Bit i set = Isa level i usable on this host.
unsigned detect_supported() {
  unsigned a, b, c, d;
  unsigned set = 1u << int(Isa::scalar);
  if (!__get_cpuid(1, &a, &b, &c, &d)) return set;
  const bool osxsave = c & bit_OSXSAVE, avx = c & bit_AVX, fma = c & bit_FMA;
  if (!osxsave || !avx) return set;
  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;       // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;     // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, nullptr) < 7) return set;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = (b & bit_AVX2) && fma && os_ymm;
  const bool avx512 = avx2 && (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512VL) && (b & bit_AVX512DQ) &&
                      os_zmm;
  const bool vnni512 = c & bit_AVX512VNNI;
  __cpuid_count(7, 1, a, b, c, d);
  const bool avxvnni = a & (1u << 4);  // CPUID.(7,1):EAX[4] AVX-VNNI
  if (avx2) set |= 1u << int(Isa::avx2);
  if (avx2 && avxvnni) set |= 1u << int(Isa::avxvnni);
  if (avx512) set |= 1u << int(Isa::avx512);
  if (avx512 && vnni512) set |= 1u << int(Isa::avx512vnni);
  return set;
}

unsigned supported_set() {
  static const unsigned set = detect_supported();
  return set;
}

// The best supported level <= cap (scalar is always supported).
Isa best_up_to(Isa cap) {
  for (int i = int(cap); i > 0; --i)
    if (supported_set() & (1u << i)) return static_cast<Isa>(i);
  return Isa::scalar;
}

constexpr Isa kAllIsas[] = {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512, Isa::avx512vnni};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avxvnni: return "avxvnni";
    case Isa::avx512: return "avx512";
    case Isa::avx512vnni: return "avx512vnni";
  }
  return "unknown";
}

Isa parse_isa(const char* name) {
  for (Isa i : kAllIsas)
    if (std::strcmp(name, isa_name(i)) == 0) return i;
  throw Error(ErrorCode::kInvalidArgument,
              detail::cat("LAPQ_MAX_ISA='", name, "' is not one of scalar|avx2|avxvnni|avx512|avx512vnni"));
}

bool isa_supported(Isa isa) { return supported_set() & (1u << int(isa)); }

Isa host_isa() {
  static const Isa isa = best_up_to(Isa::avx512vnni);
  return isa;
}

Isa requested_isa_cap() {
  const char* env = std::getenv("LAPQ_MAX_ISA");
  return (env && *env) ? parse_isa(env) : Isa::avx512vnni;
}

Isa active_isa() {
  static const Isa isa = best_up_to(requested_isa_cap());
  return isa;
}

}  // namespace lapq
