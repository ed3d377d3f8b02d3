#include "quant/qmodel_file.h"

#include <cstring>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"
#include "frontends/onnx/onnx_loader.h"
#include "quant/quantized_network.h"

namespace lapq::quant {

using json = nlohmann::json;

uint64_t fnv1a64(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

namespace {
constexpr size_t kHeaderBytes = 32;  // magic 8, version 4, sections 4, payload size 8, checksum 8

template <class T>
void put(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little endian on every supported target (x86-64)
  s.append(b, sizeof(T));
}
template <class T>
T get(const std::string& s, size_t at) {
  T v;
  std::memcpy(&v, s.data() + at, sizeof(T));
  return v;
}

void add_section(std::string& payload, const char tag[4], const std::string& bytes) {
  payload.append(tag, 4);
  put<uint64_t>(payload, bytes.size());
  payload += bytes;
}

const char* grid_key(GridKind g) { return grid_kind_name(g); }
// `version`: the file's format version (kSymmetricFull needs 2).
GridKind grid_from(const std::string& s, uint32_t version, const std::string& file) {
  GridKind g;
  if (!grid_kind_from_name(s, &g)) throw Error(ErrorCode::kInvalidModel, file + ": unknown grid '" + s + "'");
  if (g == GridKind::kSymmetricFull && version < 2)
    throw Error(ErrorCode::kInvalidModel, file + ": grid '" + s + "' in a format version " + std::to_string(version) +
                                              " file (it needs version 2)");
  return g;
}

json config_json(const QuantConfig& c) {
  json j;
  j["preset"] = c.preset;
  j["batchnorm_folded"] = c.batchnorm_folded;
  j["weights"] = json::array();
  for (const WeightQuant& w : c.weights)
    j["weights"].push_back({{"node", w.node}, {"name", w.node_name}, {"bits", w.bits}, {"grid", grid_key(w.grid)},
                            {"per_channel", w.per_channel}, {"alpha", w.alpha},
                            {"bias_correction", w.bias_correction}});
  j["acts"] = json::array();
  for (const ActQuant& a : c.acts)
    j["acts"].push_back({{"value", a.value}, {"name", a.value_name}, {"bits", a.bits}, {"grid", grid_key(a.grid)},
                         {"alpha", a.alpha}, {"lo", a.lo}});
  return j;
}

QuantConfig config_from(const json& j, uint32_t version, const std::string& file) {
  QuantConfig c;
  c.preset = j.at("preset").get<std::string>();
  c.batchnorm_folded = j.at("batchnorm_folded").get<bool>();
  for (const json& w : j.at("weights")) {
    WeightQuant q;
    q.node = w.at("node").get<int>();
    q.node_name = w.at("name").get<std::string>();
    q.bits = w.at("bits").get<int>();
    q.grid = grid_from(w.at("grid").get<std::string>(), version, file);
    q.per_channel = w.at("per_channel").get<bool>();
    q.alpha = w.at("alpha").get<std::vector<float>>();
    q.bias_correction = w.at("bias_correction").get<bool>();
    c.weights.push_back(std::move(q));
  }
  for (const json& a : j.at("acts")) {
    ActQuant q;
    q.value = a.at("value").get<int>();
    q.value_name = a.at("name").get<std::string>();
    q.bits = a.at("bits").get<int>();
    q.grid = grid_from(a.at("grid").get<std::string>(), version, file);
    q.alpha = a.at("alpha").get<float>();
    q.lo = a.at("lo").get<float>();
    c.acts.push_back(std::move(q));
  }
  return c;
}

json preprocess_json(const PreprocessConfig& p) {
  return {{"channels", p.channels}, {"height", p.height}, {"width", p.width}, {"resize_short", p.resize_short},
          {"resize_h", p.resize_h}, {"resize_w", p.resize_w}, {"crop_h", p.crop_h}, {"crop_w", p.crop_w},
          {"mean", p.mean}, {"std", p.stddev}, {"color", static_cast<int>(p.color)}, {"scale", p.scale},
          {"backend", static_cast<int>(p.backend)}};
}

PreprocessConfig preprocess_from(const json& j, const std::string& file) {
  PreprocessConfig p;
  p.channels = j.at("channels").get<int>();
  p.height = j.at("height").get<int>();
  p.width = j.at("width").get<int>();
  p.resize_short = j.at("resize_short").get<int>();
  p.resize_h = j.at("resize_h").get<int>();
  p.resize_w = j.at("resize_w").get<int>();
  p.crop_h = j.at("crop_h").get<int>();
  p.crop_w = j.at("crop_w").get<int>();
  p.mean = j.at("mean").get<std::vector<float>>();
  p.stddev = j.at("std").get<std::vector<float>>();
  const int color = j.at("color").get<int>(), backend = j.at("backend").get<int>();
  LAPQ_CHECK(color >= 0 && color <= 2 && backend >= 0 && backend <= 1, ErrorCode::kInvalidModel, file,
             ": bad preprocessing enum");
  p.color = static_cast<ColorMode>(color);
  p.backend = static_cast<ResizeBackend>(backend);
  p.scale = j.at("scale").get<float>();
  p.source = file;
  validate_preprocess_config(p);
  return p;
}
}  // namespace

uint32_t qmodel_version_for(const QuantConfig& config) {
  for (const WeightQuant& w : config.weights)
    if (w.grid == GridKind::kSymmetricFull) return 2;
  return 1;
}

bool is_quantized_model_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char b[8];
  if (!in.read(b, 8)) return false;
  return std::memcmp(b, kQModelMagic, 8) == 0;
}

std::vector<int16_t> weight_codes(const Graph& graph, const QuantConfig& config) {
  std::vector<int16_t> codes;
  for (const WeightQuant& w : config.weights) {
    const Tensor t = weight_oc_first(graph, w.node);
    const int64_t oc = t.dim(0), k = t.dim(1);
    LAPQ_CHECK(w.alpha.size() == (w.per_channel ? static_cast<size_t>(oc) : 1), ErrorCode::kInvalidModel, "layer '",
               w.node_name, "': ", w.alpha.size(), " clipping values for ", oc, " channels");
    const float* x = t.data<float>();
    for (int64_t c = 0; c < oc; ++c) {
      const Grid g = make_grid(w.grid, w.alpha[w.per_channel ? c : 0], w.bits);
      for (int64_t i = 0; i < k; ++i) codes.push_back(static_cast<int16_t>(quantize_code(g, x[c * k + i])));
    }
  }
  return codes;
}

void save_quantized_model(const std::string& path, const QuantizedModelFile& f, const Graph& graph) {
  json meta;
  meta["format"] = "lapq quantized model";
  meta["source"] = f.source_name;
  meta["passes"] = {{"fold_constants", f.passes.fold_constants}, {"fold_batchnorm", f.passes.fold_batchnorm},
                    {"fuse_activations", f.passes.fuse_activations}, {"eliminate_dead", f.passes.eliminate_dead}};
  meta["preprocess"] = preprocess_json(f.preprocess);
  meta["labels"] = f.labels;
  meta["config"] = config_json(f.config);
  const std::vector<int16_t> codes = weight_codes(graph, f.config);
  std::string payload;
  add_section(payload, "ONNX", f.onnx);
  add_section(payload, "META", meta.dump(1));
  add_section(payload, "WCOD", std::string(reinterpret_cast<const char*>(codes.data()), codes.size() * 2));
  add_section(payload, "RPRT", f.report);
  std::string file(kQModelMagic, 8);
  put<uint32_t>(file, qmodel_version_for(f.config));
  put<uint32_t>(file, 4);
  put<uint64_t>(file, payload.size());
  put<uint64_t>(file, fnv1a64(payload.data(), payload.size()));
  file += payload;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  LAPQ_CHECK(out.good(), ErrorCode::kIo, "cannot write ", path);
  out.write(file.data(), static_cast<std::streamsize>(file.size()));
  out.close();
  LAPQ_CHECK(out.good(), ErrorCode::kIo, "failed writing ", path);
}

QuantizedModelFile read_quantized_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LAPQ_CHECK(in.good(), ErrorCode::kIo, "cannot read quantized model ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  auto bad = [&](const std::string& why) { return Error(ErrorCode::kInvalidModel, path + ": " + why); };
  if (s.size() < 8 || std::memcmp(s.data(), kQModelMagic, 8) != 0) throw bad("not a lapq quantized model (wrong magic)");
  if (s.size() < kHeaderBytes) throw bad("truncated header");
  const uint32_t version = get<uint32_t>(s, 8);
  if (version < kQModelMinVersion || version > kQModelVersion)
    throw bad("unsupported format version " + std::to_string(version) + " (this build reads " +
              std::to_string(kQModelMinVersion) + ".." + std::to_string(kQModelVersion) + ")");
  const uint32_t nsec = get<uint32_t>(s, 12);
  const uint64_t size = get<uint64_t>(s, 16), sum = get<uint64_t>(s, 24);
  if (s.size() - kHeaderBytes < size) throw bad("truncated (payload of " + std::to_string(size) + " bytes, file has " +
                                                std::to_string(s.size() - kHeaderBytes) + ")");
  if (s.size() - kHeaderBytes > size) throw bad("trailing bytes after the payload");
  if (fnv1a64(s.data() + kHeaderBytes, size) != sum) throw bad("checksum mismatch (the file is corrupted)");
  std::map<std::string, std::string> sec;
  size_t at = kHeaderBytes;
  for (uint32_t i = 0; i < nsec; ++i) {
    if (s.size() - at < 12) throw bad("truncated section header");
    const std::string tag = s.substr(at, 4);
    const uint64_t n = get<uint64_t>(s, at + 4);
    at += 12;
    if (s.size() - at < n) throw bad("section " + tag + " runs past the end");
    sec[tag] = s.substr(at, n);
    at += n;
  }
  for (const char* t : {"ONNX", "META", "WCOD"})
    if (!sec.count(t)) throw bad(std::string("missing section ") + t);
  QuantizedModelFile f;
  f.onnx = sec["ONNX"];
  f.report = sec["RPRT"];
  try {
    const json meta = json::parse(sec["META"]);
    f.source_name = meta.at("source").get<std::string>();
    const json& p = meta.at("passes");
    f.passes.fold_constants = p.at("fold_constants").get<bool>();
    f.passes.fold_batchnorm = p.at("fold_batchnorm").get<bool>();
    f.passes.fuse_activations = p.at("fuse_activations").get<bool>();
    f.passes.eliminate_dead = p.at("eliminate_dead").get<bool>();
    f.preprocess = preprocess_from(meta.at("preprocess"), path);
    f.labels = meta.at("labels").get<std::vector<std::string>>();
    f.config = config_from(meta.at("config"), version, path);
  } catch (const json::exception& e) {
    throw bad(std::string("malformed metadata: ") + e.what());
  }
  const std::string& w = sec["WCOD"];
  if (w.size() % 2) throw bad("weight codes section has an odd size");
  f.codes.resize(w.size() / 2);
  std::memcpy(f.codes.data(), w.data(), w.size());
  return f;
}

Graph load_quantized_graph(const QuantizedModelFile& f, const std::string& path) {
  Graph g = load_onnx_from_memory(f.onnx.data(), f.onnx.size(), path, "");
  optimize(g, f.passes);
  const int nn = static_cast<int>(g.nodes.size()), nv = static_cast<int>(g.values.size());
  for (const WeightQuant& w : f.config.weights)
    LAPQ_CHECK(w.node >= 0 && w.node < nn && g.node_label(w.node) == w.node_name, ErrorCode::kInvalidModel, path,
               ": quantized layer '", w.node_name, "' does not match the embedded graph");
  for (const ActQuant& a : f.config.acts)
    LAPQ_CHECK(a.value >= 0 && a.value < nv && g.values[a.value].name == a.value_name, ErrorCode::kInvalidModel, path,
               ": quantized activation '", a.value_name, "' does not match the embedded graph");
  const std::vector<int16_t> codes = weight_codes(g, f.config);
  LAPQ_CHECK(codes == f.codes, ErrorCode::kInvalidModel, path,
             ": stored weight codes differ from the codes of the embedded weights");
  return g;
}

}  // namespace lapq::quant
