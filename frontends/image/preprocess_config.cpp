#include "frontends/image/preprocess_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace lapq {
namespace {

// A JSON value for an error message: invalid UTF-8 replaced (dump() would
// throw on it; found by fuzz_cli_values) and cut to a readable length.
std::string json_text(const nlohmann::json& v) {
  std::string t = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return t.size() > 80 ? t.substr(0, 77) + "..." : t;
}


namespace fs = std::filesystem;
using nlohmann::json;

// Error helper: "<source>: key '<key>': <what>, got <value>".
[[noreturn]] void bad_key(const std::string& source, const std::string& key, const std::string& what,
                          const json& v) {
  throw Error(ErrorCode::kInvalidArgument,
              detail::cat(source, ": key '", key, "': ", what, ", got ", json_text(v)));
}

int get_dim(const json& v, const std::string& source, const std::string& key) {
  if (v.is_number()) {
    const double d = v.get<double>();
    if (std::floor(d) == d && d >= 1 && d <= kMaxImageSide) return static_cast<int>(d);
  }
  bad_key(source, key, detail::cat("expected an integer in [1, ", kMaxImageSide, "]"), v);
}

// int S -> {S, S}; [H, W] -> {H, W}.
Size2 get_size2(const json& v, const std::string& source, const std::string& key) {
  if (v.is_number()) {
    const int s = get_dim(v, source, key);
    return {s, s};
  }
  if (v.is_array() && v.size() == 2) return {get_dim(v[0], source, key), get_dim(v[1], source, key)};
  bad_key(source, key, "expected an integer or [H, W]", v);
}

std::vector<float> get_floats(const json& v, int channels, const std::string& source, const std::string& key) {
  std::vector<float> out;
  if (v.is_number()) {
    out.assign(static_cast<size_t>(channels), v.get<float>());  // one value for every channel
  } else if (v.is_array() && !v.empty()) {
    for (const json& e : v) {
      if (!e.is_number()) bad_key(source, key, "expected a number or an array of numbers", v);
      out.push_back(e.get<float>());
    }
  } else {
    bad_key(source, key, "expected a number or an array of numbers", v);
  }
  for (float f : out)
    if (!std::isfinite(f)) bad_key(source, key, "expected finite numbers", v);
  return out;
}

std::string get_string(const json& v, const std::string& source, const std::string& key) {
  if (!v.is_string()) bad_key(source, key, "expected a string", v);
  return v.get<std::string>();
}

// Applies one JSON object of keys to cfg. Keys interact: input_size fixes the
// channel count (and color when not given), crop and input_size follow each
// other when only one is given, a single mean/std value is broadcast.
void merge(PreprocessConfig& cfg, const json& obj, const std::string& source, const fs::path& base_dir) {
  if (!obj.is_object())
    throw Error(ErrorCode::kInvalidArgument, detail::cat(source, ": expected a JSON object, got ", json_text(obj)));
  bool has_input = false, has_crop = false, has_color = false;
  const json* mean = nullptr;
  const json* stddev = nullptr;
  for (const auto& [key, v] : obj.items()) {
    if (!key.empty() && key[0] == '_') continue;
    if (key == "input_size") {
      if (v.is_number()) {
        cfg.height = cfg.width = get_dim(v, source, key);
      } else if (v.is_array() && v.size() == 3) {
        const int c = get_dim(v[0], source, key);
        if (c != 1 && c != 3) bad_key(source, key, "expected 1 or 3 channels", v);
        cfg.channels = c;
        cfg.height = get_dim(v[1], source, key);
        cfg.width = get_dim(v[2], source, key);
      } else {
        bad_key(source, key, "expected [C, H, W] or an integer size", v);
      }
      has_input = true;
    } else if (key == "resize") {
      cfg.resize_short = cfg.resize_h = cfg.resize_w = 0;
      if (v.is_null() || v == false) {
        // no resize
      } else if (v.is_number()) {
        cfg.resize_short = get_dim(v, source, key);
      } else {
        const Size2 s = get_size2(v, source, key);
        cfg.resize_h = s.h;
        cfg.resize_w = s.w;
      }
    } else if (key == "crop") {
      if (v.is_null() || v == false) {
        cfg.crop_h = cfg.crop_w = 0;
      } else {
        const Size2 s = get_size2(v, source, key);
        cfg.crop_h = s.h;
        cfg.crop_w = s.w;
      }
      has_crop = true;
    } else if (key == "mean") {
      mean = &v;
    } else if (key == "std") {
      stddev = &v;
    } else if (key == "color") {
      const std::string c = get_string(v, source, key);
      if (c == "rgb") cfg.color = ColorMode::kRgb;
      else if (c == "bgr") cfg.color = ColorMode::kBgr;
      else if (c == "gray" || c == "grayscale") cfg.color = ColorMode::kGray;
      else bad_key(source, key, "expected \"rgb\", \"bgr\" or \"gray\"", v);
      has_color = true;
    } else if (key == "scale") {
      if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>()))
        bad_key(source, key, "expected a number > 0", v);
      cfg.scale = v.get<float>();
    } else if (key == "labels") {
      if (v.is_null()) {
        cfg.labels_path.clear();
      } else {
        const fs::path p = get_string(v, source, key);
        if (p.empty()) bad_key(source, key, "expected a file name", v);
        cfg.labels_path = (p.is_absolute() ? p : base_dir / p).lexically_normal().string();
      }
    } else if (key == "resize_backend") {
      const std::string b = get_string(v, source, key);
      if (b == "pil") cfg.backend = ResizeBackend::kPil;
      else if (b == "tensor") cfg.backend = ResizeBackend::kTensor;
      else bad_key(source, key, "expected \"pil\" or \"tensor\"", v);
    } else if (key == "interpolation") {
      if (get_string(v, source, key) != "bilinear")
        throw Error(ErrorCode::kUnsupported,
                    detail::cat(source, ": key 'interpolation': only \"bilinear\" is implemented, got ", json_text(v)));
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  detail::cat(source, ": unknown key '", key,
                              "' (known: input_size, resize, crop, mean, std, color, scale, labels, "
                              "resize_backend, interpolation; keys starting with '_' are ignored)"));
    }
  }
  if (has_input && !has_color) {
    if (cfg.channels == 1) cfg.color = ColorMode::kGray;
    else if (cfg.color == ColorMode::kGray) cfg.color = ColorMode::kRgb;
  }
  if (has_color && !has_input) cfg.channels = cfg.color == ColorMode::kGray ? 1 : 3;
  if (cfg.has_crop()) {
    if (has_crop && !has_input) {
      cfg.height = cfg.crop_h;
      cfg.width = cfg.crop_w;
    } else if (has_input && !has_crop) {
      cfg.crop_h = cfg.height;
      cfg.crop_w = cfg.width;
    }
  }
  if (mean) cfg.mean = get_floats(*mean, cfg.channels, source, "mean");
  if (stddev) cfg.stddev = get_floats(*stddev, cfg.channels, source, "std");
  cfg.source = source;
}

