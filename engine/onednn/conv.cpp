#include "engine/onednn/conv.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "engine/onednn/context.h"
#include "engine/onednn/exec.h"
#include "kernels/memory.h"
#include "engine/onednn/window.h"

namespace lapq::onednn {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

bool decline(std::string* why_not, const std::string& reason) {
  if (why_not) *why_not = reason;
  return false;
}

bool is_f32_4d(const Value& v) {
  return v.dtype == DType::kF32 && v.has_shape && v.shape.size() == 4 && shape_known(v.shape);
}

}  // namespace

std::string ConvShape::str() const {
  std::ostringstream os;
  os << "N" << N << " IC" << IC << " " << H << "x" << W << " -> OC" << OC << " " << OH << "x" << OW << " k" << KH
     << "x" << KW << " s" << stride_h << "x" << stride_w << " d" << dil_h << "x" << dil_w << " g" << groups
     << " pads[" << pad_t << "," << pad_l << "," << pad_b << "," << pad_r << "]" << (has_bias ? " bias" : "");
  return os.str();
}

bool resolve_conv(const KernelRequest& req, ConvShape* s, std::string* why_not) {
  const Attributes& a = req.node.attrs;
  if (req.in.size() < 2 || !req.in[0] || !req.in[1]) return decline(why_not, "Conv needs X and W");
  if (req.out.empty() || !req.out[0]) return decline(why_not, "Conv output missing");
  const Value& x = *req.in[0];
  const Value& w = *req.in[1];
  const Value* b = req.in.size() > 2 ? req.in[2] : nullptr;
  const Value& y = *req.out[0];
  if (!is_f32_4d(x)) return decline(why_not, "input is not a float32 4-D tensor of known shape");
  if (!is_f32_4d(y)) return decline(why_not, "output is not a float32 4-D tensor of known shape");
  if (!w.is_constant() || w.constant.dtype() != DType::kF32 || w.constant.rank() != 4)
    return decline(why_not, "weights are not a constant float32 4-D tensor");
  if (b && (!b->is_constant() || b->constant.dtype() != DType::kF32))
    return decline(why_not, "bias is not a constant float32 tensor");

  s->N = x.shape[0];
  s->IC = x.shape[1];
  s->H = x.shape[2];
  s->W = x.shape[3];
  s->OC = w.constant.dim(0);
  s->KH = w.constant.dim(2);
  s->KW = w.constant.dim(3);
  s->groups = a.get_int("group", 1);
  s->OH = y.shape[2];
  s->OW = y.shape[3];
  s->has_bias = b != nullptr;
  if (s->groups < 1 || s->OC % s->groups != 0 || w.constant.dim(1) * s->groups != s->IC)
    return decline(why_not, "channels do not match the weights and group");
  if (y.shape[0] != s->N || y.shape[1] != s->OC) return decline(why_not, "output shape does not match N / OC");
  if (b && b->constant.numel() != s->OC) return decline(why_not, "bias size is not OC");
  auto ks = a.get_ints("kernel_shape", {s->KH, s->KW});
  if (ks.size() != 2 || ks[0] != s->KH || ks[1] != s->KW)
    return decline(why_not, "kernel_shape does not match the weights");
  Window2d win;
  win.KH = s->KH;
  win.KW = s->KW;
  if (!resolve_window(a, s->H, s->W, s->OH, s->OW, true, false, &win, why_not)) return false;
  s->stride_h = win.stride_h;
  s->stride_w = win.stride_w;
  s->dil_h = win.dil_h;
  s->dil_w = win.dil_w;
  s->pad_t = win.pad_t;
  s->pad_l = win.pad_l;
  s->pad_b = win.pad_b;
  s->pad_r = win.pad_r;
  return true;
}

bool is_pointwise(const ConvShape& s) {
  return s.KH == 1 && s.KW == 1 && s.groups == 1 && s.pad_t == 0 && s.pad_l == 0 && s.pad_b == 0 && s.pad_r == 0;
}

