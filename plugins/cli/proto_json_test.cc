#include "plugins/cli/proto_json.h"

#include "gtest/gtest.h"
#include "proto/vnas.pb.h"

namespace vnas::cli {
namespace {

TEST(ProtoJsonTest, NumbersEnumsNestedRepeated) {
  vnas::v1::Receipt r;
  r.set_seq(18446744073709551615ull);
  r.set_kind(vnas::v1::RECEIPT_CLONE_FILE);
  r.set_source("vm1/a \"x\"");
  r.set_offloaded(true);
  r.set_duration_us(-3);
  std::string j = ProtoToJson(r, /*pretty=*/false);
  EXPECT_NE(j.find("\"seq\":18446744073709551615"), std::string::npos) << j;
  EXPECT_NE(j.find("\"kind\":\"RECEIPT_CLONE_FILE\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"source\":\"vm1/a \\\"x\\\"\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"offloaded\":true"), std::string::npos) << j;
  EXPECT_NE(j.find("\"duration_us\":-3"), std::string::npos) << j;
  EXPECT_NE(j.find("\"dry_run\":false"), std::string::npos) << j;  // defaults present

  vnas::v1::GetChainResponse c;
  c.add_disks()->set_file("vm.vmdk");
  c.add_findings_block(true);
  j = ProtoToJson(c, false);
  EXPECT_NE(j.find("\"disks\":[{\"file\":\"vm.vmdk\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"findings_block\":[true]"), std::string::npos) << j;
  EXPECT_NE(j.find("\"clone_vm\":null"), std::string::npos) << j;  // unset message
}

}  // namespace
}  // namespace vnas::cli
