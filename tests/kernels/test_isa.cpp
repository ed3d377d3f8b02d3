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
    const Isa expect = static_cast<int>(cap) < static_cast<int>(host_isa()) ? cap : host_isa();
    EXPECT_EQ(active_isa(), expect);
  } else {
    EXPECT_EQ(active_isa(), host_isa());
  }
}

TEST(Isa, NamesRoundTrip) {
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::avx512vnni}) EXPECT_EQ(parse_isa(isa_name(i)), i);
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
  EXPECT_EQ(host_isa(), expect);
}
