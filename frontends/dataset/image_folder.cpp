#include "frontends/dataset/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <numeric>
#include <random>

#include "engine/error.h"

namespace lapq {
namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// Uniform integer in [0, n) from raw mt19937_64 output by rejection, so the
// sequence is fixed by the seed alone (std::uniform_int_distribution's
// algorithm differs between standard libraries).
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // largest multiple of n, exclusive
  uint64_t r;
  do r = rng(); while (r >= limit);
  return r % n;
}

// Moves k uniformly chosen elements of v[first, last) to its front (partial
// Fisher-Yates) and appends them to out.
void pick(std::vector<size_t>& v, size_t first, size_t last, size_t k, std::mt19937_64& rng,
          std::vector<size_t>& out) {
  for (size_t i = 0; i < k; ++i) {
    const size_t j = first + i + uniform_below(rng, last - first - i);
    std::swap(v[first + i], v[j]);
    out.push_back(v[first + i]);
  }
}

}  // namespace

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

ImageFolder ImageFolder::open(const std::string& root, const std::vector<std::string>& labels) {
  ImageFolder ds;
  ds.root_ = root;
  std::error_code ec;
  LAPQ_CHECK(fs::exists(root, ec), ErrorCode::kBadDataset, "data set folder '", root, "' does not exist");
  LAPQ_CHECK(fs::is_directory(root, ec), ErrorCode::kBadDataset, "data set path '", root, "' is not a folder");
  try {
    std::vector<std::string> folders;
    for (const fs::directory_entry& e : fs::directory_iterator(root)) {
      if (hidden(e.path())) continue;
      if (e.is_directory()) folders.push_back(e.path().filename().string());
      else ++ds.skipped_;  // loose files next to the class folders
    }
    LAPQ_CHECK(!folders.empty(), ErrorCode::kBadDataset, "data set folder '", root,
               "' has no class sub-folders (expected root/<class>/<image>)");
    std::sort(folders.begin(), folders.end());

    // Class index of each folder.
    std::vector<int> folder_class(folders.size());
    if (labels.empty()) {
      ds.classes_ = folders;
      std::iota(folder_class.begin(), folder_class.end(), 0);
    } else {
      ds.classes_ = labels;
      for (size_t f = 0; f < folders.size(); ++f) {
        const auto it = std::find(labels.begin(), labels.end(), folders[f]);
        LAPQ_CHECK(it != labels.end(), ErrorCode::kBadDataset, "class folder '", folders[f], "' in '", root,
                   "' is not in the labels list (", labels.size(), " labels, first '", labels.front(), "')");
        folder_class[f] = static_cast<int>(it - labels.begin());
      }
    }

    for (size_t f = 0; f < folders.size(); ++f) {
      std::vector<std::string> files;
      const fs::path dir = fs::path(root) / folders[f];
      for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
        if (hidden(it->path())) {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (it->is_directory()) continue;
        if (has_image_extension(it->path().string())) files.push_back(it->path().string());
        else ++ds.skipped_;
      }
      std::sort(files.begin(), files.end());
      for (std::string& p : files) ds.samples_.push_back({std::move(p), folder_class[f]});
    }
  } catch (const fs::filesystem_error& e) {
    throw Error(ErrorCode::kIo, detail::cat("cannot list data set folder '", root, "': ", e.what()));
  }
  LAPQ_CHECK(!ds.samples_.empty(), ErrorCode::kBadDataset, "data set folder '", root,
             "' has no images (.jpg .jpeg .png .bmp) in its class folders (", ds.skipped_, " other files skipped)");
  // Order: class index, then path.
  std::stable_sort(ds.samples_.begin(), ds.samples_.end(),
                   [](const ImageSample& a, const ImageSample& b) { return a.label < b.label; });
  return ds;
}

std::vector<size_t> ImageFolder::class_counts() const {
  std::vector<size_t> counts(classes_.size(), 0);
  for (const ImageSample& s : samples_) ++counts[s.label];
  return counts;
}

std::vector<size_t> ImageFolder::sample_indices(size_t k, uint64_t seed, SamplingMode mode) const {
  LAPQ_CHECK(k <= samples_.size(), ErrorCode::kInvalidArgument, "asked for ", k, " images but data set '", root_,
             "' has ", samples_.size());
  std::mt19937_64 rng(seed);
  std::vector<size_t> all(samples_.size());
  std::iota(all.begin(), all.end(), size_t{0});
  std::vector<size_t> out;
  out.reserve(k);
  if (mode == SamplingMode::kUniform) {
    pick(all, 0, all.size(), k, rng, out);
  } else {
    // Quotas: one image per class in turn, skipping full classes, until k.
    const std::vector<size_t> counts = class_counts();
    std::vector<size_t> quota(counts.size(), 0);
    for (size_t given = 0; given < k;) {
      for (size_t c = 0; c < counts.size() && given < k; ++c) {
        if (quota[c] < counts[c]) {
          ++quota[c];
          ++given;
        }
      }
    }
    // Samples are grouped by class: pick within each class's index range.
    size_t first = 0;
    for (size_t c = 0; c < counts.size(); ++c) {
      pick(all, first, first + counts[c], quota[c], rng, out);
      first += counts[c];
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Tensor load_image_batch(std::span<const std::string> paths, const PreprocessConfig& cfg) {
  validate_preprocess_config(cfg);
  const int64_t n = static_cast<int64_t>(paths.size());
  Tensor out(DType::kF32, preprocess_shape(cfg, n));
  const size_t per_image = static_cast<size_t>(cfg.channels) * cfg.height * cfg.width;
  float* dst = out.data<float>();
  // Exceptions must not leave an OpenMP region: record them per image and
  // rethrow the first one (by position, so the error is deterministic too).
  std::vector<std::string> messages(paths.size());
  std::vector<ErrorCode> codes(paths.size(), ErrorCode::kInternal);
  std::vector<char> failed(paths.size(), 0);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) {
    try {
      preprocess_file_into(paths[i], cfg, dst + i * per_image);
    } catch (const Error& e) {
      failed[i] = 1;
      codes[i] = e.code();
      messages[i] = e.what();
    } catch (const std::exception& e) {
      failed[i] = 1;
      messages[i] = detail::cat("loading '", paths[i], "': ", e.what());
    }
  }
  for (size_t i = 0; i < paths.size(); ++i)
    if (failed[i]) throw Error(codes[i], messages[i]);
  return out;
}

ImageBatch load_image_batch(const ImageFolder& ds, std::span<const size_t> indices, const PreprocessConfig& cfg) {
  std::vector<std::string> paths;
  ImageBatch batch;
  paths.reserve(indices.size());
  for (size_t i : indices) {
    LAPQ_CHECK(i < ds.size(), ErrorCode::kInvalidArgument, "sample index ", i, " out of range for data set '",
               ds.root(), "' of ", ds.size(), " images");
    paths.push_back(ds[i].path);
    batch.labels.push_back(ds[i].label);
  }
  batch.images = load_image_batch(paths, cfg);
  return batch;
}

ImageBatch load_image_batch(const ImageFolder& ds, size_t begin, size_t end, const PreprocessConfig& cfg) {
  LAPQ_CHECK(begin <= end && end <= ds.size(), ErrorCode::kInvalidArgument, "sample range [", begin, ", ", end,
             ") out of range for data set '", ds.root(), "' of ", ds.size(), " images");
  std::vector<size_t> idx(end - begin);
  std::iota(idx.begin(), idx.end(), begin);
  return load_image_batch(ds, idx, cfg);
}

}  // namespace lapq