// Measured per layer (bench_onednn_conv, docs/fp32-path.md): a 1x1 stride-1
// convolution is a plain GEMM on NCHW data; dnnl_sgemm runs it as fast as
// oneDNN's native brgconv_1x1 runs without any layout conversion, so kGemm
// wins by the two reorders (when the plane has >= 100 pixels). A strided 1x1
// (ResNet's downsampling) first gathers every stride-th pixel into the
// workspace: cheaper than reordering the whole input to NHWC. Everything else (3x3, strided, depthwise, the
// 3-channel stem) runs 2-50x faster in oneDNN's native layout than in its
// NCHW implementation (a gemm:jit im2col), even paying both reorders.
//
// LAPQ_ONEDNN_CONV_LAYOUT=nchw|native|blocked|gemm forces one layout for every layer
// where it applies (to measure whole networks each way); unset or "auto"
// uses the rule above.
ConvLayout choose_conv_layout(const ConvShape& s) {
  static const ConvLayout forced = [] {
    const char* e = std::getenv("LAPQ_ONEDNN_CONV_LAYOUT");
    std::string v = e ? e : "";
    return v == "nchw"      ? ConvLayout::kPlain
           : v == "native"  ? ConvLayout::kNative
           : v == "blocked" ? ConvLayout::kBlocked
           : v == "gemm"   ? ConvLayout::kGemm
                           : ConvLayout::kAuto;
  }();
  if (forced == ConvLayout::kPlain || forced == ConvLayout::kNative || forced == ConvLayout::kBlocked) return forced;
  // On a 7x7 plane (49 columns) the GEMM is too narrow and brgconv_1x1 wins
  // even with its reorders (ResNet-50's last stage: 1.07 vs 1.31 ms).
  if (is_pointwise(s) && s.OH * s.OW >= 100) return ConvLayout::kGemm;
  // Depthwise: jit_dw on nChw16c runs as fast as brdgmm_dw on NHWC and its
  // reorders are cheaper (MobileNetV2 96 ch 112x112 s2: 0.63 vs 1.02 ms).
  const bool depthwise = s.groups > 1 && s.groups == s.IC && s.groups == s.OC;
  return depthwise ? ConvLayout::kBlocked : ConvLayout::kNative;
}

// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (measured in
// docs/fp32-path.md): oneDNN's jit_fp32_wino_2x3 does 2.25x fewer multiplies
// than the direct brgconv and runs 64->64 56x56 in 0.68 vs 1.15 ms, 128->128
// 28x28 in 0.58 vs 1.07, 256->256 14x14 in 0.89 vs 1.08, even with the two
// NHWC <-> nChw16c reorders it needs around it; at 7x7 it gains nothing (1.18
// vs 1.20 ms before reorders). Its result differs from the direct one by a few
// ulps (ResNet-50 logits: 6.5e-7 of the largest) and meets the same error
// bound in the tests. LAPQ_ONEDNN_WINOGRAD=0 turns it off (measuring).
bool use_winograd(const ConvShape& s) {
  static const bool enabled = [] {
    const char* e = std::getenv("LAPQ_ONEDNN_WINOGRAD");
    return !(e && e[0] == '0');
  }();
  return enabled && s.KH == 3 && s.KW == 3 && s.stride_h == 1 && s.stride_w == 1 && s.dil_h == 1 && s.dil_w == 1 &&
         s.groups == 1 && s.pad_t == 1 && s.pad_l == 1 && s.pad_b == 1 && s.pad_r == 1 && s.IC % 16 == 0 &&
         s.OC % 16 == 0 && s.IC >= 64 && s.OH * s.OW >= 14 * 14;
}

