#include "engine/onednn/pool_binary.h"

#include "engine/onednn/context.h"
#include "engine/onednn/exec.h"
#include "engine/onednn/window.h"

namespace lapq::onednn {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

std::unique_ptr<OpKernel> decline(std::string* why_not, const std::string& reason) {
  if (why_not) *why_not = reason;
  return nullptr;
}

bool known_f32(const Value* v) { return v && v->dtype == DType::kF32 && v->has_shape && shape_known(v->shape); }

// Dense row-major descriptor of any rank (rank 0 = one element).
dnnl::memory::desc plain_desc(Shape shape) {
  if (shape.empty()) shape = {1};
  dnnl::memory::dims strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return dnnl::memory::desc(dnnl::memory::dims(shape.begin(), shape.end()), dt::f32, strides);
}

// One primitive with a src (or two), a dst and a scratchpad in the workspace.
class SimpleKernel final : public OpKernel {
 public:
  SimpleKernel(dnnl::primitive prim, const dnnl::primitive_desc_base& pd, int num_inputs, std::string name)
      : prim_(std::move(prim)), num_inputs_(num_inputs), name_(std::move(name)) {
    auto& eng = cpu_engine();
    src0_ = dnnl::memory(pd.src_desc(0), eng, DNNL_MEMORY_NONE);
    if (num_inputs > 1) src1_ = dnnl::memory(pd.src_desc(1), eng, DNNL_MEMORY_NONE);
    dst_ = dnnl::memory(pd.dst_desc(), eng, DNNL_MEMORY_NONE);
    scratch_ = dnnl::memory(pd.scratchpad_desc(), eng, DNNL_MEMORY_NONE);
    workspace_bytes_ = pd.scratchpad_desc().get_size();
    if (workspace_bytes_) Workspace::get().reserve(workspace_bytes_);
  }
  void set_swapped(bool swapped) { swapped_ = swapped; }

  void run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    Workspace::Lease lease;
    if (workspace_bytes_) lease = Workspace::get().acquire();
    const int a = swapped_ ? 1 : 0;
    src0_.bind(const_cast<void*>(in[a]->raw()), nullptr);
    if (num_inputs_ > 1) src1_.bind(const_cast<void*>(in[1 - a]->raw()), nullptr);
    dst_.bind(out[0]->raw(), nullptr);
    scratch_.bind(nullptr, lease.data);
    if (num_inputs_ > 1)
      execute(prim_, {{DNNL_ARG_SRC_0, src0_.mem},
                      {DNNL_ARG_SRC_1, src1_.mem},
                      {DNNL_ARG_DST, dst_.mem},
                      {DNNL_ARG_SCRATCHPAD, scratch_.mem}});
    else
      execute(prim_, {{DNNL_ARG_SRC, src0_.mem}, {DNNL_ARG_DST, dst_.mem}, {DNNL_ARG_SCRATCHPAD, scratch_.mem}});
  }
  std::string impl_name() const override { return name_; }
  bool fuses_activation() const override { return true; }

 private:
  dnnl::primitive prim_;
  int num_inputs_;
  bool swapped_ = false;
  BoundMemory src0_, src1_, dst_, scratch_;
  size_t workspace_bytes_ = 0;
  std::string name_;
};

}  // namespace

std::unique_ptr<OpKernel> create_pool_kernel(const KernelRequest& req, std::string* why_not) {
  const Node& n = req.node;
  if (req.in.empty() || !known_f32(req.in[0]) || req.in[0]->shape.size() != 4)
    return decline(why_not, "input is not a float32 4-D tensor of known shape");
  if (req.out.size() != 1 || !known_f32(req.out[0]) || req.out[0]->shape.size() != 4)
    return decline(why_not, "not a single float32 4-D output (MaxPool Indices is not supported)");
  const Shape& x = req.in[0]->shape;
  const Shape& y = req.out[0]->shape;
  if (y[0] != x[0] || y[1] != x[1]) return decline(why_not, "output N / C differ from the input");
  const bool global = n.op == "GlobalAveragePool" || n.op == "GlobalMaxPool";
  const bool is_max = n.op == "MaxPool" || n.op == "GlobalMaxPool";
  Window2d w;
  if (global) {
    w.KH = x[2];
    w.KW = x[3];
    if (y[2] != 1 || y[3] != 1) return decline(why_not, "global pooling output is not 1x1");
  } else {
    auto ks = n.attrs.get_ints("kernel_shape");
    if (ks.size() != 2) return decline(why_not, "kernel_shape is not 2-D");
    w.KH = ks[0];
    w.KW = ks[1];
    const bool ceil_mode = n.attrs.get_int("ceil_mode", 0) != 0;
    if (!resolve_window(n.attrs, x[2], x[3], y[2], y[3], is_max, ceil_mode, &w, why_not)) return nullptr;
    if (!is_max && n.attrs.get_int("count_include_pad", 0) != 0 && ceil_mode) {
      // Windows hanging over the end would count the extra end padding too.
      Window2d plain;
      plain.KH = w.KH;
      plain.KW = w.KW;
      std::string ignored;
      if (!resolve_window(n.attrs, x[2], x[3], y[2], y[3], false, false, &plain, &ignored))
        return decline(why_not, "count_include_pad with ceil_mode overhang");
    }
  }
  dnnl::algorithm alg = is_max ? dnnl::algorithm::pooling_max
                        : (!global && n.attrs.get_int("count_include_pad", 0) != 0)
                            ? dnnl::algorithm::pooling_avg_include_padding
                            : dnnl::algorithm::pooling_avg_exclude_padding;
  try {
    ScopedThreads threads(req.num_threads);
    // Channels-last input: NHWC output too (the same bytes as NCHW when the
    // output's layout does not matter, e.g. global pooling's N x C x 1 x 1).
    const bool nhwc = req.in_layout(0) == Layout::kNhwc;
    const tag dst_tag = req.out_layout(0) == Layout::kNhwc || (nhwc && !layout_matters(y)) ? tag::nhwc : tag::nchw;
    const dnnl::memory::desc src_md({x[0], x[1], x[2], x[3]}, dt::f32, nhwc ? tag::nhwc : tag::nchw);
    const dnnl::memory::desc dst_md({y[0], y[1], y[2], y[3]}, dt::f32, dst_tag);
    dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, src_md, dst_md,
                                        {w.stride_h, w.stride_w}, {w.KH, w.KW}, {w.dil_h - 1, w.dil_w - 1},
                                        {w.pad_t, w.pad_l}, {w.pad_b, w.pad_r});
    dnnl::pooling_v2_forward::primitive_desc pd(desc, make_attr(n.activation), cpu_engine());
    return std::make_unique<SimpleKernel>(dnnl::pooling_v2_forward(pd), pd, 1, "onednn:" + impl_info(pd));
  } catch (const dnnl::error& e) {
    return decline(why_not, std::string("oneDNN declined: ") + e.what());
  }
}

