#include "quant/lapq.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "engine/error.h"
#include "engine/plan.h"
#include "engine/progress.h"
#include "quant/lp_init.h"

namespace lapq::quant {

InitMethod parse_method(const std::string& name) {
  if (name == "max") return InitMethod::kMax;
  if (name == "mse") return InitMethod::kMse;
  if (name == "lp") return InitMethod::kLp;
  if (name == "lapq") return InitMethod::kLapq;
  throw Error(ErrorCode::kInvalidArgument, "unknown method '" + name + "' (use max, mse, lp or lapq)");
}
const char* method_name(InitMethod m) {
  switch (m) {
    case InitMethod::kMax: return "max";
    case InitMethod::kMse: return "mse";
    case InitMethod::kLp: return "lp";
    case InitMethod::kLapq: return "lapq";
  }
  return "?";
}
Objective parse_objective(const std::string& name) {
  if (name == "ce") return Objective::kCrossEntropy;
  if (name == "kl") return Objective::kKl;
  throw Error(ErrorCode::kInvalidArgument, "unknown objective '" + name + "' (use ce or kl)");
}
const char* objective_name(Objective o) { return o == Objective::kKl ? "kl" : "ce"; }

// ---- Coordinates ---------------------------------------------------------------------

Coordinates::Coordinates(const QuantConfig& init, const QuantizedNetwork& net) : init_(init) {
  for (size_t i = 0; i < init.weights.size(); ++i)
    coords_.push_back({true, i, net.first_node_of_weight(i), init.weights[i].per_channel});
  for (size_t j = 0; j < init.acts.size(); ++j)
    coords_.push_back({false, j, net.first_node_of_act(j), init.acts[j].grid == GridKind::kAsymmetric});
  // Network order: by the first node affected; a layer's weight before the activation it writes.
  std::stable_sort(coords_.begin(), coords_.end(), [](const Coordinate& a, const Coordinate& b) {
    if (a.first_node != b.first_node) return a.first_node < b.first_node;
    return a.is_weight && !b.is_weight;
  });
}

std::vector<double> Coordinates::x0() const {
  std::vector<double> x;
  for (const Coordinate& c : coords_) {
    if (c.is_factor) x.push_back(1.0);
    else x.push_back(c.is_weight ? init_.weights[c.index].alpha[0] : init_.acts[c.index].alpha);
  }
  return x;
}

void Coordinates::apply(QuantConfig& cfg, size_t i, double x) const {
  const Coordinate& c = coords_[i];
  if (c.is_weight) {
    std::vector<float>& a = cfg.weights[c.index].alpha;
    const std::vector<float>& a0 = init_.weights[c.index].alpha;
    if (c.is_factor)
      for (size_t k = 0; k < a.size(); ++k) a[k] = static_cast<float>(a0[k] * x);
    else
      a[0] = static_cast<float>(x);
  } else {
    ActQuant& a = cfg.acts[c.index];
    const ActQuant& a0 = init_.acts[c.index];
    if (c.is_factor) {
      a.alpha = static_cast<float>(a0.alpha * x);
      a.lo = static_cast<float>(a0.lo * x);
    } else {
      a.alpha = static_cast<float>(x);
    }
  }
}

QuantConfig Coordinates::config_at(std::span<const double> x) const {
  QuantConfig cfg = init_;
  for (size_t i = 0; i < coords_.size() && i < x.size(); ++i) apply(cfg, i, x[i]);
  return cfg;
}

// ---- Objective -----------------------------------------------------------------------

double objective_sum(Objective o, const Tensor& logits, std::span<const int> labels, const Tensor* fp32_probs) {
  LAPQ_CHECK(logits.rank() == 2, ErrorCode::kInvalidArgument, "the objective needs [N, K] logits, got ",
             shape_str(logits.shape()));
  const int64_t n = logits.dim(0), k = logits.dim(1);
  const float* l = logits.data<float>();
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = l + i * k;
    double m = row[0];
    for (int64_t j = 1; j < k; ++j) m = std::max(m, static_cast<double>(row[j]));
    double se = 0.0;
    for (int64_t j = 0; j < k; ++j) se += std::exp(static_cast<double>(row[j]) - m);
    const double lse = m + std::log(se);
    if (o == Objective::kCrossEntropy) {
      const int y = labels[static_cast<size_t>(i)];
      LAPQ_CHECK(y >= 0 && y < k, ErrorCode::kInvalidArgument, "cross-entropy objective: label ", y,
                 " out of range for ", k, " classes (use --objective kl without labels)");
      sum += lse - row[y];
    } else {
      const float* p = fp32_probs->data<float>() + i * k;
      for (int64_t j = 0; j < k; ++j)
        if (p[j] > 0.f) sum += p[j] * (std::log(static_cast<double>(p[j])) - (row[j] - lse));
    }
  }
  return sum;
}