// Override value: JSON if it parses, "a,b,c" as a list, none/null as null,
// anything else as a string.
json override_value(const std::string& text) {
  if (text == "none" || text == "null") return nullptr;
  // allow_exceptions=false still throws out_of_range on number overflow
  // ("1e999", found by fuzzing): such text stays a string and fails validation.
  try {
    json v = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!v.is_discarded()) return v;
    if (text.find(',') != std::string::npos) {
      v = json::parse("[" + text + "]", nullptr, false);
      if (!v.is_discarded()) return v;
    }
  } catch (const json::exception&) {
  }
  return text;
}

}  // namespace

std::string sidecar_path_for_model(const std::string& model_path) { return model_path + ".json"; }

PreprocessConfig parse_preprocess_sidecar(const std::string& json_text, const std::string& sidecar_path,
                                          PreprocessConfig base) {
  json obj;
  try {
    obj = json::parse(json_text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e999 (found by fuzzing)
    throw Error(ErrorCode::kInvalidArgument,
                detail::cat("sidecar '", sidecar_path, "' is not valid JSON: ", e.what()));
  }
  merge(base, obj, detail::cat("sidecar '", sidecar_path, "'"), fs::path(sidecar_path).parent_path());
  return base;
}

PreprocessConfig preprocess_for_model_input(const Shape& input_shape, bool has_shape, const std::string& model_path) {
  const Shape& in = input_shape;
  PreprocessConfig base;
  if (has_shape && in.size() == 4 && in[1] > 0 && in[2] > 0 && in[3] > 0) {
    base.channels = static_cast<int>(in[1]);
    base.height = static_cast<int>(in[2]);
    base.width = static_cast<int>(in[3]);
    base.crop_h = base.height;
    base.crop_w = base.width;
    // torchvision's Resize(256)/CenterCrop(224) ratio at the model's size.
    base.resize_short = static_cast<int>(std::lround(std::min(base.height, base.width) / 0.875));
    if (base.channels == 1) {
      base.color = ColorMode::kGray;
      base.mean = {0.449f};
      base.stddev = {0.226f};
    }
  }
  base.source = "defaults for input " + shape_str(in);
  if (model_path.empty()) return base;
  const std::string sidecar = sidecar_path_for_model(model_path);
  return std::filesystem::exists(sidecar) ? load_preprocess_sidecar(sidecar, base) : base;
}

PreprocessConfig load_preprocess_sidecar(const std::string& sidecar_path, PreprocessConfig base) {
  std::error_code ec;
  LAPQ_CHECK(fs::is_regular_file(sidecar_path, ec), ErrorCode::kIo, "sidecar '", sidecar_path,
             "' does not exist or is not a file");
  std::ifstream in(sidecar_path);
  LAPQ_CHECK(in.good(), ErrorCode::kIo, "cannot open sidecar '", sidecar_path, "'");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_preprocess_sidecar(text, sidecar_path, std::move(base));
}

PreprocessConfig load_preprocess_config_for_model(const std::string& model_path) {
  const std::string sidecar = sidecar_path_for_model(model_path);
  std::error_code ec;
  PreprocessConfig cfg;
  if (fs::exists(sidecar, ec)) {
    cfg = load_preprocess_sidecar(sidecar, cfg);
  } else {
    cfg.source = detail::cat("ImageNet defaults (no sidecar '", sidecar, "')");
  }
  validate_preprocess_config(cfg);
  return cfg;
}

void apply_preprocess_overrides(PreprocessConfig& cfg, const std::vector<std::string>& overrides) {
  const std::string base_source = cfg.source;
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    LAPQ_CHECK(eq != std::string::npos && eq > 0, ErrorCode::kInvalidArgument, "preprocessing override '", o,
               "' is not key=value");
    json obj = json::object();
    obj[o.substr(0, eq)] = override_value(o.substr(eq + 1));
    merge(cfg, obj, detail::cat("override '", o, "'"), fs::current_path());
  }
  if (!overrides.empty()) cfg.source = detail::cat(base_source, " + ", overrides.size(), " override(s)");
  validate_preprocess_config(cfg);
}

}  // namespace lapq