std::unique_ptr<OpKernel> create_binary_kernel(const KernelRequest& req, std::string* why_not) {
  const Node& n = req.node;
  if (req.in.size() != 2 || !known_f32(req.in[0]) || !known_f32(req.in[1]))
    return decline(why_not, "inputs are not two float32 tensors of known shape");
  if (req.out.size() != 1 || !known_f32(req.out[0])) return decline(why_not, "output is not float32 of known shape");
  const Shape& y = req.out[0]->shape;
  if (y.size() > 6) return decline(why_not, "rank above 6");
  // Right-align both inputs to the output rank (numpy broadcasting).
  auto aligned = [&](const Shape& s) {
    Shape r(y.size() - std::min(y.size(), s.size()), 1);
    r.insert(r.end(), s.begin(), s.end());
    return r;
  };
  const Shape a = aligned(req.in[0]->shape), b = aligned(req.in[1]->shape);
  if (a.size() != y.size() || b.size() != y.size()) return decline(why_not, "input rank above output rank");
  auto broadcasts_to_y = [&](const Shape& s) {
    for (size_t i = 0; i < y.size(); ++i)
      if (s[i] != y[i] && s[i] != 1) return false;
    return true;
  };
  bool swapped = false;
  if (a == y && broadcasts_to_y(b)) {
    swapped = false;
  } else if (b == y && broadcasts_to_y(a)) {
    swapped = true;  // Add and Mul are commutative: the full-size input goes first
  } else {
    return decline(why_not, "neither input has the output's shape (both broadcast)");
  }
  const dnnl::algorithm alg = n.op == "Mul" ? dnnl::algorithm::binary_mul : dnnl::algorithm::binary_add;
  // Channels-last output: 4-D operands described as NHWC. An input whose
  // layout does not matter (a per-channel or scalar broadcast) reads the same.
  const bool nhwc = req.out_layout(0) == Layout::kNhwc;
  auto desc_of = [&](const Shape& s, Layout l) {
    const bool as_nhwc = s.size() == 4 && (l == Layout::kNhwc || (nhwc && !layout_matters(s)));
    return as_nhwc ? dnnl::memory::desc({s[0], s[1], s[2], s[3]}, dt::f32, tag::nhwc) : plain_desc(s);
  };
  const Layout la = req.in_layout(0), lb = req.in_layout(1);
  try {
    ScopedThreads threads(req.num_threads);
    dnnl::binary::desc desc(alg, desc_of(y, swapped ? lb : la), desc_of(swapped ? a : b, swapped ? la : lb),
                            desc_of(y, req.out_layout(0)));
    dnnl::binary::primitive_desc pd(desc, make_attr(n.activation), cpu_engine());
    auto k = std::make_unique<SimpleKernel>(dnnl::binary(pd), pd, 2, "onednn:" + impl_info(pd));
    k->set_swapped(swapped);
    return k;
  } catch (const dnnl::error& e) {
    return decline(why_not, std::string("oneDNN declined: ") + e.what());
  }
}

LayoutSupport pool_layout_support(const KernelRequest& req) {
  const bool ok = req.in.size() == 1 && known_f32(req.in[0]) && req.in[0]->shape.size() == 4 &&
                  req.out.size() == 1 && known_f32(req.out[0]) && req.out[0]->shape.size() == 4;
  return ok ? LayoutSupport::kFollows : LayoutSupport::kPlainOnly;
}

// Both inputs 4-D (after right-aligning): each either a computed value of the
// output's shape (it joins the output's layout) or a value whose layout does
// not matter. A constant of the output's shape stays NCHW, so the node does.
LayoutSupport binary_layout_support(const KernelRequest& req) {
  if (req.in.size() != 2 || req.out.size() != 1 || !known_f32(req.out[0]) || req.out[0]->shape.size() != 4)
    return LayoutSupport::kPlainOnly;
  const Shape& y = req.out[0]->shape;
  bool full = false;
  for (const Value* v : req.in) {
    if (!known_f32(v) || v->shape.size() > 4) return LayoutSupport::kPlainOnly;
    Shape s(4 - v->shape.size(), 1);
    s.insert(s.end(), v->shape.begin(), v->shape.end());
    if (s == y && !v->is_constant()) full = true;
    else if (layout_matters(s)) return LayoutSupport::kPlainOnly;
  }
  return full ? LayoutSupport::kFollows : LayoutSupport::kPlainOnly;
}

}  // namespace lapq::onednn
