// qemu_img_testutil.h — test helpers: run the real qemu-img to make disk
// images in $TEST_TMPDIR, and sample files the way the store hands them to
// the analyzer.
#ifndef VNAS_SERVER_VMFORMAT_QEMU_IMG_TESTUTIL_H_
#define VNAS_SERVER_VMFORMAT_QEMU_IMG_TESTUTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/vmformat/chain.h"

namespace vnas::vmformat::testing {

inline constexpr char kQemuImg[] = "/usr/bin/qemu-img";

// A fresh empty directory $TEST_TMPDIR/<name> (removed first if present).
std::string FreshDir(const std::string& name);

// Runs `qemu-img <args...>` with `dir` as working directory. Errors:
// FailedPrecondition when qemu-img is missing (message says how to install
// it), Internal with qemu-img's output when it exits non-zero.
absl::Status RunQemuImg(const std::string& dir,
                        const std::vector<std::string>& args);

// Reads `len` bytes at `offset` of dir/name (fewer at EOF).
absl::StatusOr<std::string> ReadRange(const std::string& path, uint64_t offset,
                                      uint64_t len);

// Writes `bytes` to path (truncating).
absl::Status WriteFile(const std::string& path, const std::string& bytes);

// Samples one file: name, size, mtime and the first kSampleBytes.
absl::StatusOr<FileSample> SampleFile(const std::string& dir,
                                      const std::string& name);

// Samples every regular file of `dir`, sorted by name.
absl::StatusOr<std::vector<FileSample>> SampleDir(const std::string& dir);

// Turns a whole qemu-made base VHDX (`base`, every byte of the file) into a
// differencing disk: sets File Parameters HasParent and adds a Parent Locator
// item (parent_linkage, relative_path, absolute_win32_path) at metadata
// offset 128 KiB. ASCII values only. Returns the new file bytes.
absl::StatusOr<std::string> MakeDifferencingVhdx(
    const std::string& base, const std::string& relative_path,
    const std::string& parent_linkage);

// The DataWriteGuid of a qemu-made VHDX (`file` holds at least its first
// 68 KiB), as "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" — what a child's
// parent_linkage must say. Reads the first header (at 64 KiB).
absl::StatusOr<std::string> VhdxDataWriteGuid(const std::string& file);

// Fills `file.extra` the way a careful caller does: asks WantedRanges() and
// reads them from dir/name until nothing more is wanted. Returns the number
// of rounds.
absl::StatusOr<int> FetchWantedRanges(const std::string& dir, FileSample* file);

}  // namespace vnas::vmformat::testing

#endif  // VNAS_SERVER_VMFORMAT_QEMU_IMG_TESTUTIL_H_
