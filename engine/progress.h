// A progress line on stderr for long work (eval over thousands of images,
// calibration, LAPQ): "eval  4096/10000  41%  812 img/s  ETA 7s  top1 80.9%".
// On a terminal it redraws one line; otherwise it prints a line every few
// seconds, so logs stay readable. Quiet mode prints nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lapq {

class Progress {
 public:
  Progress(std::string stage, int64_t total, bool quiet = false);
  ~Progress();
  // Advance to `done` units; `extra` is appended (e.g. the running accuracy).
  void update(int64_t done, const std::string& extra = "");
  void finish(const std::string& extra = "");
  double elapsed_seconds() const;
  static std::string format_seconds(double s);

 private:
  void draw(bool final_line);
  std::string stage_;
  int64_t total_;
  int64_t done_ = 0;
  std::string extra_;
  bool quiet_;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace lapq
