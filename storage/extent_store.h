// extent_store.h — the public API of the vnas extent store.
//
// The extent store keeps every file of a datastore. File data lives in
// segment-aligned extents inside N data files ("members"); the metadata
// (namespace, extent maps, reference counts, free space, accounting) lives in
// RocksDB. Extents and extent-map pages are reference counted, so clones and
// snapshots share data instead of copying it.
//
// This header knows no protocol: the NFS front end and the gRPC control plane
// in server/ both call it, and meet only here.
//
// Thread safety: an ExtentStore is safe for concurrent use by any number of
// threads. Every metadata change is one atomic RocksDB write batch.
//
// Errors: failures are absl::Status values built with vnas::FsError(), so they
// carry the POSIX errno ("vnas.errno" payload, see storage/base/status_util.h)
// that the NFS front end maps to nfsstat3:
//   ENOENT   no such name / inode (NotFound)
//   ESTALE   inode number exists no more or generation differs
//   EEXIST   name exists
//   ENOTDIR  / EISDIR / ENOTEMPTY / EINVAL / ENAMETOOLONG (> 255 bytes)
//   ENOSPC   no free space: capacity, the metadata reserve on the file
//            systems (StoreOptions.metadata_reserve), or RocksDB's own
//            writes failing ENOSPC (then retryable: the store reloads its
//            in-memory state from RocksDB, keeps serving reads, and resumes
//            RocksDB on the next mutation). Reserved ranges see it only when
//            something outside the store ate the file system's free space
//            or the metadata itself cannot be written.
//   EFBIG    beyond the maximum file size
//   EXDEV    operation across snapshot / live namespaces
//   EROFS    modifying a snapshot (read-only) inode
//   EIO      member or RocksDB I/O failure (tagged data-loss or retryable)
//   kGuardMismatchErrno  SetAttr guard ctime mismatch (NFS3ERR_NOT_SYNC)
#ifndef VNAS_STORAGE_EXTENT_STORE_H_
#define VNAS_STORAGE_EXTENT_STORE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/base/lent_bytes.h"

