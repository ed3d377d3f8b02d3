// Bit-exact comparison of a kernel's output with the reference's (tolerance 0):
// counts the elements whose bytes differ and reports the first one.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace lapq::test {

template <class T>
size_t count_mismatches(const std::vector<T>& got, const std::vector<T>& want, const std::string& name) {
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(T)) != 0 && bad++ == 0)
      ADD_FAILURE() << name << " first mismatch at " << i << ": " << +got[i] << " vs " << +want[i];
  return bad;
}

}  // namespace lapq::test
