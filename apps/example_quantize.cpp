// Load -> quantize (LAPQ, W4A4) -> run -> save -> load again, in one program.
// Build: the target `lapq_example_quantize`.
//
//   build/bin/lapq_example_quantize models/fashion_resnet.onnx CALIB_DIR IMAGE...
#include <cstdio>

#include "api/quantize.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL.onnx CALIB_DIR IMAGE...\n", argv[0]);
    return 2;
  }
  try {
    lapq::Model fp32 = lapq::Model::load(argv[1]);
    lapq::QuantizeOptions q;
    q.preset.bits = {4, 4};             // 4-bit weights and activations (first/last layer at 8)
    q.lapq.method = lapq::quant::InitMethod::kLapq;
    q.lapq.max_evals = 300;             // keep the example quick
    q.calib_dir = argv[2];
    q.calib_size = 256;
    lapq::QuantizedModel qm = lapq::quantize(fp32, q);
    std::printf("calibration loss: FP32 %.4f -> quantized %.4f (%lld loss evaluations)\n",
                qm.report().stages.front().loss, qm.report().final_loss,
                static_cast<long long>(qm.report().powell_evals));
    qm.save("example_w4a4.lapq");
    lapq::QuantizedModel again = lapq::QuantizedModel::load("example_w4a4.lapq");
    for (int i = 3; i < argc; ++i) {
      const auto a = fp32.classify_file(argv[i], 1)[0];
      const auto b = again.classify_file(argv[i], 1)[0];
      std::printf("%s: FP32 %s (%.3f)  W4A4 %s (%.3f)\n", argv[i], a.label.c_str(), a.probability,
                  b.label.c_str(), b.probability);
    }
  } catch (const lapq::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.exit_status();
  }
  return 0;
}