namespace vnas::storage {

class Env;

// The errno carried by SetAttr when the guard ctime does not match
// (NFS3ERR_NOT_SYNC). Not a real POSIX errno of Linux's; chosen out of range.
inline constexpr int kGuardMismatchErrno = 10002;

using InodeId = uint64_t;

// The root directory of the live namespace. Never 0; fileids are never 0.
inline constexpr InodeId kRootInode = 1;

enum class FileType : uint8_t {
  kRegular = 1,
  kDirectory = 2,
  kSymlink = 3,
};

// Nanosecond wall-clock time.
struct Timespec {
  int64_t sec = 0;
  uint32_t nsec = 0;
  friend bool operator==(const Timespec& a, const Timespec& b) {
    return a.sec == b.sec && a.nsec == b.nsec;
  }
  friend bool operator!=(const Timespec& a, const Timespec& b) {
    return !(a == b);
  }
};

// Attributes of one inode, as the store keeps them.
struct Attr {
  InodeId ino = 0;          // fileid: unique, stable, never reused
  uint64_t generation = 0;  // for handles: (ino, generation) names one object
  FileType type = FileType::kRegular;
  uint32_t mode = 0;        // permission bits only (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;        // logical size in bytes (symlink: target length)
  uint64_t allocated = 0;   // bytes of segments mapped (shared or not)
  Timespec atime, mtime, ctime;
  bool read_only = false;   // snapshot inodes are read-only
};

// The pre-operation attributes NFS's wcc_data wants (RFC 1813 §2.6), taken
// atomically with the change.
struct WccAttr {
  uint64_t size = 0;
  Timespec mtime, ctime;
};

// What a change did to one object: its attributes just before and just after.
struct Change {
  WccAttr before;
  Attr after;
};

// SetAttr's request. Unset fields are left alone.
struct SetAttrRequest {
  std::optional<uint32_t> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;  // truncate or extend (sparse)
  enum class TimeHow { kDontChange, kServerTime, kClientTime };
  TimeHow atime_how = TimeHow::kDontChange;
  TimeHow mtime_how = TimeHow::kDontChange;
  Timespec atime, mtime;         // used with kClientTime
  // When set and the object's ctime differs, nothing changes and the call
  // fails with errno kGuardMismatchErrno.
  std::optional<Timespec> guard_ctime;
};

// Create's request for a regular file.
struct CreateRequest {
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
  enum class How { kUnchecked, kGuarded, kExclusive };
  How how = How::kUnchecked;
  // kUnchecked: an existing regular file is kept (and truncated to `size`
  // when set), as RFC 1813 §3.3.8 describes.
  std::optional<uint64_t> size;
  // kExclusive: stored durably with the inode until the file's first
  // SetAttr (the one an NFS client sends right after). Until then a retry
  // with the same verifier on the existing file succeeds; after it, or with
  // a different verifier, it fails EEXIST.
  std::array<uint8_t, 8> verifier{};
};

struct CreateResult {
  Attr attr;   // the created (or existing, for retries) object
  Change dir;  // the parent directory
};

// Write durability (NFS stable_how).
enum class Stability { kUnstable = 0, kDataSync = 1, kFileSync = 2 };

struct WriteResult {
  uint32_t count = 0;            // bytes written (all of them on success)
  Stability committed = Stability::kFileSync;
  Change file;
};

struct ReadResult {
  uint32_t count = 0;  // bytes placed in the caller's buffer
  bool eof = false;    // the read reached the end of the file
  Attr attr;           // attributes after the read
};

struct DirEntry {
  std::string name;
  InodeId ino = 0;
  uint64_t cookie = 0;  // resume ReadDir after this entry with this cookie
  Attr attr;            // filled when ReadDir's want_attrs is true
};

struct DirPage {
  std::vector<DirEntry> entries;  // in cookie order; "." and ".." excluded
  bool eof = false;               // no entries after the last one
  uint64_t cookie_verifier = 0;   // constant: cookies are stable
};

// Space figures for one file or, summed, a directory tree (a VM).
// All in bytes. allocated = unique + shared. A segment counts as unique when
// the file's mapping is its only reference (exact, from refcounts).
struct SpaceStats {
  uint64_t files = 0;           // regular files counted
  uint64_t logical = 0;         // sum of logical sizes
  uint64_t allocated = 0;       // segments mapped by the live files (and
                                // their inline bytes, each file's own)
  uint64_t unique = 0;          // ... referenced by nothing else
  uint64_t shared = 0;          // ... also referenced elsewhere
  uint64_t snapshot_only = 0;   // held only by snapshots of these files
  uint64_t reserved = 0;        // reserved but not yet written
};

struct StoreSpace {
  uint64_t capacity = 0;   // bytes the store may use
  uint64_t used = 0;       // segments allocated (each counted once), plus
                           // bytes held inline (StoreOptions::inline_max)
  uint64_t reserved = 0;   // outstanding reservations, not yet written
  uint64_t free = 0;       // capacity - used - reserved
  uint32_t segment_size = 0;
  uint32_t members = 0;
  uint64_t files = 0;      // inodes in use (all types)
  uint64_t inline_bytes = 0;  // of `used`: file bytes kept in the metadata
};

struct MemberStats {
  uint32_t index = 0;
  std::string path;
  uint64_t segments_used = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t reads = 0, writes = 0;
};

// Write alignment histogram of one file since the store opened (or
// persisted, implementation's choice; see the codec file).
struct AlignmentStats {
  uint64_t writes = 0;
  uint64_t offset_aligned_4k = 0;       // offset % 4096 == 0
  uint64_t length_aligned_4k = 0;       // length % 4096 == 0
  uint64_t offset_aligned_segment = 0;  // offset % segment_size == 0
  uint64_t length_aligned_segment = 0;
  uint64_t partial_segment_writes = 0;  // read-modify-write of a segment
  uint64_t cow_segments = 0;            // segments copied because shared
};

struct SnapshotInfo {
  uint64_t id = 0;        // unique per store, never reused
  std::string name;
  InodeId source = 0;     // the file or directory it was taken of
  InodeId root = 0;       // the read-only copy in the snapshot namespace
  Timespec created;
  SpaceStats space;       // filled by ListSnapshots
};

struct FsckReport {
  bool clean = true;
  uint64_t inodes = 0, extents = 0, pages = 0;
  std::vector<std::string> problems;  // human-readable, one per finding
};

struct StoreOptions {
  std::string dir;                  // holds meta/ (RocksDB) and member files
  // Member data files; empty = dir/member-<i>.dat for i < num_members.
  // Fixed at creation; later opens must name the same files.
  std::vector<std::string> member_paths;
  uint32_t num_members = 4;         // creation only
  uint32_t segment_size = 64 << 10; // creation only; 4 KiB .. 1 MiB, pow2
  uint64_t capacity = 0;            // 0 = the filesystem's size at open
  // Free bytes kept for metadata (RocksDB's WAL, flushes, compactions) on
  // each file system holding meta/ or a member: an allocation that would
  // grow a member file so that less than this (plus what outstanding
  // reservations still need) stays free fails ENOSPC, so data cannot fill
  // the file system to the last byte. Writes into a reserved range may use
  // up to half of it. 0 = max(16 MiB, 1% of the file system).
  uint64_t metadata_reserve = 0;
  // Regular files of at most this many bytes keep them in their inode
  // record (RocksDB) instead of a segment: a stable write to one is then a
  // single metadata sync, not a data sync followed by one (hypervisor lock
  // files, descriptors, .vmx/.vmsd). A file moves to segments for good once
  // it grows past this. At most the segment size; 0 = never inline.
  uint32_t inline_max = 4096;
  // Unstable writes of new data need their data synced before the batch
  // that maps them is written; the committer waits up to this long for
  // more of them to share that sync (GroupCommit: Linger). Anything a
  // client waits for (stable writes, COMMIT, namespace changes) is not
  // delayed. 0 = a sync per group.
  uint32_t unstable_linger_us = 20000;
  Env* env = nullptr;               // nullptr = the POSIX Env; not owned
  bool create_if_missing = true;
};

class ExtentStore {
 public:
  // ExtentStore::Open()
  //
  // Opens (creating when missing and allowed) the store in `options.dir`.
  // Fails FailedPrecondition on a format version it does not know, or on a
  // member set that does not match the one recorded. The write verifier is
  // new on every open. The caller owns the returned store.
  static absl::StatusOr<std::unique_ptr<ExtentStore>> Open(
      const StoreOptions& options);

