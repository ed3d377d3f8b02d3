// Class names, one per line, in the model's output-index order.
#pragma once

#include <string>
#include <vector>

namespace lapq {

// Reads a labels file: one label per line; a trailing '\r' (Windows line
// ends) and trailing spaces/tabs are removed; blank lines at the end are
// ignored. Throws kIo when the file cannot be read and kBadDataset (naming the
// file and line) for an empty file, a blank line between labels, or a label
// that appears twice.
std::vector<std::string> read_labels_file(const std::string& path);

// Same rules on text already in memory; `name` is used in error messages.
std::vector<std::string> parse_labels(const std::string& text, const std::string& name);

}  // namespace lapq
