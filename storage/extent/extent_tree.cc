#include "storage/extent/extent_tree.h"

#include "absl/strings/str_cat.h"
#include "rocksdb/write_batch.h"

namespace vnas::storage {

using meta::kLeafSlots;
using meta::kMapSlots;
using meta::kSegsPerMap;
using meta::RefKind;

absl::Status ExtentTree::LoadLeaf(uint64_t id, absl::string_view value) {
  std::vector<std::pair<uint32_t, uint64_t>> e;
  if (!meta::DecodePage(value, kLeafSlots, &e)) {
    return absl::DataLossError(absl::StrCat("corrupt leaf page ", id));
  }
  auto& l = leaves_[id];
  if (!l) l = std::make_unique<Leaf>();
  for (auto& [s, x] : e) l->slot[s] = x;
  l->count = static_cast<uint32_t>(e.size());
  return absl::OkStatus();
}

absl::Status ExtentTree::LoadMap(uint64_t id, absl::string_view value) {
  std::vector<std::pair<uint32_t, uint64_t>> e;
  if (!meta::DecodePage(value, kMapSlots, &e)) {
    return absl::DataLossError(absl::StrCat("corrupt map node ", id));
  }
  auto& m = maps_[id];
  if (!m) m = std::make_unique<MapNode>();
  for (auto& [s, x] : e) m->slot[s] = x;
  m->count = static_cast<uint32_t>(e.size());
  return absl::OkStatus();
}

void ExtentTree::LoadRef(RefKind kind, uint64_t id, uint32_t rc) {
  switch (kind) {
    case RefKind::kExtent:
      ext_rc_[id] = rc;
      break;
    case RefKind::kLeaf: {
      auto& l = leaves_[id];
      if (!l) l = std::make_unique<Leaf>();
      l->rc = rc;
      break;
    }
    case RefKind::kMap: {
      auto& m = maps_[id];
      if (!m) m = std::make_unique<MapNode>();
      m->rc = rc;
      break;
    }
  }
}

absl::Status ExtentTree::FinishLoad() {
  for (auto& [id, m] : maps_) {
    m->segs = 0;
    for (uint64_t l : m->slot) {
      if (l == 0) continue;
      auto it = leaves_.find(l);
      if (it == leaves_.end()) {
        return absl::DataLossError(
            absl::StrCat("map node ", id, " names missing leaf ", l));
      }
      m->segs += it->second->count;
    }
  }
  return absl::OkStatus();
}

const ExtentTree::Leaf* ExtentTree::leaf(uint64_t id) const {
  auto it = leaves_.find(id);
  return it == leaves_.end() ? nullptr : it->second.get();
}

const ExtentTree::MapNode* ExtentTree::map(uint64_t id) const {
  auto it = maps_.find(id);
  return it == maps_.end() ? nullptr : it->second.get();
}

uint64_t ExtentTree::Lookup(const MapList& maps, uint64_t si) const {
  uint64_t mi = si / kSegsPerMap;
  if (mi >= maps.size() || maps[mi] == 0) return 0;
  const MapNode* m = map(maps[mi]);
  uint64_t l = m->slot[(si / kLeafSlots) % kMapSlots];
  if (l == 0) return 0;
  return leaf(l)->slot[si % kLeafSlots];
}

ExtentTree::SegPath ExtentTree::Path(const MapList& maps, uint64_t si) const {
  SegPath p;
  const uint64_t mi = si / kSegsPerMap;
  if (mi >= maps.size() || maps[mi] == 0) return p;
  p.map = maps[mi];
  p.leaf = map(p.map)->slot[(si / kLeafSlots) % kMapSlots];
  if (p.leaf != 0) p.extent = leaf(p.leaf)->slot[si % kLeafSlots];
  return p;
}

bool ExtentTree::Unique(const MapList& maps, uint64_t si) const {
  uint64_t mi = si / kSegsPerMap;
  if (mi >= maps.size() || maps[mi] == 0) return false;
  const MapNode* m = map(maps[mi]);
  if (m->rc != 1) return false;
  uint64_t lid = m->slot[(si / kLeafSlots) % kMapSlots];
  if (lid == 0) return false;
  const Leaf* l = leaf(lid);
  if (l->rc != 1) return false;
  uint64_t e = l->slot[si % kLeafSlots];
  return e != 0 && ExtentRc(e) == 1;
}

uint32_t ExtentTree::ExtentRc(uint64_t e) const {
  auto it = ext_rc_.find(e);
  return it == ext_rc_.end() ? 0 : it->second;
}

uint64_t ExtentTree::MappedSegments(const MapList& maps) const {
  uint64_t n = 0;
  for (uint64_t id : maps) {
    if (id) n += map(id)->segs;
  }
  return n;
}

void ExtentTree::Usage(const MapList& maps, uint64_t* mapped,
                       uint64_t* unique) const {
  *mapped = *unique = 0;
  for (uint64_t id : maps) {
    if (!id) continue;
    const MapNode* m = map(id);
    *mapped += m->segs;
    if (m->rc != 1) continue;
    for (uint64_t lid : m->slot) {
      if (!lid) continue;
      const Leaf* l = leaf(lid);
      if (l->rc != 1) continue;
      for (uint64_t e : l->slot) {
        if (e && ExtentRc(e) == 1) ++*unique;
      }
    }
  }
}

uint64_t ExtentTree::NotUniqueBelow(const MapList& maps, uint64_t n) const {
  uint64_t unique = 0;
  for (uint64_t mi = 0; mi < maps.size() && mi * kSegsPerMap < n; ++mi) {
    if (!maps[mi]) continue;
    const MapNode* m = map(maps[mi]);
    if (m->rc != 1) continue;
    for (uint32_t li = 0; li < kMapSlots; ++li) {
      uint64_t base = mi * kSegsPerMap + uint64_t{li} * kLeafSlots;
      if (base >= n) break;
      if (!m->slot[li]) continue;
      const Leaf* l = leaf(m->slot[li]);
      if (l->rc != 1) continue;
      for (uint32_t s = 0; s < kLeafSlots && base + s < n; ++s) {
        uint64_t e = l->slot[s];
        if (e && ExtentRc(e) == 1) ++unique;
      }
    }
  }
  return n - unique;
}

uint64_t ExtentTree::ExclusiveSegments(
    const std::vector<const MapList*>& roots) const {
  absl::flat_hash_map<uint64_t, uint32_t> mref, lref, eref;
  for (const MapList* r : roots) {
    for (uint64_t id : *r) {
      if (id) ++mref[id];
    }
  }
  for (auto& [id, n] : mref) {
    const MapNode* m = map(id);
    if (n != m->rc) continue;
    for (uint64_t lid : m->slot) {
      if (lid) ++lref[lid];
    }
  }
  for (auto& [id, n] : lref) {
    const Leaf* l = leaf(id);
    if (n != l->rc) continue;
    for (uint64_t e : l->slot) {
      if (e) ++eref[e];
    }
  }
  uint64_t owned = 0;
  for (auto& [e, n] : eref) {
    if (n == ExtentRc(e)) ++owned;
  }
  return owned;
}

// ---- mutations ----

void ExtentTree::IncExtent(uint64_t e) {
  ++ext_rc_[e];
  dirty_refs_.emplace(static_cast<char>(RefKind::kExtent), e);
}

void ExtentTree::DecExtent(uint64_t e) {
  auto it = ext_rc_.find(e);
  if (--it->second == 0) {
    ext_rc_.erase(it);
    alloc_->Free(meta::ExtentMember(e), meta::ExtentSeg(e));
  } else {
    unshares_.push_back({RefKind::kExtent, e});
  }
  dirty_refs_.emplace(static_cast<char>(RefKind::kExtent), e);
}

void ExtentTree::DecLeaf(uint64_t id) {
  auto it = leaves_.find(id);
  dirty_refs_.emplace(static_cast<char>(RefKind::kLeaf), id);
  if (--it->second->rc > 0) {
    unshares_.push_back({RefKind::kLeaf, id});
    return;
  }
  for (uint64_t e : it->second->slot) {
    if (e) DecExtent(e);
  }
  leaves_.erase(it);
  dirty_leaves_.insert(id);
}

void ExtentTree::DecMap(uint64_t id) {
  auto it = maps_.find(id);
  dirty_refs_.emplace(static_cast<char>(RefKind::kMap), id);
  if (--it->second->rc > 0) {
    unshares_.push_back({RefKind::kMap, id});
    return;
  }
  for (uint64_t l : it->second->slot) {
    if (l) DecLeaf(l);
  }
  maps_.erase(it);
  dirty_maps_.insert(id);
}

ExtentTree::MapNode* ExtentTree::MutableMap(MapList* maps, uint64_t mi) {
  if (maps->size() <= mi) maps->resize(mi + 1, 0);
  uint64_t id = (*maps)[mi];
  if (id) {
    MapNode* m = maps_.at(id).get();
    if (m->rc == 1) return m;
    // Shared: copy, the copy's leaves gain a reference.
    auto copy = std::make_unique<MapNode>(*m);
    for (uint64_t l : copy->slot) {
      if (l) {
        ++leaves_.at(l)->rc;
        dirty_refs_.emplace(static_cast<char>(RefKind::kLeaf), l);
      }
    }
    --m->rc;
    dirty_refs_.emplace(static_cast<char>(RefKind::kMap), id);
    copy->rc = 1;
    uint64_t nid = next_page_++;
    counter_dirty_ = true;
    MapNode* raw = copy.get();
    maps_[nid] = std::move(copy);
    dirty_maps_.insert(nid);
    dirty_refs_.emplace(static_cast<char>(RefKind::kMap), nid);
    (*maps)[mi] = nid;
    return raw;
  }
  uint64_t nid = next_page_++;
  counter_dirty_ = true;
  auto m = std::make_unique<MapNode>();
  m->rc = 1;
  MapNode* raw = m.get();
  maps_[nid] = std::move(m);
  dirty_maps_.insert(nid);
  dirty_refs_.emplace(static_cast<char>(RefKind::kMap), nid);
  (*maps)[mi] = nid;
  return raw;
}

ExtentTree::Leaf* ExtentTree::MutableLeaf(MapNode* m, uint32_t li) {
  // `m` is unique; its id is found by the caller's dirty marking.
  uint64_t id = m->slot[li];
  if (id) {
    Leaf* l = leaves_.at(id).get();
    if (l->rc == 1) return l;
    auto copy = std::make_unique<Leaf>(*l);
    for (uint64_t e : copy->slot) {
      if (e) IncExtent(e);
    }
    --l->rc;
    dirty_refs_.emplace(static_cast<char>(RefKind::kLeaf), id);
    copy->rc = 1;
    uint64_t nid = next_page_++;
    counter_dirty_ = true;
    Leaf* raw = copy.get();
    leaves_[nid] = std::move(copy);
    dirty_leaves_.insert(nid);
    dirty_refs_.emplace(static_cast<char>(RefKind::kLeaf), nid);
    m->slot[li] = nid;
    return raw;
  }
  uint64_t nid = next_page_++;
  counter_dirty_ = true;
  auto l = std::make_unique<Leaf>();
  l->rc = 1;
  Leaf* raw = l.get();
  leaves_[nid] = std::move(l);
  dirty_leaves_.insert(nid);
  dirty_refs_.emplace(static_cast<char>(RefKind::kLeaf), nid);
  m->slot[li] = nid;
  ++m->count;
  return raw;
}

void ExtentTree::SetSegment(MapList* maps, uint64_t si, uint64_t e) {
  uint64_t mi = si / kSegsPerMap;
  uint32_t li = static_cast<uint32_t>((si / kLeafSlots) % kMapSlots);
  uint32_t s = static_cast<uint32_t>(si % kLeafSlots);
  if (e == 0 && Lookup(*maps, si) == 0) return;
  MapNode* m = MutableMap(maps, mi);
  uint64_t mid = (*maps)[mi];
  Leaf* l = MutableLeaf(m, li);
  uint64_t lid = m->slot[li];
  dirty_maps_.insert(mid);
  dirty_leaves_.insert(lid);
  uint64_t old = l->slot[s];
  if (old == e) return;
  if (e) IncExtent(e);
  l->slot[s] = e;
  if (old) {
    DecExtent(old);
  }
  if (old && !e) {
    --l->count;
    --m->segs;
  } else if (!old && e) {
    ++l->count;
    ++m->segs;
  }
  if (l->count == 0) {  // drop the empty leaf
    m->slot[li] = 0;
    --m->count;
    DecLeaf(lid);
    if (m->count == 0) {
      (*maps)[mi] = 0;
      DecMap(mid);
      TrimTail(maps);
    }
  }
}

void ExtentTree::TrimTail(MapList* maps) {
  while (!maps->empty() && maps->back() == 0) maps->pop_back();
}

void ExtentTree::UnmapRange(MapList* maps, uint64_t begin, uint64_t end) {
  for (uint64_t mi = begin / kSegsPerMap; mi < maps->size(); ++mi) {
    uint64_t mbase = mi * kSegsPerMap;
    if (mbase >= end) break;
    if ((*maps)[mi] == 0) continue;
    if (begin <= mbase && mbase + kSegsPerMap <= end) {
      DecMap((*maps)[mi]);
      (*maps)[mi] = 0;
      continue;
    }
    for (uint32_t li = 0; li < kMapSlots; ++li) {
      if ((*maps)[mi] == 0) break;
      uint64_t lbase = mbase + uint64_t{li} * kLeafSlots;
      if (lbase + kLeafSlots <= begin) continue;
      if (lbase >= end) break;
      const MapNode* cm = map((*maps)[mi]);
      uint64_t lid = cm->slot[li];
      if (lid == 0) continue;
      if (begin <= lbase && lbase + kLeafSlots <= end) {
        MapNode* m = MutableMap(maps, mi);
        uint64_t mid = (*maps)[mi];
        lid = m->slot[li];
        m->segs -= leaves_.at(lid)->count;
        m->slot[li] = 0;
        --m->count;
        dirty_maps_.insert(mid);
        DecLeaf(lid);
        if (m->count == 0) {
          (*maps)[mi] = 0;
          DecMap(mid);
        }
        continue;
      }
      for (uint64_t si = std::max(lbase, begin);
           si < std::min(lbase + kLeafSlots, end); ++si) {
        if (Lookup(*maps, si)) SetSegment(maps, si, 0);
      }
    }
  }
  TrimTail(maps);
}

void ExtentTree::Share(const MapList& maps) {
  for (uint64_t id : maps) {
    if (!id) continue;
    ++maps_.at(id)->rc;
    dirty_refs_.emplace(static_cast<char>(RefKind::kMap), id);
  }
}

void ExtentTree::Release(MapList* maps) {
  for (uint64_t id : *maps) {
    if (id) DecMap(id);
  }
  maps->clear();
}

void ExtentTree::Persist(rocksdb::WriteBatch* b) {
  for (uint64_t id : dirty_leaves_) {
    const Leaf* l = leaf(id);
    if (!l) {
      b->Delete(meta::LeafKey(id)).PermitUncheckedError();
      continue;
    }
    std::vector<std::pair<uint32_t, uint64_t>> e;
    for (uint32_t s = 0; s < kLeafSlots; ++s) {
      if (l->slot[s]) e.emplace_back(s, l->slot[s]);
    }
    b->Put(meta::LeafKey(id), meta::EncodePage(e)).PermitUncheckedError();
  }
  for (uint64_t id : dirty_maps_) {
    const MapNode* m = map(id);
    if (!m) {
      b->Delete(meta::MapKey(id)).PermitUncheckedError();
      continue;
    }
    std::vector<std::pair<uint32_t, uint64_t>> e;
    for (uint32_t s = 0; s < kMapSlots; ++s) {
      if (m->slot[s]) e.emplace_back(s, m->slot[s]);
    }
    b->Put(meta::MapKey(id), meta::EncodePage(e)).PermitUncheckedError();
  }
  for (const auto& [kind, id] : dirty_refs_) {
    uint32_t rc = 0;
    switch (static_cast<RefKind>(kind)) {
      case RefKind::kExtent:
        rc = ExtentRc(id);
        break;
      case RefKind::kLeaf:
        rc = leaf(id) ? leaf(id)->rc : 0;
        break;
      case RefKind::kMap:
        rc = map(id) ? map(id)->rc : 0;
        break;
    }
    std::string key = meta::RefKey(static_cast<RefKind>(kind), id);
    if (rc == 0) {
      b->Delete(key).PermitUncheckedError();
    } else {
      std::string v;
      meta::PutVarint(&v, rc);
      b->Put(key, v).PermitUncheckedError();
    }
  }
  if (counter_dirty_) {
    std::string v;
    meta::PutBE8(&v, next_page_);
    b->Put(meta::CounterKey("page"), v).PermitUncheckedError();
  }
  dirty_leaves_.clear();
  dirty_maps_.clear();
  dirty_refs_.clear();
  counter_dirty_ = false;
}

}  // namespace vnas::storage
