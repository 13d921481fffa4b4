// extent_tree.h — the copy-on-write extent map shared by clones.
//
// A file's data map is a list of map-node ids (inode), each map node holds up
// to kMapSlots leaf-page ids, each leaf page up to kLeafSlots extent ids.
// Map nodes, leaf pages and extents are reference counted:
//   map node rc  = number of inode map-list entries naming it
//   leaf rc      = number of map-node slots naming it
//   extent rc    = number of leaf slots naming it
// Cloning a file copies its map-node list and increments those map nodes
// (cost ~ file size / 16 GiB at 64 KiB segments). Changing a segment first
// makes its path unique: a shared map node is copied (its leaves +1), then a
// shared leaf (its extents +1). A segment is uniquely owned by a file iff its
// map node, leaf and extent all have rc 1.
//
// ExtentTree keeps every map node, leaf and refcount in memory (the mirror
// that makes reads and accounting free of RocksDB lookups) and tracks what
// changed; Persist() writes those changes into the caller's WriteBatch (keys
// and encodings: storage/meta/keys.h). Extents whose rc drops to 0 are freed
// in the Allocator (persisted by the caller in the same batch).
//
// Thread safety: none; the store serializes mutations under its mutex and
// holds it shared for readers.
#ifndef VNAS_STORAGE_EXTENT_EXTENT_TREE_H_
#define VNAS_STORAGE_EXTENT_EXTENT_TREE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "storage/alloc/allocator.h"
#include "storage/meta/keys.h"

namespace rocksdb {
class WriteBatch;
}  // namespace rocksdb

namespace vnas::storage {

using MapList = std::vector<uint64_t>;  // an inode's map-node ids (0 = none)

class ExtentTree {
 public:
  explicit ExtentTree(Allocator* alloc) : alloc_(alloc) {}
  ExtentTree(const ExtentTree&) = delete;
  ExtentTree& operator=(const ExtentTree&) = delete;

  // ---- loading (at open) ----
  absl::Status LoadLeaf(uint64_t id, absl::string_view value);
  absl::Status LoadMap(uint64_t id, absl::string_view value);
  void LoadRef(meta::RefKind kind, uint64_t id, uint32_t rc);
  // After loading: recomputes derived counts; fails on a page that names a
  // missing page (a corrupt store).
  absl::Status FinishLoad();
  void set_next_page_id(uint64_t id) { next_page_ = id; }
  uint64_t next_page_id() const { return next_page_; }

  // ---- queries ----
  // The extent at file segment `si` (0 = hole).
  uint64_t Lookup(const MapList& maps, uint64_t si) const;
  // True when segment si is mapped and map node, leaf, extent all have rc 1.
  bool Unique(const MapList& maps, uint64_t si) const;
  uint32_t ExtentRc(uint64_t e) const;
  uint64_t MappedSegments(const MapList& maps) const;
  // Mapped and uniquely owned segments of one file.
  void Usage(const MapList& maps, uint64_t* mapped, uint64_t* unique) const;
  // Segments of [0, n) that are not uniquely owned (holes included).
  uint64_t NotUniqueBelow(const MapList& maps, uint64_t n) const;
  // Extents all of whose references come (through pages) from `roots`.
  uint64_t ExclusiveSegments(const std::vector<const MapList*>& roots) const;
  // The map node, leaf and extent segment si goes through (0 where there
  // is none).
  struct SegPath {
    uint64_t map = 0, leaf = 0, extent = 0;
  };
  SegPath Path(const MapList& maps, uint64_t si) const;
  // A reference drop that left the page or extent still referenced: it may
  // have made segments of whoever still holds it unique (see the store's
  // in-place rule). Collected since the last TakeUnshares().
  struct Unshare {
    meta::RefKind kind;
    uint64_t id;
  };
  std::vector<Unshare> TakeUnshares() {
    std::vector<Unshare> out;
    out.swap(unshares_);
    return out;
  }
  uint64_t extents() const { return ext_rc_.size(); }
  uint64_t pages() const { return leaves_.size() + maps_.size(); }

  // ---- mutations ----
  // Registers a freshly allocated extent (rc 1 once mapped by SetSegment).
  // SetSegment() maps `e` (0 = unmap) at segment si, copying shared pages on
  // the way; the old extent's reference is dropped. A newly registered
  // extent's rc becomes 1; an existing extent passed in gains a reference.
  void SetSegment(MapList* maps, uint64_t si, uint64_t e);
  // Unmaps every segment in [begin, end) (whole pages dropped at once).
  void UnmapRange(MapList* maps, uint64_t begin, uint64_t end);
  // A clone's reference: increments every map node of `maps`.
  void Share(const MapList& maps);
  // Drops the references of `maps` (file removed) and clears it.
  void Release(MapList* maps);

  // Writes every changed page and refcount into `batch`, plus the page-id
  // counter when it moved, and forgets the changes.
  void Persist(rocksdb::WriteBatch* batch);

  struct Leaf {
    uint32_t rc = 0;
    uint32_t count = 0;  // non-zero slots
    std::array<uint64_t, meta::kLeafSlots> slot{};
  };
  struct MapNode {
    uint32_t rc = 0;
    uint32_t count = 0;  // non-zero slots
    uint64_t segs = 0;   // sum of the leaves' counts
    std::array<uint64_t, meta::kMapSlots> slot{};
  };
  const Leaf* leaf(uint64_t id) const;
  const MapNode* map(uint64_t id) const;

 private:
  MapNode* MutableMap(MapList* maps, uint64_t mi);  // unique, created
  Leaf* MutableLeaf(MapNode* m, uint32_t li);       // unique, created
  void IncExtent(uint64_t e);
  void DecExtent(uint64_t e);
  void DecLeaf(uint64_t id);
  void DecMap(uint64_t id);
  void TrimTail(MapList* maps);

  Allocator* const alloc_;
  std::vector<Unshare> unshares_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Leaf>> leaves_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<MapNode>> maps_;
  absl::flat_hash_map<uint64_t, uint32_t> ext_rc_;
  uint64_t next_page_ = 1;
  bool counter_dirty_ = false;
  std::set<uint64_t> dirty_leaves_, dirty_maps_;
  std::set<std::pair<char, uint64_t>> dirty_refs_;
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_EXTENT_EXTENT_TREE_H_
