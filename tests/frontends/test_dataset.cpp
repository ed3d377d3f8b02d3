// Image-folder data set: listing, labels, sampling determinism, errors, and
// the parallel batch loader (equal to one-image-at-a-time preprocessing).
#include <gtest/gtest.h>
#include <omp.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "frontends/dataset/image_folder.h"
#include "frontends/dataset/labels.h"
#include "frontends/image/preprocess_config.h"
#include "test_image_util.h"

namespace lapq {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p, const std::string& content = "") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

template <class F>
void expect_error(F&& f, ErrorCode code, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error thrown (expected " << error_code_name(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

// root/cat: a.png b.JPG c.jpeg notes.txt; root/dog: x.bmp sub/y.png;
// root/.hidden/z.png; root/readme.md. Listing never decodes, so empty files do.
void make_small_tree(const fs::path& root) {
  touch(root / "cat" / "a.png");
  touch(root / "cat" / "b.JPG");
  touch(root / "cat" / "c.jpeg");
  touch(root / "cat" / "notes.txt");
  touch(root / "dog" / "x.bmp");
  touch(root / "dog" / "sub" / "y.png");
  touch(root / "dog" / ".DS_Store");
  touch(root / ".hidden" / "z.png");
  touch(root / "readme.md");
}

TEST(ImageFolder, ListsSortedFoldersAndImages) {
  test::TempDir dir;
  make_small_tree(dir.path());
  const ImageFolder ds = ImageFolder::open(dir.path().string());
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(ds.size(), 5u);
  const fs::path r = dir.path();
  EXPECT_EQ(ds[0].path, (r / "cat" / "a.png").string());
  EXPECT_EQ(ds[1].path, (r / "cat" / "b.JPG").string());
  EXPECT_EQ(ds[2].path, (r / "cat" / "c.jpeg").string());
  EXPECT_EQ(ds[3].path, (r / "dog" / "sub" / "y.png").string());
  EXPECT_EQ(ds[4].path, (r / "dog" / "x.bmp").string());
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(ds[i].label, i < 3 ? 0 : 1);
  EXPECT_EQ(ds.skipped_files(), 2);  // notes.txt, readme.md (hidden entries ignored)
  EXPECT_EQ(ds.class_counts(), (std::vector<size_t>{3, 2}));
}

TEST(ImageFolder, LabelsFileFixesClassIndices) {
  test::TempDir dir;
  make_small_tree(dir.path() / "data");
  touch(dir.path() / "labels.txt", "dog\r\ncat\r\nbird\r\n\r\n");
  const std::vector<std::string> labels = read_labels_file(dir.file("labels.txt"));
  EXPECT_EQ(labels, (std::vector<std::string>{"dog", "cat", "bird"}));
  const ImageFolder ds = ImageFolder::open((dir.path() / "data").string(), labels);
  EXPECT_EQ(ds.classes(), labels);
  EXPECT_EQ(ds.class_counts(), (std::vector<size_t>{2, 3, 0}));
  EXPECT_EQ(ds[0].label, 0);
  EXPECT_NE(ds[0].path.find("dog"), std::string::npos);
  EXPECT_EQ(ds[4].label, 1);
  // A class folder not in the labels.
  expect_error([&] { ImageFolder::open((dir.path() / "data").string(), {"dog", "bird"}); }, ErrorCode::kBadDataset,
               "'cat'");
}

TEST(ImageFolder, Errors) {
  test::TempDir dir;
  expect_error([&] { ImageFolder::open(dir.file("missing")); }, ErrorCode::kBadDataset, dir.file("missing"));
  touch(dir.path() / "file.txt");
  expect_error([&] { ImageFolder::open(dir.file("file.txt")); }, ErrorCode::kBadDataset, "not a folder");
  fs::create_directories(dir.path() / "empty");
  expect_error([&] { ImageFolder::open(dir.file("empty")); }, ErrorCode::kBadDataset, "no class sub-folders");
  touch(dir.path() / "noimg" / "a" / "x.txt");
  fs::create_directories(dir.path() / "noimg" / "b");
  expect_error([&] { ImageFolder::open(dir.file("noimg")); }, ErrorCode::kBadDataset, "has no images");
}

TEST(Labels, FileRules) {
  EXPECT_EQ(parse_labels("a\nb c\t\n", "x"), (std::vector<std::string>{"a", "b c"}));
  expect_error([] { parse_labels("", "lab.txt"); }, ErrorCode::kBadDataset, "lab.txt");
  expect_error([] { parse_labels("a\n\nb\n", "lab.txt"); }, ErrorCode::kBadDataset, "line 2");
  expect_error([] { parse_labels("a\nb\na\n", "lab.txt"); }, ErrorCode::kBadDataset, "line 3");
  expect_error([] { read_labels_file("/nonexistent/labels.txt"); }, ErrorCode::kIo, "/nonexistent/labels.txt");
}

// 3 classes with 50, 50 and 3 (empty) images.
ImageFolder make_sampling_set(const test::TempDir& dir) {
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < (c == 2 ? 3 : 50); ++i)
      touch(dir.path() / std::string("c").append(std::to_string(c)) / std::to_string(1000 + i).append(".png"));
  return ImageFolder::open(dir.path().string());
}

TEST(ImageFolder, SamplingIsDeterministicAndValid) {
  test::TempDir dir;
  const ImageFolder ds = make_sampling_set(dir);
  ASSERT_EQ(ds.size(), 103u);
  for (SamplingMode mode : {SamplingMode::kUniform, SamplingMode::kStratified}) {
    const std::vector<size_t> a = ds.sample_indices(30, 42, mode);
    EXPECT_EQ(a, ds.sample_indices(30, 42, mode));  // same seed, same pick
    EXPECT_NE(a, ds.sample_indices(30, 43, mode));  // another seed, another pick
    ASSERT_EQ(a.size(), 30u);
    EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
    EXPECT_EQ(std::set<size_t>(a.begin(), a.end()).size(), 30u);  // distinct
    EXPECT_LT(a.back(), ds.size());
    std::vector<size_t> all = ds.sample_indices(ds.size(), 1, mode);
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i);
    EXPECT_TRUE(ds.sample_indices(0, 1, mode).empty());
  }
  EXPECT_THROW(ds.sample_indices(104, 1), Error);
}

