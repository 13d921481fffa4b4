// nfs3_types.cc — XDR codecs for the RFC 1813 types in nfs3_types.h.
//
// Wire grammar: RFC 1813 §2.5-§3.3, big-endian XDR. Discriminated unions
// (post_op_attr, pre_op_attr, set_mode3, ..., createhow3, mknoddata3) are a
// u32 discriminant followed by the arm.
#include "server/nfs/nfs3_types.h"

namespace vnas::nfs {
namespace {

// Names up to kMaxPathLen decode, so that handlers can answer
// NFS3ERR_NAMETOOLONG for 256..1024 bytes instead of GARBAGE_ARGS.
bool DecodeName(XdrDecoder& d, absl::string_view* name) {
  return d.Var(kMaxPathLen, name);
}

bool DecodeTime(XdrDecoder& d, nfstime3* t) {
  return d.U32(&t->seconds) && d.U32(&t->nseconds);
}

bool DecodeTimeHow(XdrDecoder& d, time_how* how, nfstime3* t) {
  uint32_t h;
  if (!d.U32(&h)) return false;
  if (h > SET_TO_CLIENT_TIME) return d.Fail();
  *how = static_cast<time_how>(h);
  if (*how == SET_TO_CLIENT_TIME) return DecodeTime(d, t);
  return true;
}

bool DecodeVerf(XdrDecoder& d, std::array<char, 8>* v) {
  return d.FixedCopy(8, v->data());
}

void EncodeTime(XdrEncoder& e, const nfstime3& t) {
  e.U32(t.seconds);
  e.U32(t.nseconds);
}

void EncodeVerf(XdrEncoder& e, const std::array<char, 8>& v) {
  e.Fixed(absl::string_view(v.data(), 8));
}

void EncodeWccAttr(XdrEncoder& e, const pre_op_attr& v) {
  e.Bool(v.attributes_follow);
  if (v.attributes_follow) {
    e.U64(v.attributes.size);
    EncodeTime(e, v.attributes.mtime);
    EncodeTime(e, v.attributes.ctime);
  }
}

}  // namespace

bool Decode(XdrDecoder& d, nfs_fh3* v) { return d.Var(NFS3_FHSIZE, &v->data); }

bool Decode(XdrDecoder& d, sattr3* v) {
  if (!d.Bool(&v->set_mode) || (v->set_mode && !d.U32(&v->mode))) return false;
  if (!d.Bool(&v->set_uid) || (v->set_uid && !d.U32(&v->uid))) return false;
  if (!d.Bool(&v->set_gid) || (v->set_gid && !d.U32(&v->gid))) return false;
  if (!d.Bool(&v->set_size) || (v->set_size && !d.U64(&v->size))) return false;
  return DecodeTimeHow(d, &v->set_atime, &v->atime) &&
         DecodeTimeHow(d, &v->set_mtime, &v->mtime);
}

bool Decode(XdrDecoder& d, diropargs3* v) {
  return Decode(d, &v->dir) && DecodeName(d, &v->name);
}

bool Decode(XdrDecoder& d, GETATTR3args* v) { return Decode(d, &v->object); }

bool Decode(XdrDecoder& d, SETATTR3args* v) {
  if (!Decode(d, &v->object) || !Decode(d, &v->new_attributes) ||
      !d.Bool(&v->guard.check)) {
    return false;
  }
  return !v->guard.check || DecodeTime(d, &v->guard.obj_ctime);
}

bool Decode(XdrDecoder& d, LOOKUP3args* v) { return Decode(d, &v->what); }

bool Decode(XdrDecoder& d, ACCESS3args* v) {
  return Decode(d, &v->object) && d.U32(&v->access);
}

bool Decode(XdrDecoder& d, READLINK3args* v) { return Decode(d, &v->symlink); }

bool Decode(XdrDecoder& d, READ3args* v) {
  return Decode(d, &v->file) && d.U64(&v->offset) && d.U32(&v->count);
}

bool Decode(XdrDecoder& d, WRITE3args* v) {
  uint32_t stable;
  if (!Decode(d, &v->file) || !d.U64(&v->offset) || !d.U32(&v->count) ||
      !d.U32(&stable)) {
    return false;
  }
  if (stable > FILE_SYNC) return d.Fail();
  v->stable = static_cast<stable_how>(stable);
  if (!d.Var(kMaxIoSize, &v->data)) return false;
  // RFC 1813 §3.3.7: count is the number of bytes of data.
  if (v->data.size() != v->count) return d.Fail();
  return true;
}

bool Decode(XdrDecoder& d, CREATE3args* v) {
  uint32_t mode;
  if (!Decode(d, &v->where) || !d.U32(&mode)) return false;
  if (mode > EXCLUSIVE) return d.Fail();
  v->how.mode = static_cast<createmode3>(mode);
  if (v->how.mode == EXCLUSIVE) return DecodeVerf(d, &v->how.verf);
  return Decode(d, &v->how.obj_attributes);
}

bool Decode(XdrDecoder& d, MKDIR3args* v) {
  return Decode(d, &v->where) && Decode(d, &v->attributes);
}

bool Decode(XdrDecoder& d, SYMLINK3args* v) {
  return Decode(d, &v->where) && Decode(d, &v->symlink.symlink_attributes) &&
         d.Var(kMaxSymlinkLen, &v->symlink.symlink_data);
}

bool Decode(XdrDecoder& d, MKNOD3args* v) {
  uint32_t type;
  if (!Decode(d, &v->where) || !d.U32(&type)) return false;
  if (type < NF3REG || type > NF3FIFO) return d.Fail();
  v->what.type = static_cast<ftype3>(type);
  switch (v->what.type) {
    case NF3CHR:
    case NF3BLK:
      return Decode(d, &v->what.dev_attributes) &&
             d.U32(&v->what.spec.specdata1) && d.U32(&v->what.spec.specdata2);
    case NF3SOCK:
    case NF3FIFO:
      return Decode(d, &v->what.pipe_attributes);
    default:
      return true;
  }
}

bool Decode(XdrDecoder& d, REMOVE3args* v) { return Decode(d, &v->object); }
bool Decode(XdrDecoder& d, RMDIR3args* v) { return Decode(d, &v->object); }

bool Decode(XdrDecoder& d, RENAME3args* v) {
  return Decode(d, &v->from) && Decode(d, &v->to);
}

bool Decode(XdrDecoder& d, LINK3args* v) {
  return Decode(d, &v->file) && Decode(d, &v->link);
}

bool Decode(XdrDecoder& d, READDIR3args* v) {
  return Decode(d, &v->dir) && d.U64(&v->cookie) &&
         DecodeVerf(d, &v->cookieverf) && d.U32(&v->count);
}

bool Decode(XdrDecoder& d, READDIRPLUS3args* v) {
  return Decode(d, &v->dir) && d.U64(&v->cookie) &&
         DecodeVerf(d, &v->cookieverf) && d.U32(&v->dircount) &&
         d.U32(&v->maxcount);
}

bool Decode(XdrDecoder& d, FSSTAT3args* v) { return Decode(d, &v->fsroot); }
bool Decode(XdrDecoder& d, FSINFO3args* v) { return Decode(d, &v->fsroot); }
bool Decode(XdrDecoder& d, PATHCONF3args* v) { return Decode(d, &v->object); }

bool Decode(XdrDecoder& d, COMMIT3args* v) {
  return Decode(d, &v->file) && d.U64(&v->offset) && d.U32(&v->count);
}

bool Decode(XdrDecoder& d, fattr3* v) {
  uint32_t type;
  if (!d.U32(&type)) return false;
  if (type < NF3REG || type > NF3FIFO) return d.Fail();
  v->type = static_cast<ftype3>(type);
  return d.U32(&v->mode) && d.U32(&v->nlink) && d.U32(&v->uid) &&
         d.U32(&v->gid) && d.U64(&v->size) && d.U64(&v->used) &&
         d.U32(&v->rdev.specdata1) && d.U32(&v->rdev.specdata2) &&
         d.U64(&v->fsid) && d.U64(&v->fileid) && DecodeTime(d, &v->atime) &&
         DecodeTime(d, &v->mtime) && DecodeTime(d, &v->ctime);
}

bool Decode(XdrDecoder& d, post_op_attr* v) {
  if (!d.Bool(&v->attributes_follow)) return false;
  return !v->attributes_follow || Decode(d, &v->attributes);
}

// ---- Encoders ---------------------------------------------------------------

void Encode(XdrEncoder& e, const fattr3& v) {
  e.U32(v.type);
  e.U32(v.mode);
  e.U32(v.nlink);
  e.U32(v.uid);
  e.U32(v.gid);
  e.U64(v.size);
  e.U64(v.used);
  e.U32(v.rdev.specdata1);
  e.U32(v.rdev.specdata2);
  e.U64(v.fsid);
  e.U64(v.fileid);
  EncodeTime(e, v.atime);
  EncodeTime(e, v.mtime);
  EncodeTime(e, v.ctime);
}

void Encode(XdrEncoder& e, const post_op_attr& v) {
  e.Bool(v.attributes_follow);
  if (v.attributes_follow) Encode(e, v.attributes);
}

void Encode(XdrEncoder& e, const wcc_data& v) {
  EncodeWccAttr(e, v.before);
  Encode(e, v.after);
}

void Encode(XdrEncoder& e, const post_op_fh3& v) {
  e.Bool(v.handle_follows);
  if (v.handle_follows) e.Var(v.handle.view());
}

void Encode(XdrEncoder& e, const GETATTR3res& v) {
  e.U32(v.status);
  if (v.status == NFS3_OK) Encode(e, v.obj_attributes);
}

void Encode(XdrEncoder& e, const SETATTR3res& v) {
  e.U32(v.status);
  Encode(e, v.obj_wcc);
}

void Encode(XdrEncoder& e, const LOOKUP3res& v) {
  e.U32(v.status);
  if (v.status == NFS3_OK) {
    e.Var(v.object.view());
    Encode(e, v.obj_attributes);
  }
  Encode(e, v.dir_attributes);
}

void Encode(XdrEncoder& e, const ACCESS3res& v) {
  e.U32(v.status);
  Encode(e, v.obj_attributes);
  if (v.status == NFS3_OK) e.U32(v.access);
}

void Encode(XdrEncoder& e, const READLINK3res& v) {
  e.U32(v.status);
  Encode(e, v.symlink_attributes);
  if (v.status == NFS3_OK) e.Var(v.data);
}

void Encode(XdrEncoder& e, const READ3res& v) {
  e.U32(v.status);
  Encode(e, v.file_attributes);
  if (v.status == NFS3_OK) {
    e.U32(v.count);
    e.Bool(v.eof);
    if (v.data_keep) {  // the last field: the data follows as the tail
      e.buffer()->SetTail(v.lent, v.data_keep);
      e.U32(static_cast<uint32_t>(e.buffer()->tail_size()));
    } else {
      e.Var(v.data);
    }
  }
}

void Encode(XdrEncoder& e, const WRITE3res& v) {
  e.U32(v.status);
  Encode(e, v.file_wcc);
  if (v.status == NFS3_OK) {
    e.U32(v.count);
    e.U32(v.committed);
    EncodeVerf(e, v.verf);
  }
}

void Encode(XdrEncoder& e, const CREATE3res& v) {
  e.U32(v.status);
  if (v.status == NFS3_OK) {
    Encode(e, v.obj);
    Encode(e, v.obj_attributes);
  }
  Encode(e, v.dir_wcc);
}

void Encode(XdrEncoder& e, const REMOVE3res& v) {
  e.U32(v.status);
  Encode(e, v.dir_wcc);
}

void Encode(XdrEncoder& e, const RENAME3res& v) {
  e.U32(v.status);
  Encode(e, v.fromdir_wcc);
  Encode(e, v.todir_wcc);
}

void Encode(XdrEncoder& e, const LINK3res& v) {
  e.U32(v.status);
  Encode(e, v.file_attributes);
  Encode(e, v.linkdir_wcc);
}

void Encode(XdrEncoder& e, const READDIR3res& v) {
  e.U32(v.status);
  Encode(e, v.dir_attributes);
  if (v.status != NFS3_OK) return;
  EncodeVerf(e, v.cookieverf);
  for (const entry3& en : v.entries) {
    e.Bool(true);  // value_follows
    e.U64(en.fileid);
    e.Var(en.name);
    e.U64(en.cookie);
  }
  e.Bool(false);
  e.Bool(v.eof);
}

void Encode(XdrEncoder& e, const READDIRPLUS3res& v) {
  e.U32(v.status);
  Encode(e, v.dir_attributes);
  if (v.status != NFS3_OK) return;
  EncodeVerf(e, v.cookieverf);
  for (const entryplus3& en : v.entries) {
    e.Bool(true);
    e.U64(en.fileid);
    e.Var(en.name);
    e.U64(en.cookie);
    Encode(e, en.name_attributes);
    Encode(e, en.name_handle);
  }
  e.Bool(false);
  e.Bool(v.eof);
}

void Encode(XdrEncoder& e, const FSSTAT3res& v) {
  e.U32(v.status);
  Encode(e, v.obj_attributes);
  if (v.status != NFS3_OK) return;
  e.U64(v.tbytes);
  e.U64(v.fbytes);
  e.U64(v.abytes);
  e.U64(v.tfiles);
  e.U64(v.ffiles);
  e.U64(v.afiles);
  e.U32(v.invarsec);
}

void Encode(XdrEncoder& e, const FSINFO3res& v) {
  e.U32(v.status);
  Encode(e, v.obj_attributes);
  if (v.status != NFS3_OK) return;
  e.U32(v.rtmax);
  e.U32(v.rtpref);
  e.U32(v.rtmult);
  e.U32(v.wtmax);
  e.U32(v.wtpref);
  e.U32(v.wtmult);
  e.U32(v.dtpref);
  e.U64(v.maxfilesize);
  EncodeTime(e, v.time_delta);
  e.U32(v.properties);
}

void Encode(XdrEncoder& e, const PATHCONF3res& v) {
  e.U32(v.status);
  Encode(e, v.obj_attributes);
  if (v.status != NFS3_OK) return;
  e.U32(v.linkmax);
  e.U32(v.name_max);
  e.Bool(v.no_trunc);
  e.Bool(v.chown_restricted);
  e.Bool(v.case_insensitive);
  e.Bool(v.case_preserving);
}

void Encode(XdrEncoder& e, const COMMIT3res& v) {
  e.U32(v.status);
  Encode(e, v.file_wcc);
  if (v.status == NFS3_OK) EncodeVerf(e, v.verf);
}

size_t EncodedSize(const entry3& v) {
  // value_follows + fileid + name + cookie
  return 4 + 8 + 4 + v.name.size() + XdrPad(v.name.size()) + 8;
}

size_t EncodedSize(const entryplus3& v) {
  size_t n = 4 + 8 + 4 + v.name.size() + XdrPad(v.name.size()) + 8;
  n += v.name_attributes.attributes_follow ? kPostOpAttrSize : 4;
  n += 4;
  if (v.name_handle.handle_follows) {
    n += 4 + v.name_handle.handle.len + XdrPad(v.name_handle.handle.len);
  }
  return n;
}

}  // namespace vnas::nfs