static std::vector<Tensor> fp32_logits(const Graph& fp32, const CalibrationSet& calib, int num_threads) {
  std::map<Shape, std::unique_ptr<Plan>> plans;
  PlanOptions po;
  po.num_threads = num_threads;
  std::vector<Tensor> out;
  for (const Tensor& b : calib.batches) {
    auto& plan = plans[b.shape()];
    if (!plan) plan = std::make_unique<Plan>(fp32, std::vector<Shape>{b.shape()}, po);
    out.push_back(plan->run({b})[0].clone());
  }
  return out;
}

std::vector<Tensor> fp32_softmax(const Graph& fp32, const CalibrationSet& calib, int num_threads) {
  std::vector<Tensor> probs = fp32_logits(fp32, calib, num_threads);
  for (Tensor& t : probs) {
    const int64_t n = t.dim(0), k = t.dim(1);
    float* l = t.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      float* row = l + i * k;
      double m = row[0], s = 0.0;
      for (int64_t j = 1; j < k; ++j) m = std::max(m, static_cast<double>(row[j]));
      for (int64_t j = 0; j < k; ++j) s += std::exp(row[j] - m);
      for (int64_t j = 0; j < k; ++j) row[j] = static_cast<float>(std::exp(row[j] - m) / s);
    }
  }
  return probs;
}

// ---- Loss oracle with prefix caching ---------------------------------------------------

LossOracle::LossOracle(const Graph& fp32, const QuantConfig& init, const CalibrationSet& calib,
                       const OracleOptions& opts, std::vector<Tensor> fp32_probs)
    : fp32_(fp32), calib_(calib), opts_(opts), fp32_probs_(std::move(fp32_probs)) {
  LAPQ_CHECK(!calib.batches.empty(), ErrorCode::kInvalidArgument, "empty calibration set");
  LAPQ_CHECK(opts.objective != Objective::kKl || fp32_probs_.size() == calib.batches.size(),
             ErrorCode::kInvalidArgument, "the KL objective needs the FP32 outputs of every calibration batch");
  PlanOptions po;
  po.num_threads = opts.num_threads;
  po.reuse_memory = !opts.prefix_cache;  // cached: live values at any node stay readable after a run (snapshots)
  for (const Tensor& b : calib.batches) {
    auto& net = nets_[b.dim(0)];
    if (!net) net = std::make_unique<QuantizedNetwork>(fp32, init, b.shape(), po);
  }
  coords_ = std::make_unique<Coordinates>(init, *nets_.begin()->second);
  cache_.resize(calib.batches.size());
}

LossOracle::~LossOracle() = default;

double LossOracle::batch_loss(size_t b, const Tensor& logits) const {
  return objective_sum(opts_.objective, logits, calib_.labels[b],
                       opts_.objective == Objective::kKl ? &fp32_probs_[b] : nullptr);
}

double LossOracle::operator()(std::span<const double> x) {
  LAPQ_CHECK(x.size() == coords_->size(), ErrorCode::kInvalidArgument, "loss oracle: ", x.size(),
             " coordinates, expected ", coords_->size());
  ++evals_;
  // Earliest lowered node affected by the coordinates that changed.
  int from = INT_MAX;
  QuantConfig cur;
  for (size_t i = 0; i < x.size(); ++i) {
    const bool changed = prev_x_.empty() || std::memcmp(&x[i], &prev_x_[i], sizeof(double)) != 0;
    if (!changed) continue;
    if (cur.weights.empty() && cur.acts.empty()) cur = coords_->config_at(x);
    const Coordinate& c = (*coords_)[i];
    from = std::min(from, prev_x_.empty() ? 0 : c.first_node);
    for (auto& [size, net] : nets_) {
      if (c.is_weight) net->set_weight_alpha(c.index, cur.weights[c.index].alpha);
      else net->set_act_range(c.index, cur.acts[c.index].alpha, cur.acts[c.index].lo);
    }
  }
  if (from == INT_MAX && !prev_x_.empty()) return last_loss_;  // nothing changed
  prev_x_.assign(x.begin(), x.end());
  double sum = 0.0;
  int64_t count = 0;
  for (size_t b = 0; b < calib_.batches.size(); ++b) {
    QuantizedNetwork& net = *nets_.at(calib_.batches[b].dim(0));
    Cache& cache = cache_[b];
    Tensor logits;
    if (opts_.prefix_cache && cache.node > 0 && cache.node <= from) {
      for (auto& [v, t] : cache.values) {
        Tensor& dst = net.plan().mutable_value(v);
        std::memcpy(dst.raw(), t.raw(), t.nbytes());
      }
      logits = net.forward_from(cache.node);
    } else {
      logits = net.forward(calib_.batches[b]);
    }
    sum += batch_loss(b, logits);
    count += logits.dim(0);
    if (!opts_.prefix_cache || from == cache.node) continue;
    // Move the boundary to `from`: a cache past it is stale; snapshot the live values at it.
    int64_t old = 0;
    for (auto& [v, t] : cache.values) old += static_cast<int64_t>(t.nbytes());
    std::vector<int> live;
    int64_t bytes = 0;
    if (from > 0) {
      live = net.live_values_at(from);
      for (int v : live) bytes += static_cast<int64_t>(net.plan().value(v).nbytes());
    }
    const bool snapshot = from > 0 && cache_bytes_ - old + bytes <= opts_.cache_limit_bytes;
    if (snapshot || cache.node > from) {
      cache.values.clear();
      cache.node = 0;
      cache_bytes_ -= old;
    }
    if (snapshot) {
      for (int v : live) cache.values.emplace_back(v, net.plan().value(v).clone());
      cache.node = from;
      cache_bytes_ += bytes;
      cache_peak_ = std::max(cache_peak_, cache_bytes_);
    }
  }
  last_loss_ = sum / static_cast<double>(count);
  return last_loss_;
}

