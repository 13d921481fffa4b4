#include "server/control/vm_clone.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/control/reasons.h"
#include "storage/base/status_util.h"

namespace vnas::control {
namespace {

bool HasSuffixCi(const std::string& name, absl::string_view suffix) {
  return absl::EndsWithIgnoreCase(name, suffix);
}

std::string NewName(const VmClonePlan& plan, const std::string& old) {
  auto it = plan.rename.find(old);
  return it == plan.rename.end() ? old : it->second;
}

absl::Status WriteAll(storage::ExtentStore* store, storage::InodeId ino,
                      uint64_t offset, const std::string& bytes) {
  uint64_t done = 0;
  while (done < bytes.size()) {
    size_t n = std::min<size_t>(bytes.size() - done, 1 << 20);
    VNAS_ASSIGN_OR_RETURN(
        storage::WriteResult w,
        store->Write(ino, offset + done, absl::string_view(bytes).substr(done, n),
                     storage::Stability::kFileSync));
    if (w.count == 0) return absl::InternalError("short write");
    done += w.count;
  }
  return absl::OkStatus();
}

// Applies `patch` to the clone `ino`, each write only over the bytes the
// plan saw: a source changed since it was sampled (e.g. rebased) fails the
// clone (Aborted: plan again) instead of receiving a stale header.
absl::Status ApplyImagePatch(storage::ExtentStore* store, storage::InodeId ino,
                             const vmformat::ImagePatch& patch,
                             uint64_t* bytes_copied) {
  for (const vmformat::ImageWrite& w : patch.writes) {
    std::string now(w.expected.size(), '\0');
    VNAS_ASSIGN_OR_RETURN(storage::ReadResult r,
                          store->Read(ino, w.offset, now.size(), now.data()));
    now.resize(r.count);
    if (now != w.expected) {
      return absl::AbortedError(absl::StrCat(
          "the image changed since the clone was planned (bytes at ", w.offset,
          " differ); retry"));
    }
  }
  for (const vmformat::ImageWrite& w : patch.writes) {
    VNAS_RETURN_IF_ERROR(WriteAll(store, ino, w.offset, w.bytes));
    *bytes_copied += w.bytes.size();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VmClonePlan> PlanVmClone(storage::ExtentStore* store,
                                        VmDirectory source,
                                        const std::string& source_dir_name,
                                        storage::InodeId dst_parent,
                                        const std::string& dst_name,
                                        const std::string& new_base,
                                        const std::string& display_name) {
  VmClonePlan plan;
  plan.dst_parent = dst_parent;
  plan.dst_name = dst_name;
  std::vector<std::string> names;
  std::string vmx_name;
  for (const auto& e : source.entries) {
    if (e.attr.type != storage::FileType::kRegular || IsLockFile(e.name)) continue;
    names.push_back(e.name);
    if (vmx_name.empty() && HasSuffixCi(e.name, ".vmx")) vmx_name = e.name;
  }
  plan.old_base = vmx_name.empty() ? source_dir_name
                                   : vmx_name.substr(0, vmx_name.size() - 4);
  plan.new_base = new_base.empty() ? dst_name : new_base;
  plan.display_name = display_name.empty() ? plan.new_base : display_name;
  VNAS_ASSIGN_OR_RETURN(plan.rename, vmformat::ProposeRenameMap(
                                         names, plan.old_base, plan.new_base));
  // qcow2 backing / data files and VHDX parents keep their names: the
  // images name them in headers that are cloned, not rewritten.
  VNAS_RETURN_IF_ERROR(
      vmformat::PinUnrewritableNames(source.report, &plan.rename));
  // Absolute references to files of this directory become bare names in
  // the clone (vmformat/rewrite.h says why).
  const vmformat::AbsoluteRefs& abs = source.report.absolute_refs;
  vmformat::RewriteOptions ro;
  ro.absolute_refs = abs;
  VNAS_ASSIGN_OR_RETURN(plan.edits, vmformat::RewriteVmdkSet(
                                        source.samples, plan.rename, ro));
  VNAS_ASSIGN_OR_RETURN(plan.image_patches,
                        vmformat::RewriteQcow2Backings(source.samples,
                                                       plan.rename, abs));
  std::map<std::string, const vmformat::DescriptorEdit*> edit_of;
  for (const auto& ed : plan.edits) edit_of[ed.old_name] = &ed;
  std::set<std::string> patched;
  for (const auto& p : plan.image_patches) patched.insert(p.old_name);

  for (const auto& e : source.entries) {
    v1::RenamedFile f;
    f.set_old_name(e.name);
    f.set_size(e.attr.size);
    if (e.attr.type != storage::FileType::kRegular || IsLockFile(e.name)) {
      f.set_new_name("");
      f.set_action("skip");
      plan.files.push_back(std::move(f));
      continue;
    }
    f.set_new_name(NewName(plan, e.name));
    plan.bytes_total += e.attr.size;
    auto ed = edit_of.find(e.name);
    if (ed != edit_of.end()) {
      f.set_action(ed->second->whole_file ? "rewrite" : "patch");
    } else if (patched.count(e.name)) {
      f.set_action("patch");
    } else if (HasSuffixCi(e.name, ".vmx") || HasSuffixCi(e.name, ".vmsd") ||
               HasSuffixCi(e.name, ".vmxf")) {
      VNAS_ASSIGN_OR_RETURN(std::string text,
                            ReadWhole(store, e.ino, kMaxTextFileBytes));
      std::string out;
      if (HasSuffixCi(e.name, ".vmx")) {
        VNAS_ASSIGN_OR_RETURN(out, vmformat::RewriteVmx(text, plan.rename,
                                                        plan.display_name, abs));
      } else if (HasSuffixCi(e.name, ".vmsd")) {
        VNAS_ASSIGN_OR_RETURN(out, vmformat::RewriteVmsd(text, plan.rename, abs));
      } else {
        // The .vmxf names its .vmx (<vmxPathName>), which is renamed.
        VNAS_ASSIGN_OR_RETURN(out, vmformat::RewriteVmxf(text, plan.rename));
      }
      plan.rewritten[e.name] = std::move(out);
      f.set_action("rewrite");
    } else {
      f.set_action("clone");
    }
    plan.files.push_back(std::move(f));
  }
  plan.source = std::move(source);
  return plan;
}

absl::StatusOr<VmCloneResult> ExecuteVmClone(
    storage::ExtentStore* store, const VmClonePlan& plan, OpContext* ctx,
    const std::function<void(const std::string&)>& before_file) {
  VmCloneResult result;
  VNAS_ASSIGN_OR_RETURN(storage::Attr src_dir,
                        store->GetAttr(plan.source.ino));
  absl::StatusOr<storage::CreateResult> made = store->Mkdir(
      plan.dst_parent, plan.dst_name, src_dir.mode, src_dir.uid, src_dir.gid);
  if (!made.ok()) {
    if (made.status().code() == absl::StatusCode::kAlreadyExists) {
      return Refusal(absl::StatusCode::kAlreadyExists,
                     v1::REASON_DESTINATION_EXISTS,
                     absl::StrCat("destination \"", plan.dst_name,
                                  "\" exists"));
    }
    return made.status();
  }
  const storage::InodeId dst = made->attr.ino;
  std::vector<std::string> created;
  auto rollback = [&](absl::Status why) -> absl::Status {
    for (const std::string& n : created) {
      store->Remove(dst, n).status().IgnoreError();  // best effort cleanup
    }
    store->Rmdir(plan.dst_parent, plan.dst_name).status().IgnoreError();
    return why;
  };
  std::map<std::string, const vmformat::DescriptorEdit*> edit_of;
  for (const auto& ed : plan.edits) edit_of[ed.old_name] = &ed;
  std::map<std::string, const vmformat::ImagePatch*> patch_of;
  for (const auto& p : plan.image_patches) patch_of[p.old_name] = &p;
  std::map<std::string, const storage::DirEntry*> entry_of;
  for (const auto& e : plan.source.entries) entry_of[e.name] = &e;

  uint32_t files_total = 0;
  for (const auto& f : plan.files) files_total += f.action() != "skip";
  if (ctx != nullptr) ctx->SetTotals(plan.bytes_total, files_total);

  uint64_t bytes_done = 0;
  uint32_t files_done = 0;
  for (const v1::RenamedFile& f : plan.files) {
    if (f.action() == "skip") continue;
    if (ctx != nullptr) {
      ctx->Progress(bytes_done, files_done, f.old_name());
      if (ctx->cancelled()) {
        return rollback(Refusal(
            absl::StatusCode::kCancelled, v1::REASON_CANCELLED,
            absl::StrCat("cancelled after ", files_done, " of ", files_total,
                         " files; the partial clone was removed")));
      }
    }
    if (before_file) before_file(f.old_name());
    const storage::DirEntry* src = entry_of.at(f.old_name());
    absl::Status st;
    if (f.action() == "rewrite") {
      const std::string* bytes = nullptr;
      auto ed = edit_of.find(f.old_name());
      if (ed != edit_of.end()) {
        bytes = &ed->second->bytes;
      } else {
        bytes = &plan.rewritten.at(f.old_name());
      }
      storage::CreateRequest req;
      req.mode = src->attr.mode;
      req.uid = src->attr.uid;
      req.gid = src->attr.gid;
      req.how = storage::CreateRequest::How::kGuarded;
      absl::StatusOr<storage::CreateResult> c =
          store->Create(dst, f.new_name(), req);
      if (c.ok()) {
        created.push_back(f.new_name());
        st = WriteAll(store, c->attr.ino, 0, *bytes);
        result.bytes_copied += bytes->size();
      } else {
        st = c.status();
      }
    } else {
      absl::StatusOr<storage::CreateResult> c =
          store->CloneFile(src->ino, dst, f.new_name(), /*guarded=*/true);
      if (c.ok()) {
        created.push_back(f.new_name());
        result.bytes_shared += src->attr.size;
        if (f.action() == "patch") {
          auto ed = edit_of.find(f.old_name());
          if (ed != edit_of.end()) {
            st = WriteAll(store, c->attr.ino, ed->second->offset,
                          ed->second->bytes);
            result.bytes_copied += ed->second->bytes.size();
          } else {
            st = ApplyImagePatch(store, c->attr.ino, *patch_of.at(f.old_name()),
                                 &result.bytes_copied);
          }
        }
      } else {
        st = c.status();
      }
    }
    if (!st.ok()) {
      return rollback(WithReason(
          absl::Status(st.code(), absl::StrCat(f.old_name(), " -> ",
                                               f.new_name(), ": ",
                                               st.message())),
          ReasonOf(st)));
    }
    ++result.files;
    ++files_done;
    bytes_done += src->attr.size;
  }
  if (ctx != nullptr) ctx->Progress(bytes_done, files_done, "");
  return result;
}

}  // namespace vnas::control
