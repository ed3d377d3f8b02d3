// main() for the kernel tests (replaces gtest_main, which is a static archive
// and is therefore not linked when this main exists). Under an LAPQ_MAX_ISA cap
// above the host's ISA the test reports SKIPPED through exit code 77 (the
// SKIP_RETURN_CODE of the ISA_CAPS tests), never a silent pass.
#include <gtest/gtest.h>

#include <cstdio>

#include "kernels/isa.h"

int main(int argc, char** argv) {
  const lapq::Isa cap = lapq::requested_isa_cap();
  if (static_cast<int>(cap) > static_cast<int>(lapq::host_isa())) {
    std::printf("SKIPPED: LAPQ_MAX_ISA=%s exceeds the host ISA %s\n", lapq::isa_name(cap),
                lapq::isa_name(lapq::host_isa()));
    return 77;
  }
  std::printf("testing ISA %s (host %s)\n", lapq::isa_name(lapq::active_isa()), lapq::isa_name(lapq::host_isa()));
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