// ---- Initialization ------------------------------------------------------------------

void init_weights(const Graph& fp32, QuantConfig& cfg, double p) {
  for (WeightQuant& w : cfg.weights) {
    const Tensor wt = weight_oc_first(fp32, w.node);
    const int64_t oc = wt.dim(0), k = wt.dim(1);
    std::span<const float> all = wt.span<float>();
    if (!w.per_channel) {
      const LpFit f = p > 0 ? fit_lp(all, w.grid, w.bits, p) : fit_max_abs(all, w.grid, w.bits);
      w.alpha = {f.grid.alpha()};
    } else if (p > 0) {
      const std::vector<LpFit> fits = fit_lp_per_channel(all, oc, w.grid, w.bits, p);
      w.alpha.resize(static_cast<size_t>(oc));
      for (int64_t c = 0; c < oc; ++c) w.alpha[c] = fits[c].grid.alpha();
    } else {
      w.alpha.resize(static_cast<size_t>(oc));
      for (int64_t c = 0; c < oc; ++c)
        w.alpha[c] = fit_max_abs(all.subspan(static_cast<size_t>(c * k), static_cast<size_t>(k)), w.grid, w.bits)
                         .grid.alpha();
    }
  }
}

void init_acts_online(const Graph& fp32, QuantConfig& cfg, const Tensor& batch, double p, int num_threads) {
  PlanOptions po;
  po.num_threads = num_threads;
  for (size_t j = 0; j < cfg.acts.size(); ++j) {
    ActQuant& a = cfg.acts[j];
    Tensor keep;
    if (fp32.values[a.value].producer < 0 && !fp32.values[a.value].is_constant()) {
      keep = batch;  // a graph input: its values are the batch itself
    } else {
      QuantConfig prefix = cfg;
      prefix.acts.resize(j);  // activations 0..j-1 quantized, j and later FP32
      QuantizedNetwork net(fp32, prefix, batch.shape(), po);
      const int id = net.lowered_graph().find_value(a.value_name);
      LAPQ_CHECK(id >= 0, ErrorCode::kInternal, "online activation fit: value '", a.value_name,
                 "' is not observable in the partially quantized network");
      const int producer = net.lowered_graph().values[id].producer;
      // Copy the value right after its producer ran (buffers are reused later in the run).
      net.plan().set_observer([&](int node, Plan& plan) {
        if (node == producer) keep = plan.value(id).clone();
      });
      net.forward(batch);
      net.plan().set_observer({});
      LAPQ_CHECK(!keep.empty(), ErrorCode::kInternal, "online activation fit: '", a.value_name, "' was not computed");
    }
    std::span<const float> x = keep.span<float>();
    const LpFit f = p > 0 ? fit_lp(x, a.grid, a.bits, p) : fit_max_abs(x, a.grid, a.bits);
    if (a.grid == GridKind::kAsymmetric) {
      a.alpha = f.grid.hi;
      a.lo = f.grid.lo;
    } else {
      a.alpha = f.grid.alpha();
      a.lo = 0.f;
    }
  }
}

// ---- Pipeline ------------------------------------------------------------------------

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string fmt_p(double p) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", p);
  return b;
}
}  // namespace