TEST(ImageFolder, StratifiedSplitsEvenlyOverClasses) {
  test::TempDir dir;
  const ImageFolder ds = make_sampling_set(dir);
  auto per_class = [&](const std::vector<size_t>& idx) {
    std::vector<size_t> n(3, 0);
    for (size_t i : idx) ++n[ds[i].label];
    return n;
  };
  EXPECT_EQ(per_class(ds.sample_indices(9, 7, SamplingMode::kStratified)), (std::vector<size_t>{3, 3, 3}));
  EXPECT_EQ(per_class(ds.sample_indices(10, 7, SamplingMode::kStratified)), (std::vector<size_t>{4, 3, 3}));
  // The small class gives all it has; the rest is shared by the others.
  EXPECT_EQ(per_class(ds.sample_indices(30, 7, SamplingMode::kStratified)), (std::vector<size_t>{14, 13, 3}));
}

TEST(ImageFolder, SamplingIsPinnedAcrossMachines) {
  // mt19937_64's output is fixed by the standard and uniform_below is ours,
  // so this pick is the same everywhere; a change here changes calibration
  // sets silently, hence the pin (computed once with this implementation).
  test::TempDir dir;
  const ImageFolder ds = make_sampling_set(dir);
  std::mt19937_64 rng(5489u);
  rng.discard(9999);
  EXPECT_EQ(rng(), 9981545732273789042ull);  // the standard's required 10000th value
  EXPECT_EQ(ds.sample_indices(5, 2026, SamplingMode::kUniform), (std::vector<size_t>{0, 9, 19, 72, 100}));
  EXPECT_EQ(ds.sample_indices(6, 2026, SamplingMode::kStratified), (std::vector<size_t>{1, 38, 51, 91, 100, 102}));
}

// A tree of real images of different sizes.
ImageFolder make_image_set(const test::TempDir& dir) {
  int n = 0;
  for (const char* cls : {"b", "a"}) {
    for (int i = 0; i < 5; ++i, ++n) {
      const Image img = test::pattern_image(30 + 7 * i, 24 + 5 * (4 - i), 3, 100 + n);
      const ImageFormat f = i % 3 == 0 ? ImageFormat::kPng : (i % 3 == 1 ? ImageFormat::kBmp : ImageFormat::kJpeg);
      const std::string ext = f == ImageFormat::kPng ? ".png" : (f == ImageFormat::kBmp ? ".bmp" : ".jpg");
      fs::create_directories(dir.path() / cls);
      write_image_file((dir.path() / cls / ("img" + std::to_string(i) + ext)).string(), img, f);
    }
  }
  return ImageFolder::open(dir.path().string());
}

