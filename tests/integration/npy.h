// Minimal .npy reader for the golden data: float32, little-endian ('<f4'),
// C order, format versions 1-3. Anything else throws std::runtime_error.
#pragma once

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

#include "engine/tensor.h"

namespace lapq::testing {

inline Tensor read_npy_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  char magic[8];
  f.read(magic, 8);
  if (!f || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not a .npy file");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  unsigned char len_bytes[4] = {0, 0, 0, 0};
  f.read(reinterpret_cast<char*>(len_bytes), major == 1 ? 2 : 4);
  for (int i = 3; i >= 0; --i) header_len = header_len << 8 | len_bytes[i];
  std::string header(header_len, '\0');
  f.read(header.data(), header_len);
  if (!f) throw std::runtime_error(path + ": truncated header");
  if (header.find("'descr': '<f4'") == std::string::npos) throw std::runtime_error(path + ": not little-endian float32");
  if (header.find("'fortran_order': False") == std::string::npos) throw std::runtime_error(path + ": not C order");
  const size_t open = header.find("'shape': (");
  if (open == std::string::npos) throw std::runtime_error(path + ": no shape");
  const size_t close = header.find(')', open);
  Shape shape;
  std::string dims = header.substr(open + 10, close - open - 10);
  for (size_t pos = 0; pos < dims.size();) {
    size_t comma = dims.find(',', pos);
    std::string item = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.find_first_of("0123456789") != std::string::npos) shape.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  Tensor t(DType::kF32, shape);
  f.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  if (f.gcount() != static_cast<std::streamsize>(t.nbytes())) throw std::runtime_error(path + ": truncated data");
  return t;
}

}  // namespace lapq::testing
