#include "engine/onednn/matmul.h"

#include <cstring>

#include "engine/onednn/context.h"
#include "engine/onednn/exec.h"
#include "kernels/memory.h"

namespace lapq::onednn {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

std::unique_ptr<OpKernel> decline(std::string* why_not, const std::string& reason) {
  if (why_not) *why_not = reason;
  return nullptr;
}

bool known_f32(const Value* v) { return v && v->dtype == DType::kF32 && v->has_shape && shape_known(v->shape); }

class MatmulKernel final : public OpKernel {
 public:
  MatmulKernel(int64_t M, int64_t K, int64_t N, bool trans_src, const float* wei, bool trans_wei, float alpha,
               const std::vector<float>& bias, const FusedActivation& act, int num_threads, const std::string& op) {
    ScopedThreads threads(num_threads);
    auto& eng = cpu_engine();
    // src (M, K), possibly stored transposed: strides (1, M).
    const dnnl::memory::desc src_md({M, K}, dt::f32, trans_src ? dnnl::memory::dims{1, M} : dnnl::memory::dims{K, 1});
    const dnnl::memory::desc dst_md({M, N}, dt::f32, tag::ab);
    const dnnl::memory::desc bias_md({1, N}, dt::f32, tag::ab);
    const bool has_bias = !bias.empty();
    dnnl::matmul::desc desc(src_md, dnnl::memory::desc({K, N}, dt::f32, tag::any),
                            has_bias ? bias_md : dnnl::memory::desc(), dst_md);
    dnnl::matmul::primitive_desc pd(desc, make_attr(act), eng);
    matmul_ = dnnl::matmul(pd);

    // Weights (K, N): alpha folded in (one rounding per weight), then reordered once.
    std::vector<float> scaled;
    if (alpha != 1.f) {
      scaled.assign(wei, wei + K * N);
      for (float& w : scaled) w *= alpha;
      wei = scaled.data();
    }
    dnnl::memory wei_user({{K, N}, dt::f32, trans_wei ? tag::ba : tag::ab}, eng, const_cast<float*>(wei));
    // On huge pages, pooled with the plan's other buffers (kernels/memory.h):
    // at batch 1 every run streams the weights, one TLB miss per 4 KiB page otherwise.
    wei_buf_ = allocate_plan_buffer(pd.weights_desc().get_size());
    wei_ = dnnl::memory(pd.weights_desc(), eng, wei_buf_.get());
    dnnl::reorder(wei_user, wei_).execute(cpu_stream(), wei_user, wei_);
    cpu_stream().wait();
    if (has_bias) {
      bias_ = dnnl::memory(bias_md, eng);
      std::memcpy(bias_.get_data_handle(), bias.data(), sizeof(float) * N);
    }
    src_ = dnnl::memory(src_md, eng, DNNL_MEMORY_NONE);
    dst_ = dnnl::memory(dst_md, eng, DNNL_MEMORY_NONE);
    scratch_ = dnnl::memory(pd.scratchpad_desc(), eng, DNNL_MEMORY_NONE);
    workspace_bytes_ = pd.scratchpad_desc().get_size();
    if (workspace_bytes_) Workspace::get().reserve(workspace_bytes_);
    name_ = "onednn:" + impl_info(pd) + "(" + op + ")";
  }

  void run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    Workspace::Lease lease;
    if (workspace_bytes_) lease = Workspace::get().acquire();
    src_.bind(const_cast<void*>(in[0]->raw()), nullptr);
    dst_.bind(out[0]->raw(), nullptr);
    scratch_.bind(nullptr, lease.data);
    execute(matmul_, {{DNNL_ARG_SRC, src_.mem},
                      {DNNL_ARG_WEIGHTS, wei_},
                      {DNNL_ARG_BIAS, bias_},
                      {DNNL_ARG_DST, dst_.mem},
                      {DNNL_ARG_SCRATCHPAD, scratch_.mem}});
  }
  std::string impl_name() const override { return name_; }
  bool fuses_activation() const override { return true; }

 private:
  dnnl::matmul matmul_;
  BoundMemory src_, dst_, scratch_;
  std::shared_ptr<std::byte[]> wei_buf_;  // wei_'s data
  dnnl::memory wei_, bias_;
  size_t workspace_bytes_ = 0;
  std::string name_;
};