namespace {

class ConvKernel final : public OpKernel {
 public:
  ConvKernel(const ConvShape& s, const float* wei, const float* bias, const FusedActivation& act, int num_threads,
             ConvLayout layout, Layout src_layout, Layout dst_layout, const FusedActivation* sum_activation) {
    ScopedThreads threads(num_threads);
    auto& eng = cpu_engine();
    const bool channels_last = src_layout == Layout::kNhwc || dst_layout == Layout::kNhwc;
    if (channels_last) layout = ConvLayout::kNative;
    if (layout == ConvLayout::kAuto) layout = choose_conv_layout(s);

    const dims src_dims{s.N, s.IC, s.H, s.W}, dst_dims{s.N, s.OC, s.OH, s.OW};
    const dims wei_dims = s.groups == 1 ? dims{s.OC, s.IC, s.KH, s.KW}
                                        : dims{s.groups, s.OC / s.groups, s.IC / s.groups, s.KH, s.KW};
    // A value whose layout does not matter (C == 1 or H * W == 1) reads the
    // same as NHWC: described so, it needs no reorder into an NHWC primitive.
    auto user_tag = [&](Layout l, const dims& d) {
      return l == Layout::kNhwc || (channels_last && !layout_matters(Shape(d.begin(), d.end()))) ? tag::nhwc
                                                                                                 : tag::nchw;
    };
    const dnnl::memory::desc src_user_md(src_dims, dt::f32, user_tag(src_layout, src_dims));
    const dnnl::memory::desc dst_user_md(dst_dims, dt::f32, user_tag(dst_layout, dst_dims));
    const dnnl::memory::desc bias_md({s.OC}, dt::f32, tag::a);
    auto make_pd = [&](tag act_tag, dnnl::algorithm alg = dnnl::algorithm::convolution_direct) {
      dnnl::convolution_forward::desc desc(
          dnnl::prop_kind::forward_inference, alg,
          dnnl::memory::desc(src_dims, dt::f32, act_tag), dnnl::memory::desc(wei_dims, dt::f32, tag::any),
          s.has_bias ? bias_md : dnnl::memory::desc(), dnnl::memory::desc(dst_dims, dt::f32, act_tag),
          {s.stride_h, s.stride_w}, {s.dil_h - 1, s.dil_w - 1}, {s.pad_t, s.pad_l}, {s.pad_b, s.pad_r});
      return dnnl::convolution_forward::primitive_desc(
          desc, sum_activation ? make_sum_attr(*sum_activation) : make_attr(act), eng);
    };
    dnnl::convolution_forward::primitive_desc pd = make_pd(channels_last                  ? tag::nhwc
                                                           : layout == ConvLayout::kPlain   ? tag::nchw
                                                           : layout == ConvLayout::kBlocked ? tag::nChw16c
                                                                                            : tag::any);
    // NHWC without an optimized kernel for this shape: oneDNN's own choice
    // (reorders around it) beats a reference implementation.
    if (channels_last && impl_info(pd).find("ref") != std::string::npos) pd = make_pd(tag::any);
    // A forced blocked layout oneDNN only has a reference kernel for: native instead.
    if (layout == ConvLayout::kBlocked && impl_info(pd).find("ref") != std::string::npos) {
      layout = ConvLayout::kNative;
      pd = make_pd(tag::any);
    }
    bool wino = false;
    if (channels_last && use_winograd(s)) {
      try {
        auto w = make_pd(tag::nChw16c, dnnl::algorithm::convolution_winograd);
        if (impl_info(w).find("wino") != std::string::npos) {
          pd = w;
          wino = true;
        }
      } catch (const dnnl::error&) {
        // no Winograd kernel for this shape / ISA: stay direct
      }
    }
    // Winograd with the residual sum: the residual is reordered into the
    // blocked dst first (one more activation reorder, still far cheaper than
    // the direct convolution it replaces).
    if (sum_activation && !wino && pd.dst_desc() != dst_user_md)
      throw ConvDeclined{"the residual sum needs the convolution to write dst in its stored layout"};
    if (sum_activation && impl_info(pd).find("ref") != std::string::npos)
      throw ConvDeclined{"oneDNN has only a reference kernel with the residual sum"};
    conv_ = dnnl::convolution_forward(pd);

    // Weights: plain (g)oihw -> the primitive's format, once.
    const dnnl::memory::desc wei_user_md(wei_dims, dt::f32, s.groups == 1 ? tag::oihw : tag::goihw);
    dnnl::memory wei_user(wei_user_md, eng, const_cast<float*>(wei));
    // On huge pages, pooled with the plan's other buffers (kernels/memory.h):
    // at batch 1 every run streams the weights, one TLB miss per 4 KiB page otherwise.
    wei_buf_ = allocate_plan_buffer(pd.weights_desc().get_size());
    wei_ = dnnl::memory(pd.weights_desc(), eng, wei_buf_.get());
    dnnl::reorder(wei_user, wei_).execute(cpu_stream(), wei_user, wei_);
    cpu_stream().wait();
    if (s.has_bias) {
      bias_ = dnnl::memory(bias_md, eng);
      std::memcpy(bias_.get_data_handle(), bias, sizeof(float) * s.OC);
    }

    // Activations: user memories point at the engine's NCHW tensors (bound
    // per run); native ones live in the shared workspace.
    src_user_ = dnnl::memory(src_user_md, eng, DNNL_MEMORY_NONE);
    dst_user_ = dnnl::memory(dst_user_md, eng, DNNL_MEMORY_NONE);
    size_t ws = 0;
    if (pd.src_desc() != src_user_md) {
      src_ = dnnl::memory(pd.src_desc(), eng, DNNL_MEMORY_NONE);
      src_.offset = ws;
      ws += align64(pd.src_desc().get_size());
      to_native_ = dnnl::reorder(src_user_.mem, src_.mem);
    } else {
      src_ = src_user_;
    }
    if (pd.dst_desc() != dst_user_md) {
      dst_ = dnnl::memory(pd.dst_desc(), eng, DNNL_MEMORY_NONE);
      dst_.offset = ws;
      ws += align64(pd.dst_desc().get_size());
      from_native_ = dnnl::reorder(dst_.mem, dst_user_.mem);
      if (sum_activation) residual_in_ = dnnl::reorder(dst_user_.mem, dst_.mem);
    } else {
      dst_ = dst_user_;
    }
    scratch_ = dnnl::memory(pd.scratchpad_desc(), eng, DNNL_MEMORY_NONE);
    scratch_.offset = ws;
    ws += align64(pd.scratchpad_desc().get_size());
    workspace_bytes_ = ws;
    if (ws) Workspace::get().reserve(ws);

    const bool native = layout != ConvLayout::kPlain;
    const bool nhwc = pd.src_desc() == dnnl::memory::desc(src_dims, dt::f32, tag::nhwc);
    const int reorders_run = (to_native_ ? 1 : 0) + (from_native_ ? 1 : 0);
    const char* reorders = reorders_run == 0 ? "" : !to_native_ ? "+dst reorder" : !from_native_ ? "+src reorder" : "+reorders";
    // Winograd's NHWC <-> nChw16c reorders belong to the algorithm (like an
    // im2col), not to the plan's layout borders that layout_conversions() counts.
    conversions_ = wino ? 0 : reorders_run;
    name_ = "onednn:" + impl_info(pd) + "(" + (wino ? "nhwc via nChw16c" : !native ? "nchw" : nhwc ? "nhwc" : "blocked") +
            (wino ? "" : reorders) + ")" + (sum_activation ? "+sum" : "");
  }