  virtual ~ExtentStore() = default;
  ExtentStore(const ExtentStore&) = delete;
  ExtentStore& operator=(const ExtentStore&) = delete;

  // Identity: a stable 64-bit store id (NFS fsid), the per-open write
  // verifier, and the segment size.
  virtual uint64_t store_id() const = 0;
  virtual uint64_t write_verifier() const = 0;
  virtual uint32_t segment_size() const = 0;

  // ---- Namespace ---------------------------------------------------------
  // Names are single components: non-empty, at most 255 bytes, no '/' or
  // NUL, not "." or "..". Every mutation is durable when it returns.

  virtual absl::StatusOr<Attr> GetAttr(InodeId ino) = 0;
  // Fails ESTALE when `ino` is gone or its generation is not `generation`.
  virtual absl::StatusOr<Attr> GetAttrChecked(InodeId ino,
                                              uint64_t generation) = 0;
  // ".." of the root is the root; "." is the directory itself.
  virtual absl::StatusOr<Attr> Lookup(InodeId dir, absl::string_view name) = 0;
  virtual absl::StatusOr<CreateResult> Create(InodeId dir,
                                              absl::string_view name,
                                              const CreateRequest& req) = 0;
  virtual absl::StatusOr<CreateResult> Mkdir(InodeId dir,
                                             absl::string_view name,
                                             uint32_t mode, uint32_t uid,
                                             uint32_t gid) = 0;
  virtual absl::StatusOr<CreateResult> Symlink(InodeId dir,
                                               absl::string_view name,
                                               absl::string_view target,
                                               uint32_t mode, uint32_t uid,
                                               uint32_t gid) = 0;
  virtual absl::StatusOr<std::string> ReadLink(InodeId ino) = 0;
  // Hard link of a non-directory. Returns the linked object's new attrs.
  virtual absl::StatusOr<CreateResult> Link(InodeId ino, InodeId dir,
                                            absl::string_view name) = 0;
  // Unlinks a non-directory; its data is freed only when its last name goes
  // and nothing else (clone, snapshot) references the extents.
  virtual absl::StatusOr<Change> Remove(InodeId dir,
                                        absl::string_view name) = 0;
  virtual absl::StatusOr<Change> Rmdir(InodeId dir,
                                       absl::string_view name) = 0;
  struct RenameResult {
    Change from_dir, to_dir;
  };
  // POSIX rename: replaces a compatible target atomically; refuses to move
  // a directory into itself (EINVAL).
  virtual absl::StatusOr<RenameResult> Rename(InodeId from_dir,
                                              absl::string_view from_name,
                                              InodeId to_dir,
                                              absl::string_view to_name) = 0;
  virtual absl::StatusOr<Change> SetAttr(InodeId ino,
                                         const SetAttrRequest& req) = 0;
  // Entries after `cookie` (0 = from the start), at most `max_entries`.
  virtual absl::StatusOr<DirPage> ReadDir(InodeId dir, uint64_t cookie,
                                          uint32_t max_entries,
                                          bool want_attrs) = 0;
  // Resolves "a/b/c" (leading '/' optional; "" or "/" is the root) from the
  // root without following symlinks. Rejects ".." components (EINVAL).
  virtual absl::StatusOr<Attr> ResolvePath(absl::string_view path) = 0;
  // The parent directory of `dir` (root's parent is root). Directories only.
  virtual absl::StatusOr<InodeId> Parent(InodeId dir) = 0;

