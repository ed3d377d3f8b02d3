// lapq export --format onnx-qdq Q.lapq OUT.onnx: a quantized model as a standard
// ONNX QDQ model (QuantizeLinear / DequantizeLinear around lapq's grids) that
// ONNX Runtime and other tools run (docs/qdq.md). Given an FP32 ONNX model and
// --bits instead, it quantizes on the spot first (max clipping; calibration
// images from --calib, else random N(0,1) inputs: enough to time a model, not
// for accuracy) and can save that quantized model too (--save-lapq).
//
// lapq import --format onnx-qdq IN.onnx OUT.lapq: the reverse (quant/qdq_import.h).
#include <cstdio>
#include <memory>
#include <random>

#include "apps/cli/commands.h"
#include "quant/qdq_export.h"
#include "quant/qdq_import.h"

namespace lapq::cli {

namespace {
struct ExportArgs {
  std::string format = "onnx-qdq";
  std::string in, out;
  std::string bias = "int32";
  int opset = 13;
  std::string bits = "w8a8";  // on-the-spot quantization of an FP32 model
  bool per_channel = false;
  std::string calib;
  std::string save_lapq;
  int threads = 0;
};

QuantizedModel quantize_on_the_spot(const ExportArgs& a) {
  ModelOptions mo;
  mo.num_threads = a.threads;
  Model fp32 = Model::load(a.in, mo);
  QuantizeOptions o;
  o.preset.bits = quant::parse_bits(a.bits);
  o.preset.per_channel = a.per_channel;
  o.lapq.method = quant::InitMethod::kMax;
  o.lapq.quiet = true;
  o.lapq.num_threads = a.threads;
  o.lapq.objective = quant::Objective::kKl;  // no labels needed
  if (!a.calib.empty()) {
    o.calib_dir = a.calib;
    o.calib_size = 64;
  } else {
    const Shape shape = fp32.input_shape(8);
    Tensor x(DType::kF32, shape);
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.f, 1.f);
    for (float& v : x.span<float>()) v = d(rng);
    o.calib = quant::make_calibration(x, std::vector<int>(static_cast<size_t>(shape[0]), -1), shape[0]);
  }
  std::fprintf(stderr, "quantizing %s to %s on the spot (max clipping, %s)\n", a.in.c_str(), a.bits.c_str(),
               a.calib.empty() ? "8 random N(0,1) inputs" : "64 calibration images");
  return quantize(fp32, o);
}

void run_export(const ExportArgs& a) {
  LAPQ_CHECK(a.format == "onnx-qdq", ErrorCode::kInvalidArgument, "export: unknown format '", a.format,
             "' (supported: onnx-qdq)");
  LAPQ_CHECK(a.bias == "int32" || a.bias == "float", ErrorCode::kInvalidArgument, "export: --bias '", a.bias,
             "' (int32 | float)");
  const bool is_lapq = quant::is_quantized_model_file(a.in);
  QuantizedModel qm = is_lapq ? QuantizedModel::load(a.in, 1) : quantize_on_the_spot(a);
  if (!a.save_lapq.empty()) qm.save(a.save_lapq);
  quant::QdqExportOptions o;
  o.int32_bias = a.bias == "int32";
  o.opset = a.opset;
  quant::save_qdq(a.out, qm.graph(), qm.config(), o);
  std::printf("wrote %s (ONNX QDQ, %zu quantized weights, %zu quantized activations, %s bias)\n", a.out.c_str(),
              qm.config().weights.size(), qm.config().acts.size(), a.bias.c_str());
}
struct ImportArgs {
  std::string format = "onnx-qdq";
  std::string in, out;
};

void run_import(const ImportArgs& a) {
  LAPQ_CHECK(a.format == "onnx-qdq", ErrorCode::kInvalidArgument, "import: unknown format '", a.format,
             "' (supported: onnx-qdq)");
  quant::QdqImport r = quant::import_qdq(a.in);
  std::printf("%s", r.summary.c_str());
  quant::save_quantized_model(a.out, r.file, r.graph);
  std::printf("wrote %s (%zu quantized weights, %zu quantized activations)\n", a.out.c_str(),
              r.file.config.weights.size(), r.file.config.acts.size());
}
}  // namespace

void add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write a quantized model (.lapq) as an ONNX QDQ model");
  cmd->add_option("--format", a->format, "Output format: onnx-qdq");
  cmd->add_option("--bias", a->bias,
                  "int32: bias codes on the s_in*s_w grid (ONNX Runtime fuses QLinearConv); float: exact FP32 bias");
  cmd->add_option("--opset", a->opset, "ONNX opset (>= 13; raised to the model's own)")->check(CLI::Range(13, 18));
  cmd->add_option("--bits", a->bits, "FP32 input: quantize on the spot to these bits first (default w8a8)");
  cmd->add_flag("--per-channel", a->per_channel, "FP32 input: per-channel weight clipping");
  cmd->add_option("--calib", a->calib, "FP32 input: calibration image folder (default: random inputs)");
  cmd->add_option("--save-lapq", a->save_lapq, "Also write the quantized model (.lapq) that was exported");
  cmd->add_option("-t,--threads", a->threads, "Threads for on-the-spot quantization (default: all cores)");
  cmd->add_option("model", a->in, "Quantized model (.lapq), or an FP32 ONNX model (quantized on the spot)")
      ->required();
  cmd->add_option("out", a->out, "Output ONNX file")->required();
  cmd->callback([a] { run_export(*a); });

  auto b = std::make_shared<ImportArgs>();
  CLI::App* imp = app.add_subcommand("import", "Read an ONNX QDQ model into a quantized model (.lapq)");
  imp->add_option("--format", b->format, "Input format: onnx-qdq");
  imp->add_option("model", b->in, "ONNX model with QuantizeLinear / DequantizeLinear")->required();
  imp->add_option("out", b->out, "Output quantized model (.lapq)")->required();
  imp->callback([b] { run_import(*b); });
}

}  // namespace lapq::cli
