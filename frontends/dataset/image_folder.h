// Image-folder data set (torchvision's datasets.ImageFolder layout):
//
//   root/<class name>/<...>/<image>.{jpg,jpeg,png,bmp}
//
// Class index = position of the folder name in the labels list when one is
// given (folders missing on disk are classes with no images; a folder not in
// the list is an error), else the index in the sorted folder names. Images
// are found recursively under each class folder, matched by extension
// (case-insensitive); other files are counted as skipped. Hidden entries
// (names starting with '.') are ignored. Samples are ordered by class index,
// then by path (byte-wise), so the listing is the same on every machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "frontends/image/preprocess.h"

namespace lapq {

struct ImageSample {
  std::string path;
  int label = 0;
};

enum class SamplingMode {
  kUniform,     // k distinct images drawn uniformly from the whole set
  kStratified,  // k split as evenly as possible over the classes (round-robin)
};

class ImageFolder {
 public:
  // Lists `root`. labels: class names in output-index order; empty = sorted
  // folder names. Throws kBadDataset (naming the folder) when root is missing
  // or not a folder, has no class sub-folders, holds no images, or has a
  // class folder that is not in `labels`.
  static ImageFolder open(const std::string& root, const std::vector<std::string>& labels = {});

  const std::string& root() const { return root_; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<ImageSample>& samples() const { return samples_; }
  size_t size() const { return samples_.size(); }
  const ImageSample& operator[](size_t i) const { return samples_[i]; }
  // Files under class folders that are not images (by extension).
  int64_t skipped_files() const { return skipped_; }
  // Number of images per class index.
  std::vector<size_t> class_counts() const;

  // k distinct sample indices chosen with std::mt19937_64 seeded by `seed`,
  // returned sorted. Same (k, seed, mode) -> same indices on every machine
  // (no std::uniform_int_distribution, whose output the standard leaves to
  // each library). kInvalidArgument when k > size().
  std::vector<size_t> sample_indices(size_t k, uint64_t seed, SamplingMode mode = SamplingMode::kStratified) const;

 private:
  std::string root_;
  std::vector<std::string> classes_;
  std::vector<ImageSample> samples_;
  int64_t skipped_ = 0;
};

// True for .jpg .jpeg .png .bmp in any letter case.
bool has_image_extension(const std::string& path);

// A decoded + preprocessed batch.
struct ImageBatch {
  Tensor images;            // [N, C, H, W] float32
  std::vector<int> labels;  // one per image
};

// Decodes and preprocesses `paths` into one [N, C, H, W] tensor, images in
// parallel (OpenMP); the result does not depend on the thread count. When
// images fail, the error of the first failing one (by position) is thrown.
Tensor load_image_batch(std::span<const std::string> paths, const PreprocessConfig& cfg);
// Same for data set samples picked by index.
ImageBatch load_image_batch(const ImageFolder& ds, std::span<const size_t> indices, const PreprocessConfig& cfg);
// Samples [begin, end) of the data set (for evaluation in batches).
ImageBatch load_image_batch(const ImageFolder& ds, size_t begin, size_t end, const PreprocessConfig& cfg);

}  // namespace lapq
