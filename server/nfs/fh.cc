// fh.cc — file handle codec (format in fh.h).
#include "server/nfs/fh.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/base/status_util.h"

namespace vnas::nfs {
namespace {

uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

uint64_t Load64Le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void Store64Be(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t Load64Be(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

uint64_t SipHash24(const HandleKey& key, absl::string_view data) {
  uint64_t k0 = Load64Le(key.data()), k1 = Load64Le(key.data() + 8);
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
  uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
  uint64_t v3 = 0x7465646279746573ULL ^ k1;
  auto round = [&] {
    v0 += v1; v1 = Rotl(v1, 13); v1 ^= v0; v0 = Rotl(v0, 32);
    v2 += v3; v3 = Rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = Rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = Rotl(v1, 17); v1 ^= v2; v2 = Rotl(v2, 32);
  };
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  size_t full = n / 8 * 8;
  for (size_t i = 0; i < full; i += 8) {
    uint64_t m = Load64Le(p + i);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  uint64_t b = static_cast<uint64_t>(n) << 56;
  for (size_t i = 0; i < n - full; ++i) {
    b |= static_cast<uint64_t>(p[full + i]) << (8 * i);
  }
  v3 ^= b;
  round();
  round();
  v0 ^= b;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

FhBytes FileHandleCodec::Encode(uint32_t export_index, uint64_t ino,
                                uint64_t generation) const {
  FhBytes fh;
  char* p = fh.bytes.data();
  p[0] = static_cast<char>(kHandleVersion);
  p[1] = static_cast<char>(export_index);
  p[2] = p[3] = 0;
  Store64Be(p + 4, ino);
  Store64Be(p + 12, generation);
  uint64_t mac = SipHash24(key_, absl::string_view(p, 20));
  for (int i = 0; i < 8; ++i) p[20 + i] = static_cast<char>(mac >> (8 * i));
  fh.len = kHandleSize;
  return fh;
}

std::optional<DecodedHandle> FileHandleCodec::Decode(
    absl::string_view h) const {
  if (h.size() != kHandleSize) return std::nullopt;
  if (static_cast<uint8_t>(h[0]) != kHandleVersion || h[2] != 0 || h[3] != 0) {
    return std::nullopt;
  }
  uint64_t mac = SipHash24(key_, h.substr(0, 20));
  uint8_t diff = 0;
  for (int i = 0; i < 8; ++i) {
    diff |= static_cast<uint8_t>(h[20 + i]) ^ static_cast<uint8_t>(mac >> (8 * i));
  }
  if (diff != 0) return std::nullopt;
  DecodedHandle d;
  d.export_index = static_cast<uint8_t>(h[1]);
  d.ino = Load64Be(h.data() + 4);
  d.generation = Load64Be(h.data() + 12);
  if (d.ino == 0) return std::nullopt;
  return d;
}

absl::StatusOr<HandleKey> LoadOrCreateHandleKey(const std::string& path) {
  HandleKey key;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, key.data(), key.size());
    int err = errno;
    char extra;
    ssize_t more = n == static_cast<ssize_t>(key.size()) ? read(fd, &extra, 1) : 0;
    close(fd);
    if (n < 0) return IoError(err, "read " + path);
    if (n != static_cast<ssize_t>(key.size()) || more != 0) {
      return absl::FailedPreconditionError("handle key " + path +
                                           " has the wrong size");
    }
    return key;
  }
  if (errno != ENOENT) return IoError(errno, "open " + path);
  int rnd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (rnd < 0) return IoError(errno, "open /dev/urandom");
  ssize_t n = read(rnd, key.data(), key.size());
  close(rnd);
  if (n != static_cast<ssize_t>(key.size())) {
    return IoError(EIO, "read /dev/urandom");
  }
  std::string tmp = path + ".tmp";
  fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError(errno, "create " + tmp);
  if (write(fd, key.data(), key.size()) != static_cast<ssize_t>(key.size()) ||
      fsync(fd) != 0) {
    int err = errno;
    close(fd);
    return IoError(err, "write " + tmp);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return IoError(errno, "rename " + tmp);
  }
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  if (dir.empty()) dir = ".";
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return key;
}

}  // namespace vnas::nfs
