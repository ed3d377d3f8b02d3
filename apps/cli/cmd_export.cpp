// lapq export --format onnx-qdq Q.lapq OUT.onnx: a quantized model as a standard
// ONNX QDQ model (QuantizeLinear / DequantizeLinear around lapq's grids) that
// ONNX Runtime and other tools run (docs/qdq.md). Given an FP32 ONNX model and
// --bits instead, it quantizes on the spot first (max clipping; calibration
// images from --calib, else random N(0,1) inputs: enough to time a model, not
// for accuracy) and can save that quantized model too (--save-lapq).
//
// lapq import --format onnx-qdq IN.onnx OUT.lapq: the reverse (quant/qdq_import.h).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "apps/cli/commands.h"
#include "frontends/dataset/image_folder.h"
#include "frontends/image/preprocess_config.h"
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
  bool layer_outputs = false;
};

// Calibration batches for the graph input: images from --calib, else 8 random N(0,1) inputs.
std::vector<Tensor> calib_batches(const ExportArgs& a, const PreprocessConfig& pre, const Shape& shape8) {
  if (!a.calib.empty()) {
    const ImageFolder ds = ImageFolder::open(a.calib);
    return quant::load_calibration(ds, 64, 0, 32, pre).batches;
  }
  Tensor x(DType::kF32, shape8);
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.f, 1.f);
  for (float& v : x.span<float>()) v = d(rng);
  return {x};
}

// OUT.onnx.json (+ OUT.onnx.labels.txt): the model's preprocessing and labels in the
// sidecar form every lapq command (and `lapq import`) reads next to an ONNX file.
void write_sidecar(const std::string& onnx_path, const PreprocessConfig& p, const std::vector<std::string>& labels) {
  nlohmann::json j;
  j["input_size"] = {p.channels, p.height, p.width};
  if (p.resize_short > 0)
    j["resize"] = p.resize_short;
  else if (p.resize_h > 0 && p.resize_w > 0)
    j["resize"] = {p.resize_h, p.resize_w};
  else
    j["resize"] = nullptr;
  j["crop"] = p.has_crop() ? nlohmann::json{p.crop_h, p.crop_w} : nlohmann::json(nullptr);
  j["mean"] = p.mean;
  j["std"] = p.stddev;
  j["color"] = p.color == ColorMode::kGray ? "gray" : p.color == ColorMode::kBgr ? "bgr" : "rgb";
  j["scale"] = p.scale;
  j["resize_backend"] = p.backend == ResizeBackend::kTensor ? "tensor" : "pil";
  if (!labels.empty()) {
    const std::string labels_path = onnx_path + ".labels.txt";
    std::ofstream lf(labels_path, std::ios::trunc);
    for (const std::string& l : labels) lf << l << "\n";
    LAPQ_CHECK(lf.good(), ErrorCode::kIo, "cannot write ", labels_path);
    j["labels"] = std::filesystem::path(labels_path).filename().string();
  }
  const std::string path = sidecar_path_for_model(onnx_path);
  std::ofstream f(path, std::ios::trunc);
  f << j.dump(2) << "\n";
  LAPQ_CHECK(f.good(), ErrorCode::kIo, "cannot write ", path);
}

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
    const Tensor x = calib_batches(a, fp32.preprocess(), fp32.input_shape(8))[0];
    o.calib = quant::make_calibration(x, std::vector<int>(static_cast<size_t>(x.dim(0)), -1), x.dim(0));
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
  o.quantize_layer_outputs = a.layer_outputs;
  if (a.layer_outputs) o.calib = calib_batches(a, qm.preprocess(), qm.input_shape(8));
  quant::save_qdq(a.out, qm.graph(), qm.config(), o);
  write_sidecar(a.out, qm.preprocess(), qm.labels());
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
  LAPQ_CHECK(std::filesystem::is_regular_file(a.in), ErrorCode::kIo, "model file not found: ", a.in);
  LAPQ_CHECK(quant::is_qdq_model_file(a.in), ErrorCode::kInvalidArgument, "import: ", a.in,
             " has no QuantizeLinear / DequantizeLinear nodes (an FP32 model: use it directly, or lapq quantize it)");
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
  cmd->add_flag("--quantize-layer-outputs", a->layer_outputs,
               "Also quantize the FP32 outputs of quantized layers (residual-branch convs; 8-bit, max over --calib "
               "or random inputs) so ONNX Runtime runs every conv on int8: a slightly different model, for timing ORT");
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
