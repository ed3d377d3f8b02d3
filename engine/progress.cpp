#include "engine/progress.h"

#include <unistd.h>

#include <cstdio>

namespace lapq {

Progress::Progress(std::string stage, int64_t total, bool quiet)
    : stage_(std::move(stage)), total_(total), quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_) finish();
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::format_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  extra_ = extra;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : 5.0)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  if (!extra.empty()) extra_ = extra;
  draw(true);
}

void Progress::draw(bool final_line) {
  if (quiet_) return;
  double t = elapsed_seconds();
  double rate = t > 0 ? done_ / t : 0;
  char line[256];
  if (total_ > 0) {
    double eta = rate > 0 ? (total_ - done_) / rate : 0;
    std::snprintf(line, sizeof line, "%-10s %lld/%lld %3d%%  %.1f/s  %s %s", stage_.c_str(), (long long)done_,
                  (long long)total_, int(100.0 * done_ / total_), rate, final_line ? "in" : "ETA",
                  format_seconds(final_line ? t : eta).c_str());
  } else {
    std::snprintf(line, sizeof line, "%-10s %lld  %s", stage_.c_str(), (long long)done_, format_seconds(t).c_str());
  }
  if (tty_) std::fprintf(stderr, "\r\033[K%s  %s%s", line, extra_.c_str(), final_line ? "\n" : "");
  else std::fprintf(stderr, "%s  %s\n", line, extra_.c_str());
  std::fflush(stderr);
}

}  // namespace lapq
