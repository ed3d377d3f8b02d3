// apps/fashion_mnist_to_folder: runs the built exporter on Debian's
// Fashion-MNIST files and reads the result back as an image-folder data set.
// Skips when the package data or the exporter binary is absent.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "frontends/dataset/image_folder.h"
#include "frontends/dataset/labels.h"
#include "frontends/image/image.h"
#include "test_image_util.h"

namespace lapq {
namespace {

namespace fs = std::filesystem;

const std::string kData = "/usr/share/datasets/fashion-mnist";
const std::string kTool = std::string(LAPQ_BINARY_DIR) + "/bin/lapq_fashion_mnist_to_folder";

int run(const std::string& args) {
  const int status = std::system((kTool + " " + args + " > /dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(FashionMnistExport, WritesAReadableImageFolder) {
  if (!fs::exists(kData + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "no " << kData;
  if (!fs::exists(kTool)) GTEST_SKIP() << "exporter not built: " << kTool;
  test::TempDir dir;
  const std::string out = dir.file("fm");
  ASSERT_EQ(run("--out " + out + " --limit 40"), 0);
  const std::vector<std::string> labels = read_labels_file(out + "/labels.txt");
  ASSERT_EQ(labels.size(), 10u);
  EXPECT_EQ(labels[0], "T-shirt_top");
  EXPECT_EQ(labels[9], "Ankle_boot");
  const ImageFolder ds = ImageFolder::open(out, labels);
  EXPECT_EQ(ds.size(), 40u);

  // Image 0 of the test split, byte for byte against the IDX payload.
  std::vector<uint8_t> idx;
  FILE* p = popen(("gzip -dc " + kData + "/t10k-images-idx3-ubyte.gz").c_str(), "r");
  ASSERT_NE(p, nullptr);
  uint8_t buf[4096];
  for (size_t n; idx.size() < 16 + 784 && (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
    idx.insert(idx.end(), buf, buf + n);
  pclose(p);
  ASSERT_GE(idx.size(), 16u + 784u);
  std::string first;
  for (const ImageSample& s : ds.samples())
    if (fs::path(s.path).filename() == "00000.png") first = s.path;
  ASSERT_FALSE(first.empty());
  const Image img = decode_image_file(first, DecodeChannels::kNative);
  ASSERT_EQ(img.channels, 1);
  ASSERT_EQ(img.width, 28);
  ASSERT_EQ(img.height, 28);
  EXPECT_TRUE(std::equal(img.pixels.begin(), img.pixels.end(), idx.begin() + 16));
  EXPECT_EQ(fs::path(first).parent_path().filename(), "Ankle_boot");  // test label 0 is 9
}

TEST(FashionMnistExport, BadArgumentsAndFilesFail) {
  if (!fs::exists(kTool)) GTEST_SKIP() << "exporter not built: " << kTool;
  test::TempDir dir;
  EXPECT_EQ(run(""), 2);                                       // --out missing
  EXPECT_EQ(run("--out " + dir.file("o") + " --split val"), 2);  // bad split
  EXPECT_EQ(run("--out " + dir.file("o") + " --limit x"), 2);
  test::write_bytes(dir.file("short.idx"), {0, 0, 8, 3, 0, 0});
  EXPECT_EQ(run("--out " + dir.file("o") + " --images " + dir.file("short.idx") + " --labels " +
                dir.file("short.idx")),
            8);  // kBadDataset: header too short
  EXPECT_EQ(run("--out " + dir.file("o") + " --images " + dir.file("none.gz") + " --labels " + dir.file("none.gz")),
            3);  // kIo
}

}  // namespace
}  // namespace lapq
