// Run-time ISA detection and the LAPQ_MAX_ISA cap.
//
// The levels form a superset chain: scalar ⊂ avx2 ⊂ avx512 ⊂ avx512vnni.
//   avx2       = AVX2 + FMA (+ OS support for ymm state)
//   avx512     = AVX-512 F/BW/VL/DQ (+ OS support for zmm/opmask state)
//   avx512vnni = avx512 + AVX512-VNNI
// host_isa() checks CPUID *and* XGETBV (the OS must save the vector state),
// active_isa() is host_isa() capped by the environment variable LAPQ_MAX_ISA
// (scalar|avx2|avx512|avx512vnni), read once. Kernels and their packers are
// chosen together from one Isa value (kernels/gemm.h, kernels/conv.h).
#pragma once

namespace lapq {

enum class Isa { scalar = 0, avx2 = 1, avx512 = 2, avx512vnni = 3 };

Isa host_isa();
// host_isa() capped by LAPQ_MAX_ISA. Throws lapq::Error(kInvalidArgument) on an
// unknown LAPQ_MAX_ISA value.
Isa active_isa();
// The cap requested by LAPQ_MAX_ISA (avx512vnni when unset); may exceed host_isa().
Isa requested_isa_cap();
const char* isa_name(Isa isa);
// Parses "scalar", "avx2", "avx512", "avx512vnni"; throws kInvalidArgument otherwise.
Isa parse_isa(const char* name);

}  // namespace lapq
