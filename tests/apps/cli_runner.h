// Runs the built `lapq` binary (or another tool) and captures its output and
// exit status, for end-to-end CLI tests.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace lapq::testing {

struct RunResult {
  int status = -1;     // exit status
  std::string output;  // stdout and stderr together
};

inline RunResult run_command(const std::string& cmd) {
  RunResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline std::string lapq_bin() { return std::string(LAPQ_BINARY_DIR) + "/bin/lapq"; }
inline std::string default_model() { return std::string(LAPQ_SOURCE_DIR) + "/models/fashion_resnet.onnx"; }
inline std::string cifar_dir() { return std::string(LAPQ_SHARED_DATA_DIR) + "/cifar10"; }

// A fresh temporary folder removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/lapq-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::error_code ec; std::filesystem::remove_all(path, ec); }
  std::string str(const std::string& sub = "") const { return (path / sub).string(); }
};

}  // namespace lapq::testing
