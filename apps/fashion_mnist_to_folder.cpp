// Writes Fashion-MNIST (IDX files, gzip or plain) as an image-folder data set:
//
//   OUT/labels.txt                 the 10 class names, in label order
//   OUT/<class>/<index>.png        28x28 gray PNGs, <index> = position in the IDX file
//
// Usage: lapq_fashion_mnist_to_folder --out DIR [--split test|train] [--limit N]
//                                     [--data-dir DIR] [--images FILE --labels FILE]
// Defaults read Debian's /usr/share/datasets/fashion-mnist (package
// fashion-mnist). .gz files are inflated through `gzip -dc`; a path whose
// .gz is missing is also tried without the suffix (already gunzipped).
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.h"
#include "frontends/image/image.h"

namespace {

namespace fs = std::filesystem;
using lapq::ErrorCode;

constexpr const char* kClassNames[10] = {"T-shirt_top", "Trouser", "Pullover", "Dress",   "Coat",
                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",     "Ankle_boot"};
constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Whole file, inflated when it starts with the gzip magic.
std::vector<uint8_t> read_maybe_gzip(std::string path) {
  if (!fs::exists(path) && path.size() > 3 && path.ends_with(".gz") && fs::exists(path.substr(0, path.size() - 3)))
    path = path.substr(0, path.size() - 3);
  std::vector<uint8_t> raw = lapq::read_file_bytes(path);  // kIo naming the file
  if (raw.size() < 2 || raw[0] != 0x1F || raw[1] != 0x8B) return raw;
  const std::string cmd = "gzip -dc -- " + shell_quote(path);
  FILE* p = popen(cmd.c_str(), "r");
  LAPQ_CHECK(p != nullptr, ErrorCode::kIo, "cannot run '", cmd, "': ", std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.insert(out.end(), buf, buf + n);
  const int status = pclose(p);
  LAPQ_CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, ErrorCode::kIo, "'", cmd,
             "' failed (exit status ", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
             "): is gzip installed and the file intact?");
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | b[at + 3];
}

struct Idx {
  uint32_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> data;  // payload after the header
};

Idx parse_idx(const std::vector<uint8_t>& b, uint32_t magic, const std::string& name) {
  const size_t header = magic == kImagesMagic ? 16 : 8;
  LAPQ_CHECK(b.size() >= header, ErrorCode::kBadDataset, "'", name, "' is too short for an IDX header (", b.size(),
             " bytes)");
  LAPQ_CHECK(be32(b, 0) == magic, ErrorCode::kBadDataset, "'", name, "' has IDX magic 0x", std::hex, be32(b, 0),
             ", expected 0x", magic, std::dec, magic == kImagesMagic ? " (images)" : " (labels)");
  Idx idx;
  idx.count = be32(b, 4);
  uint64_t item = 1;
  if (magic == kImagesMagic) {
    idx.rows = be32(b, 8);
    idx.cols = be32(b, 12);
    LAPQ_CHECK(idx.rows == 28 && idx.cols == 28, ErrorCode::kBadDataset, "'", name, "' holds ", idx.rows, "x",
               idx.cols, " images; Fashion-MNIST images are 28x28");
    item = 28 * 28;
  }
  const uint64_t want = header + uint64_t{idx.count} * item;
  LAPQ_CHECK(b.size() == want, ErrorCode::kBadDataset, "'", name, "' has ", b.size(), " bytes; its header (",
             idx.count, " items) needs exactly ", want);
  idx.data.assign(b.begin() + header, b.end());
  return idx;
}

struct Options {
  std::string out, split = "test", data_dir = "/usr/share/datasets/fashion-mnist", images, labels;
  int64_t limit = -1;  // all
};

[[noreturn]] void usage(const std::string& why) {
  throw lapq::Error(ErrorCode::kInvalidArgument,
                    why + "\nusage: lapq_fashion_mnist_to_folder --out DIR [--split test|train] [--limit N]"
                          " [--data-dir DIR] [--images FILE --labels FILE]");
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") usage("Writes Fashion-MNIST as OUT/<class>/<index>.png plus OUT/labels.txt.");
    if (i + 1 >= argc) usage("option " + a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--out") o.out = v;
    else if (a == "--split") o.split = v;
    else if (a == "--data-dir") o.data_dir = v;
    else if (a == "--images") o.images = v;
    else if (a == "--labels") o.labels = v;
    else if (a == "--limit") {
      try {
        size_t used = 0;
        o.limit = std::stoll(v, &used);
        if (used != v.size() || o.limit < 0) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        usage("--limit needs a non-negative integer, got '" + v + "'");
      }
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.out.empty()) usage("--out DIR is required");
  if (o.split != "test" && o.split != "train") usage("--split must be test or train, got '" + o.split + "'");
  if (o.images.empty() != o.labels.empty()) usage("--images and --labels go together");
  const std::string prefix = o.split == "test" ? "t10k" : "train";
  if (o.images.empty()) {
    o.images = (fs::path(o.data_dir) / (prefix + "-images-idx3-ubyte.gz")).string();
    o.labels = (fs::path(o.data_dir) / (prefix + "-labels-idx1-ubyte.gz")).string();
  }
  return o;
}

void run(const Options& o) {
  const Idx images = parse_idx(read_maybe_gzip(o.images), kImagesMagic, o.images);
  const Idx labels = parse_idx(read_maybe_gzip(o.labels), kLabelsMagic, o.labels);
  LAPQ_CHECK(images.count == labels.count, ErrorCode::kBadDataset, "'", o.images, "' has ", images.count,
             " images but '", o.labels, "' has ", labels.count, " labels");
  const uint32_t n = o.limit < 0 ? images.count : static_cast<uint32_t>(std::min<int64_t>(o.limit, images.count));

  std::error_code ec;
  fs::create_directories(o.out, ec);
  LAPQ_CHECK(!ec, ErrorCode::kIo, "cannot create '", o.out, "': ", ec.message());
  for (const char* name : kClassNames) {
    fs::create_directories(fs::path(o.out) / name, ec);
    LAPQ_CHECK(!ec, ErrorCode::kIo, "cannot create '", (fs::path(o.out) / name).string(), "': ", ec.message());
  }
  {
    const std::string path = (fs::path(o.out) / "labels.txt").string();
    FILE* f = std::fopen(path.c_str(), "w");
    LAPQ_CHECK(f != nullptr, ErrorCode::kIo, "cannot create '", path, "': ", std::strerror(errno));
    for (const char* name : kClassNames) std::fprintf(f, "%s\n", name);
    LAPQ_CHECK(std::fclose(f) == 0, ErrorCode::kIo, "error writing '", path, "'");
  }
  int per_class[10] = {};
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t label = labels.data[i];
    LAPQ_CHECK(label < 10, ErrorCode::kBadDataset, "'", o.labels, "' item ", i, " has label ", int{label},
               " (expected 0..9)");
    lapq::Image img{28, 28, 1, {}};
    img.pixels.assign(images.data.begin() + size_t{i} * 784, images.data.begin() + size_t{i + 1} * 784);
    char file[32];
    std::snprintf(file, sizeof file, "%05u.png", i);
    lapq::write_image_file((fs::path(o.out) / kClassNames[label] / file).string(), img, lapq::ImageFormat::kPng);
    ++per_class[label];
  }
  std::printf("wrote %u of %u %s images to %s:", n, images.count, o.split.c_str(), o.out.c_str());
  for (int c = 0; c < 10; ++c) std::printf(" %s=%d", kClassNames[c], per_class[c]);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    run(parse_args(argc, argv));
    return 0;
  } catch (const lapq::Error& e) {
    std::fprintf(stderr, "lapq_fashion_mnist_to_folder: %s\n", e.what());
    return e.exit_status();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lapq_fashion_mnist_to_folder: %s\n", e.what());
    return static_cast<int>(ErrorCode::kInternal);
  }
}
