#include "engine/onednn/context.h"

#include <omp.h>

#include <cstdlib>
#include <string>

#include "kernels/memory.h"

namespace lapq::onednn {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  static dnnl::stream stream(cpu_engine());
  return stream;
}

dnnl::post_ops activation_post_ops(const FusedActivation& act) {
  using K = FusedActivation::Kind;
  using alg = dnnl::algorithm;
  dnnl::post_ops po;
  switch (act.kind) {
    case K::kNone: break;
    case K::kRelu: po.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f); break;
    // oneDNN relu with alpha is x > 0 ? x : alpha * x, i.e. ONNX LeakyRelu.
    case K::kLeakyRelu: po.append_eltwise(1.f, alg::eltwise_relu, act.alpha, 0.f); break;
    case K::kClip: po.append_eltwise(1.f, alg::eltwise_clip, act.alpha, act.beta); break;
    case K::kSigmoid: po.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f); break;
    case K::kHardSigmoid:
      po.append_eltwise(1.f, alg::eltwise_linear, act.alpha, act.beta);
      po.append_eltwise(1.f, alg::eltwise_clip, 0.f, 1.f);
      break;
    // oneDNN 2.6 hardswish is x * relu6(x + 3) / 6, the ONNX definition.
    case K::kHardSwish: po.append_eltwise(1.f, alg::eltwise_hardswish, 0.f, 0.f); break;
  }
  return po;
}

dnnl::primitive_attr make_attr(const FusedActivation& act) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (act.kind != FusedActivation::Kind::kNone) attr.set_post_ops(activation_post_ops(act));
  return attr;
}

dnnl::primitive_attr make_sum_attr(const FusedActivation& act) {
  dnnl::post_ops po;
  po.append_sum(1.f);
  const dnnl::post_ops tail = activation_post_ops(act);
  for (int i = 0; i < tail.len(); ++i) {
    dnnl::algorithm alg;
    float scale, alpha, beta;
    tail.get_params_eltwise(i, scale, alg, alpha, beta);
    po.append_eltwise(scale, alg, alpha, beta);
  }
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attr.set_post_ops(po);
  return attr;
}

ScopedThreads::ScopedThreads(int n) : saved_(omp_get_max_threads()) {
  if (n > 0) omp_set_num_threads(n);
}
ScopedThreads::~ScopedThreads() { omp_set_num_threads(saved_); }

std::string impl_info(const dnnl::primitive_desc_base& pd) {
  const char* s = pd.impl_info_str();
  return s ? s : "?";
}

}  // namespace lapq::onednn

namespace lapq::onednn {

Workspace& Workspace::get() {
  static Workspace ws;
  return ws;
}

void Workspace::reserve(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (bytes <= size_) return;
  bytes = align64(bytes);
  try {
    buffer_ = allocate_buffer(bytes);  // huge pages from 2 MiB on (kernels/memory.h)
  } catch (const Error&) {
    throw Error(ErrorCode::kLimit, "oneDNN workspace: cannot allocate " + std::to_string(bytes) + " bytes");
  }
  size_ = bytes;
}

Workspace::Lease Workspace::acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  return Lease{std::move(lock), buffer_.get()};
}

}  // namespace lapq::onednn
