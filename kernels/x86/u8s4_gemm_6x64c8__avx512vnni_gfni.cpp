// u8s4_gemm_6x64c8__avx512vnni_gfni (+ the igemm and the panel unpack): the
// avx512vnni int4 kernels with GFNI nibble unpacking (one vgf2p8affineqb per
// nibble half instead of and/shift/vpshufb), for hosts that have GFNI on top of
// the avx512vnni level (Ice Lake and later, Zen 4 and later; not Cascade Lake).
// gemm_config() picks it at run time inside the avx512vnni level (LAPQ_GFNI=0
// keeps the plain variant). Same file, built with -mgfni.
#define LAPQ_U8S4_GFNI 1
#include "kernels/x86/u8s4_gemm_6x64c8__avx512vnni.cpp"
