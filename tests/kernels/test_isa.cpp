// ISA detection and the LAPQ_MAX_ISA cap.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "engine/error.h"
#include "kernels/isa.h"

using namespace lapq;

TEST(Isa, ActiveIsHostCappedByEnvironment) {
  const char* env = std::getenv("LAPQ_MAX_ISA");
  if (env && *env) {
    const Isa cap = parse_isa(env);
    Isa expect = Isa::scalar;  // the best supported level not above the cap
    for (int i = 0; i <= static_cast<int>(cap); ++i)
      if (isa_supported(static_cast<Isa>(i))) expect = static_cast<Isa>(i);
    EXPECT_EQ(active_isa(), expect);
    EXPECT_TRUE(isa_supported(active_isa()));
  } else {
    EXPECT_EQ(active_isa(), host_isa());
  }
}

TEST(Isa, NamesRoundTrip) {
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512, Isa::avx512vnni}) EXPECT_EQ(parse_isa(isa_name(i)), i);
}

TEST(Isa, UnknownNameIsAnError) {
  try {
    parse_isa("avx1024");
    FAIL() << "expected lapq::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("avx1024"), std::string::npos);
  }
}

TEST(Isa, HostHasAtLeastWhatTheBuildMachineReports) {
  // The CPU flags seen by the compiler builtins must agree with our CPUID path.
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  Isa expect = Isa::scalar;
  if (__builtin_cpu_supports("avx512vnni") && avx512) {
    expect = Isa::avx512vnni;
  } else if (avx512) {
    expect = Isa::avx512;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    expect = Isa::avx2;
  }
  if (expect < Isa::avx512 && __builtin_cpu_supports("avxvnni")) expect = Isa::avxvnni;
  EXPECT_EQ(host_isa(), expect);
  // Each level's own features, independent of the order.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  EXPECT_TRUE(isa_supported(Isa::scalar));
  EXPECT_EQ(isa_supported(Isa::avx2), avx2);
  EXPECT_EQ(isa_supported(Isa::avxvnni), avx2 && __builtin_cpu_supports("avxvnni"));
  EXPECT_EQ(isa_supported(Isa::avx512), avx512);
  EXPECT_EQ(isa_supported(Isa::avx512vnni), avx512 && __builtin_cpu_supports("avx512vnni"));
}
