// libFuzzer target: arbitrary bytes through the ONNX loader, the graph passes
// and shape inference. Any lapq::Error is a correct answer; a crash, a leak,
// a hang or another exception type is a bug.
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/onnx/onnx_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    lapq::Graph g = lapq::load_onnx_from_memory(data, size, "fuzz.onnx", "");
    lapq::optimize(g);
    std::vector<lapq::Shape> shapes;
    for (int v : g.inputs) {
      lapq::Shape s = g.values[v].shape;
      for (int64_t& d : s) if (d < 0) d = 1;
      shapes.push_back(s);
    }
    lapq::infer_shapes(g, shapes);
  } catch (const lapq::Error&) {
  }
  return 0;
}
