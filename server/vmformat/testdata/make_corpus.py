#!/usr/bin/env python3
"""Writes the malformed-sample corpus replayed by corpus_replay_test and used
as the libFuzzer seed corpus. Re-run after changing it: python3 make_corpus.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(OUT, exist_ok=True)


def w(name, data):
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def kdmv(desc=b"", off=1, size=20, cap=131072, grain=128, version=1):
    h = b"KDMV" + struct.pack("<II", version, 3) + struct.pack("<QQQQ", cap, grain, off, size)
    h = h.ljust(512, b"\0")
    if desc:
        h += desc
    return h.ljust(512 * 21, b"\0")


DESC = ("# Disk DescriptorFile\nversion=1\nCID=7b2e9d44\nparentCID=3a5c0f21\n"
        "createType=\"vmfsSparse\"\nparentFileNameHint=\"vm.vmdk\"\n"
        "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\"\n")
BASE = ("# Disk DescriptorFile\nversion=1\nCID=3a5c0f21\nparentCID=ffffffff\n"
        "createType=\"vmfs\"\nRW 41943040 VMFS \"vm-flat.vmdk\"\n")

w("desc_truncated", DESC[:70])
w("desc_crlf_quotes", DESC.replace("\n", "\r\n").replace('"vmfsSparse"', "vmfsSparse"))
w("desc_nul", DESC[:40] + "\0" + DESC[40:])
w("desc_huge_sectors", DESC.replace("41943040", "99999999999999999999"))
w("desc_sector_overflow", BASE + "RW 18014398509481984 FLAT \"a\"\nRW 18014398509481984 FLAT \"b\"\n")
w("desc_non_utf8", BASE + "ddb.comment = \"\xff\xfe\xc3\x28\"\n")
# Kept small: libFuzzer caps generated inputs at the largest seed (and
# deploy/fuzz.sh at -max_len), and cost grows with input size. Files larger
# than the 64 KiB sample are reached through the "@big" name suffix instead
# (fuzz_entry.h); CorpusReplay.GeneratedExtremes feeds real 1 MiB inputs.
w("desc_long_line", BASE + "ddb.x = \"" + "y" * 6000 + "\"\n")
w("multi_big_sample", "=== vm.vmdk@big\n" + BASE + "ddb.x = \"yyyy"
  "\n=== vm.vmx@big\nscsi0:0.fileName = \"vm.vmdk\"\n"
  "=== vm.vmsd@big@fresh\nsnapshot0.uid = \"1\"\n")
w("kdmv_truncated", kdmv(DESC.encode())[:60])
w("kdmv_huge_desc_offset", kdmv(DESC.encode(), off=(1 << 62)))
w("kdmv_desc_size_overflow", kdmv(DESC.encode(), size=(1 << 64) - 1))
w("kdmv_capacity_overflow", kdmv(DESC.encode(), cap=(1 << 64) - 1))
w("kdmv_bad_grain", kdmv(DESC.encode(), grain=3))
w("kdmv_garbage_desc", kdmv(b"\x01\x02version=1\n\xff"))
w("cowd_truncated", b"COWD\x01\x00")
w("sesparse_bad", struct.pack("<QQQQ", 0xcafebabe, 0x200000001, (1 << 64) - 1, 0))

def qcow2(version=3, boff=0, bsize=0, cbits=16, hlen=112, ext=b""):
    h = b"QFI\xfb" + struct.pack(">IQII", version, boff, bsize, cbits) + struct.pack(">Q", 1 << 30)
    h = h.ljust(100, b"\0") + struct.pack(">I", hlen)
    h = h.ljust(hlen, b"\0") + ext
    return h.ljust(1024, b"\0")

w("qcow2_backing_beyond", qcow2(boff=(1 << 63), bsize=8))
w("qcow2_backing_huge", qcow2(boff=512, bsize=0xffffffff))
w("qcow2_bad_cluster_bits", qcow2(cbits=63))
w("qcow2_ext_overrun", qcow2(ext=struct.pack(">II", 0xe2792aca, 0xfffffff0)))
w("qcow2_v2_truncated", qcow2(version=2)[:50])
w("vhdx_ident_only", b"vhdxfile" + "QEMU".encode("utf-16-le"))
w("vhdx_odd_creator", b"vhdxfile" + b"\x00\xd8" * 300)
w("vmx_weird", "scsi0:0.fileName = \"vm.vmdk\nscsi999999:1.fileName=\"a.vmdk\"\n"
  "nvme0:0.present = \"FALSE\"\n= \"x\"\n\"\"=\"\"\ndisplayName=|2|\n")
w("vmsd_cycle", "snapshot0.uid = \"1\"\nsnapshot0.parent = \"2\"\nsnapshot1.uid = \"2\"\n"
  "snapshot1.parent = \"1\"\nsnapshot1.disk0.fileName = \"vm.vmdk\"\nsnapshot99999.uid=\"3\"\n")
w("multi_vss", "=== vm.vmdk\n" + BASE + "=== vm-000001.vmdk\n" + DESC +
  "=== vm-000002.vmdk\n" + DESC.replace("7b2e9d44", "5e90b7c1") +
  "=== vm.vmx\nscsi0:0.fileName = \"vm-000002.vmdk\"\n=== .lck-00ab@fresh\nx\n")
w("multi_cycle", "=== a.vmdk\n" + DESC.replace("vm.vmdk", "b.vmdk") +
  "=== b.vmdk\n" + DESC.replace("vm.vmdk", "a.vmdk").replace("7b2e9d44", "3a5c0f21") +
  "=== vm-000001-delta.vmdk\nCOWD\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\n")
w("multi_outside", "=== vm-000001.vmdk\n" + DESC.replace('"vm.vmdk"', '"../../etc/vm.vmdk"') +
  "=== vm.vmx\nscsi0:0.fileName = \"/vmfs/volumes/other/vm.vmdk\"\n")
w("multi_dup_names", "=== vm.vmdk\n" + BASE + "=== vm.vmdk\n" + DESC)
