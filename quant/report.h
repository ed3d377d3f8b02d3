// The quantization report (--report R.json): settings, per-layer clipping
// values and bits, every stage's calibration loss (and test top-1 when an
// eval set was given), the p scan and its fit, Powell's evaluations, times.
#pragma once

#include <map>
#include <string>

#include "quant/lapq.h"

namespace lapq::quant {

std::string report_to_json(const LapqReport& report, const QuantConfig& config,
                           const std::map<std::string, std::string>& settings);

}  // namespace lapq::quant
