// oneDNN Gemm / MatMul fast kernels vs the reference ops: transA / transB,
// alpha / beta, bias forms, batched MatMul, fused activations, declines.
#include <gtest/gtest.h>

#include "engine/onednn/matmul.h"
#include "tests/engine/test_onednn_util.h"

namespace lapq {
namespace {

using test::OneNode;

struct GemmCase {
  std::string name;
  int64_t M, K, N;
  bool ta, tb;
  float alpha, beta;
  Shape c_shape;  // empty = no C
};

Attributes gemm_attrs(const GemmCase& c, bool abs_values) {
  Attributes a;
  a.set("transA", int64_t{c.ta});
  a.set("transB", int64_t{c.tb});
  a.set("alpha", abs_values ? std::fabs(c.alpha) : c.alpha);
  a.set("beta", abs_values ? std::fabs(c.beta) : c.beta);
  return a;
}

void check_gemm(const GemmCase& c, const FusedActivation& act, int threads = 1) {
  std::mt19937 rng(42);
  std::vector<Tensor> in{test::random_tensor(c.ta ? Shape{c.K, c.M} : Shape{c.M, c.K}, rng),
                         test::random_tensor(c.tb ? Shape{c.N, c.K} : Shape{c.K, c.N}, rng)};
  std::vector<bool> constant{false, true};
  if (!c.c_shape.empty()) {
    in.push_back(test::random_tensor(c.c_shape, rng));
    constant.push_back(true);
  }
  const std::string what = c.name + " act=" + act.str();
  OneNode g("Gemm", in, constant, gemm_attrs(c, false), act);
  std::string why;
  auto kernel = onednn::create_gemm_kernel(g.request(threads), &why);
  ASSERT_TRUE(kernel) << what << ": " << why;
  EXPECT_TRUE(kernel->fuses_activation());
  Tensor got = g.run(*kernel);
  Tensor want = g.reference(in);
  // S = |alpha| sum |a b| + |beta| |c|: the reference on absolute values.
  OneNode abs_g("Gemm", in, constant, gemm_attrs(c, true));
  std::vector<Tensor> abs_in;
  for (const Tensor& t : in) abs_in.push_back(test::abs_of(t));
  // +2 terms: alpha scaling of the weights and the beta-scaled bias each round once.
  test::expect_close(got, want, abs_g.reference(abs_in, false), c.K + 2, test::lipschitz_of(act),
                     what + " [" + kernel->impl_name() + "]");
}

TEST(OnednnGemm, MatchesReference) {
  const std::vector<GemmCase> cases{
      {"fc_transB_bias", 1, 512, 1000, false, true, 1.f, 1.f, {1000}},
      {"transA_alpha_beta_row_bias", 3, 17, 5, true, false, 0.5f, 2.f, {1, 5}},
      {"transA_transB_no_c", 4, 9, 6, true, true, 1.f, 1.f, {}},
      {"scalar_c", 5, 8, 3, false, false, -1.5f, 0.25f, {1}},
      {"beta_zero", 2, 7, 4, false, true, 1.f, 0.f, {4}},
      {"k1_n1", 7, 1, 1, false, false, 1.f, 1.f, {1}},
      {"batch8_fc", 8, 300, 17, false, true, 1.f, 1.f, {17}},
  };
  for (const auto& c : cases) {
    check_gemm(c, {});
    check_gemm(c, {}, 2);
  }
}

TEST(OnednnGemm, EachFusedActivation) {
  const GemmCase c{"act", 3, 40, 21, false, true, 0.7f, 1.3f, {21}};
  for (const FusedActivation& act : test::all_activations()) check_gemm(c, act);
}

TEST(OnednnGemm, DeclinesWithAReason) {
  std::mt19937 rng(3);
  Tensor a = test::random_tensor({3, 4}, rng), b = test::random_tensor({4, 5}, rng);
  auto why_of = [](const OneNode& g) {
    std::string why;
    EXPECT_FALSE(onednn::create_gemm_kernel(g.request(), &why));
    return why;
  };
  GemmCase c{"d", 3, 4, 5, false, false, 1.f, 1.f, {}};
  EXPECT_NE(why_of(OneNode("Gemm", {a, b}, {false, false}, gemm_attrs(c, false))).find("constant"),
            std::string::npos);
  // C of shape (M, N) is not a per-column bias.
  Tensor cm = test::random_tensor({3, 5}, rng);
  EXPECT_NE(why_of(OneNode("Gemm", {a, b, cm}, {false, true, true}, gemm_attrs(c, false))).find("bias"),
            std::string::npos);
  // C computed at run time.
  Tensor cv = test::random_tensor({5}, rng);
  EXPECT_NE(why_of(OneNode("Gemm", {a, b, cv}, {false, true, false}, gemm_attrs(c, false))).find("C"),
            std::string::npos);
}

void check_matmul(const Shape& a_shape, int64_t N, const FusedActivation& act, int threads = 1) {
  std::mt19937 rng(5);
  const int64_t K = a_shape.back();
  std::vector<Tensor> in{test::random_tensor(a_shape, rng), test::random_tensor({K, N}, rng)};
  OneNode g("MatMul", in, {false, true}, Attributes(), act);
  const std::string what = "MatMul " + shape_str(a_shape) + " x [" + std::to_string(K) + "," + std::to_string(N) +
                           "] act=" + act.str();
  std::string why;
  auto kernel = onednn::create_matmul_kernel(g.request(threads), &why);
  ASSERT_TRUE(kernel) << what << ": " << why;
  Tensor got = g.run(*kernel);
  Tensor want = g.reference(in);
  std::vector<Tensor> abs_in{test::abs_of(in[0]), test::abs_of(in[1])};
  test::expect_close(got, want, g.reference(abs_in, false), K, test::lipschitz_of(act), what);
}

TEST(OnednnMatMul, MatchesReferenceBatchedAnd2D) {
  for (int threads : {1, 2}) {
    check_matmul({2, 3, 5, 17}, 9, {}, threads);  // batched: leading dims fold into M
    check_matmul({4, 33}, 1, {}, threads);
    check_matmul({17}, 6, {}, threads);           // 1-D A: a single row
    check_matmul({1, 1, 1}, 1, {}, threads);
    check_matmul({1, 2048}, 1000, {}, threads);   // classifier head
    check_matmul({3, 49, 64}, 31, {}, threads);
  }
}

TEST(OnednnMatMul, EachFusedActivation) {
  for (const FusedActivation& act : test::all_activations()) check_matmul({2, 6, 19}, 13, act);
}

TEST(OnednnMatMul, DeclinesNonConstantOrBatchedWeights) {
  std::mt19937 rng(3);
  Tensor a = test::random_tensor({2, 3, 4}, rng), b = test::random_tensor({4, 5}, rng);
  Tensor b3 = test::random_tensor({2, 4, 5}, rng);
  std::string why;
  EXPECT_FALSE(onednn::create_matmul_kernel(OneNode("MatMul", {a, b}, {false, false}, Attributes()).request(), &why));
  EXPECT_NE(why.find("constant"), std::string::npos) << why;
  why.clear();
  EXPECT_FALSE(onednn::create_matmul_kernel(OneNode("MatMul", {a, b3}, {false, true}, Attributes()).request(), &why));
  EXPECT_NE(why.find("2-D"), std::string::npos) << why;
}

TEST(OnednnMatMul, RegisteredForGemmAndMatMul) {
  for (const char* op : {"Gemm", "MatMul"}) {
    const OpSchema* s = OpRegistry::get().find(op);
    ASSERT_NE(s, nullptr) << op;
    bool found = false;
    for (const FastCandidate& f : s->fast) found |= f.name == "onednn";
    EXPECT_TRUE(found) << op;
  }
}

}  // namespace
}  // namespace lapq
