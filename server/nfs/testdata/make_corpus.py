#!/usr/bin/env python3
"""Writes the malformed-record corpus replayed by malformed_corpus_test.

Each file is one RPC record (no record mark). The file name says what the
server must answer:
  drop_*                 no reply at all
  rpc_mismatch_*         MSG_DENIED / RPC_MISMATCH
  auth_error_*           MSG_DENIED / AUTH_ERROR
  prog_unavail_*, prog_mismatch_*, proc_unavail_*, garbage_args_*
                         MSG_ACCEPTED with that accept_stat
  nfs_<N>_*              SUCCESS, NFS result status N (nfsstat3)
  mnt_<N>_*              SUCCESS, MOUNT result status N (mountstat3)
The 28-byte marker @@@ROOT_HANDLE_PLACEHOLDER@@ is replaced by the test with
the real root handle. Run from this directory: python3 make_corpus.py
"""
import os
import struct

ROOT = b"@@@ROOT_HANDLE_PLACEHOLDER@@"
assert len(ROOT) == 28


def u32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack(">Q", v)


def opaque(b, length=None):
    n = len(b) if length is None else length
    return u32(n) + b + b"\0" * ((4 - len(b) % 4) % 4)


def auth_sys(uid=0, gid=0):
    body = u32(0) + opaque(b"fuzz") + u32(uid) + u32(gid) + u32(0)
    return u32(1) + opaque(body)


def call(prog, vers, proc, xid=0x1234, cred=None, rpcvers=2):
    cred = auth_sys() if cred is None else cred
    return u32(xid) + u32(0) + u32(rpcvers) + u32(prog) + u32(vers) + \
        u32(proc) + cred + u32(0) + u32(0)


NFS, MNT, PMAP = 100003, 100005, 100000
SATTR_NONE = u32(0) * 6


def nfs(proc, args):
    return call(NFS, 3, proc) + args


