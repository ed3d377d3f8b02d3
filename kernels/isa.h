// Run-time ISA detection and the LAPQ_MAX_ISA cap.
//
// The levels, in order of preference: scalar < avx2 < avxvnni < avx512 < avx512vnni.
//   avx2       = AVX2 + FMA (+ OS support for ymm state)
//   avxvnni    = avx2 + AVX-VNNI (VEX vpdpbusd on ymm; e.g. Alder Lake, no AVX-512)
//   avx512     = avx2 + AVX-512 F/BW/VL/DQ (+ OS support for zmm/opmask state)
//   avx512vnni = avx512 + AVX512-VNNI
// Each level is a superset of avx2; avxvnni and avx512 are not nested (Skylake-X
// has avx512 but no AVX-VNNI), so a level is usable when the host has its own
// features (isa_supported). host_isa() is the best usable level (CPUID *and*
// XGETBV: the OS must save the vector state); active_isa() the best usable level
// not above the environment cap LAPQ_MAX_ISA (scalar|avx2|avxvnni|avx512|avx512vnni),
// read once. Kernels and their packers are chosen together from one Isa value
// (kernels/gemm.h, kernels/conv.h).
#pragma once

namespace lapq {

enum class Isa { scalar = 0, avx2 = 1, avxvnni = 2, avx512 = 3, avx512vnni = 4 };

// True when this CPU and OS support every feature of the level.
bool isa_supported(Isa isa);
Isa host_isa();
// The best supported level not above LAPQ_MAX_ISA. Throws lapq::Error(kInvalidArgument) on an
// unknown LAPQ_MAX_ISA value.
Isa active_isa();
// The cap requested by LAPQ_MAX_ISA (avx512vnni when unset); may exceed host_isa().
Isa requested_isa_cap();
const char* isa_name(Isa isa);
// Parses "scalar", "avx2", "avxvnni", "avx512", "avx512vnni"; throws kInvalidArgument otherwise.
Isa parse_isa(const char* name);

}  // namespace lapq