PreprocessConfig small_config() {
  PreprocessConfig cfg;
  apply_preprocess_overrides(cfg, {"resize=20", "crop=16"});
  return cfg;
}

TEST(BatchLoader, EqualsSingleImagePreprocessing) {
  test::TempDir dir;
  const ImageFolder ds = make_image_set(dir);
  const PreprocessConfig cfg = small_config();
  const ImageBatch batch = load_image_batch(ds, 0, ds.size(), cfg);
  ASSERT_EQ(batch.images.shape(), (Shape{10, 3, 16, 16}));
  ASSERT_EQ(batch.labels.size(), 10u);
  const size_t per = 3 * 16 * 16;
  for (size_t i = 0; i < ds.size(); ++i) {
    EXPECT_EQ(batch.labels[i], ds[i].label);
    const Tensor one = preprocess_file(ds[i].path, cfg);
    EXPECT_EQ(std::memcmp(one.data<float>(), batch.images.data<float>() + i * per, per * sizeof(float)), 0)
        << ds[i].path;
  }
  // A picked subset in any order.
  const std::vector<size_t> idx = {7, 2, 2};
  const ImageBatch sub = load_image_batch(ds, idx, cfg);
  for (size_t k = 0; k < idx.size(); ++k)
    EXPECT_EQ(std::memcmp(sub.images.data<float>() + k * per, batch.images.data<float>() + idx[k] * per,
                          per * sizeof(float)),
              0);
}

TEST(BatchLoader, ThreadCountDoesNotChangeTheResult) {
  test::TempDir dir;
  const ImageFolder ds = make_image_set(dir);
  const PreprocessConfig cfg = small_config();
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor a = load_image_batch(ds, 0, ds.size(), cfg).images;
  omp_set_num_threads(4);
  const Tensor b = load_image_batch(ds, 0, ds.size(), cfg).images;
  omp_set_num_threads(saved);
  EXPECT_TRUE(a.equals(b));
}

TEST(BatchLoader, FirstFailingImageIsReported) {
  test::TempDir dir;
  ImageFolder ds = make_image_set(dir);
  // Corrupt two files; the error names the first one in batch order.
  test::write_bytes(ds[3].path, {'B', 'M', 1, 2, 3});
  test::write_bytes(ds[6].path, {});
  expect_error([&] { load_image_batch(ds, 0, ds.size(), small_config()); }, ErrorCode::kBadImage, ds[3].path);
  expect_error([&] { load_image_batch(ds, 4, 8, small_config()); }, ErrorCode::kBadImage, ds[6].path);
  expect_error([&] { load_image_batch(ds, 4, 99, small_config()); }, ErrorCode::kInvalidArgument, "out of range");
  EXPECT_EQ(load_image_batch(ds, 0, 0, small_config()).images.shape(), (Shape{0, 3, 16, 16}));
}

TEST(ImageFolder, SharedCifar10TestSet) {
  const std::string root = std::string(LAPQ_SHARED_DATA_DIR) + "/cifar10";
  if (!fs::is_directory(root + "/test")) GTEST_SKIP() << "no CIFAR-10 data at " << root;
  const std::vector<std::string> labels = read_labels_file(root + "/labels.txt");
  ASSERT_EQ(labels.size(), 10u);
  const ImageFolder ds = ImageFolder::open(root + "/test", labels);
  EXPECT_EQ(ds.size(), 10000u);
  EXPECT_EQ(ds.class_counts(), std::vector<size_t>(10, 1000));
  EXPECT_EQ(ds.skipped_files(), 0);
  // CIFAR preprocessing: no resize, no crop, ImageNet mean/std.
  PreprocessConfig cfg;
  apply_preprocess_overrides(cfg, {"input_size=3,32,32", "resize=none", "crop=none"});
  const std::vector<size_t> idx = ds.sample_indices(20, 1, SamplingMode::kStratified);
  const ImageBatch batch = load_image_batch(ds, idx, cfg);
  EXPECT_EQ(batch.images.shape(), (Shape{20, 3, 32, 32}));
  std::set<int> classes(batch.labels.begin(), batch.labels.end());
  EXPECT_EQ(classes.size(), 10u);
  for (float v : batch.images.span<float>()) ASSERT_TRUE(v > -2.2f && v < 2.7f);  // (0-0.485)/0.229 .. (1-0.406)/0.225
}

}  // namespace
}  // namespace lapq