corpus = {
    # Transport/RPC header level.
    "drop_empty": b"",
    "drop_truncated_header": b"\x00\x00\x12\x34\x00\x00",
    "drop_reply_not_call": u32(1) + u32(1) + u32(0),
    "drop_truncated_before_prog": u32(1) + u32(0) + u32(2) + u32(NFS),
    "rpc_mismatch_v3": call(NFS, 3, 0, rpcvers=3),
    "rpc_mismatch_v0": call(NFS, 3, 0, rpcvers=0),
    "auth_error_gss_flavor": call(NFS, 3, 0, cred=u32(6) + opaque(b"")),
    "auth_error_truncated_cred": u32(1) + u32(0) + u32(2) + u32(NFS) +
        u32(3) + u32(0) + u32(1) + u32(400) + b"short",
    "auth_error_oversized_cred": u32(1) + u32(0) + u32(2) + u32(NFS) +
        u32(3) + u32(0) + u32(1) + u32(0xFFFFFFF0) + b"\0" * 16,
    "auth_error_authsys_too_many_gids": call(NFS, 3, 0, cred=u32(1) + opaque(
        u32(0) + opaque(b"m") + u32(0) + u32(0) + u32(17) + u32(0) * 17)),
    "auth_error_authsys_truncated": call(NFS, 3, 0, cred=u32(1) + opaque(
        u32(0) + opaque(b"m"))),
    "prog_unavail_123456": call(123456, 1, 0),
    "prog_mismatch_nfs_v4": call(NFS, 4, 0),
    "prog_mismatch_nfs_v2": call(NFS, 2, 0),
    "prog_mismatch_mount_v1": call(MNT, 1, 0),
    "proc_unavail_nfs_22": call(NFS, 3, 22),
    "proc_unavail_nfs_huge": call(NFS, 3, 0xFFFFFFFF),
    "proc_unavail_pmap_callit": call(PMAP, 2, 5),
    "proc_unavail_rpcb3_callit": call(PMAP, 3, 5),
    "proc_unavail_rpcb3_getversaddr": call(PMAP, 3, 9),
    "proc_unavail_rpcb4_indirect": call(PMAP, 4, 10),
    "proc_unavail_rpcb4_13": call(PMAP, 4, 13),
    "prog_mismatch_pmap_v5": call(PMAP, 5, 0),
    "proc_unavail_mount_6": call(MNT, 3, 6),
    # Argument decoding.
    "garbage_args_getattr_no_args": nfs(1, b""),
    "garbage_args_getattr_truncated_fh": nfs(1, u32(28) + b"abc"),
    "garbage_args_getattr_fh_100_bytes": nfs(1, opaque(b"h" * 100)),
    "garbage_args_getattr_fh_len_overflow": nfs(1, u32(0xFFFFFFFC) + b"\0" * 8),
    "garbage_args_write_len_overflow": nfs(7, opaque(ROOT) + u64(0) +
        u32(0xFFFFFFF0) + u32(2) + u32(0xFFFFFFF0) + b"\0" * 64),
    "garbage_args_write_count_mismatch": nfs(7, opaque(ROOT) + u64(0) +
        u32(10) + u32(2) + opaque(b"abc")),
    "garbage_args_write_bad_stable": nfs(7, opaque(ROOT) + u64(0) + u32(3) +
        u32(9) + opaque(b"abc")),
    "garbage_args_write_over_wtmax": nfs(7, opaque(ROOT) + u64(0) +
        u32((1 << 20) + 4) + u32(2) + u32((1 << 20) + 4) + b"\0" * 16),
    "garbage_args_setattr_bool_2": nfs(2, opaque(ROOT) + u32(2)),
    "garbage_args_create_bad_mode": nfs(8, opaque(ROOT) + opaque(b"f") + u32(7)),
    "garbage_args_mknod_bad_type": nfs(11, opaque(ROOT) + opaque(b"f") + u32(99)),
    "garbage_args_lookup_name_over_1024": nfs(3, opaque(ROOT) + opaque(b"n" * 1100)),
    "garbage_args_mnt_path_5000": call(MNT, 3, 1) + opaque(b"/" * 5000),
    "garbage_args_getport_truncated": call(PMAP, 2, 3) + u32(NFS),
    "garbage_args_rpcb_getaddr_truncated": call(PMAP, 3, 3) + u32(NFS) + u32(3),
    "garbage_args_rpcb4_getaddr_netid_overflow": call(PMAP, 4, 3) + u32(NFS) +
        u32(3) + u32(0xFFFFFFF0) + b"tcp6",
    # Semantic checks on well-formed calls.
    "nfs_10001_getattr_fh_0_bytes": nfs(1, opaque(b"")),
    "nfs_10001_getattr_fh_28_garbage": nfs(1, opaque(b"G" * 28)),
    "nfs_10001_getattr_fh_64_garbage": nfs(1, opaque(b"\xff" * 64)),
    "nfs_10001_write_garbage_fh": nfs(7, opaque(b"x" * 8) + u64(0) + u32(3) +
        u32(2) + opaque(b"abc")),
    "nfs_22_lookup_name_with_slash": nfs(3, opaque(ROOT) + opaque(b"a/b")),
    "nfs_22_create_name_with_nul": nfs(8, opaque(ROOT) + opaque(b"a\0b") +
        u32(0) + SATTR_NONE),
    "nfs_22_lookup_empty_name": nfs(3, opaque(ROOT) + opaque(b"")),
    "nfs_63_lookup_name_256": nfs(3, opaque(ROOT) + opaque(b"n" * 256)),
    "nfs_63_create_name_300": nfs(8, opaque(ROOT) + opaque(b"n" * 300) +
        u32(0) + SATTR_NONE),
    "nfs_17_mkdir_dotdot": nfs(9, opaque(ROOT) + opaque(b"..") + SATTR_NONE),
    "nfs_22_remove_dot": nfs(12, opaque(ROOT) + opaque(b".")),
    "nfs_2_lookup_missing": nfs(3, opaque(ROOT) + opaque(b"missing")),
    "nfs_0_lookup_dotdot_at_root": nfs(3, opaque(ROOT) + opaque(b"..")),
    "nfs_21_read_directory": nfs(6, opaque(ROOT) + u64(0) + u32(4096)),
    "nfs_21_write_directory": nfs(7, opaque(ROOT) + u64(0) + u32(3) + u32(2) +
        opaque(b"abc")),
    "nfs_10005_readdir_count_tiny": nfs(16, opaque(ROOT) + u64(0) + b"\0" * 8 +
        u32(16)),
    "nfs_10004_mknod_fifo": nfs(11, opaque(ROOT) + opaque(b"p") + u32(7) +
        SATTR_NONE),
    "nfs_0_fsinfo_root": nfs(19, opaque(ROOT)),
    "mnt_2_missing_dir": call(MNT, 3, 1) + opaque(b"/vnas/nope"),
    "mnt_2_other_export": call(MNT, 3, 1) + opaque(b"/etc"),
    "mnt_2_dotdot_escape": call(MNT, 3, 1) + opaque(b"/vnas/../etc"),
    "mnt_22_nul_in_path": call(MNT, 3, 1) + opaque(b"/vnas\0x"),
    "mnt_0_root": call(MNT, 3, 1) + opaque(b"/vnas"),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "malformed")
os.makedirs(out, exist_ok=True)
for name, data in corpus.items():
    with open(os.path.join(out, name + ".rec"), "wb") as f:
        f.write(data)
print(len(corpus), "records written to", out)
