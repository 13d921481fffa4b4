// mount3.cc — MOUNT v3 handlers.
#include "server/nfs/mount3.h"

#include "absl/strings/str_cat.h"
#include "server/nfs/status_map.h"

namespace vnas::nfs {

std::string Ipv4String(uint32_t a) {
  return absl::StrCat(a >> 24, ".", (a >> 16) & 0xff, ".", (a >> 8) & 0xff,
                      ".", a & 0xff);
}

mountres3 MountProcs::Mnt(const CallContext& ctx, absl::string_view dirpath) {
  mountres3 r;
  if (dirpath.find('\0') != absl::string_view::npos) {
    r.fhs_status = MNT3ERR_INVAL;
    return r;
  }
  std::optional<ExportTable::PathMatch> m = exports_->FindForPath(dirpath);
  if (!m) {
    r.fhs_status = MNT3ERR_NOENT;
    return r;
  }
  if (!exports_->Check(m->index, ctx.client_addr)) {
    r.fhs_status = MNT3ERR_ACCES;
    return r;
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
    mounts_.emplace(Ipv4String(ctx.client_addr), std::string(dirpath));
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
  absl::MutexLock l(&mu_);
  mounts_.erase({Ipv4String(ctx.client_addr), std::string(dirpath)});
}

void MountProcs::Umntall(const CallContext& ctx) {
  std::string host = Ipv4String(ctx.client_addr);
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
