// client_addr.cc — see client_addr.h.
#include "server/nfs/client_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <unistd.h>

#include <cstring>

namespace vnas::nfs {
namespace {

// ::ffff:0:0/96
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

ClientAddr ClientAddr::V4(uint32_t host_order) {
  ClientAddr a;
  std::memcpy(a.b_.data(), kMappedPrefix, 12);
  a.b_[12] = static_cast<uint8_t>(host_order >> 24);
  a.b_[13] = static_cast<uint8_t>(host_order >> 16);
  a.b_[14] = static_cast<uint8_t>(host_order >> 8);
  a.b_[15] = static_cast<uint8_t>(host_order);
  return a;
}

ClientAddr ClientAddr::V6(const uint8_t bytes[16]) {
  ClientAddr a;
  std::memcpy(a.b_.data(), bytes, 16);
  return a;
}

std::optional<ClientAddr> ClientAddr::FromSockaddr(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof(in));
    return V4(ntohl(in.sin_addr.s_addr));
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof(in6));
    return V6(in6.sin6_addr.s6_addr);
  }
  return std::nullopt;
}

std::optional<ClientAddr> ClientAddr::Parse(absl::string_view text) {
  const std::string s(text);
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) return V4(ntohl(a4.s_addr));
  in6_addr a6;
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) return V6(a6.s6_addr);
  return std::nullopt;
}

bool ClientAddr::is_v4() const {
  return std::memcmp(b_.data(), kMappedPrefix, 12) == 0;
}

uint32_t ClientAddr::v4() const {
  return uint32_t{b_[12]} << 24 | uint32_t{b_[13]} << 16 |
         uint32_t{b_[14]} << 8 | uint32_t{b_[15]};
}

std::string ClientAddr::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) {
    in_addr a4;
    std::memcpy(&a4.s_addr, b_.data() + 12, 4);
    return inet_ntop(AF_INET, &a4, buf, sizeof(buf)) ? buf : "?";
  }
  in6_addr a6;
  std::memcpy(a6.s6_addr, b_.data(), 16);
  return inet_ntop(AF_INET6, &a6, buf, sizeof(buf)) ? buf : "?";
}

ClientAddr ClientAddr::Masked(int bits) const {
  ClientAddr m = *this;
  for (int i = 0; i < 16; ++i) {
    const int keep = bits - i * 8;  // bits of byte i to keep
    if (keep >= 8) continue;
    m.b_[i] = keep <= 0 ? 0 : static_cast<uint8_t>(m.b_[i] & (0xff << (8 - keep)));
  }
  return m;
}

bool ClientAddr::InNetwork(const ClientAddr& network, int bits) const {
  return Masked(bits) == network.Masked(bits);
}

bool HostHasIpv6Loopback() {
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  close(fd);
  return ok;
}

}  // namespace vnas::nfs