std::unique_ptr<OpKernel> make_or_decline(int64_t M, int64_t K, int64_t N, bool trans_src, const float* wei,
                                          bool trans_wei, float alpha, const std::vector<float>& bias,
                                          const KernelRequest& req, std::string* why_not) {
  try {
    return make_matmul(M, K, N, trans_src, wei, trans_wei, alpha, bias, req.node.activation, req.num_threads,
                       req.node.op);
  } catch (const dnnl::error& e) {
    return decline(why_not, std::string("oneDNN declined: ") + e.what());
  }
}

}  // namespace

std::unique_ptr<OpKernel> make_matmul(int64_t M, int64_t K, int64_t N, bool trans_src, const float* wei,
                                      bool trans_wei, float alpha, const std::vector<float>& bias,
                                      const FusedActivation& act, int num_threads, const std::string& op) {
  return std::make_unique<MatmulKernel>(M, K, N, trans_src, wei, trans_wei, alpha, bias, act, num_threads, op);
}

std::unique_ptr<OpKernel> create_gemm_kernel(const KernelRequest& req, std::string* why_not) {
  if (req.in.size() < 2 || req.out.empty()) return decline(why_not, "Gemm needs A and B");
  const Value* a = req.in[0];
  const Value* b = req.in[1];
  const Value* c = req.in.size() > 2 ? req.in[2] : nullptr;
  if (!known_f32(a) || a->shape.size() != 2) return decline(why_not, "A is not a float32 2-D tensor of known shape");
  if (!b || !b->is_constant() || b->constant.dtype() != DType::kF32 || b->constant.rank() != 2)
    return decline(why_not, "B is not a constant float32 2-D tensor");
  if (c && (!c->is_constant() || c->constant.dtype() != DType::kF32))
    return decline(why_not, "C is not a constant float32 tensor");
  if (!known_f32(req.out[0])) return decline(why_not, "output is not float32 of known shape");
  const Attributes& at = req.node.attrs;
  const bool ta = at.get_int("transA", 0) != 0, tb = at.get_int("transB", 0) != 0;
  const float alpha = at.get_float("alpha", 1.f), beta = at.get_float("beta", 1.f);
  const int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
  const int64_t N = tb ? b->constant.dim(0) : b->constant.dim(1);
  if ((tb ? b->constant.dim(1) : b->constant.dim(0)) != K) return decline(why_not, "inner dimensions differ");
  if (req.out[0]->shape != Shape{M, N}) return decline(why_not, "output shape is not (M, N)");
  std::vector<float> bias;
  if (c && beta != 0.f) {
    const Tensor& ct = c->constant;
    const bool per_column = ct.numel() == N && (ct.rank() == 1 || (ct.rank() == 2 && ct.dim(0) == 1));
    if (ct.numel() == 1 && ct.rank() <= 2) {
      bias.assign(N, beta * ct.data<float>()[0]);
    } else if (per_column) {
      bias.assign(ct.data<float>(), ct.data<float>() + N);
      for (float& v : bias) v *= beta;
    } else {
      return decline(why_not, "C is not a scalar or per-column bias");
    }
  }
  return make_or_decline(M, K, N, ta, b->constant.data<float>(), tb, alpha, bias, req, why_not);
}

std::unique_ptr<OpKernel> create_matmul_kernel(const KernelRequest& req, std::string* why_not) {
  if (req.in.size() < 2 || req.out.empty()) return decline(why_not, "MatMul needs A and B");
  const Value* a = req.in[0];
  const Value* b = req.in[1];
  if (!known_f32(a) || a->shape.empty()) return decline(why_not, "A is not a float32 tensor of known shape");
  if (!b || !b->is_constant() || b->constant.dtype() != DType::kF32 || b->constant.rank() != 2)
    return decline(why_not, "B is not a constant float32 2-D tensor");
  if (!known_f32(req.out[0])) return decline(why_not, "output is not float32 of known shape");
  // B is 2-D, so A's leading dimensions are independent rows: fold them into M.
  const int64_t K = a->shape.back(), N = b->constant.dim(1);
  if (b->constant.dim(0) != K) return decline(why_not, "inner dimensions differ");
  if (K == 0) return decline(why_not, "empty inner dimension");
  const int64_t M = shape_numel(a->shape) / K;
  if (M == 0 || N == 0) return decline(why_not, "empty output");
  if (shape_numel(req.out[0]->shape) != M * N) return decline(why_not, "output size is not M * N");
  return make_or_decline(M, K, N, false, b->constant.data<float>(), false, 1.f, {}, req, why_not);
}

}  // namespace lapq::onednn