  // ---- Data --------------------------------------------------------------

  // Reads up to `count` bytes at `offset` into `out` (caller-owned, at least
  // `count` bytes). Holes read as zeros. eof is true when the read reaches
  // the end of the file.
  virtual absl::StatusOr<ReadResult> Read(InodeId ino, uint64_t offset,
                                          uint32_t count, char* out) = 0;
  // Read() for callers that must not wait (an event-loop thread): it
  // answers only from memory and fails EAGAIN (FsError) instead of waiting
  // for the device, for a writer holding the store, or for a page under
  // I/O. The caller then retries with Read() where blocking is fine.
  virtual absl::StatusOr<ReadResult> ReadCached(InodeId ino, uint64_t offset,
                                                uint32_t count, char* out) = 0;
  // Read() (or, with !may_block, ReadCached()) without the copy, when the
  // store holds the bytes in memory anyway (a sequential stream's prefetch,
  // the data cache): `out` lends result.count bytes (LentBytes: they stay
  // as read while anyone holds its keep). Fails Unavailable, having read
  // nothing, when it cannot lend them (holes, ranges spread over members,
  // bytes not in memory, small files); the caller then reads with Read().
  // Other errors are Read()'s. The default lends nothing.
  virtual absl::StatusOr<ReadResult> ReadLent(InodeId ino, uint64_t offset,
                                              uint32_t count, bool may_block,
                                              LentBytes* out) {
    (void)ino;
    (void)offset;
    (void)count;
    (void)may_block;
    (void)out;
    return absl::UnavailableError("nothing to lend");
  }
  // Writes `data` at `offset`. kFileSync/kDataSync: data and metadata are
  // durable on return. kUnstable: durable after Commit(); reported with
  // write_verifier(). Does not fail ENOSPC for data space inside a
  // reserved range (the reservation is backed by capacity and by file-system
  // space beyond the metadata reserve); see "Errors" above for the rest.
  // A failed write may have changed the range's bytes (in-place
  // overwrites reach the member before the metadata batch).
  // `keep` (may be null) owns `data`'s memory: the store may then go on
  // referring to the bytes after returning, instead of copying them, for
  // as long as it holds `keep` (an unstable write's write-behind); they
  // must not change meanwhile.
  virtual absl::StatusOr<WriteResult> Write(InodeId ino, uint64_t offset,
                                            absl::string_view data,
                                            Stability stability,
                                            std::shared_ptr<const void> keep) = 0;
  absl::StatusOr<WriteResult> Write(InodeId ino, uint64_t offset,
                                    absl::string_view data,
                                    Stability stability) {
    return Write(ino, offset, data, stability, nullptr);
  }
  // Makes every unstable write (of any file) durable.
  virtual absl::StatusOr<Attr> Commit(InodeId ino) = 0;
  // Frees the segments fully inside [offset, offset+length); zeros the
  // partial ends. Size is unchanged.
  virtual absl::StatusOr<Change> PunchHole(InodeId ino, uint64_t offset,
                                           uint64_t length) = 0;