  void run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    std::byte* ws = nullptr;
    Workspace::Lease lease;
    if (workspace_bytes_) {
      lease = Workspace::get().acquire();
      ws = lease.data;
    }
    src_user_.bind(const_cast<void*>(in[0]->raw()), nullptr);
    dst_user_.bind(out[0]->raw(), nullptr);
    if (to_native_) src_.bind(nullptr, ws);
    if (from_native_) dst_.bind(nullptr, ws);
    scratch_.bind(nullptr, ws);
    if (to_native_) execute(to_native_, {{DNNL_ARG_FROM, src_user_.mem}, {DNNL_ARG_TO, src_.mem}});
    if (residual_in_) execute(residual_in_, {{DNNL_ARG_FROM, dst_user_.mem}, {DNNL_ARG_TO, dst_.mem}});
    execute(conv_, {{DNNL_ARG_SRC, src_.mem},
                    {DNNL_ARG_WEIGHTS, wei_},
                    {DNNL_ARG_BIAS, bias_},
                    {DNNL_ARG_DST, dst_.mem},
                    {DNNL_ARG_SCRATCHPAD, scratch_.mem}});
    if (from_native_) execute(from_native_, {{DNNL_ARG_FROM, dst_.mem}, {DNNL_ARG_TO, dst_user_.mem}});
  }

