// malformed_corpus_test — replays testdata/malformed/*.rec (see
// testdata/make_corpus.py) through the RPC decoder and dispatcher. Every
// record must get exactly the answer its name promises, nothing may crash,
// and the store must still serve normal calls afterwards.
#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "server/nfs/dispatch_test_util.h"
#include "server/nfs/nfs3_types.h"
#include "server/nfs/mount_types.h"

namespace vnas::nfs {
namespace {

const char kPlaceholder[] = "@@@ROOT_HANDLE_PLACEHOLDER@@";

std::string CorpusDir() {
  const char* srcdir = getenv("TEST_SRCDIR");
  return std::string(srcdir ? srcdir : ".") +
         "/vnas/server/nfs/testdata/malformed";
}

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> out;
  DIR* d = opendir(CorpusDir().c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (absl::EndsWith(n, ".rec")) out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(MalformedCorpus, EveryRecordGetsTheAnswerItsNamePromises) {
  DispatchFixture f;
  const std::string root = f.Mount("/vnas");
  ASSERT_EQ(root.size(), 28u);
  std::vector<std::string> files = CorpusFiles();
  ASSERT_GE(files.size(), 40u) << "corpus missing from " << CorpusDir();
  for (const std::string& name : files) {
    SCOPED_TRACE(name);
    std::string rec = Slurp(CorpusDir() + "/" + name);
    size_t at = rec.find(kPlaceholder);
    while (at != std::string::npos) {
      rec.replace(at, root.size(), root);
      at = rec.find(kPlaceholder);
    }
    Reply r = f.Send(rec);
    std::vector<std::string> parts = absl::StrSplit(name, '_');
    const std::string& kind = parts[0];
    if (kind == "drop") {
      EXPECT_TRUE(r.dropped);
      continue;
    }
    ASSERT_FALSE(r.dropped);
    if (absl::StartsWith(name, "rpc_mismatch")) {
      EXPECT_FALSE(r.accepted);
      EXPECT_EQ(r.stat, 0u);  // RPC_MISMATCH
    } else if (absl::StartsWith(name, "auth_error")) {
      EXPECT_FALSE(r.accepted);
      EXPECT_EQ(r.stat, 1u);  // AUTH_ERROR
    } else if (absl::StartsWith(name, "prog_unavail")) {
      EXPECT_TRUE(r.accepted);
      EXPECT_EQ(r.stat, PROG_UNAVAIL);
    } else if (absl::StartsWith(name, "prog_mismatch")) {
      EXPECT_TRUE(r.accepted);
      EXPECT_EQ(r.stat, PROG_MISMATCH);
      EXPECT_EQ(r.body.size(), 8u);  // low, high
    } else if (absl::StartsWith(name, "proc_unavail")) {
      EXPECT_TRUE(r.accepted);
      EXPECT_EQ(r.stat, PROC_UNAVAIL);
    } else if (absl::StartsWith(name, "garbage_args")) {
      EXPECT_TRUE(r.accepted);
      EXPECT_EQ(r.stat, GARBAGE_ARGS);
      EXPECT_TRUE(r.body.empty());
    } else if (kind == "nfs" || kind == "mnt") {
      uint32_t want;
      ASSERT_TRUE(absl::SimpleAtoi(parts[1], &want));
      EXPECT_TRUE(r.accepted);
      EXPECT_EQ(r.stat, SUCCESS);
      EXPECT_EQ(r.FirstWord(), want);
    } else {
      ADD_FAILURE() << "corpus file with an unknown expectation";
    }
    if (!r.dropped) {
      EXPECT_EQ(r.xid, LoadBe32(rec.data())) << "reply xid";
    }
  }
  // The server still works and nothing was created by the bad calls.
  Reply g = f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(root));
  EXPECT_EQ(g.FirstWord(), NFS3_OK);
  auto page = f.store()->ReadDir(storage::kRootInode, 0, 100, false);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->entries.empty());
}

}  // namespace
}  // namespace vnas::nfs
