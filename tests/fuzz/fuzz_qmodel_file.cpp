// libFuzzer target: the quantized model file reader (quant/qmodel_file.h).
// Most mutations of a whole file only hit the checksum check, so unless the
// input starts with the file magic (then it is the whole file), input[1:] is
// used as the PAYLOAD of a file with a valid header and checksum
// (docs/quantized-model-file.md): the section parser, the META JSON, the
// embedded ONNX and the weight-code check all see fuzz data.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/error.h"
#include "quant/qmodel_file.h"

namespace {
void put(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file;
  const bool whole_file = size >= 8 && std::memcmp(data, lapq::quant::kQModelMagic, 8) == 0;
  if (!whole_file && size > 0) {
    const char* payload = reinterpret_cast<const char*>(data + 1);
    const size_t n = size - 1;
    file.append(lapq::quant::kQModelMagic, 8);
    put(file, lapq::quant::kQModelVersion, 4);
    put(file, 4, 4);  // sections
    put(file, n, 8);
    put(file, lapq::quant::fnv1a64(payload, n), 8);
    file.append(payload, n);
  } else {
    file.assign(reinterpret_cast<const char*>(data), size);
  }
  static const std::string path = "/tmp/lapq-fuzz-qmodel-" + std::to_string(getpid()) + ".lapq";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(file.data(), 1, file.size(), f);
  std::fclose(f);
  try {
    lapq::quant::QuantizedModelFile q = lapq::quant::read_quantized_model(path);
    lapq::Graph g = lapq::quant::load_quantized_graph(q, path);
    (void)g;
  } catch (const lapq::Error&) {
  }
  return 0;
}
