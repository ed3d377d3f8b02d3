// Sidecar JSON (model.onnx.json) and "key=value" overrides.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "frontends/image/preprocess_config.h"
#include "test_image_util.h"

namespace lapq {
namespace {

template <class F>
void expect_error(F&& f, ErrorCode code, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no error thrown (expected " << error_code_name(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << "missing '" << n << "' in: " << e.what();
  }
}

TEST(Sidecar, DefaultsAreImagenet) {
  const PreprocessConfig cfg;
  EXPECT_EQ(cfg.resize_short, 256);
  EXPECT_EQ(cfg.crop_h, 224);
  EXPECT_EQ(cfg.crop_w, 224);
  EXPECT_EQ(cfg.channels, 3);
  EXPECT_EQ(cfg.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(cfg.stddev, (std::vector<float>{0.229f, 0.224f, 0.225f}));
  EXPECT_EQ(cfg.color, ColorMode::kRgb);
  EXPECT_EQ(cfg.scale, 255.0f);
  EXPECT_EQ(cfg.backend, ResizeBackend::kPil);
  EXPECT_NO_THROW(validate_preprocess_config(cfg));
}

TEST(Sidecar, FullFile) {
  test::TempDir dir;
  const std::string model = dir.file("net.onnx");
  std::ofstream(model + ".json") << R"({
    "input_size": [3, 32, 32], "resize": null, "crop": null,
    "mean": [0.4914, 0.4822, 0.4465], "std": [0.247, 0.243, 0.261],
    "color": "bgr", "labels": "sub/labels.txt", "scale": 1,
    "resize_backend": "tensor", "interpolation": "bilinear", "_comment": "ignored"
  })";
  EXPECT_EQ(sidecar_path_for_model(model), model + ".json");
  const PreprocessConfig cfg = load_preprocess_config_for_model(model);
  EXPECT_EQ(cfg.channels, 3);
  EXPECT_EQ(cfg.height, 32);
  EXPECT_EQ(cfg.width, 32);
  EXPECT_FALSE(cfg.has_resize());
  EXPECT_FALSE(cfg.has_crop());
  EXPECT_EQ(cfg.mean, (std::vector<float>{0.4914f, 0.4822f, 0.4465f}));
  EXPECT_EQ(cfg.stddev, (std::vector<float>{0.247f, 0.243f, 0.261f}));
  EXPECT_EQ(cfg.color, ColorMode::kBgr);
  EXPECT_EQ(cfg.scale, 1.0f);
  EXPECT_EQ(cfg.backend, ResizeBackend::kTensor);
  EXPECT_EQ(cfg.labels_path, (dir.path() / "sub" / "labels.txt").string());  // relative to the sidecar
  EXPECT_NE(cfg.source.find("net.onnx.json"), std::string::npos);
}

TEST(Sidecar, MissingSidecarGivesDefaults) {
  test::TempDir dir;
  const PreprocessConfig cfg = load_preprocess_config_for_model(dir.file("none.onnx"));
  EXPECT_EQ(cfg.resize_short, 256);
  EXPECT_NE(cfg.source.find("defaults"), std::string::npos);
  expect_error([&] { load_preprocess_sidecar(dir.file("none.onnx.json")); }, ErrorCode::kIo, {"none.onnx.json"});
}

TEST(Sidecar, KeysInteract) {
  // crop alone sets the input size; input_size alone sets the crop; a gray
  // input_size selects gray; one mean/std value is broadcast.
  PreprocessConfig a = parse_preprocess_sidecar(R"({"crop": 192, "resize": 220})", "a.json");
  EXPECT_EQ(a.height, 192);
  EXPECT_EQ(a.width, 192);
  EXPECT_EQ(a.resize_short, 220);
  PreprocessConfig b = parse_preprocess_sidecar(R"({"input_size": [1, 28, 28], "resize": null,
                                                    "mean": 0.5, "std": 0.5})", "b.json");
  EXPECT_EQ(b.color, ColorMode::kGray);
  EXPECT_EQ(b.crop_h, 28);
  EXPECT_EQ(b.mean, std::vector<float>{0.5f});
  EXPECT_NO_THROW(validate_preprocess_config(b));
  PreprocessConfig c = parse_preprocess_sidecar(R"({"resize": [300, 400], "input_size": 288})", "c.json");
  EXPECT_EQ(c.resize_h, 300);
  EXPECT_EQ(c.resize_w, 400);
  EXPECT_EQ(c.resize_short, 0);
  EXPECT_EQ(c.height, 288);
  EXPECT_EQ(c.crop_w, 288);
  EXPECT_NO_THROW(validate_preprocess_config(c));
}

