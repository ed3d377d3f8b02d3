// `lapq bench` end to end on the embedded model: every requested configuration
// is reported with sane fields (no timing assertions: performance is measured
// by the benchmarks, docs/benchmarks.md), a .lapq file benches with its own
// config, and bad --bits values exit with status 2 and a message naming them.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <tuple>

#include "api/quantize.h"
#include "tests/apps/cli_runner.h"

namespace fs = std::filesystem;
using namespace lapq::testing;

namespace {

bool have_model() { return fs::exists(default_model()); }

// The JSON array printed by --json (the first '[' up to the end; stderr lines come first).
nlohmann::json parse_rows(const std::string& output) {
  const size_t start = output.find('[');
  if (start == std::string::npos) return nlohmann::json();
  return nlohmann::json::parse(output.substr(start), nullptr, /*allow_exceptions=*/false);
}

void expect_sane(const nlohmann::json& row) {
  EXPECT_GT(row["median_ms"].get<double>(), 0.0) << row;
  EXPECT_GE(row["p90_ms"].get<double>(), row["median_ms"].get<double>()) << row;
  EXPECT_GT(row["images_per_s"].get<double>(), 0.0) << row;
  EXPECT_GT(row["gmacs"].get<double>(), 0.0) << row;
  EXPECT_GT(row["gmac_per_s"].get<double>(), 0.0) << row;
  EXPECT_GT(row["percent_of_peak"].get<double>(), 0.0) << row;
  EXPECT_GT(row["size_mb"].get<double>(), 0.0) << row;
  EXPECT_EQ(row["runs"].get<int>(), 3) << row;
}

}  // namespace

TEST(BenchCli, ReportsEveryConfiguration) {
  if (!have_model()) GTEST_SKIP() << "no embedded model";
  auto r = run_command(lapq_bin() + " bench --model " + default_model() +
                       " --bits fp32,w8a8,w4a8,w4a4 --threads 1,2 --batch 1,2 --runs 3 --warmup 1 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json rows = parse_rows(r.output);
  ASSERT_TRUE(rows.is_array()) << r.output;
  ASSERT_EQ(rows.size(), 4u * 2u * 2u) << r.output;
  std::set<std::tuple<std::string, int, int>> seen;
  std::map<std::string, double> size_of;
  for (const auto& row : rows) {
    expect_sane(row);
    const std::string bits = row["bits"];
    seen.insert({bits, row["threads"].get<int>(), row["batch"].get<int>()});
    size_of[bits] = row["size_mb"].get<double>();
    // GMAC/s is the MACs of one batch over the median latency.
    EXPECT_NEAR(row["gmac_per_s"].get<double>(), row["gmacs"].get<double>() / (row["median_ms"].get<double>() * 1e-3),
                1e-6 * row["gmac_per_s"].get<double>());
    // The peak is per core, scaled by threads: int8 for quantized, fp32 for fp32.
    EXPECT_DOUBLE_EQ(row["peak_gmac_per_s"].get<double>(), (bits == "fp32" ? 108.0 : 432.0) * row["threads"].get<int>());
  }
  for (const char* bits : {"fp32", "w8a8", "w4a8", "w4a4"})
    for (int t : {1, 2})
      for (int n : {1, 2}) EXPECT_TRUE(seen.count({bits, t, n})) << bits << " " << t << " " << n;
  // Sizes: fp32 4 bytes per parameter > 8-bit weights > 4-bit weights; w4a8 and w4a4 pack alike.
  EXPECT_GT(size_of["fp32"], size_of["w8a8"]);
  EXPECT_GT(size_of["w8a8"], size_of["w4a8"]);
  EXPECT_DOUBLE_EQ(size_of["w4a8"], size_of["w4a4"]);
}

TEST(BenchCli, TableAndPerLayer) {
  if (!have_model()) GTEST_SKIP() << "no embedded model";
  auto r = run_command(lapq_bin() + " bench --model " + default_model() + " --bits fp32,w4a4 --runs 3 --per-layer");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("432 GMAC/s int8"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("per layer (w4a4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("lapq.QConv"), std::string::npos) << r.output;   // the integer conv node
  EXPECT_NE(r.output.find("per layer (fp32"), std::string::npos) << r.output;
}

TEST(BenchCli, QuantizedFile) {
  if (!have_model()) GTEST_SKIP() << "no embedded model";
  TempDir dir;
  {
    lapq::Model fp32 = lapq::Model::load(default_model());
    lapq::QuantizeOptions q;
    q.preset.bits = {4, 4};
    q.lapq.method = lapq::quant::InitMethod::kMax;
    lapq::Tensor images(lapq::DType::kF32, fp32.input_shape(8));
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    for (int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = nd(rng);
    q.calib = lapq::quant::make_calibration(images, std::vector<int>(8, 0), 8);
    lapq::quantize(fp32, q).save(dir.str("m.lapq"));
  }
  auto r = run_command(lapq_bin() + " bench --model " + dir.str("m.lapq") + " --runs 3 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json rows = parse_rows(r.output);
  ASSERT_TRUE(rows.is_array() && rows.size() == 2u) << r.output;
  EXPECT_EQ(rows[0]["bits"], "fp32");
  EXPECT_EQ(rows[1]["bits"], "file:w4a4");
  for (const auto& row : rows) expect_sane(row);
}

TEST(BenchCli, BadBitsExit2) {
  if (!have_model()) GTEST_SKIP() << "no embedded model";
  for (const char* bad : {"w9a8", "foo", "w8a1", "fp16"}) {
    auto r = run_command(lapq_bin() + " bench --model " + default_model() + " --bits fp32," + bad + " --runs 3");
    EXPECT_EQ(r.status, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find(std::string("--bits '") + bad + "'"), std::string::npos) << r.output;
  }
  auto r = run_command(lapq_bin() + " bench --model " + default_model() + " --bits file --runs 3");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("not a quantized .lapq file"), std::string::npos) << r.output;
}
