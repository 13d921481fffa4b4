// Tests of the C ABI: argument checks, error mapping and last-error text,
// against real (unreachable) loopback endpoints.
#include "plugins/host/vnas_offload.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

// A loopback session whose control endpoint (port 1) nothing listens on.
vnas_session_params UnreachableParams() {
  vnas_session_params p{};
  p.server = "127.0.0.1";
  p.control_endpoint = "127.0.0.1:1";
  p.timeout_ms = 3000;
  return p;
}

vnas_primitive_args CloneFileArgs(const char* src, const char* dst) {
  vnas_primitive_args a{};
  a.primitive = VNAS_PRIM_CLONE_FILE;
  a.src_path = src;
  a.dst_path = dst;
  return a;
}

TEST(VnasOffloadTest, StartValidates) {
  vnas_session* s = reinterpret_cast<vnas_session*>(1);
  EXPECT_EQ(vnas_session_start(nullptr, &s), VNAS_ERR_INVALID_ARGUMENT);
  vnas_session_params p{};
  EXPECT_EQ(vnas_session_start(&p, &s), VNAS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  EXPECT_THAT(vnas_last_error(nullptr), HasSubstr("server is required"));
  p.server = "127.0.0.1";
  p.api_version = 99;
  EXPECT_EQ(vnas_session_start(&p, &s), VNAS_ERR_UNSUPPORTED);
  p.api_version = VNAS_OFFLOAD_API_VERSION;
  p.export_path = "relative";
  EXPECT_EQ(vnas_session_start(&p, &s), VNAS_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(vnas_status_name(VNAS_ERR_REFUSED), "VNAS_ERR_REFUSED");
}

TEST(VnasOffloadTest, NothingReachableIsUnreachableWithText) {
  vnas_session_params p = UnreachableParams();
  p.export_path = "/vnas";
  p.nfs_port = 1;    // nothing listens on port 1
  p.mount_port = 1;
  vnas_session* s = nullptr;
  ASSERT_EQ(vnas_session_start(&p, &s), VNAS_OK);
  vnas_primitive_args a = CloneFileArgs("vm1/vm1.vmdk", "vm2/vm2.vmdk");
  vnas_primitive_result r;
  EXPECT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_ERR_UNREACHABLE);
  EXPECT_THAT(vnas_last_error(s), HasSubstr("UNREACHABLE"));
  EXPECT_THAT(vnas_last_error(s), HasSubstr("cannot mount"));

  a.primitive = VNAS_PRIM_EXTENDED_STATS;
  EXPECT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_ERR_UNREACHABLE);
  EXPECT_THAT(vnas_last_error(s), HasSubstr("is it running?"));

  a.primitive = VNAS_PRIM_CLONE_FILE;
  a.flags = VNAS_CLONE_NO_FALLBACK;
  EXPECT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_ERR_REFUSED);

  a.dst_path = nullptr;
  EXPECT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_ERR_INVALID_ARGUMENT);
  a.primitive = static_cast<vnas_primitive>(77);
  EXPECT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_ERR_UNSUPPORTED);
  vnas_session_end(s);
  vnas_session_end(nullptr);
}

TEST(VnasOffloadTest, DryRunNeverCopies) {
  vnas_session_params p = UnreachableParams();
  vnas_session* s = nullptr;
  ASSERT_EQ(vnas_session_start(&p, &s), VNAS_OK);
  vnas_primitive_args a = CloneFileArgs("a/b", "a/c");
  a.flags = VNAS_CLONE_DRYRUN;
  vnas_primitive_result r;
  ASSERT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_OK) << vnas_last_error(s);
  EXPECT_EQ(r.outcome, VNAS_OUTCOME_DRY_RUN);
  EXPECT_EQ(r.would_offload, 0);
  EXPECT_STREQ(r.reason_name, "UNREACHABLE");
  vnas_session_end(s);
}

}  // namespace