// A NaN or Inf in a quantized layer's weight or bias would make every step
// size fitted to it NaN and the integer codes meaningless; a NaN anywhere else
// would reach the calibration statistics. Both are refused up front, naming
// the tensor (the ONNX loader already warned at load time). An infinite
// constant outside the quantized layers (e.g. a Clip bound) is legitimate.
// docs/errors.md.
static void refuse_nonfinite_constants(const Graph& g, const QuantConfig& skeleton) {
  std::vector<bool> in_quantized_layer(g.values.size(), false);
  for (const WeightQuant& w : skeleton.weights)
    for (int v : g.nodes.at(w.node).inputs)
      if (v >= 0) in_quantized_layer[v] = true;
  for (size_t id = 0; id < g.values.size(); ++id) {
    const Value& v = g.values[id];
    if (!v.is_constant() || v.dtype != DType::kF32) continue;
    const auto data = v.constant.span<float>();
    const auto bad = in_quantized_layer[id]
                         ? std::count_if(data.begin(), data.end(), [](float x) { return !std::isfinite(x); })
                         : std::count_if(data.begin(), data.end(), [](float x) { return std::isnan(x); });
    LAPQ_CHECK(bad == 0, ErrorCode::kInvalidModel, "cannot quantize: tensor '", v.name, "' holds ", bad,
               (in_quantized_layer[id] ? " NaN / Inf" : " NaN"), " value(s) (of ", data.size(),
               "); fix the model's weights first");
  }
}

