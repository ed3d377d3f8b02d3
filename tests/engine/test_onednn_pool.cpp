// oneDNN pooling (MaxPool / AveragePool / Global*) and binary (Add / Mul with
// broadcasting) fast kernels vs the reference ops.
#include <gtest/gtest.h>

#include "engine/onednn/context.h"
#include "engine/onednn/pool_binary.h"
#include "tests/engine/test_onednn_util.h"

namespace lapq {
namespace {

using test::OneNode;

// Runs the candidate and the reference. MaxPool and Global*Pool are exact
// (a max, or no rounding difference beyond the sum of a window): the bound
// is the same K u S form with K = window size and S = sum |x| in the window,
// taken as K * max|x| = K (inputs in [-1, 1]).
void check(const OneNode& g, std::unique_ptr<OpKernel> (*factory)(const KernelRequest&, std::string*), int64_t K,
           double lipschitz, const std::string& what, int threads = 1) {
  onednn::ScopedThreads scoped(threads);
  std::string why;
  auto kernel = factory(g.request(threads), &why);
  ASSERT_TRUE(kernel) << what << ": " << why;
  Tensor got = g.run(*kernel);
  Tensor want = g.reference(g.tensors);
  Tensor bound(DType::kF32, want.shape());
  for (float& v : bound.span<float>()) v = static_cast<float>(K);
  test::expect_close(got, want, bound, K, lipschitz, what + " [" + kernel->impl_name() + "]");
}

Attributes pool_attrs(std::vector<int64_t> k, std::vector<int64_t> strides, std::vector<int64_t> pads,
                      std::string auto_pad = "", int64_t ceil_mode = 0, int64_t count_include_pad = 0,
                      std::vector<int64_t> dilations = {}) {
  Attributes a;
  a.set("kernel_shape", k);
  if (!strides.empty()) a.set("strides", strides);
  if (!pads.empty()) a.set("pads", pads);
  if (!auto_pad.empty()) a.set("auto_pad", auto_pad);
  if (ceil_mode) a.set("ceil_mode", ceil_mode);
  if (count_include_pad) a.set("count_include_pad", count_include_pad);
  if (!dilations.empty()) a.set("dilations", dilations);
  return a;
}

TEST(OnednnPool, MaxAndAveragePoolMatchReference) {
  std::mt19937 rng(11);
  struct Case {
    std::string name;
    Shape x;
    Attributes attrs;
    int64_t K;
  };
  const std::vector<Case> cases{
      {"resnet_stem_3x3s2p1", {1, 17, 15, 15}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}), 9},
      {"c1_2x2s2_odd", {1, 1, 7, 9}, pool_attrs({2, 2}, {2, 2}, {}), 4},
      {"hw1", {2, 3, 1, 1}, pool_attrs({1, 1}, {}, {}), 1},
      {"asym_pads", {1, 3, 6, 7}, pool_attrs({3, 2}, {1, 2}, {0, 1, 2, 0}), 6},
      {"same_upper", {1, 4, 7, 7}, pool_attrs({3, 3}, {2, 2}, {}, "SAME_UPPER"), 9},
      {"ceil_mode", {1, 5, 8, 8}, pool_attrs({3, 3}, {2, 2}, {}, "", 1), 9},
      {"count_include_pad", {1, 3, 6, 6}, pool_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}, "", 0, 1), 9},
  };
  for (const Case& c : cases)
    for (const char* op : {"MaxPool", "AveragePool"}) {
      Tensor x = test::random_tensor(c.x, rng);
      OneNode g(op, {x}, {false}, c.attrs);
      check(g, onednn::create_pool_kernel, c.K, 1.0, std::string(op) + " " + c.name);
      check(g, onednn::create_pool_kernel, c.K, 1.0, std::string(op) + " " + c.name + " 2 threads", 2);
    }
  // MaxPool with dilation.
  Tensor x = test::random_tensor({1, 3, 11, 11}, rng);
  OneNode g("MaxPool", {x}, {false}, pool_attrs({3, 3}, {1, 1}, {2, 2, 2, 2}, "", 0, 0, {2, 2}));
  check(g, onednn::create_pool_kernel, 9, 1.0, "MaxPool dilation 2");
}

TEST(OnednnPool, GlobalPoolsMatchReference) {
  std::mt19937 rng(12);
  for (const Shape& s : {Shape{1, 17, 7, 7}, Shape{2, 3, 1, 1}, Shape{1, 2048, 7, 7}, Shape{1, 5, 9, 4}})
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
      OneNode g(op, {test::random_tensor(s, rng)}, {false}, Attributes());
      check(g, onednn::create_pool_kernel, s[2] * s[3], 1.0, std::string(op) + " " + shape_str(s));
    }
}

TEST(OnednnPool, DeclinesMaxPoolIndicesAndNon4D) {
  std::mt19937 rng(13);
  std::string why;
  OneNode g1("MaxPool", {test::random_tensor({1, 3, 9}, rng)}, {false}, pool_attrs({3}, {}, {}));
  EXPECT_FALSE(onednn::create_pool_kernel(g1.request(), &why));
  EXPECT_FALSE(why.empty());
}

TEST(OnednnBinary, AddAndMulWithBroadcastingAndActivations) {
  std::mt19937 rng(14);
  const std::vector<std::pair<Shape, Shape>> shapes{
      {{1, 64, 7, 9}, {1, 64, 7, 9}},  // residual add
      {{1, 17, 5, 5}, {17, 1, 1}},     // per-channel
      {{17, 1, 1}, {2, 17, 5, 5}},     // broadcast on the left: swapped
      {{3, 4}, {4}},
      {{1}, {5, 1, 3}},
      {{2, 3, 4, 5, 6}, {1, 3, 1, 5, 1}},
  };
  for (const auto& [a_shape, b_shape] : shapes)
    for (const char* op : {"Add", "Mul"})
      for (const FusedActivation& act : test::all_activations()) {
        Tensor a = test::random_tensor(a_shape, rng), b = test::random_tensor(b_shape, rng);
        OneNode g(op, {a, b}, {false, false}, Attributes(), act);
        // One rounding each (K = 1, S <= 1 for inputs in [-1, 1], times 2 for Add).
        check(g, onednn::create_binary_kernel, 2, test::lipschitz_of(act),
              std::string(op) + " " + shape_str(a_shape) + " " + shape_str(b_shape) + " " + act.str());
      }
  // A constant second operand (a bias) works too.
  Tensor x = test::random_tensor({1, 8, 3, 3}, rng), c = test::random_tensor({8, 1, 1}, rng);
  OneNode g("Add", {x, c}, {false, true}, Attributes());
  check(g, onednn::create_binary_kernel, 2, 1.0, "Add constant");
}

TEST(OnednnBinary, DeclinesWhenBothSidesBroadcast) {
  std::mt19937 rng(15);
  OneNode g("Add", {test::random_tensor({3, 1}, rng), test::random_tensor({1, 4}, rng)}, {false, false},
            Attributes());
  std::string why;
  EXPECT_FALSE(onednn::create_binary_kernel(g.request(), &why));
  EXPECT_NE(why.find("broadcast"), std::string::npos) << why;
}

}  // namespace
}  // namespace lapq
