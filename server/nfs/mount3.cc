// mount3.cc — MOUNT v3 handlers.
#include "server/nfs/mount3.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/nfs/status_map.h"

namespace vnas::nfs {

namespace {

// A MNT dirpath taken apart lexically: "" and "." components dropped, each
// ".." taking back the component before it (as realpath(3) would; MNT
// follows no symlinks, so the lexical parent is the real one). `climbs`
// holds, for each "..", the components of the directory it left. `escapes`
// is set when a ".." would take back the first component (the datastore):
// such a path names nothing inside any export.
struct MountPath {
  std::vector<std::string> comps;
  std::vector<std::vector<std::string>> climbs;
  bool escapes = false;
  std::string Joined() const { return "/" + absl::StrJoin(comps, "/"); }
};

MountPath ParseMountPath(absl::string_view dirpath) {
  MountPath p;
  for (absl::string_view c : absl::StrSplit(dirpath, '/', absl::SkipEmpty())) {
    if (c == ".") continue;
    if (c != "..") {
      p.comps.emplace_back(c);
      continue;
    }
    if (p.comps.size() <= 1) {
      p.escapes = true;
      return p;
    }
    p.climbs.push_back(p.comps);
    p.comps.pop_back();
  }
  return p;
}

}  // namespace

mountres3 MountProcs::Mnt(const CallContext& ctx, absl::string_view dirpath) {
  mountres3 r;
  if (dirpath.find('\0') != absl::string_view::npos) {
    r.fhs_status = MNT3ERR_INVAL;
    return r;
  }
  // "/vnas/./vm1", "/vnas//vm1/" and "/vnas/x/../vm1" all name "/vnas/vm1"
  // and get the handle LOOKUP gives for it; "/vnas/../etc" is refused.
  const MountPath path = ParseMountPath(dirpath);
  if (path.escapes) {  // outside every export, as "/etc" is
    r.fhs_status = MNT3ERR_NOENT;
    return r;
  }
  if (!exports_->FindForPath(path.Joined())) {
    r.fhs_status = MNT3ERR_NOENT;
    return r;
  }
  // The innermost export around the path that lists this client: the one
  // whose handle LOOKUP gives for the directory (exports.h, nested exports).
  std::optional<ExportTable::PathMatch> m =
      exports_->FindForClient(path.Joined(), ctx.client_addr);
  if (!m) {
    r.fhs_status = MNT3ERR_ACCES;
    return r;
  }
  // Each ".." must land inside an export of this client (no climbing out
  // of what it may see and back in through a name it may not see), and
  // must leave a directory that exists, as for realpath(3).
  for (const std::vector<std::string>& left : path.climbs) {
    const std::string up =
        "/" + absl::StrJoin(left.begin(), left.end() - 1, "/");
    if (!exports_->FindForClient(up, ctx.client_addr)) {
      r.fhs_status = MNT3ERR_ACCES;
      return r;
    }
    absl::StatusOr<storage::Attr> d =
        store_->ResolvePath(absl::StrJoin(left.begin() + 1, left.end(), "/"));
    if (!d.ok() || d->type != storage::FileType::kDirectory) {
      r.fhs_status = d.ok() ? MNT3ERR_NOTDIR : MountStatusOf(d.status());
      return r;
    }
  }
  absl::StatusOr<storage::Attr> a = store_->ResolvePath(m->store_path);
  if (!a.ok()) {
    r.fhs_status = MountStatusOf(a.status());
    return r;
  }
  if (a->type != storage::FileType::kDirectory) {
    r.fhs_status = MNT3ERR_NOTDIR;
    return r;
  }
  r.fhandle = fh_->Encode(m->index, a->ino, a->generation);
  r.auth_flavors = {AUTH_SYS_FLAVOR, AUTH_NONE_FLAVOR};
  absl::MutexLock l(&mu_);
  if (mounts_.size() < 4096) {
    mounts_.emplace(ctx.client_addr.ToString(), path.Joined());
  }
  return r;
}

mountlist MountProcs::Dump(const CallContext&) {
  absl::MutexLock l(&mu_);
  mountlist out;
  for (const auto& [host, dir] : mounts_) out.push_back({host, dir});
  return out;
}

void MountProcs::Umnt(const CallContext& ctx, absl::string_view dirpath) {
  // MNT recorded the path in its canonical form.
  const MountPath path = ParseMountPath(dirpath);
  absl::MutexLock l(&mu_);
  mounts_.erase({ctx.client_addr.ToString(),
                 path.escapes ? std::string(dirpath) : path.Joined()});
}

void MountProcs::Umntall(const CallContext& ctx) {
  std::string host = ctx.client_addr.ToString();
  absl::MutexLock l(&mu_);
  for (auto it = mounts_.begin(); it != mounts_.end();) {
    it = it->first == host ? mounts_.erase(it) : std::next(it);
  }
}

nfs::exports MountProcs::Export(const CallContext&) {
  nfs::exports out;
  for (const nfs::Export& e : exports_->exports()) {
    exportnode n;
    n.ex_dir = e.name;
    for (const ClientRule& c : e.clients) n.ex_groups.push_back(c.spec);
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace vnas::nfs
