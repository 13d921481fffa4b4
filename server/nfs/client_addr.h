// client_addr.h — a client's IP address, IPv4 or IPv6, as one value.
//
// An IPv4 address a.b.c.d is kept as the IPv4-mapped IPv6 address
// ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), the form in which a dual-stack socket
// reports an IPv4 peer, so an IPv4 client is the same value whichever kind
// of socket it came in on, and export rules, the duplicate-request cache
// and the MOUNT list handle both families alike.
//
// Thread safety: a value type.
#ifndef VNAS_SERVER_NFS_CLIENT_ADDR_H_
#define VNAS_SERVER_NFS_CLIENT_ADDR_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace vnas::nfs {

class ClientAddr {
 public:
  ClientAddr() = default;  // :: (no address)

  // IPv4, in host byte order (0x7f000001 is 127.0.0.1).
  static ClientAddr V4(uint32_t host_order);
  // 16 bytes in network order; an IPv4-mapped one is that IPv4 address.
  static ClientAddr V6(const uint8_t bytes[16]);
  // The address of an AF_INET or AF_INET6 socket address; nullopt for
  // other families.
  static std::optional<ClientAddr> FromSockaddr(const sockaddr* sa);
  // "a.b.c.d" or an IPv6 address in any RFC 4291 text form (no brackets,
  // no zone); nullopt when it is neither.
  static std::optional<ClientAddr> Parse(absl::string_view text);

  bool is_v4() const;
  // The IPv4 address in host byte order (only when is_v4()).
  uint32_t v4() const;
  const std::array<uint8_t, 16>& bytes() const { return b_; }
  // "a.b.c.d" for IPv4, RFC 5952 text for IPv6 ("::1").
  std::string ToString() const;
  // Whether the first `bits` bits (0..128, counted over the 16 bytes, so an
  // IPv4 prefix of n bits is 96 + n) equal `network`'s.
  bool InNetwork(const ClientAddr& network, int bits) const;
  // This address with all but the first `bits` bits cleared.
  ClientAddr Masked(int bits) const;

  friend bool operator==(const ClientAddr& a, const ClientAddr& b) {
    return a.b_ == b.b_;
  }
  friend bool operator!=(const ClientAddr& a, const ClientAddr& b) {
    return !(a == b);
  }
  friend bool operator<(const ClientAddr& a, const ClientAddr& b) {
    return a.b_ < b.b_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const ClientAddr& a) {
    return H::combine_contiguous(std::move(h), a.b_.data(), a.b_.size());
  }

 private:
  std::array<uint8_t, 16> b_{};
};

// Whether this host can bind the IPv6 loopback address ::1 (a kernel
// without IPv6, or a namespace with it disabled, cannot); tests of IPv6
// clients skip without it.
bool HostHasIpv6Loopback();

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_CLIENT_ADDR_H_
