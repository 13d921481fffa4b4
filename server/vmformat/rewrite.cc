// rewrite.cc — placeholder until the rewriter lands.
#include "server/vmformat/rewrite.h"

#include "absl/status/status.h"

namespace vnas::vmformat {
namespace {
absl::Status Todo() { return absl::UnimplementedError("rewrite: not implemented yet"); }
}  // namespace

absl::StatusOr<RenameMap> ProposeRenameMap(absl::Span<const std::string>,
                                           absl::string_view, absl::string_view) {
  return Todo();
}
absl::StatusOr<std::string> RewriteVmdkDescriptor(absl::string_view, const RenameMap&) {
  return Todo();
}
absl::StatusOr<std::string> RewriteVmdkDescriptorCids(absl::string_view, const RenameMap&,
                                                      absl::string_view, absl::string_view) {
  return Todo();
}
absl::StatusOr<std::vector<DescriptorEdit>> RewriteVmdkSet(absl::Span<const FileSample>,
                                                           const RenameMap&,
                                                           const RewriteOptions&) {
  return Todo();
}
absl::StatusOr<std::string> RewriteVmx(absl::string_view, const RenameMap&, absl::string_view) {
  return Todo();
}
absl::StatusOr<std::string> RewriteVmsd(absl::string_view, const RenameMap&) { return Todo(); }

}  // namespace vnas::vmformat
