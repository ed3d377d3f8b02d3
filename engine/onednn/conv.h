// FP32 Conv (2-D, groups / depthwise, dilation, asymmetric pads, auto_pad,
// optional bias, fused activation) through oneDNN's convolution primitive.
//
// Between channels-last values (the plan's layout pass, engine/passes/layout.h)
// the convolution runs in NHWC and reorders only a side stored NCHW. Between
// plain NCHW values the kernel runs one of:
//   kPlain: oneDNN convolution directly on NCHW src/dst (oneDNN picks its
//           gemm-based implementation): no layout conversion;
//   kNative: src/dst in the layout oneDNN prefers (format_tag::any, NHWC on
//           AVX-512 with oneDNN 2.6: brgconv), with reorders NCHW -> native
//           before and native -> NCHW after, in the shared Workspace;
//   kBlocked: like kNative with src/dst forced to nChw16c (depthwise: oneDNN's
//           jit_dw; the NCHW <-> nChw16c reorders touch 16 channel planes at a
//           time and cost about half of NCHW <-> NHWC for wide layers);
//   kGemm:  1x1 unpadded ungrouped convolutions only: in NCHW a 1x1
//           convolution is dst(OC, HW) = wei(OC, IC) x src(IC, HW), one
//           dnnl_sgemm per block of columns, bias + activation applied to each
//           block while it is still in cache (gemm_conv.cpp); with a stride
//           the strided pixels are first gathered into the workspace.
// kAuto picks per shape (see choose_conv_layout; numbers in docs/fp32-path.md).
// Weights are reordered once, at construction, into the primitive's format.
#pragma once

#include <memory>
#include <string>

#include "engine/op_registry.h"

namespace lapq::onednn {

enum class ConvLayout { kAuto, kPlain, kNative, kGemm, kBlocked };

// True when kGemm can run the shape (1x1, no pads, group 1; any stride).
struct ConvShape;
bool is_pointwise(const ConvShape& s);

// One 2-D convolution, everything resolved (pads from auto_pad, group dims).
struct ConvShape {
  int64_t N = 1, IC = 0, H = 0, W = 0;
  int64_t OC = 0, OH = 0, OW = 0;
  int64_t KH = 1, KW = 1, groups = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dil_h = 1, dil_w = 1;  // ONNX convention: 1 = dense
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  bool has_bias = false;
  std::string str() const;
};

// Resolves a Conv node's attributes and value shapes into a ConvShape, or
// returns false with the reason in *why_not (non-float, non-constant or
// unknown-shape weights, rank != 4, inconsistent output shape, ...).
bool resolve_conv(const KernelRequest& req, ConvShape* shape, std::string* why_not);

// True when a channels-last 3x3 stride-1 convolution of this shape runs as
// Winograd F(2x2, 3x3) (oneDNN jit_fp32_wino_2x3 on nChw16c, reorders in the
// workspace; only between channels-last values). LAPQ_ONEDNN_WINOGRAD=0 turns it off.
bool use_winograd(const ConvShape& s);

// The layout kAuto resolves to for this shape.
ConvLayout choose_conv_layout(const ConvShape& s);

// wei: (OC, IC/groups, KH, KW) float32, bias: (OC) or nullptr. Both are read
// during construction only (the kernel keeps its own reordered copy).
// src_layout / dst_layout: how the plan stores the input and output. With
// either channels-last the convolution runs in NHWC (`layout` is ignored;
// oneDNN's preferred format when it has no optimized NHWC kernel for the
// shape) and only the plain side, if any, is reordered.
std::unique_ptr<OpKernel> make_conv(const ConvShape& s, const float* wei, const float* bias,
                                    const FusedActivation& act, int num_threads,
                                    ConvLayout layout = ConvLayout::kAuto, Layout src_layout = Layout::kPlain,
                                    Layout dst_layout = Layout::kPlain,
                                    const FusedActivation* sum_activation = nullptr);

// sum_activation != nullptr: residual fusion (KernelRequest::sum_activation),
// dst = sum_activation(conv(src) + dst) with `act` kNone; make_conv throws
// ConvDeclined when the layout would need a dst reorder (dst must be computed
// in place) or oneDNN has only a reference kernel with the sum.
struct ConvDeclined {
  std::string why;
};

// The kGemm kernel (make_conv dispatches to it); requires is_pointwise(s).
// With sum_activation: sgemm with beta = 1 (adds to dst), then bias + activation.
std::unique_ptr<OpKernel> make_gemm_conv(const ConvShape& s, const float* wei, const float* bias,
                                         const FusedActivation& act, const FusedActivation* sum_activation = nullptr);

// The KernelFactory registered for Conv, and its LayoutQuery (kConverts
// whenever the factory can build the node).
std::unique_ptr<OpKernel> create_conv_kernel(const KernelRequest& req, std::string* why_not);
LayoutSupport conv_layout_support(const KernelRequest& req);

}  // namespace lapq::onednn
