#include "frontends/dataset/labels.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_map>

#include "engine/error.h"

namespace lapq {

std::vector<std::string> parse_labels(const std::string& text, const std::string& name) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    lines.push_back(line);
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  LAPQ_CHECK(!lines.empty(), ErrorCode::kBadDataset, "labels file '", name, "' has no labels");
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < lines.size(); ++i) {
    LAPQ_CHECK(!lines[i].empty(), ErrorCode::kBadDataset, "labels file '", name, "' line ", i + 1,
               " is blank (one label per line, no gaps)");
    auto [it, fresh] = seen.emplace(lines[i], i);
    LAPQ_CHECK(fresh, ErrorCode::kBadDataset, "labels file '", name, "' line ", i + 1, ": label '", lines[i],
               "' already on line ", it->second + 1);
  }
  return lines;
}

std::vector<std::string> read_labels_file(const std::string& path) {
  std::error_code ec;
  LAPQ_CHECK(std::filesystem::is_regular_file(path, ec), ErrorCode::kIo, "labels file '", path,
             "' does not exist or is not a file");
  std::ifstream in(path, std::ios::binary);
  LAPQ_CHECK(in.good(), ErrorCode::kIo, "cannot open labels file '", path, "'");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_labels(text, path);
}

}  // namespace lapq
