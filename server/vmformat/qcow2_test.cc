#include "server/vmformat/qcow2.h"

#include <string>

#include "gtest/gtest.h"
#include "server/vmformat/qemu_img_testutil.h"

namespace vnas::vmformat {
namespace {

using testing::FreshDir;
using testing::ReadRange;
using testing::RunQemuImg;

void PutBE(std::string* s, size_t off, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) (*s)[off + i] = static_cast<char>(v >> (8 * (n - 1 - i)));
}

TEST(Qcow2, QemuImgChain) {
  const std::string dir = FreshDir("qcow2_chain");
  absl::Status s = RunQemuImg(dir, {"create", "-q", "-f", "qcow2", "b.qcow2", "64M"});
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "qcow2", "-b", "b.qcow2",
                               "-F", "qcow2", "s1.qcow2"})
                  .ok());
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "qcow2", "-o", "compat=0.10",
                               "-b", "s1.qcow2", "-F", "qcow2", "s2.qcow2"})
                  .ok());
  struct Want {
    const char* file;
    uint32_t version;
    const char* backing;
    const char* format;
  };
  const Want want[] = {
      {"b.qcow2", 3, "", ""},
      {"s1.qcow2", 3, "b.qcow2", "qcow2"},
      {"s2.qcow2", 2, "s1.qcow2", "qcow2"},
  };
  for (const Want& w : want) {
    SCOPED_TRACE(w.file);
    absl::StatusOr<std::string> head = ReadRange(dir + "/" + w.file, 0, 65536);
    ASSERT_TRUE(head.ok());
    absl::StatusOr<Qcow2Header> h = ParseQcow2Header(*head);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->version, w.version);
    EXPECT_EQ(h->size, 64u << 20);
    EXPECT_EQ(h->cluster_bits, 16u);
    EXPECT_EQ(h->has_backing, std::string(w.backing) != "");
    EXPECT_EQ(h->backing_file, w.backing);
    EXPECT_EQ(h->backing_format, w.format);
    EXPECT_EQ(h->nb_snapshots, 0u);
  }
  // Internal snapshots show up in nb_snapshots.
  ASSERT_TRUE(RunQemuImg(dir, {"snapshot", "-c", "snap1", "b.qcow2"}).ok());
  absl::StatusOr<std::string> head = ReadRange(dir + "/b.qcow2", 0, 65536);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(ParseQcow2Header(*head)->nb_snapshots, 1u);
}

std::string MinimalV3() {
  std::string s(4096, '\0');
  s.replace(0, 4, "QFI\xfb");
  PutBE(&s, 4, 3, 4);
  PutBE(&s, 20, 16, 4);
  PutBE(&s, 24, 1 << 20, 8);
  PutBE(&s, 100, 112, 4);
  return s;
}

TEST(Qcow2, Malformed) {
  struct Case {
    const char* name;
    std::string data;
    absl::StatusCode code;
  };
  std::string v9 = MinimalV3();
  PutBE(&v9, 4, 9, 4);
  std::string cb = MinimalV3();
  PutBE(&cb, 20, 40, 4);
  std::string hl = MinimalV3();
  PutBE(&hl, 100, 13, 4);
  std::string bsize = MinimalV3();
  PutBE(&bsize, 8, 512, 8);
  PutBE(&bsize, 16, 5000, 4);
  std::string boff = MinimalV3();
  PutBE(&boff, 8, UINT64_MAX - 2, 8);
  PutBE(&boff, 16, 8, 4);
  std::string beyond = MinimalV3();
  PutBE(&beyond, 8, 60000, 8);
  PutBE(&beyond, 16, 8, 4);
  std::string ext = MinimalV3();
  PutBE(&ext, 112, 0xe2792aca, 4);
  PutBE(&ext, 116, 0xfffffff0, 4);
  const Case cases[] = {
      {"magic only", std::string("QFI\xfb", 4), absl::StatusCode::kInvalidArgument},
      {"v3 truncated", MinimalV3().substr(0, 90), absl::StatusCode::kInvalidArgument},
      {"version 9", v9, absl::StatusCode::kInvalidArgument},
      {"cluster_bits 40", cb, absl::StatusCode::kInvalidArgument},
      {"header_length 13", hl, absl::StatusCode::kInvalidArgument},
      {"backing size 5000", bsize, absl::StatusCode::kInvalidArgument},
      {"backing offset overflow", boff, absl::StatusCode::kInvalidArgument},
      {"backing beyond sample", beyond, absl::StatusCode::kOutOfRange},
      {"extension overruns cluster", ext, absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ParseQcow2Header(c.data).status().code(), c.code);
  }
  EXPECT_TRUE(ParseQcow2Header(MinimalV3()).ok());
}

}  // namespace
}  // namespace vnas::vmformat
