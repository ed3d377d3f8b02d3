// ONNX backend conformance: every node test case of the ONNX test data
// (model.onnx + test_data_set_*/input_*.pb, output_*.pb) is loaded, optimized,
// planned and run three ways (fast kernels + all passes, reference + all
// passes, reference + constant folding only) and compared with the expected outputs:
// float rtol 1e-4 / atol 1e-5 (the ONNX backend test default tolerances are
// looser: rtol 1e-3, atol 1e-7), integers and bools exactly.
// A case whose model needs something lapq does not implement (lapq::Error
// kUnsupported at any stage) is counted as skipped-unsupported; any other
// error or a wrong value is a failure, and every failing case is listed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/onnx/onnx_loader.h"

namespace lapq {
namespace {

namespace fs = std::filesystem;
const fs::path kTestData = "/usr/share/libonnx-testdata/data";

constexpr double kRtol = 1e-4, kAtol = 1e-5;

std::vector<fs::path> sorted_entries(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> v;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) v.push_back(e.path());
  // input_10 after input_9: sort by the number after the prefix when there is one.
  std::sort(v.begin(), v.end(), [&](const fs::path& a, const fs::path& b) {
    auto num = [&](const fs::path& p) {
      std::string s = p.stem().string().substr(prefix.size());
      return s.empty() || !std::isdigit(static_cast<unsigned char>(s[0])) ? -1L : std::stol(s);
    };
    return num(a) != num(b) ? num(a) < num(b) : a < b;
  });
  return v;
}

// Empty string when equal, else what differs.
std::string compare(const Tensor& got, const Tensor& want) {
  std::ostringstream os;
  if (got.dtype() != want.dtype()) {
    os << "dtype " << dtype_name(got.dtype()) << " != expected " << dtype_name(want.dtype());
    return os.str();
  }
  if (got.shape() != want.shape()) {
    os << "shape " << shape_str(got.shape()) << " != expected " << shape_str(want.shape());
    return os.str();
  }
  if (want.dtype() == DType::kF32 || want.dtype() == DType::kF64) {
    auto g = got.dtype() == DType::kF64 ? std::vector<double>(got.data<double>(), got.data<double>() + got.numel())
                                        : std::vector<double>(got.data<float>(), got.data<float>() + got.numel());
    auto w = want.dtype() == DType::kF64 ? std::vector<double>(want.data<double>(), want.data<double>() + want.numel())
                                         : std::vector<double>(want.data<float>(), want.data<float>() + want.numel());
    for (size_t i = 0; i < w.size(); ++i) {
      if (std::isnan(w[i]) && std::isnan(g[i])) continue;
      if (std::isinf(w[i]) && g[i] == w[i]) continue;
      if (!(std::fabs(g[i] - w[i]) <= kAtol + kRtol * std::fabs(w[i]))) {
        os << "element " << i << ": " << g[i] << " != expected " << w[i];
        return os.str();
      }
    }
    return "";
  }
  if (!got.equals(want)) {
    auto g = got.to_i64(), w = want.to_i64();
    for (size_t i = 0; i < w.size(); ++i)
      if (g[i] != w[i]) {
        os << "element " << i << ": " << g[i] << " != expected " << w[i];
        return os.str();
      }
    return "bytes differ";
  }
  return "";
}

struct Mode {
  const char* name;
  bool passes;
  bool allow_fast;
};
constexpr Mode kModes[] = {{"fast", true, true}, {"reference", true, false}, {"reference-folding-only", false, false}};

enum class Outcome { kPassed, kFailed, kSkipped };

struct CaseResult {
  Outcome outcome = Outcome::kPassed;
  std::string message;
};

// Runs one data set in one mode; empty string when every output matches.
std::string run_mode(const Graph& loaded, const Mode& mode, const std::vector<Tensor>& inputs,
                     const std::vector<Tensor>& expected) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  Graph g = loaded;
  PassOptions passes;
  if (!mode.passes) passes = {.fold_constants = true, .fold_batchnorm = false, .fuse_activations = false, .eliminate_dead = false};
  optimize(g, passes);
  PlanOptions opt;
  opt.allow_fast = mode.allow_fast;
  opt.num_threads = 1;
  Plan plan(std::move(g), shapes, opt);
  std::vector<Tensor> out = plan.run(inputs);
  if (out.size() != expected.size())
    return std::to_string(out.size()) + " outputs, expected " + std::to_string(expected.size());
  for (size_t k = 0; k < out.size(); ++k) {
    std::string diff = compare(out[k], expected[k]);
    if (!diff.empty()) return "output " + std::to_string(k) + ": " + diff;
  }
  return "";
}

