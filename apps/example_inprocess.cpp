// A complete program using lapq in-process: load a model, classify images,
// print the top-3 of each. Build: it is the target `lapq_example_inprocess`;
// link your own program against lapq::lapq the same way.
//
//   build/bin/lapq_example_inprocess models/fashion_resnet.onnx img1.png img2.png
#include <cstdio>

#include "api/lapq.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.onnx IMAGE...\n", argv[0]);
    return 2;
  }
  try {
    lapq::Model model = lapq::Model::load(argv[1]);
    for (int i = 2; i < argc; ++i) {
      std::printf("%s\n", argv[i]);
      for (const lapq::Prediction& p : model.classify_file(argv[i], 3))
        std::printf("  %-12s %.3f\n", p.label.c_str(), p.probability);
    }
  } catch (const lapq::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.exit_status();
  }
  return 0;
}
