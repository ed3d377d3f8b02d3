#include "quant/report.h"

#include <nlohmann/json.hpp>

namespace lapq::quant {

std::string report_to_json(const LapqReport& r, const QuantConfig& config,
                           const std::map<std::string, std::string>& settings) {
  using json = nlohmann::json;
  json j;
  j["settings"] = settings;
  j["method"] = r.method;
  j["objective"] = r.objective;
  j["preset"] = config.preset;
  j["calibration_images"] = r.calib_images;
  j["stages"] = json::array();
  for (const StageRecord& s : r.stages) {
    json st = {{"stage", s.stage}, {"loss", s.loss}, {"seconds", s.seconds}};
    if (s.p > 0) st["p"] = s.p;
    if (s.accuracy >= 0) st["top1"] = s.accuracy;
    if (s.evals > 0) st["evaluations"] = s.evals;
    j["stages"].push_back(st);
  }
  if (r.scanned)
    j["p_fit"] = {{"p_star", r.pfit.p_star},       {"case", p_star_case_name(r.pfit.which)},
                  {"a", r.pfit.a},                 {"b", r.pfit.b},
                  {"c", r.pfit.c},                 {"p_stationary", r.pfit.p_stationary},
                  {"best_scanned_p", r.pfit.best_p}, {"best_scanned_loss", r.pfit.best_loss}};
  if (r.p_used > 0) j["p_used"] = r.p_used;
  if (r.method == "lapq")
    j["powell"] = {{"evaluations", r.powell_evals}, {"iterations", r.powell_iterations}, {"stop", r.powell_stop},
                   {"seconds", r.seconds_powell}, {"prefix_cache_peak_bytes", r.cache_peak_bytes}};
  j["final_loss"] = r.final_loss;
  j["seconds"] = {{"init", r.seconds_init}, {"powell", r.seconds_powell}, {"total", r.seconds_total}};
  j["weights"] = json::array();
  for (const WeightQuant& w : config.weights)
    j["weights"].push_back({{"layer", w.node_name}, {"bits", w.bits}, {"grid", grid_kind_name(w.grid)},
                            {"per_channel", w.per_channel}, {"bias_correction", w.bias_correction},
                            {"alpha", w.per_channel ? json(w.alpha) : json(w.alpha[0])}});
  j["activations"] = json::array();
  for (const ActQuant& a : config.acts) {
    json aj = {{"value", a.value_name}, {"bits", a.bits}, {"grid", grid_kind_name(a.grid)}, {"alpha", a.alpha}};
    if (a.grid == GridKind::kAsymmetric) aj["lo"] = a.lo;
    j["activations"].push_back(aj);
  }
  return j.dump(2);
}

}  // namespace lapq::quant