  // ---- Clones, snapshots, reservations ------------------------------------

  // Makes `dst_dir/dst_name` a writable clone of regular file `src`, sharing
  // every extent; cost independent of the data size. Replaces an existing
  // regular file unless `guarded` (then EEXIST).
  virtual absl::StatusOr<CreateResult> CloneFile(InodeId src, InodeId dst_dir,
                                                 absl::string_view dst_name,
                                                 bool guarded) = 0;
  // Read-only point-in-time copy of a file or a whole directory tree, kept in
  // the snapshot namespace (not reachable from the root).
  virtual absl::StatusOr<SnapshotInfo> CreateSnapshot(
      InodeId ino, absl::string_view name) = 0;
  virtual absl::StatusOr<std::vector<SnapshotInfo>> ListSnapshots(
      InodeId ino) = 0;  // ino 0 = every snapshot of the store
  virtual absl::Status DeleteSnapshot(uint64_t snapshot_id) = 0;
  // Makes the live object (file or tree) equal to the snapshot again.
  virtual absl::Status RestoreSnapshot(uint64_t snapshot_id) = 0;
  // Linked clone: a writable clone of a snapshot at dst_dir/dst_name (a file
  // or a directory tree, like the snapshot's source).
  virtual absl::StatusOr<CreateResult> CloneSnapshot(
      uint64_t snapshot_id, InodeId dst_dir, absl::string_view dst_name) = 0;
  // Thick provisioning: guarantees that writes to [0, size) of regular file
  // `ino` never fail for lack of space. `size` 0 drops the reservation.
  // Fails ENOSPC when the store cannot guarantee it.
  virtual absl::StatusOr<Attr> Reserve(InodeId ino, uint64_t size) = 0;

  // ---- Accounting ---------------------------------------------------------

  // For a file, its own figures; for a directory, summed over the tree.
  virtual absl::StatusOr<SpaceStats> Space(InodeId ino) = 0;
  virtual absl::StatusOr<StoreSpace> GetStoreSpace() = 0;
  virtual absl::StatusOr<AlignmentStats> Alignment(InodeId ino) = 0;
  virtual std::vector<MemberStats> Members() = 0;
  // Checks every refcount against its references and free space against
  // allocation; reports, changes nothing.
  virtual absl::StatusOr<FsckReport> Fsck() = 0;

  // ---- Small durable logs (for front ends, e.g. offload receipts) --------

  // Appends `record` to log `log` (a short name), keeping at most
  // `max_records` newest records. Returns the record's sequence number
  // (increasing, never reused).
  virtual absl::StatusOr<uint64_t> AppendLog(absl::string_view log,
                                             absl::string_view record,
                                             uint64_t max_records) = 0;
  struct LogRecord {
    uint64_t seq = 0;
    std::string record;
  };
  // Records of `log` with seq > after_seq, oldest first, at most `limit`.
  virtual absl::StatusOr<std::vector<LogRecord>> ReadLog(
      absl::string_view log, uint64_t after_seq, uint64_t limit) = 0;

 protected:
  ExtentStore() = default;
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_EXTENT_STORE_H_