TEST(Sidecar, ErrorsNameFileAndKey) {
  expect_error([] { parse_preprocess_sidecar("{\"resize\": 256,", "m.onnx.json"); }, ErrorCode::kInvalidArgument,
               {"m.onnx.json", "not valid JSON"});
  expect_error([] { parse_preprocess_sidecar("[1,2]", "m.onnx.json"); }, ErrorCode::kInvalidArgument,
               {"m.onnx.json", "JSON object"});
  expect_error([] { parse_preprocess_sidecar(R"({"mena": [0.5]})", "m.onnx.json"); }, ErrorCode::kInvalidArgument,
               {"m.onnx.json", "unknown key 'mena'"});
  expect_error([] { parse_preprocess_sidecar(R"({"resize": -3})", "m.onnx.json"); }, ErrorCode::kInvalidArgument,
               {"m.onnx.json", "'resize'", "-3"});
  expect_error([] { parse_preprocess_sidecar(R"({"crop": 22.5})", "m.onnx.json"); }, ErrorCode::kInvalidArgument,
               {"'crop'"});
  expect_error([] { parse_preprocess_sidecar(R"({"input_size": [2, 8, 8]})", "m.onnx.json"); },
               ErrorCode::kInvalidArgument, {"'input_size'", "channels"});
  expect_error([] { parse_preprocess_sidecar(R"({"mean": ["a"]})", "m.onnx.json"); }, ErrorCode::kInvalidArgument,
               {"'mean'"});
  expect_error([] { parse_preprocess_sidecar(R"({"color": "hsv"})", "m.onnx.json"); }, ErrorCode::kInvalidArgument,
               {"'color'", "hsv"});
  expect_error([] { parse_preprocess_sidecar(R"({"scale": 0})", "m.onnx.json"); }, ErrorCode::kInvalidArgument,
               {"'scale'"});
  expect_error([] { parse_preprocess_sidecar(R"({"interpolation": "bicubic"})", "m.onnx.json"); },
               ErrorCode::kUnsupported, {"bicubic"});
  // Consistent keys one by one, inconsistent together: caught by validation,
  // naming the sidecar.
  test::TempDir dir;
  std::ofstream(dir.file("g.onnx.json")) << R"({"color": "gray"})";  // 1 channel but 3 mean values
  expect_error([&] { load_preprocess_config_for_model(dir.file("g.onnx")); }, ErrorCode::kInvalidArgument,
               {"g.onnx.json", "mean has 3 values"});
}

TEST(Sidecar, Overrides) {
  PreprocessConfig cfg;
  apply_preprocess_overrides(cfg, {"resize=none", "input_size=3,32,32", "mean=0.5,0.5,0.5", "std=[0.25,0.25,0.25]",
                                   "color=bgr", "resize_backend=tensor", "scale=1"});
  EXPECT_FALSE(cfg.has_resize());
  EXPECT_EQ(cfg.crop_h, 32);
  EXPECT_EQ(cfg.mean, std::vector<float>(3, 0.5f));
  EXPECT_EQ(cfg.stddev, std::vector<float>(3, 0.25f));
  EXPECT_EQ(cfg.color, ColorMode::kBgr);
  EXPECT_EQ(cfg.backend, ResizeBackend::kTensor);
  EXPECT_EQ(cfg.scale, 1.0f);
  apply_preprocess_overrides(cfg, {"crop=none"});
  EXPECT_FALSE(cfg.has_crop());
  apply_preprocess_overrides(cfg, {"labels=l.txt"});
  EXPECT_EQ(cfg.labels_path, (std::filesystem::current_path() / "l.txt").string());
  expect_error([&] { apply_preprocess_overrides(cfg, {"resize"}); }, ErrorCode::kInvalidArgument, {"key=value"});
  expect_error([&] { apply_preprocess_overrides(cfg, {"crop=abc"}); }, ErrorCode::kInvalidArgument,
               {"override 'crop=abc'", "'crop'"});
  expect_error([&] { apply_preprocess_overrides(cfg, {"foo=1"}); }, ErrorCode::kInvalidArgument, {"unknown key 'foo'"});
  // Validation after overrides: a 4-value mean for 3 channels.
  PreprocessConfig d;
  expect_error([&] { apply_preprocess_overrides(d, {"mean=1,2,3,4"}); }, ErrorCode::kInvalidArgument,
               {"mean has 4 values"});
}

TEST(Sidecar, DescribeMentionsEveryStep) {
  PreprocessConfig cfg;
  const std::string d = describe_preprocess_config(cfg);
  for (const char* s : {"rgb", "256", "pil", "224x224", "0.485", "[N,3,224,224]"})
    EXPECT_NE(d.find(s), std::string::npos) << s << " in " << d;
}

}  // namespace
}  // namespace lapq

// Found by fuzz_cli_values: a value holding invalid UTF-8 made the error
// message itself throw nlohmann's type_error (std::terminate in the CLI).
TEST(Sidecar, InvalidUtf8InAValueIsAnInvalidArgument) {
  for (const std::string text : {std::string("mean=0.5,0.5,\xb4.5"), std::string("{\"crop\": \"\xff\"}"),
                                 std::string("{\"crop\": 10e2222222222}"), std::string("crop=10e2222222222")}) {
    lapq::PreprocessConfig cfg;
    try {
      if (text[0] == '{') cfg = lapq::parse_preprocess_sidecar(text, "bad.json");
      else lapq::apply_preprocess_overrides(cfg, {text});
      FAIL() << "expected an error for " << text;
    } catch (const lapq::Error& e) {
      EXPECT_EQ(e.code(), lapq::ErrorCode::kInvalidArgument) << e.what();
    }
  }
}