  std::string impl_name() const override { return name_; }
  bool fuses_activation() const override { return true; }
  int layout_conversions() const override { return conversions_; }

 private:
  int conversions_ = 0;
  dnnl::convolution_forward conv_;
  dnnl::reorder to_native_, from_native_;  // empty when the primitive takes NCHW
  dnnl::reorder residual_in_;              // Winograd + residual sum: the residual into the blocked dst
  BoundMemory src_user_, dst_user_, src_, dst_, scratch_;
  std::shared_ptr<std::byte[]> wei_buf_;  // wei_'s data
  dnnl::memory wei_, bias_;
  size_t workspace_bytes_ = 0;
  std::string name_;
};

}  // namespace

std::unique_ptr<OpKernel> make_conv(const ConvShape& s, const float* wei, const float* bias,
                                    const FusedActivation& act, int num_threads, ConvLayout layout,
                                    Layout src_layout, Layout dst_layout, const FusedActivation* sum_activation) {
  LAPQ_CHECK(!sum_activation || act.kind == FusedActivation::Kind::kNone, ErrorCode::kInternal,
             "make_conv: a residual sum after the convolution's own activation is not supported");
  if (src_layout == Layout::kNhwc || dst_layout == Layout::kNhwc)
    return std::make_unique<ConvKernel>(s, wei, bias, act, num_threads, layout, src_layout, dst_layout,
                                        sum_activation);
  if (layout == ConvLayout::kAuto) layout = choose_conv_layout(s);
  if (layout == ConvLayout::kGemm) {
    LAPQ_CHECK(is_pointwise(s), ErrorCode::kInternal, "make_conv: kGemm needs a 1x1 stride-1 convolution, got ",
               s.str());
    return make_gemm_conv(s, wei, bias, act, sum_activation);
  }
  return std::make_unique<ConvKernel>(s, wei, bias, act, num_threads, layout, src_layout, dst_layout,
                                      sum_activation);
}

std::unique_ptr<OpKernel> create_conv_kernel(const KernelRequest& req, std::string* why_not) {
  ConvShape s;
  if (!resolve_conv(req, &s, why_not)) return nullptr;
  const float* bias = s.has_bias ? req.in[2]->constant.data<float>() : nullptr;
  if (req.sum_activation && req.node.activation.kind != FusedActivation::Kind::kNone) {
    if (why_not) *why_not = "a residual sum after the convolution's own activation";
    return nullptr;
  }
  try {
    return make_conv(s, req.in[1]->constant.data<float>(), bias, req.node.activation, req.num_threads,
                     ConvLayout::kAuto, req.in_layout(0), req.out_layout(0), req.sum_activation);
  } catch (const dnnl::error& e) {
    if (why_not) *why_not = std::string("oneDNN declined: ") + e.what();
    return nullptr;
  } catch (const ConvDeclined& d) {
    if (why_not) *why_not = d.why;
    return nullptr;
  }
}

LayoutSupport conv_layout_support(const KernelRequest& req) {
  ConvShape s;
  std::string ignored;
  return resolve_conv(req, &s, &ignored) ? LayoutSupport::kConverts : LayoutSupport::kPlainOnly;
}

}  // namespace lapq::onednn
