#include "bench/kernels/onednn_conv.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstring>

namespace lapq::bench {

void cap_onednn_isa() { dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx512_core_vnni); }

struct OnednnConv::Impl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::convolution_forward conv;
  dnnl::memory src, wei, dst;
  std::string name;
};

OnednnConv::OnednnConv(const ConvParams& p, int N, int H, int W, const std::vector<int8_t>& wei_ohwi,
                       const std::vector<float>& scale)
    : impl_(std::make_unique<Impl>()) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const int OH = p.out_h(H), OW = p.out_w(W), G = p.groups;
  const dnnl::memory::dims src_d{N, p.IC, H, W}, dst_d{N, p.OC, OH, OW};
  const dnnl::memory::dims wei_d = G == 1 ? dnnl::memory::dims{p.OC, p.IC, p.KH, p.KW}
                                          : dnnl::memory::dims{G, p.OC / G, p.IC / G, p.KH, p.KW};
  const dnnl::memory::dims strides{p.stride_h, p.stride_w}, dil{p.dilation_h - 1, p.dilation_w - 1};
  const dnnl::memory::dims pl{p.pad_top, p.pad_left}, pr{p.pad_bottom, p.pad_right};
  auto src_md = dnnl::memory::desc(src_d, dt::u8, tag::nhwc);
  auto dst_md = dnnl::memory::desc(dst_d, dt::u8, tag::nhwc);
  auto wei_any = dnnl::memory::desc(wei_d, dt::s8, tag::any);
  auto desc = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                              dnnl::algorithm::convolution_direct, src_md, wei_any, dst_md, strides,
                                              dil, pl, pr);
  dnnl::primitive_attr attr;
  attr.set_output_scales(2, scale);  // per output channel
  auto pd = dnnl::convolution_forward::primitive_desc(desc, attr, impl_->eng);
  impl_->name = pd.impl_info_str();
  impl_->conv = dnnl::convolution_forward(pd);
  impl_->src = dnnl::memory(pd.src_desc(), impl_->eng);
  impl_->dst = dnnl::memory(pd.dst_desc(), impl_->eng);
  impl_->wei = dnnl::memory(pd.weights_desc(), impl_->eng);
  // Our weights are (OC, KH, KW, IC/G) = ohwi (goihw -> gohwi for groups).
  auto user_md = dnnl::memory::desc(wei_d, dt::s8, G == 1 ? tag::ohwi : tag::gohwi);
  dnnl::memory user(user_md, impl_->eng, const_cast<int8_t*>(wei_ohwi.data()));
  dnnl::reorder(user, impl_->wei).execute(impl_->strm, user, impl_->wei);
  impl_->strm.wait();
}

OnednnConv::~OnednnConv() = default;

void OnednnConv::run(const uint8_t* src, uint8_t* dst) {
  impl_->src.set_data_handle(const_cast<uint8_t*>(src));
  impl_->dst.set_data_handle(dst);
  impl_->conv.execute(impl_->strm, {{DNNL_ARG_SRC, impl_->src}, {DNNL_ARG_WEIGHTS, impl_->wei},
                                    {DNNL_ARG_DST, impl_->dst}});
  impl_->strm.wait();
}

const char* OnednnConv::impl_name() const { return impl_->name.c_str(); }

}  // namespace lapq::bench
