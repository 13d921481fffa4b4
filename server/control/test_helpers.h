// test_helpers.h — small helpers shared by the control-plane tests: the
// in-process ones here and integration/control_e2e_test against a real vnasd.
#ifndef VNAS_SERVER_CONTROL_TEST_HELPERS_H_
#define VNAS_SERVER_CONTROL_TEST_HELPERS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "grpcpp/grpcpp.h"

namespace vnas::control::testing {

// `n` pseudo-random bytes (xorshift32), the same for the same `seed`.
std::string Pattern(size_t n, uint32_t seed);

// Trailing metadata value of a finished call ("" when absent).
std::string Trailer(const grpc::ClientContext& ctx, const std::string& key);

}  // namespace vnas::control::testing

#endif  // VNAS_SERVER_CONTROL_TEST_HELPERS_H_
