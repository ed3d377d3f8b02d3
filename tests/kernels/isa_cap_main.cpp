// main() for the kernel tests (replaces gtest_main, which is a static archive
// and is therefore not linked when this main exists). Under an LAPQ_MAX_ISA cap
// this host does not support (above its ISA, or avxvnni on an AVX-512 CPU without
// AVX-VNNI) the test reports SKIPPED through exit code 77 (the SKIP_RETURN_CODE of
// the ISA_CAPS tests), never a silent pass on a lower level.
#include <gtest/gtest.h>

#include <cstdio>

#include "kernels/isa.h"

int main(int argc, char** argv) {
  const lapq::Isa cap = lapq::requested_isa_cap();
  if (!lapq::isa_supported(cap)) {
    std::printf("SKIPPED: LAPQ_MAX_ISA=%s is not supported by this host (best: %s)\n", lapq::isa_name(cap),
                lapq::isa_name(lapq::host_isa()));
    return 77;
  }
  std::printf("testing ISA %s (host %s)\n", lapq::isa_name(lapq::active_isa()), lapq::isa_name(lapq::host_isa()));
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
