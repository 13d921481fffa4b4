#include "server/nfs/block_pool.h"

#include <sys/mman.h>

#include <cstdint>

namespace vnas::nfs {
namespace {

constexpr int kMinShift = 16;  // kMinBlock == 1 << kMinShift
constexpr int kClasses = 25;   // 64 KiB .. 4 MiB, four per power of two
constexpr size_t kPage = 4096;

// Class c (0 <= c < kClasses) holds blocks of ClassSize(c) bytes.
size_t ClassSize(int c) {
  if (c == 0) return size_t{1} << kMinShift;
  const int k = kMinShift + (c - 1) / 4;
  const int j = (c - 1) % 4 + 1;
  return (size_t{1} << k) + j * (size_t{1} << (k - 2));
}

void* Map(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

static_assert(BlockPool::kMinBlock == size_t{1} << kMinShift, "class table");

int BlockPool::ClassOf(size_t n) {
  if (n <= kMinBlock) return 0;
  if (n > kMaxBlock) return -1;
  // 2^k < n <= 2^(k+1); steps of 2^(k-2) above 2^k.
  const int k = 63 - __builtin_clzll(static_cast<unsigned long long>(n - 1));
  const size_t step = size_t{1} << (k - 2);
  const size_t j = (n - (size_t{1} << k) + step - 1) / step;  // 1..4
  return (k - kMinShift) * 4 + static_cast<int>(j);
}

size_t BlockPool::BlockSize(size_t n) {
  const int c = ClassOf(n);
  return c >= 0 ? ClassSize(c) : (n + kPage - 1) & ~(kPage - 1);
}

BlockPool::BlockPool(size_t capacity) : capacity_(capacity), free_(kClasses) {}

BlockPool::~BlockPool() {
  absl::MutexLock l(&mu_);
  for (int c = 0; c < kClasses; ++c) {
    for (void* p : free_[c]) ::munmap(p, ClassSize(c));
  }
}

BlockPool& BlockPool::Global() {
  static BlockPool* pool = new BlockPool();  // never destroyed: used at exit
  return *pool;
}

void* BlockPool::Get(size_t n) {
  const int c = ClassOf(n);
  if (c >= 0) {
    absl::MutexLock l(&mu_);
    if (!free_[c].empty()) {
      void* p = free_[c].back();
      free_[c].pop_back();
      cached_ -= ClassSize(c);
      return p;
    }
    ++maps_;
  }
  return Map(BlockSize(n));
}

void BlockPool::Put(void* block, size_t n) {
  if (block == nullptr) return;
  const int c = ClassOf(n);
  if (c >= 0) {
    absl::MutexLock l(&mu_);
    if (cached_ + ClassSize(c) <= capacity_) {
      free_[c].push_back(block);
      cached_ += ClassSize(c);
      return;
    }
  }
  ::munmap(block, BlockSize(n));
}

void BlockPool::SetCapacity(size_t bytes) {
  std::vector<std::pair<void*, size_t>> drop;
  {
    absl::MutexLock l(&mu_);
    capacity_ = bytes;
    // Largest classes first: they free the most per unmap.
    for (int c = kClasses - 1; c >= 0 && cached_ > capacity_; --c) {
      while (!free_[c].empty() && cached_ > capacity_) {
        drop.emplace_back(free_[c].back(), ClassSize(c));
        free_[c].pop_back();
        cached_ -= ClassSize(c);
      }
    }
  }
  for (auto& [p, size] : drop) ::munmap(p, size);
}

size_t BlockPool::capacity() const {
  absl::MutexLock l(&mu_);
  return capacity_;
}

size_t BlockPool::cached_bytes() const {
  absl::MutexLock l(&mu_);
  return cached_;
}

size_t BlockPool::maps() const {
  absl::MutexLock l(&mu_);
  return maps_;
}

}  // namespace vnas::nfs
