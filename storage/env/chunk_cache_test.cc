// chunk_cache_test.cc — what is kept, what is dropped, and that a read never
// sees bytes older than the last write.
#include "storage/env/chunk_cache.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace vnas::storage {
namespace {

constexpr size_t kChunk = ChunkCache::kChunkBytes;

std::string Pattern(size_t len, char seed) {
  std::string s(len, '\0');
  for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>(seed + i * 13);
  return s;
}

// One whole write, begun and ended.
void Write(ChunkCache& c, uint64_t file, uint64_t off, const std::string& data,
           bool ok = true) {
  ChunkCache::WriteTicket t = c.BeginWrite(file, off, data.size());
  c.EndWrite(file, t, off, {absl::string_view(data)}, ok);
}

// The cached bytes of [off, off + len), read in two parts; nullopt-like
// empty string on a miss.
bool Read(ChunkCache& c, uint64_t file, uint64_t off, size_t len,
          std::string* out) {
  out->assign(len, '?');
  std::vector<absl::Span<char>> parts{absl::MakeSpan(&(*out)[0], len / 3),
                                      absl::MakeSpan(&(*out)[len / 3], len - len / 3)};
  return c.Read(file, off, parts);
}

TEST(ChunkCache, WholeChunksOfAWriteAreServedAndPartOnesAreNot) {
  ChunkCache c(64 * kChunk);
  ASSERT_TRUE(c.usable());
  const uint64_t f = c.NewFile();
  // [kChunk/2, 4.5 chunks): chunks 1..3 whole, 0 and 4 partly.
  const std::string data = Pattern(4 * kChunk, 'a');
  Write(c, f, kChunk / 2, data);
  std::string got;
  ASSERT_TRUE(Read(c, f, kChunk, 3 * kChunk, &got));
  EXPECT_EQ(got, data.substr(kChunk / 2, 3 * kChunk));
  ASSERT_TRUE(Read(c, f, 2 * kChunk + 100, 4096, &got));  // inside one chunk
  EXPECT_EQ(got, data.substr(kChunk / 2 + kChunk + 100, 4096));
  EXPECT_FALSE(Read(c, f, 0, kChunk, &got)) << "chunk 0 was written in part";
  EXPECT_FALSE(Read(c, f, 3 * kChunk, 2 * kChunk, &got)) << "chunk 4 too";
  EXPECT_FALSE(Read(c, c.NewFile(), kChunk, kChunk, &got)) << "other file";
  EXPECT_EQ(c.stats().cached_chunks, 3u);
}

// This process's resident memory, in bytes (/proc/self/statm).
size_t ResidentBytes() {
  size_t total = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%zu %zu", &total, &resident) != 2) resident = 0;
  std::fclose(f);
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// Waits (up to 10 s) until the cache has faulted in `chunks` slots.
bool FaultedTo(const ChunkCache& c, size_t chunks) {
  for (int i = 0; i < 1000 && c.stats().faulted_chunks < chunks; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return c.stats().faulted_chunks == chunks;
}

TEST(ChunkCache, PagesAreFaultedInAheadOfTheSlotsInUse) {
  const size_t before = ResidentBytes();
  ChunkCache c(1024 * kChunk, 64 * kChunk);
  ASSERT_TRUE(c.usable());
  ASSERT_TRUE(FaultedTo(c, 64)) << c.stats().faulted_chunks;
  // 4 MiB of the 64 MiB arena are resident before anything is cached.
  const size_t after = ResidentBytes();
  EXPECT_GE(after, before + 64 * kChunk - (256 << 10));
  EXPECT_LT(after, before + 256 * kChunk);
  const uint64_t f = c.NewFile();
  Write(c, f, 0, Pattern(kChunk, 'z'));
  // One slot used: 64 ahead of it (waited for, then checked not to grow).
  ASSERT_TRUE(FaultedTo(c, 65)) << c.stats().faulted_chunks;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(c.stats().faulted_chunks, 65u);
  // 100 chunks written: slots 0..100 used, faulted to 165; never past it.
  for (uint64_t i = 1; i <= 100; ++i) Write(c, f, i * kChunk, Pattern(kChunk, 'y'));
  ASSERT_TRUE(FaultedTo(c, 165)) << c.stats().faulted_chunks;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(c.stats().faulted_chunks, 165u);
  EXPECT_EQ(c.stats().cached_chunks, 101u);
  // Every chunk still reads back as written.
  std::string got;
  ASSERT_TRUE(Read(c, f, 0, kChunk, &got));
  EXPECT_EQ(got, Pattern(kChunk, 'z'));
  for (uint64_t i = 1; i <= 100; ++i) {
    ASSERT_TRUE(Read(c, f, i * kChunk, kChunk, &got)) << i;
    ASSERT_EQ(got, Pattern(kChunk, 'y')) << i;
  }
}

TEST(ChunkCache, FaultingAheadCanBeTurnedOffAndStopsAtTheCapacity) {
  ChunkCache off(16 * kChunk, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(off.stats().faulted_chunks, 0u);
  ChunkCache small(16 * kChunk, 64 * kChunk);
  EXPECT_TRUE(FaultedTo(small, 16));
}

TEST(ChunkCache, CommitAllFaultsTheWholeArenaInBeforeItReturns) {
  const size_t before = ResidentBytes();
  ChunkCache c(512 * kChunk, ChunkCache::kCommitAll);  // 32 MiB
  ASSERT_TRUE(c.usable());
  // At once, no waiting: all of it resident, and no prefaulter to go on.
  EXPECT_EQ(c.stats().faulted_chunks, 512u);
  EXPECT_GE(ResidentBytes(), before + 512 * kChunk - (256 << 10));
  const uint64_t f = c.NewFile();
  Write(c, f, 3 * kChunk, Pattern(kChunk, 'c'));
  std::string got;
  ASSERT_TRUE(Read(c, f, 3 * kChunk, kChunk, &got));
  EXPECT_TRUE(got == Pattern(kChunk, 'c'));
}

TEST(ChunkCache, AWriteDropsEveryChunkItTouches) {
  ChunkCache c(64 * kChunk);
  const uint64_t f = c.NewFile();
  Write(c, f, 0, Pattern(4 * kChunk, 'a'));
  // A small write into chunk 2: dropped when it begins, not kept after.
  ChunkCache::WriteTicket t = c.BeginWrite(f, 2 * kChunk + 10, 5);
  std::string got;
  EXPECT_FALSE(Read(c, f, 2 * kChunk, kChunk, &got));
  const std::string small = "HELLO";
  c.EndWrite(f, t, 2 * kChunk + 10, {absl::string_view(small)}, true);
  EXPECT_FALSE(Read(c, f, 2 * kChunk, kChunk, &got));
  EXPECT_TRUE(Read(c, f, kChunk, kChunk, &got)) << "its neighbours stay";
  EXPECT_TRUE(Read(c, f, 3 * kChunk, kChunk, &got));
  // A whole rewrite brings chunk 2 back with the new bytes.
  const std::string again = Pattern(kChunk, 'z');
  Write(c, f, 2 * kChunk, again);
  ASSERT_TRUE(Read(c, f, 2 * kChunk, kChunk, &got));
  EXPECT_EQ(got, again);
}

TEST(ChunkCache, OverlappingWritesUnderWayKeepNothing) {
  ChunkCache c(64 * kChunk);
  const uint64_t f = c.NewFile();
  const std::string a = Pattern(kChunk, 'a'), b = Pattern(kChunk, 'b');
  // Which one the device ends up with is unknown: neither is kept.
  ChunkCache::WriteTicket ta = c.BeginWrite(f, 0, kChunk);
  ChunkCache::WriteTicket tb = c.BeginWrite(f, 0, kChunk);
  c.EndWrite(f, tb, 0, {absl::string_view(b)}, true);
  c.EndWrite(f, ta, 0, {absl::string_view(a)}, true);
  std::string got;
  EXPECT_FALSE(Read(c, f, 0, kChunk, &got));
  // The same the other way round, and with a later write beginning before
  // the first ends.
  ta = c.BeginWrite(f, 0, kChunk);
  tb = c.BeginWrite(f, 0, kChunk);
  c.EndWrite(f, ta, 0, {absl::string_view(a)}, true);
  c.EndWrite(f, tb, 0, {absl::string_view(b)}, true);
  EXPECT_FALSE(Read(c, f, 0, kChunk, &got));
  // Writes of other chunks do not get in each other's way.
  ta = c.BeginWrite(f, 0, kChunk);
  tb = c.BeginWrite(f, kChunk, kChunk);
  c.EndWrite(f, tb, kChunk, {absl::string_view(b)}, true);
  c.EndWrite(f, ta, 0, {absl::string_view(a)}, true);
  ASSERT_TRUE(Read(c, f, 0, 2 * kChunk, &got));
  EXPECT_EQ(got, a + b);
}

TEST(ChunkCache, AFailedWriteOrAnInvalidatedOneIsNotServed) {
  ChunkCache c(64 * kChunk);
  const uint64_t f = c.NewFile();
  std::string got;
  Write(c, f, 0, Pattern(kChunk, 'a'), /*ok=*/false);
  EXPECT_FALSE(Read(c, f, 0, kChunk, &got));
  Write(c, f, 0, Pattern(2 * kChunk, 'a'));
  c.Invalidate(f, kChunk + 1, 1);  // its queued write failed
  EXPECT_TRUE(Read(c, f, 0, kChunk, &got));
  EXPECT_FALSE(Read(c, f, kChunk, kChunk, &got));
}

TEST(ChunkCache, AFillKeepsOnlyChunksNoWriteTouchedSinceItsTicket) {
  ChunkCache c(64 * kChunk);
  const uint64_t f = c.NewFile();
  std::string dev = Pattern(4 * kChunk, 'd');
  std::vector<absl::Span<char>> parts{absl::MakeSpan(&dev[0], dev.size())};
  // A write acknowledged after the ticket (a queued write the device may
  // not have had when it was read) voids its chunks, and only those.
  uint64_t ticket = c.FillTicket();
  Write(c, f, kChunk + 10, "x");
  c.Fill(f, ticket, 0, parts);
  std::string got;
  EXPECT_FALSE(Read(c, f, kChunk, kChunk, &got));
  ASSERT_TRUE(Read(c, f, 0, kChunk, &got));
  EXPECT_EQ(got, dev.substr(0, kChunk));
  ASSERT_TRUE(Read(c, f, 2 * kChunk, 2 * kChunk, &got));
  // A write under way (begun before the ticket, not ended) voids its chunk
  // too.
  c.Invalidate(f, 0, 4 * kChunk);
  ChunkCache::WriteTicket t = c.BeginWrite(f, 2 * kChunk, 1);
  ticket = c.FillTicket();
  c.Fill(f, ticket, 0, parts);
  EXPECT_FALSE(Read(c, f, 2 * kChunk, kChunk, &got));
  EXPECT_TRUE(Read(c, f, 3 * kChunk, kChunk, &got));
  const std::string x = "x";
  c.EndWrite(f, t, 2 * kChunk, {absl::string_view(x)}, true);
  // The same when the write in flight at the ticket ends before the fill:
  // the device may have been read before the write reached it.
  const uint64_t g = c.NewFile();
  t = c.BeginWrite(g, 2 * kChunk, 1);
  ticket = c.FillTicket();
  c.EndWrite(g, t, 2 * kChunk, {absl::string_view(x)}, true);
  c.Fill(g, ticket, 0, parts);
  EXPECT_FALSE(Read(c, g, 2 * kChunk, kChunk, &got));
  EXPECT_TRUE(Read(c, g, 3 * kChunk, kChunk, &got));
  // Other files' writes do not matter.
  c.Invalidate(f, 0, 4 * kChunk);
  ticket = c.FillTicket();
  Write(c, c.NewFile(), 0, Pattern(kChunk, 'o'));
  // Undisturbed, the whole chunks of an unaligned range are kept.
  std::vector<absl::Span<char>> tail{absl::MakeSpan(&dev[100], dev.size() - 100)};
  c.Fill(f, ticket, 100, tail);
  EXPECT_FALSE(Read(c, f, 0, kChunk, &got)) << "chunk 0 was read in part";
  ASSERT_TRUE(Read(c, f, kChunk, 3 * kChunk, &got));
  EXPECT_EQ(got, dev.substr(kChunk, 3 * kChunk));
}

TEST(ChunkCache, ItHoldsAtMostItsCapacityAndEvictsTheLeastUsed) {
  ChunkCache c(4 * kChunk);
  ASSERT_EQ(c.capacity_chunks(), 4u);
  const uint64_t f = c.NewFile();
  Write(c, f, 0, Pattern(4 * kChunk, 'a'));
  std::string got;
  // Chunk 0 is read again: it survives the next installs.
  ASSERT_TRUE(Read(c, f, 0, kChunk, &got));
  Write(c, f, 10 * kChunk, Pattern(2 * kChunk, 'b'));
  ChunkCache::Stats s = c.stats();
  EXPECT_EQ(s.cached_chunks, 4u);
  EXPECT_GE(s.evicted, 2u);
  EXPECT_TRUE(Read(c, f, 10 * kChunk, 2 * kChunk, &got));
  EXPECT_EQ(got, Pattern(2 * kChunk, 'b'));
}

// The lent bytes, end to end.
std::string Joined(const std::vector<absl::string_view>& pieces) {
  std::string s;
  for (absl::string_view p : pieces) s.append(p.data(), p.size());
  return s;
}

TEST(ChunkCache, LentChunksStayAsTheyWereAndInPlaceUntilLetGo) {
  auto c = std::make_shared<ChunkCache>(4 * kChunk);
  const uint64_t f = c->NewFile();
  const std::string old = Pattern(4 * kChunk, 'a');
  Write(*c, f, 0, old);
  std::vector<absl::string_view> pieces;
  EXPECT_TRUE(c->Holds(f, 100, 4 * kChunk - 100));
  EXPECT_FALSE(c->Holds(f, 3 * kChunk, 2 * kChunk));
  EXPECT_EQ(c->Lend(f, 3 * kChunk, 2 * kChunk, &pieces), nullptr)
      << "chunk 4 is not cached: nothing lent";
  // Unaligned, over three chunks: one piece per chunk.
  std::shared_ptr<const void> loan =
      c->Lend(f, kChunk / 2, 2 * kChunk + 100, &pieces);
  ASSERT_NE(loan, nullptr);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].size(), kChunk / 2);
  EXPECT_EQ(Joined(pieces), old.substr(kChunk / 2, 2 * kChunk + 100));
  // Rewritten, and the cache filled to the brim with other chunks while
  // lent: the loan keeps its bytes, later reads see the new ones.
  const std::string now = Pattern(4 * kChunk, 'n');
  Write(*c, f, 0, now);
  Write(*c, f, 8 * kChunk, Pattern(4 * kChunk, 'z'));
  EXPECT_EQ(Joined(pieces), old.substr(kChunk / 2, 2 * kChunk + 100));
  std::string got;
  if (Read(*c, f, kChunk, kChunk, &got)) {  // (kept if a slot was free)
    EXPECT_EQ(got, now.substr(kChunk, kChunk));
  }
  // The loan keeps the cache too, after its owner lets go.
  std::weak_ptr<ChunkCache> watch = c;
  c.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(Joined(pieces), old.substr(kChunk / 2, 2 * kChunk + 100));
  loan.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(ChunkCache, LentSlotsGoBackToUseOnceLetGo) {
  auto c = std::make_shared<ChunkCache>(2 * kChunk);
  const uint64_t f = c->NewFile();
  Write(*c, f, 0, Pattern(2 * kChunk, 'a'));
  std::vector<absl::string_view> pieces;
  std::shared_ptr<const void> loan = c->Lend(f, 0, 2 * kChunk, &pieces);
  ASSERT_NE(loan, nullptr);
  // Every slot pinned: another write finds no room.
  Write(*c, f, 4 * kChunk, Pattern(kChunk, 'b'));
  std::string got;
  EXPECT_FALSE(Read(*c, f, 4 * kChunk, kChunk, &got));
  EXPECT_EQ(Joined(pieces), Pattern(2 * kChunk, 'a'));
  // A write drops a lent chunk; its slot is free once the loan goes.
  Write(*c, f, 0, Pattern(kChunk, 'c'));
  loan.reset();
  Write(*c, f, 4 * kChunk, Pattern(kChunk, 'b'));
  ASSERT_TRUE(Read(*c, f, 4 * kChunk, kChunk, &got));
  EXPECT_EQ(got, Pattern(kChunk, 'b'));
  // A cache not owned by a shared_ptr lends nothing (it could not outlive
  // its owner).
  ChunkCache plain(2 * kChunk);
  const uint64_t g = plain.NewFile();
  Write(plain, g, 0, Pattern(kChunk, 'p'));
  EXPECT_EQ(plain.Lend(g, 0, kChunk, &pieces), nullptr);
  ASSERT_TRUE(Read(plain, g, 0, kChunk, &got));
}

TEST(ChunkCache, AWriteFromABorrowedRunIsPublishedInPlace) {
  auto c = std::make_shared<ChunkCache>(64 * kChunk);
  const uint64_t f = c->NewFile();
  // A record of 100 header bytes and 4 chunks of data, as a WRITE arrives.
  std::shared_ptr<char> run = c->BorrowRun(100, 100 + 4 * kChunk);
  ASSERT_NE(run, nullptr);
  char* data = run.get() + 100;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % kChunk, 0u);
  const std::string want = Pattern(4 * kChunk, 'r');
  memcpy(data, want.data(), want.size());
  ChunkCache::WriteTicket t = c->BeginWrite(f, 2 * kChunk, 4 * kChunk);
  c->EndWrite(f, t, 2 * kChunk, {absl::string_view(data, 4 * kChunk)}, true);
  EXPECT_EQ(c->stats().adopted, 4u);
  EXPECT_EQ(c->stats().installed, 4u);
  // Served from where the bytes were received: lent pieces point there.
  std::vector<absl::string_view> pieces;
  std::shared_ptr<const void> loan = c->Lend(f, 2 * kChunk, 4 * kChunk, &pieces);
  ASSERT_NE(loan, nullptr);
  ASSERT_EQ(pieces.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(pieces[i].data(), data + i * kChunk);
  loan.reset();
  // The run given back, the chunks stay cached, and every other slot of
  // the cache is usable again.
  run.reset();
  std::string got;
  ASSERT_TRUE(Read(*c, f, 2 * kChunk, 4 * kChunk, &got));
  EXPECT_EQ(got, want);
  const uint64_t g = c->NewFile();
  Write(*c, g, 0, Pattern(60 * kChunk, 'o'));
  EXPECT_EQ(c->stats().cached_chunks, 64u);
  EXPECT_EQ(c->stats().evicted, 0u);
}

TEST(ChunkCache, BorrowedBytesThatAreNoWholeChunkAreCopied) {
  auto c = std::make_shared<ChunkCache>(64 * kChunk);
  const uint64_t f = c->NewFile();
  std::shared_ptr<char> run = c->BorrowRun(0 + 200, 200 + 3 * kChunk);
  ASSERT_NE(run, nullptr);
  char* data = run.get() + 200;
  const std::string want = Pattern(3 * kChunk, 'm');
  memcpy(data, want.data(), want.size());
  // Written half a chunk off: its whole chunks are not whole slots.
  ChunkCache::WriteTicket t = c->BeginWrite(f, kChunk / 2, 3 * kChunk);
  c->EndWrite(f, t, kChunk / 2, {absl::string_view(data, 3 * kChunk)}, true);
  EXPECT_EQ(c->stats().adopted, 0u);
  EXPECT_EQ(c->stats().installed, 2u);
  // Copies: unchanged when the run's memory is reused.
  memset(data, 'x', 3 * kChunk);
  run.reset();
  std::string got;
  ASSERT_TRUE(Read(*c, f, kChunk, 2 * kChunk, &got));
  EXPECT_EQ(got, want.substr(kChunk / 2, 2 * kChunk));
}

TEST(ChunkCache, ARunKeepsItsPublishedSlotsUntilGivenBack) {
  auto c = std::make_shared<ChunkCache>(16 * kChunk);
  const uint64_t f = c->NewFile();
  std::shared_ptr<char> run = c->BorrowRun(64, 64 + 2 * kChunk);  // 3 slots
  ASSERT_NE(run, nullptr);
  memcpy(run.get() + 64, Pattern(2 * kChunk, 'k').data(), 2 * kChunk);
  ChunkCache::WriteTicket t = c->BeginWrite(f, 0, 2 * kChunk);
  c->EndWrite(f, t, 0, {absl::string_view(run.get() + 64, 2 * kChunk)}, true);
  ASSERT_EQ(c->stats().adopted, 2u);
  // A later write drops chunk 0; its slot (the run's memory) is not
  // reused while the run is out, so filling every other slot leaves
  // chunk 1 (still published) and the dropped slot alone.
  Write(*c, f, 0, Pattern(kChunk / 2, 'w'));
  const uint64_t g = c->NewFile();
  Write(*c, g, 0, Pattern(16 * kChunk, 'g'));
  std::string got;
  ASSERT_TRUE(Read(*c, f, kChunk, kChunk, &got));
  EXPECT_EQ(got, Pattern(2 * kChunk, 'k').substr(kChunk));
  EXPECT_EQ(c->stats().cached_chunks, 14u);  // 13 of g's, and chunk 1
  // Given back: the header slot and dropped chunk 0's slot are free again.
  run.reset();
  Write(*c, g, 32 * kChunk, Pattern(2 * kChunk, 'h'));
  ASSERT_TRUE(Read(*c, g, 32 * kChunk, 2 * kChunk, &got));
  EXPECT_EQ(c->stats().cached_chunks, 16u);
}

TEST(ChunkCache, RunsAreBoundedAndNeedAnOwner) {
  auto c = std::make_shared<ChunkCache>(64 * kChunk);
  // At most a quarter of the arena is out at once.
  std::shared_ptr<char> a = c->BorrowRun(10, 10 + 15 * kChunk);  // 16 slots
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(c->BorrowRun(10, 10 + kChunk), nullptr);
  a.reset();
  EXPECT_NE(c->BorrowRun(10, 10 + kChunk), nullptr);
  EXPECT_EQ(c->BorrowRun(kChunk, 2 * kChunk), nullptr) << "lead past a slot";
  // Pinned slots are never taken: with every slot lent, no run.
  const uint64_t f = c->NewFile();
  Write(*c, f, 0, Pattern(64 * kChunk, 'p'));
  std::vector<absl::string_view> pieces;
  std::shared_ptr<const void> loan = c->Lend(f, 0, 64 * kChunk, &pieces);
  ASSERT_NE(loan, nullptr);
  EXPECT_EQ(c->BorrowRun(10, 10 + kChunk), nullptr);
  loan.reset();
  // Unpinned ones are (after a second chance), evicting what they held.
  EXPECT_NE(c->BorrowRun(10, 10 + kChunk), nullptr);
  EXPECT_EQ(c->stats().evicted, 2u);
  ChunkCache plain(64 * kChunk);
  EXPECT_EQ(plain.BorrowRun(10, 10 + kChunk), nullptr);
}

TEST(ChunkCache, ForgetDropsOnlyThatFile) {
  ChunkCache c(16 * kChunk);
  const uint64_t f = c.NewFile(), g = c.NewFile();
  Write(c, f, 0, Pattern(kChunk, 'f'));
  Write(c, g, 0, Pattern(kChunk, 'g'));
  c.Forget(f);
  std::string got;
  EXPECT_FALSE(Read(c, f, 0, kChunk, &got));
  ASSERT_TRUE(Read(c, g, 0, kChunk, &got));
  EXPECT_EQ(got, Pattern(kChunk, 'g'));
  EXPECT_EQ(c.stats().cached_chunks, 1u);
}

TEST(ChunkCache, ASmallMissReadsItsWholeChunkInOnce) {
  ChunkCache c(4 * kChunk);
  const uint64_t f = c.NewFile();
  const std::string dev = Pattern(4 * kChunk, 'd');
  int reads = 0;
  ChunkCache::ChunkReader read = [&](uint64_t at, char* buf, size_t len) {
    ++reads;
    EXPECT_EQ(at % kChunk, 0u);
    EXPECT_EQ(len, kChunk);
    std::memcpy(buf, dev.data() + at, len);
    return absl::OkStatus();
  };
  std::string got(4096, '?');
  absl::Status st;
  ASSERT_TRUE(c.ReadChunkThrough(f, kChunk + 8192, c.FillTicket(), {absl::MakeSpan(got)},
                                 read, &st));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(got, dev.substr(kChunk + 8192, 4096));
  EXPECT_EQ(reads, 1);
  // The rest of the chunk is there now.
  std::string rest;
  ASSERT_TRUE(Read(c, f, kChunk, kChunk, &rest));
  EXPECT_EQ(rest, dev.substr(kChunk, kChunk));
  // A range across two chunks is not handled; nor is a chunk with a write
  // under way, or written since the ticket. Writes of other chunks do not
  // get in the way.
  EXPECT_FALSE(c.ReadChunkThrough(f, 2 * kChunk - 10, c.FillTicket(), {absl::MakeSpan(got)},
                                  read, &st));
  ChunkCache::WriteTicket t = c.BeginWrite(f, 100, 1);
  EXPECT_FALSE(c.ReadChunkThrough(f, 8192, c.FillTicket(), {absl::MakeSpan(got)}, read, &st));
  const std::string one = "1";
  c.EndWrite(f, t, 100, {absl::string_view(one)}, true);
  uint64_t ticket = c.FillTicket();
  Write(c, f, 100, "2");
  EXPECT_FALSE(c.ReadChunkThrough(f, 8192, ticket, {absl::MakeSpan(got)}, read, &st));
  EXPECT_EQ(reads, 1);
  t = c.BeginWrite(f, 3 * kChunk, 1);
  ASSERT_TRUE(c.ReadChunkThrough(f, 2 * kChunk, c.FillTicket(), {absl::MakeSpan(got)}, read,
                                 &st));
  c.EndWrite(f, t, 3 * kChunk, {absl::string_view(one)}, true);
  EXPECT_EQ(reads, 2);
  EXPECT_TRUE(Read(c, f, 2 * kChunk, kChunk, &rest));
  // A write of the chunk that begins during the device read: the caller
  // gets its bytes, the cache keeps nothing.
  ChunkCache::ChunkReader racing = [&](uint64_t at, char* buf, size_t len) {
    Write(c, f, 1000, "w");
    std::memcpy(buf, dev.data() + at, len);
    return absl::OkStatus();
  };
  ASSERT_TRUE(c.ReadChunkThrough(f, 8192, c.FillTicket(), {absl::MakeSpan(got)}, racing, &st));
  EXPECT_EQ(got, dev.substr(8192, 4096));
  EXPECT_FALSE(Read(c, f, 0, kChunk, &rest));
  // A failed device read keeps nothing and says why.
  ChunkCache::ChunkReader failing = [](uint64_t, char*, size_t) {
    return absl::DataLossError("bad sector");
  };
  ASSERT_TRUE(c.ReadChunkThrough(f, 8192, c.FillTicket(), {absl::MakeSpan(got)}, failing,
                                 &st));
  EXPECT_TRUE(absl::IsDataLoss(st));
  EXPECT_FALSE(Read(c, f, 0, kChunk, &rest));
}

TEST(ChunkCache, NoCapacityMeansNoCache) {
  ChunkCache c(kChunk - 1);
  EXPECT_FALSE(c.usable());
  const uint64_t f = c.NewFile();
  Write(c, f, 0, Pattern(kChunk, 'a'));
  std::string got;
  EXPECT_FALSE(Read(c, f, 0, kChunk, &got));
}

}  // namespace
}  // namespace vnas::storage
