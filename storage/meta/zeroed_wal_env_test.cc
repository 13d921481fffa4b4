// zeroed_wal_env_test — RocksDB over ZeroedWalEnv: logs keep zeros ahead
// (syncs do not grow the file), a clean close leaves the plain log, and a
// log left with its zeros (a crash) recovers every synced write.
#include "storage/meta/zeroed_wal_env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace vnas::storage {
namespace {

namespace fs = std::filesystem;

class ZeroedWalEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(base ? base : "/tmp", "/zwal-", ::getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    env_ = std::make_unique<ZeroedWalEnv>(rocksdb::Env::Default());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<rocksdb::DB> Open(const std::string& dir) {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.env = env_.get();
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, dir, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::unique_ptr<rocksdb::DB>(db);
  }
  static void SyncPut(rocksdb::DB* db, int i) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(db->Put(wo, absl::StrCat("k", i), std::string(100, 'a' + i % 26)).ok());
  }
  // The sizes on disk of the directory's log files.
  static std::vector<uint64_t> LogSizes(const std::string& dir) {
    std::vector<uint64_t> sizes;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (ZeroedWalEnv::IsLogFile(e.path().string())) sizes.push_back(fs::file_size(e.path()));
    }
    return sizes;
  }

  std::string dir_;
  std::unique_ptr<ZeroedWalEnv> env_;
};

TEST_F(ZeroedWalEnvTest, NamesLogFilesOnly) {
  EXPECT_TRUE(ZeroedWalEnv::IsLogFile("/a/b/000012.log"));
  EXPECT_TRUE(ZeroedWalEnv::IsLogFile("000004.log"));
  EXPECT_FALSE(ZeroedWalEnv::IsLogFile("/a/b/LOG"));
  EXPECT_FALSE(ZeroedWalEnv::IsLogFile("/a/b/LOG.old.1234"));
  EXPECT_FALSE(ZeroedWalEnv::IsLogFile("/a/b/MANIFEST-000005"));
  EXPECT_FALSE(ZeroedWalEnv::IsLogFile("/a/b/000012.sst"));
  EXPECT_FALSE(ZeroedWalEnv::IsLogFile("/a/b/.log"));
  EXPECT_FALSE(ZeroedWalEnv::IsLogFile("/a/b/x1.log"));
}

TEST_F(ZeroedWalEnvTest, TruncatedBytesReadAsZerosAndCloseTrimsToTheEnd) {
  fs::create_directories(dir_);
  const std::string path = dir_ + "/000007.log";
  std::unique_ptr<rocksdb::WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(path, &f, rocksdb::EnvOptions()).ok());
  ASSERT_TRUE(f->Append(std::string(10000, 'r')).ok());
  ASSERT_TRUE(f->Truncate(6000).ok());
  EXPECT_EQ(f->GetFileSize(), 6000u);
  EXPECT_TRUE(f->Truncate(8000).ok());  // never grows
  EXPECT_EQ(f->GetFileSize(), 6000u);
  ASSERT_TRUE(f->Sync().ok());
  std::string raw(ZeroedWalEnv::kZeroBytes, '?');
  {
    FILE* in = fopen(path.c_str(), "rb");
    ASSERT_NE(in, nullptr);
    EXPECT_EQ(fread(&raw[0], 1, raw.size(), in), raw.size());
    fclose(in);
  }
  EXPECT_EQ(raw.substr(0, 6000), std::string(6000, 'r'));
  EXPECT_EQ(raw.find_first_not_of('\0', 6000), std::string::npos);
  ASSERT_TRUE(f->Append("tail").ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(fs::file_size(path), 6004u);
}

TEST_F(ZeroedWalEnvTest, SyncedWritesGoOverZerosAndCloseTrimsThem) {
  auto db = Open(dir_);
  ASSERT_TRUE(db);
  for (int i = 0; i < 100; ++i) SyncPut(db.get(), i);
  // The live log is as long as its zeros, not as its records: the syncs
  // did not change its size.
  std::vector<uint64_t> live = LogSizes(dir_);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0], ZeroedWalEnv::kZeroBytes);
  // Writes past the first stretch of zeros get more of them.
  rocksdb::WriteOptions wo;
  wo.sync = true;
  ASSERT_TRUE(db->Put(wo, "big", std::string(ZeroedWalEnv::kZeroBytes, 'z')).ok());
  live = LogSizes(dir_);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0], 2 * ZeroedWalEnv::kZeroBytes);
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  // Closed: no zeros are left behind (RocksDB may have removed the log).
  for (uint64_t size : LogSizes(dir_)) {
    EXPECT_GT(size, ZeroedWalEnv::kZeroBytes);
    EXPECT_LT(size, 2 * ZeroedWalEnv::kZeroBytes);
  }
  db = Open(dir_);
  ASSERT_TRUE(db);
  std::string v;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "k99", &v).ok());
  EXPECT_EQ(v, std::string(100, 'a' + 99 % 26));
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "big", &v).ok());
  EXPECT_EQ(v.size(), ZeroedWalEnv::kZeroBytes);
}

TEST_F(ZeroedWalEnvTest, ALogLeftWithItsZerosRecoversEverySyncedWrite) {
  auto db = Open(dir_);
  ASSERT_TRUE(db);
  for (int i = 0; i < 500; ++i) SyncPut(db.get(), i);
  // A crash: the files as they are while the database is open (the log
  // still ends in zeros), copied aside and opened there.
  const std::string crashed = dir_ + "-crashed";
  fs::remove_all(crashed);
  fs::copy(dir_, crashed, fs::copy_options::recursive);
  db.reset();
  {
    auto sizes = LogSizes(crashed);
    ASSERT_FALSE(sizes.empty());
    EXPECT_EQ(sizes.back() % ZeroedWalEnv::kZeroBytes, 0u);
  }
  auto reopened = Open(crashed);
  ASSERT_TRUE(reopened);
  for (int i = 0; i < 500; ++i) {
    std::string v;
    ASSERT_TRUE(reopened->Get(rocksdb::ReadOptions(), absl::StrCat("k", i), &v).ok()) << i;
    EXPECT_EQ(v, std::string(100, 'a' + i % 26));
  }
  // And it goes on working: more writes, another reopen.
  for (int i = 500; i < 510; ++i) SyncPut(reopened.get(), i);
  reopened.reset();
  reopened = Open(crashed);
  ASSERT_TRUE(reopened);
  std::string v;
  EXPECT_TRUE(reopened->Get(rocksdb::ReadOptions(), "k509", &v).ok());
  reopened.reset();
  fs::remove_all(crashed);
}

}  // namespace
}  // namespace vnas::storage