LapqResult run_lapq(const Graph& fp32, const QuantConfig& skeleton, const CalibrationSet& calib,
                    const LapqOptions& opts) {
  refuse_nonfinite_constants(fp32, skeleton);
  const auto t0 = Clock::now();
  LapqResult res;
  LapqReport& rep = res.report;
  rep.method = method_name(opts.method);
  rep.objective = objective_name(opts.objective);
  rep.calib_images = calib.images();
  LAPQ_CHECK(rep.calib_images > 0, ErrorCode::kInvalidArgument, "empty calibration set");
  LAPQ_CHECK(opts.objective == Objective::kKl || calib.has_labels(), ErrorCode::kInvalidArgument,
             "the cross-entropy objective needs labelled calibration images (use --objective kl)");
  const int threads = opts.num_threads;

  // FP32 reference loss (and the KL targets).
  std::vector<Tensor> probs;
  {
    std::vector<Tensor> logits = fp32_logits(fp32, calib, threads);
    if (opts.objective == Objective::kKl) probs = fp32_softmax(fp32, calib, threads);
    double s = 0.0;
    int64_t n = 0;
    for (size_t b = 0; b < logits.size(); ++b) {
      s += objective_sum(opts.objective, logits[b], calib.labels[b],
                         opts.objective == Objective::kKl ? &probs[b] : nullptr);
      n += logits[b].dim(0);
    }
    rep.stages.push_back({"fp32", 0.0, s / static_cast<double>(n), -1.0, 0, since(t0)});
  }
  OracleOptions oo;
  oo.objective = opts.objective;
  oo.num_threads = threads;
  oo.prefix_cache = false;
  auto loss_of = [&](const QuantConfig& cfg) {
    LossOracle o(fp32, cfg, calib, oo, probs);
    return o(o.coords().x0());
  };
  auto make_init = [&](double p) {
    QuantConfig cfg = skeleton;
    init_weights(fp32, cfg, p);
    init_acts_online(fp32, cfg, calib.batches[0], p, threads);
    return cfg;
  };
  auto record = [&](const std::string& stage, double p, const QuantConfig& cfg, bool evaluate = true) {
    StageRecord r{stage, p, loss_of(cfg), -1.0, 0, 0.0};
    if (opts.evaluate && evaluate) r.accuracy = opts.evaluate(cfg);
    r.seconds = since(t0);
    if (!opts.quiet)
      std::fprintf(stderr, "lapq: %-16s loss %.4f%s\n", stage.c_str(), r.loss,
                   r.accuracy >= 0 ? (" top-1 " + fmt_p(r.accuracy) + " %").c_str() : "");
    rep.stages.push_back(r);
    return r.loss;
  };

  QuantConfig current = make_init(0.0);
  record("max", 0.0, current);
  if (opts.method == InitMethod::kMse) {
    current = make_init(2.0);
    rep.p_used = 2.0;
    record("mse", 2.0, current);
  } else if (opts.method == InitMethod::kLp || opts.method == InitMethod::kLapq) {
    if (opts.p > 0) {
      rep.p_used = opts.p;
      current = make_init(opts.p);
      record("lp(p=" + fmt_p(opts.p) + ")", opts.p, current);
    } else {
      rep.scanned = true;
      const std::vector<double> ps = p_scan_values(opts.pscan);
      std::vector<double> losses;
      std::vector<QuantConfig> cfgs;
      for (double p : ps) {
        cfgs.push_back(make_init(p));
        losses.push_back(record("p=" + fmt_p(p), p, cfgs.back(), opts.evaluate_scan));
      }
      rep.pfit = fit_p_star(ps, losses);
      rep.p_used = rep.pfit.p_star;
      const auto same = std::find(ps.begin(), ps.end(), rep.p_used);
      current = same != ps.end() ? cfgs[static_cast<size_t>(same - ps.begin())] : make_init(rep.p_used);
      const double loss_at_p_star = record("lp(p*=" + fmt_p(rep.p_used) + ")", rep.p_used, current);
      if (opts.p_best_scanned && prefer_best_scanned(rep.pfit, loss_at_p_star)) {
        rep.p_used = rep.pfit.p_star;
        current = cfgs[static_cast<size_t>(std::find(ps.begin(), ps.end(), rep.p_used) - ps.begin())];
        record("lp(best p=" + fmt_p(rep.p_used) + ")", rep.p_used, current);
      }
    }
  }
  rep.seconds_init = since(t0);
  rep.final_loss = rep.stages.back().loss;

  if (opts.method == InitMethod::kLapq) {
    const auto tp = Clock::now();
    OracleOptions po = oo;
    po.prefix_cache = opts.prefix_cache;
    po.cache_limit_bytes = opts.cache_limit_bytes;
    LossOracle oracle(fp32, current, calib, po, probs);
    const std::vector<double> x0 = oracle.coords().x0();
    PowellOptions pw;
    pw.maxiter = opts.maxiter;
    pw.max_evals = opts.max_evals;
    pw.scale_by_x0 = true;
    pw.positivity = Positivity::kAbs;
    // Estimated total for the ETA: ~12 evaluations per line search.
    const int64_t estimate = opts.max_evals > 0 ? opts.max_evals
                                                : static_cast<int64_t>(12 * x0.size() * std::max(1, opts.maxiter));
    Progress progress("lapq powell", estimate, opts.quiet);
    pw.on_eval = [&](const PowellEvalInfo& e) {
      char extra[96];
      std::snprintf(extra, sizeof extra, "it %d  evals %lld  loss %.4f  best %.4f", e.iteration + 1,
                    static_cast<long long>(e.eval), e.f, e.best_f);
      progress.update(std::min(e.eval, estimate - 1), extra);
    };
    pw.on_iter = [&](const PowellIterInfo& it) {
      StageRecord r{"powell iter " + std::to_string(it.iteration), 0.0, it.f, -1.0, it.evals, 0.0};
      if (opts.evaluate) r.accuracy = opts.evaluate(oracle.coords().config_at(it.x));
      r.seconds = since(t0);
      rep.stages.push_back(r);
      return true;
    };
    const PowellResult pr = minimize_powell([&](std::span<const double> x) { return oracle(x); }, x0, pw);
    progress.finish();
    // Stopped inside a line search (--max-evals), pr.x is that search's start:
    // keep the best point evaluated instead (== pr.x after whole iterations).
    const bool take_best = pr.best_f < pr.f;
    const double final_f = take_best ? pr.best_f : pr.f;
    current = oracle.coords().config_at(take_best ? pr.best_x : pr.x);
    if (rep.stages.back().evals != pr.evals) {  // stopped inside an iteration (max evals): record where
      StageRecord r{"powell stop", 0.0, final_f, -1.0, pr.evals, 0.0};
      if (opts.evaluate) r.accuracy = opts.evaluate(current);
      r.seconds = since(t0);
      rep.stages.push_back(r);
    }
    rep.powell_evals = pr.evals;
    rep.powell_iterations = pr.iterations;
    rep.powell_stop = powell_stop_name(pr.stop);
    rep.cache_peak_bytes = oracle.cache_peak_bytes();
    rep.final_loss = final_f;
    rep.seconds_powell = since(tp);
    if (!opts.quiet)
      for (const StageRecord& r : rep.stages)
        if (r.stage.rfind("powell", 0) == 0)
          std::fprintf(stderr, "lapq: %-16s loss %.4f  evals %lld%s\n", r.stage.c_str(), r.loss,
                       static_cast<long long>(r.evals),
                       r.accuracy >= 0 ? (" top-1 " + fmt_p(r.accuracy) + " %").c_str() : "");
  }
  rep.seconds_total = since(t0);
  res.config = current;
  return res;
}

}  // namespace lapq::quant