// Runs one case in every mode. Unsupported anywhere makes the case skipped;
// otherwise every failing mode is reported.
CaseResult run_case(const fs::path& dir) {
  std::string failures;
  try {
    const Graph loaded = load_onnx((dir / "model.onnx").string());
    for (const fs::path& set : sorted_entries(dir, "test_data_set_")) {
      std::vector<Tensor> inputs, expected;
      for (const fs::path& p : sorted_entries(set, "input_")) inputs.push_back(load_onnx_tensor(p.string()));
      for (const fs::path& p : sorted_entries(set, "output_")) expected.push_back(load_onnx_tensor(p.string()));
      if (inputs.size() != loaded.inputs.size())
        return {Outcome::kFailed, set.filename().string() + ": " + std::to_string(inputs.size()) +
                                      " input files for " + std::to_string(loaded.inputs.size()) + " graph inputs"};
      for (const Mode& mode : kModes) {
        std::string diff;
        try {
          diff = run_mode(loaded, mode, inputs, expected);
        } catch (const Error& e) {
          if (e.code() == ErrorCode::kUnsupported) throw;
          diff = std::string(error_code_name(e.code())) + ": " + e.what();
        }
        if (!diff.empty()) failures += "\n    [" + std::string(mode.name) + " " + set.filename().string() + "] " + diff;
      }
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kUnsupported) return {Outcome::kSkipped, e.what()};
    return {Outcome::kFailed, std::string(error_code_name(e.code())) + ": " + e.what()};
  } catch (const std::exception& e) {
    return {Outcome::kFailed, std::string("std::exception: ") + e.what()};
  }
  if (!failures.empty()) return {Outcome::kFailed, failures};
  return {};
}

// "unsupported operator 'Foo' (node 'bar', opset 13)" -> "unsupported operator 'Foo'".
std::string skip_reason(const std::string& message) {
  auto cut = message.find(" (node");
  std::string r = message.substr(0, cut);
  if (r.rfind("model '", 0) == 0) r = "model" + r.substr(r.find('\'', 7) + 1);  // drop the file name
  return r;
}

// Runs every case below `suite`, prints the tally and the skip reasons, and
// fails on any failing case.
void run_suite(const fs::path& suite) {
  if (!fs::is_directory(suite)) GTEST_SKIP() << "no ONNX test data at " << suite;
  int passed = 0;
  std::vector<std::string> failures;
  std::map<std::string, std::vector<std::string>> skipped;
  int num_skipped = 0;
  for (const fs::path& dir : sorted_entries(suite, "test_")) {
    if (!fs::exists(dir / "model.onnx")) continue;
    CaseResult r = run_case(dir);
    const std::string name = dir.filename().string();
    switch (r.outcome) {
      case Outcome::kPassed: ++passed; break;
      case Outcome::kFailed: failures.push_back(name + ": " + r.message); break;
      case Outcome::kSkipped: skipped[skip_reason(r.message)].push_back(name); ++num_skipped; break;
    }
  }
  std::cout << "skipped-unsupported, by reason:\n";
  for (const auto& [reason, names] : skipped) {
    std::cout << "  " << names.size() << "  " << reason << ":";
    for (size_t i = 0; i < names.size() && i < 4; ++i) std::cout << " " << names[i];
    std::cout << (names.size() > 4 ? " ..." : "") << "\n";
  }
  for (const std::string& f : failures) std::cout << "FAILED " << f << "\n";
  std::cout << "ONNX conformance (" << suite.filename().string() << "): " << passed << " passed, " << failures.size()
            << " failed, " << num_skipped << " skipped-unsupported\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " conformance case(s) failed (listed above)";
  EXPECT_GT(passed, 0);
}

TEST(OnnxConformance, NodeTests) { run_suite(kTestData / "node"); }
// (The pytorch-converted / pytorch-operator suites of the same package are
// opset 6, below what lapq accepts.)

}  // namespace
}  // namespace lapq
