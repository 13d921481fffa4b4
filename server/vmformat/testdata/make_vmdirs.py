#!/usr/bin/env python3
"""Writes testdata/vmdirs: hand-written VM directories the way ESXi, vSphere
snapshots and Workstation leave them (descriptor-only VMDKs, .vmx, .vmsd),
replayed by vmdirs_test. Each directory holds an EXPECT file:

    chains: <root><-...<-<leaf> | ...     (sorted by leaf, as ChainReport)
    blocking: REASON_NAME,...             (empty: offloadable)
    linear: true|false
    dir: <path in the export>             (optional: AnalyzeOptions::dir_path;
                                           "" = the export root)
    elsewhere: <export path> | ...        (optional: other files of the export)

File names are stored with "%20" for each space (Bazel runfiles cannot
hold spaces); the test decodes them. Extent data files are tiny stand-ins (a COWD / SESparse header or nothing):
the analyzer reads headers only. Written from the VMDK 1.1 spec and the
formats notes, not copied from anywhere. Re-run after changing:
python3 make_vmdirs.py"""
import os
import shutil
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vmdirs")


def cowd(sectors=41943040):
    return (b"COWD" + struct.pack("<IIIIIII", 1, 3, sectors, 1, 4, 640, 0)).ljust(512, b"\0")


def sesparse(sectors=41943040):
    return struct.pack("<QQQQ", 0xCAFEBABE, 0x0000000200000001, sectors, 8).ljust(512, b"\0")


def desc(cid, parent_cid, create_type, extents, hint=None, eol="\n", quote_hint=True,
         extra=""):
    lines = ["# Disk DescriptorFile", "version=1", 'encoding="UTF-8"', "CID=" + cid,
             "parentCID=" + parent_cid, 'isNativeSnapshot="no"',
             'createType="%s"' % create_type]
    if hint is not None:
        lines.append('parentFileNameHint="%s"' % hint if quote_hint
                     else "parentFileNameHint=" + hint)
    lines += ["", "# Extent description"] + extents
    lines += ["", "# The Disk Data Base", "#DDB", "", 'ddb.adapterType = "pvscsi"',
              'ddb.geometry.cylinders = "2610"', 'ddb.geometry.heads = "255"',
              'ddb.geometry.sectors = "63"',
              'ddb.longContentID = "9c4e2a4b1d0f7e3a5b6c8d9e%s"' % cid,
              'ddb.uuid = "60 00 C2 9f 1a 2b 3c 4d-5e 6f 70 81 92 a3 b4 c5"',
              'ddb.virtualHWVersion = "19"']
    if extra:
        lines.append(extra)
    return eol.join(lines) + eol


def vmx(disks, eol="\n"):
    lines = ['.encoding = "UTF-8"', 'config.version = "8"', 'virtualHW.version = "19"',
             'displayName = "vm"', 'guestOS = "windows2019srv-64"', 'nvram = "vm.nvram"',
             'pciBridge0.present = "TRUE"', 'scsi0.virtualDev = "pvscsi"',
             'scsi0.present = "TRUE"', 'sata0.present = "TRUE"', 'nvme0.present = "TRUE"']
    for node, name, more in disks:
        lines += ['%s.fileName = "%s"' % (node, name), '%s.present = "TRUE"' % node]
        lines += ['%s.%s = "%s"' % (node, k, v) for k, v in more]
    lines += ['sata0:1.deviceType = "cdrom-image"',
              'sata0:1.fileName = "/vmfs/volumes/6123abcd-iso/win.iso"',
              'sched.swap.derivedName = "/vmfs/volumes/a1b2c3d4-e5f6a7b8/vm/vm-5f1e2d3c.vswp"']
    return eol.join(lines) + eol


def vmsd(snaps, current):
    lines = ['.encoding = "UTF-8"', 'snapshot.lastUID = "%d"' % len(snaps),
             'snapshot.current = "%d"' % current, 'snapshot.numSnapshots = "%d"' % len(snaps)]
    for i, (uid, parent, disks, extra) in enumerate(snaps):
        p = "snapshot%d." % i
        lines += [p + 'uid = "%d"' % uid, p + 'filename = "vm-Snapshot%d.vmsn"' % uid,
                  p + 'displayName = "snap %d"' % uid, p + 'description = ""',
                  p + 'createTimeHigh = "398163"', p + 'createTimeLow = "-1143218534"',
                  p + 'numDisks = "%d"' % len(disks)]
        if parent:
            lines.append(p + 'parent = "%d"' % parent)
        lines += [p + '%s = "%s"' % (k, v) for k, v in extra]
        for m, (name, node) in enumerate(disks):
            lines += [p + 'disk%d.fileName = "%s"' % (m, name), p + 'disk%d.node = "%s"' % (m, node)]
    return "\n".join(lines) + "\n"


CASES = {}


def case(name, files, chains, blocking="", linear=True, dir=None, elsewhere=()):
    expect = "chains: %s\nblocking: %s\nlinear: %s\n" % (
        chains, blocking, "true" if linear else "false")
    if dir is not None:
        expect += "dir: %s\n" % dir
    if elsewhere:
        expect += "elsewhere: %s\n" % " | ".join(elsewhere)
    CASES[name] = (files, expect)


def qcow2(size, backing="", backing_fmt="", cluster_bits=16):
    """A qcow2 v3 header as qemu-img writes it (refcount/L1 tables left
    out: the analyzer reads headers only): 104-byte header, the backing
    format extension, the end-of-extensions marker, then the backing name."""
    ext = b""
    if backing_fmt:
        body = backing_fmt.encode()
        ext += struct.pack(">II", 0xE2792ACA, len(body)) + body.ljust((len(body) + 7) & ~7, b"\0")
    ext += struct.pack(">II", 0, 0)
    name = backing.encode()
    off = 104 + len(ext) if name else 0
    hdr = struct.pack(">IIQIIQIIQQIIQQQQII", 0x514649FB, 3, off, len(name), cluster_bits,
                      size, 0, 1, 3 << cluster_bits, 1 << cluster_bits, 1, 0, 0, 0, 0, 0,
                      4, 104)
    return (hdr + ext + name).ljust(1024, b"\0")


def vmsn(embedded_vmx):
    """A snapshot state file: the checkpoint magic, a group table, and the
    VM's configuration as it was, embedded (length-prefixed)."""
    cfg = embedded_vmx.encode()
    return (struct.pack("<III", 0xBED3BED3, 8, 42) + b"Snapshot".ljust(64, b"\0") +
            struct.pack("<Q", len(cfg)) + cfg).ljust(4096, b"\0")


def vmxf(vmx_name, vm_id="52 8a 6c 77 0d 5e 2c 4e-f3 a7 d2 1e 9b 3a 0c 44"):
    return ('<?xml version="1.0"?>\n<Foundry>\n<VM>\n<VMId type="string">%s</VMId>\n'
            '<ClientMetaData>\n<clientMetaDataAttributes/>\n<HistoryEventList/>'
            '</ClientMetaData>\n<vmxPathName type="string">%s</vmxPathName></VM>'
            '</Foundry>\n' % (vm_id, vmx_name))


BASE = desc("3a5c0f21", "ffffffff", "vmfs", ['RW 41943040 VMFS "vm-flat.vmdk"'],
            extra='ddb.thinProvisioned = "1"')

# CRLF throughout, unquoted hint, seSparse leaf on a vmfsSparse redo log,
# NVMe disk, snapshot database.
case("esxi_crlf_linear", {
    "vm.vmdk": BASE.replace("\n", "\r\n"),
    "vm-flat.vmdk": b"",
    "vm-000001.vmdk": desc("7b2e9d44", "3a5c0f21", "vmfsSparse",
                           ['RW 41943040 VMFSSPARSE "vm-000001-delta.vmdk"'],
                           hint="vm.vmdk", eol="\r\n", quote_hint=False),
    "vm-000001-delta.vmdk": cowd(),
    "vm-000002.vmdk": desc("c41f0a93", "7b2e9d44", "seSparse",
                           ['RW 41943040 SESPARSE "vm-000002-sesparse.vmdk"'],
                           hint="vm-000001.vmdk", eol="\r\n"),
    "vm-000002-sesparse.vmdk": sesparse(),
    "vm.vmx": vmx([("nvme0:0", "vm-000002.vmdk", [])], eol="\r\n"),
    "vm.vmsd": vmsd([(1, 0, [("vm.vmdk", "nvme0:0")], []),
                     (2, 1, [("vm-000001.vmdk", "nvme0:0")], [])], 2),
    "vm.nvram": b"\0" * 64,
    "vmware.log": "2026-11-22T08:00:00.000Z In(05) vmx - Log for VMware ESX\n",
}, "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk")

# Names with spaces (a Windows guest named by its display name).
case("names_with_spaces", {
    "Win 2019.vmdk": desc("0badc0de", "ffffffff", "vmfs", ['RW 41943040 VMFS "Win 2019-flat.vmdk"']),
    "Win 2019-flat.vmdk": b"",
    "Win 2019-000001.vmdk": desc("1badc0de", "0badc0de", "vmfsSparse",
                                 ['RW 41943040 VMFSSPARSE "Win 2019-000001-delta.vmdk"'],
                                 hint="Win 2019.vmdk"),
    "Win 2019-000001-delta.vmdk": cowd(),
    "Win 2019.vmx": vmx([("scsi0:0", "Win 2019-000001.vmdk", [])]),
}, "Win 2019.vmdk<-Win 2019-000001.vmdk")

# VSS-quiesced Windows 2008 R2: two redo logs on the base; the .vmsd
# records the quiesced snapshot of the base only.
case("esxi_vss_siblings", {
    "vm.vmdk": BASE, "vm-flat.vmdk": b"",
    "vm-000001.vmdk": desc("7b2e9d44", "3a5c0f21", "vmfsSparse",
                           ['RW 41943040 VMFSSPARSE "vm-000001-delta.vmdk"'], hint="vm.vmdk"),
    "vm-000001-delta.vmdk": cowd(),
    "vm-000002.vmdk": desc("5e90b7c1", "3a5c0f21", "vmfsSparse",
                           ['RW 41943040 VMFSSPARSE "vm-000002-delta.vmdk"'], hint="vm.vmdk"),
    "vm-000002-delta.vmdk": cowd(),
    "vm.vmx": vmx([("scsi0:0", "vm-000002.vmdk", [])]),
    "vm.vmsd": vmsd([(1, 0, [("vm.vmdk", "scsi0:0")], [("type", "1")])], 1),
}, "vm.vmdk<-vm-000001.vmdk | vm.vmdk<-vm-000002.vmdk", "VSS_SIBLING_REDO_LOGS", False)

# The base was written after the snapshot (e.g. mounted read-write
# elsewhere): its CID no longer matches the redo log's parentCID.
case("esxi_cid_mismatch", {
    "vm.vmdk": BASE.replace("CID=3a5c0f21", "CID=3a5c0f22"), "vm-flat.vmdk": b"",
    "vm-000001.vmdk": desc("7b2e9d44", "3a5c0f21", "vmfsSparse",
                           ['RW 41943040 VMFSSPARSE "vm-000001-delta.vmdk"'], hint="vm.vmdk"),
    "vm-000001-delta.vmdk": cowd(),
    "vm.vmx": vmx([("scsi0:0", "vm-000001.vmdk", [])]),
}, "vm.vmdk<-vm-000001.vmdk", "BROKEN_CHAIN")

# The base disk was deleted; only the redo log is left.
case("esxi_missing_parent", {
    "vm-000001.vmdk": desc("7b2e9d44", "3a5c0f21", "vmfsSparse",
                           ['RW 41943040 VMFSSPARSE "vm-000001-delta.vmdk"'], hint="vm.vmdk"),
    "vm-000001-delta.vmdk": cowd(),
    "vm.vmx": vmx([("scsi0:0", "vm-000001.vmdk", [])]),
}, "vm-000001.vmdk", "MISSING_PARENT")

# A vSphere linked clone: its redo log's parent is the source VM's snapshot
# disk in another directory, named by an absolute path.
case("vsphere_linked_clone", {
    "clone.vmdk": desc("4d3c2b1a", "7b2e9d44", "seSparse",
                       ['RW 41943040 SESPARSE "clone-sesparse.vmdk"'],
                       hint="/vmfs/volumes/a1b2c3d4-e5f6a7b8/src vm/src vm-000001.vmdk"),
    "clone-sesparse.vmdk": sesparse(),
    "clone.vmx": vmx([("scsi0:0", "clone.vmdk", [])]),
}, "clone.vmdk", "PARENT_OUTSIDE_DATASTORE")

# The same, with the source VM's directory in this export: the hint maps to
# "src vm/src vm-000001.vmdk", a file of another directory. Still refused (a
# clone would share a parent no analysis covered), and the reason says where.
case("vsphere_linked_clone_same_export", {
    "clone.vmdk": desc("4d3c2b1a", "7b2e9d44", "seSparse",
                       ['RW 41943040 SESPARSE "clone-sesparse.vmdk"'],
                       hint="/vmfs/volumes/a1b2c3d4-e5f6a7b8/src vm/src vm-000001.vmdk"),
    "clone-sesparse.vmdk": sesparse(),
    "clone.vmx": vmx([("scsi0:0", "clone.vmdk", [])]),
}, "clone.vmdk", "PARENT_OUTSIDE_DATASTORE", dir="clone",
   elsewhere=["src vm/src vm-000001.vmdk", "src vm/src vm.vmdk"])

# ESXi snapshot deltas of a VM whose working directory was set by vCenter:
# the redo logs name their parents, the .vmx its disk and the .vmsd the
# frozen disks and snapshot state by absolute /vmfs/volumes/<uuid>/... paths
# into this very directory (web01 in the export). With a memory snapshot
# (.vmsn + .vmem) and the extended config (.vmxf) naming the .vmx.
ESXI_DS = "/vmfs/volumes/5f1e2d3c-8a9b0c1d-2e3f-0050568a1b2c/web01/"
WEB01_VMX = vmx([("scsi0:0", ESXI_DS + "web01-000002.vmdk", [])]).replace(
    '"vm"', '"web01"').replace('"vm.nvram"', '"web01.nvram"').replace(
    "/a1b2c3d4-e5f6a7b8/vm/vm-", "/5f1e2d3c-8a9b0c1d-2e3f-0050568a1b2c/web01/web01-") + \
    'extendedConfigFile = "web01.vmxf"\n'
case("esxi_absolute_hints", {
    "web01.vmdk": BASE.replace('"vm-flat.vmdk"', '"web01-flat.vmdk"'),
    "web01-flat.vmdk": b"",
    "web01-000001.vmdk": desc("7b2e9d44", "3a5c0f21", "vmfsSparse",
                              ['RW 41943040 VMFSSPARSE "web01-000001-delta.vmdk"'],
                              hint=ESXI_DS + "web01.vmdk"),
    "web01-000001-delta.vmdk": cowd(),
    "web01-000002.vmdk": desc("c41f0a93", "7b2e9d44", "seSparse",
                              ['RW 41943040 SESPARSE "web01-000002-sesparse.vmdk"'],
                              hint=ESXI_DS + "web01-000001.vmdk"),
    "web01-000002-sesparse.vmdk": sesparse(),
    "web01.vmx": WEB01_VMX,
    "web01.vmsd": vmsd([(1, 0, [(ESXI_DS + "web01.vmdk", "scsi0:0")], []),
                        (2, 1, [(ESXI_DS + "web01-000001.vmdk", "scsi0:0")], [])], 2)
                  .replace('"vm-Snapshot1.vmsn"', '"%sweb01-Snapshot1.vmsn"' % ESXI_DS)
                  .replace('"vm-Snapshot2.vmsn"', '"web01-Snapshot2.vmsn"'),
    "web01-Snapshot1.vmsn": vmsn(WEB01_VMX.replace("web01-000002", "web01-000001")),
    "web01-Snapshot2.vmsn": vmsn(WEB01_VMX),
    "web01-Snapshot2.vmem": b"\0" * 4096,
    "web01.vmxf": vmxf("web01.vmx"),
    "web01.nvram": b"\0" * 64,
    "vmware.log": "2026-11-22T08:00:00.000Z In(05) vmx - Log for VMware ESX\n",
}, "web01.vmdk<-web01-000001.vmdk<-web01-000002.vmdk", dir="web01")

# A VM with its second disk on another datastore: ESXi created it there as
# "vm/vm.vmdk" too, the same path as the first disk here. The .vmx names it
# by its absolute path; nothing shows that datastore2 is this datastore, so
# it must not be taken for this directory's vm.vmdk (the clone would run the
# first disk twice): refused as outside, as before.
case("esxi_disk_on_other_datastore", {
    "vm.vmdk": BASE, "vm-flat.vmdk": b"",
    "vm.vmx": vmx([("scsi0:0", "vm.vmdk", []),
                   ("scsi0:1", "/vmfs/volumes/datastore2/vm/vm.vmdk", [])]),
}, "vm.vmdk", "PARENT_OUTSIDE_DATASTORE", dir="vm")

# libvirt external snapshots on an NFS pool mounted at /mnt/datastore: each
# overlay names its backing file by the absolute path libvirt knew.
case("libvirt_absolute_backing", {
    "base.qcow2": qcow2(20 << 30),
    "vm1.qcow2": qcow2(20 << 30, "/mnt/datastore/vm1/base.qcow2", "qcow2"),
    "vm1.snap1.qcow2": qcow2(20 << 30, "/mnt/datastore/vm1/vm1.qcow2", "qcow2"),
}, "base.qcow2<-vm1.qcow2<-vm1.snap1.qcow2", dir="vm1")

# The same pool holding a cloud image and a VM's overlay in its top
# directory, mounted at libvirt's default /var/lib/libvirt/images.
case("libvirt_pool_root", {
    "debian-12.qcow2": qcow2(2 << 30),
    "web.qcow2": qcow2(2 << 30, "/var/lib/libvirt/images/debian-12.qcow2", "qcow2"),
}, "debian-12.qcow2<-web.qcow2", dir="")

# An overlay whose backing path could be two files of the export, depending
# on where the host mounted it: vm2/base.qcow2 (mounted at /srv/pool) or
# pool/vm2/base.qcow2 (mounted at /srv): not mapped, refused.
case("libvirt_ambiguous_backing", {
    "base.qcow2": qcow2(20 << 30),
    "vm2.qcow2": qcow2(20 << 30, "/srv/pool/vm2/base.qcow2", "qcow2"),
}, "base.qcow2 | vm2.qcow2", "PARENT_OUTSIDE_DATASTORE", dir="vm2",
   elsewhere=["pool/vm2/base.qcow2"])

# An independent-persistent data disk next to a snapshotted system disk,
# and a disk on a controller that is not present.
case("independent_disk_and_snapshot", {
    "vm.vmdk": BASE, "vm-flat.vmdk": b"",
    "vm-000001.vmdk": desc("7b2e9d44", "3a5c0f21", "vmfsSparse",
                           ['RW 41943040 VMFSSPARSE "vm-000001-delta.vmdk"'], hint="vm.vmdk"),
    "vm-000001-delta.vmdk": cowd(),
    "vm_1.vmdk": desc("0a0b0c0d", "ffffffff", "vmfs", ['RW 2097152 VMFS "vm_1-flat.vmdk"']),
    "vm_1-flat.vmdk": b"",
    "vm.vmx": vmx([("scsi0:0", "vm-000001.vmdk", []),
                   ("sata0:0", "vm_1.vmdk", [("mode", "independent-persistent")]),
                   ("scsi1:0", "gone.vmdk", [])]).replace(
                       'scsi1:0.present = "TRUE"', 'scsi1:0.present = "FALSE"'),
    "vm.vmsd": vmsd([(1, 0, [("vm.vmdk", "scsi0:0")], [])], 1),
}, "vm.vmdk<-vm-000001.vmdk | vm_1.vmdk")

# A physical-mode RDM as an independent disk: the data is on a LUN.
case("rdm_passthrough", {
    "vm.vmdk": BASE, "vm-flat.vmdk": b"",
    "vm_1.vmdk": desc("fffffffe", "ffffffff", "vmfsPassthroughRawDeviceMap",
                      ['RW 209715200 VMFSRDM "vm_1-rdmp.vmdk"']),
    "vm_1-rdmp.vmdk": b"",
    "vm.vmx": vmx([("scsi0:0", "vm.vmdk", []),
                   ("scsi0:1", "vm_1.vmdk", [("mode", "independent-persistent")])]),
}, "vm.vmdk | vm_1.vmdk", "UNSUPPORTED_FORMAT")

# A vSAN snapshot layout (vsanSparse redo log) copied to this datastore.
case("vsan_sparse", {
    "vm.vmdk": BASE, "vm-flat.vmdk": b"",
    "vm-000001.vmdk": desc("7b2e9d44", "3a5c0f21", "vsanSparse",
                           ['RW 41943040 VSANSPARSE "vm-000001-vsansparse.vmdk"'], hint="vm.vmdk"),
    "vm-000001-vsansparse.vmdk": b"",
    "vm.vmx": vmx([("scsi0:0", "vm-000001.vmdk", [])]),
}, "vm.vmdk<-vm-000001.vmdk")

# Hosted (Workstation) layouts: FLAT extents with offsets, a ZERO extent,
# RDONLY and NOACCESS access modes, one disk over several files.
case("hosted_extents", {
    "ws.vmdk": "# Disk DescriptorFile\nversion=1\nCID=11223344\nparentCID=ffffffff\n"
               "createType=\"twoGbMaxExtentFlat\"\n\n# Extent description\n"
               "RW 4192256 FLAT \"ws-f001.vmdk\" 0\nRDONLY 4192256 FLAT \"ws-f002.vmdk\" 0\n"
               "NOACCESS 2048 ZERO\nRW 2048 FLAT \"ws-f003.vmdk\" 2048\n\n"
               "# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"21\"\n",
    "ws-f001.vmdk": b"", "ws-f002.vmdk": b"", "ws-f003.vmdk": b"",
    "ws.vmx": vmx([("sata0:0", "ws.vmdk", [])]),
}, "ws.vmdk")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for name, (files, expect) in sorted(CASES.items()):
        d = os.path.join(OUT, name)
        os.makedirs(d)
        for fname, data in files.items():
            if isinstance(data, str):
                data = data.encode("utf-8")
            # Bazel 4 runfiles cannot hold spaces: stored as %20, the test
            # decodes the names.
            with open(os.path.join(d, fname.replace(" ", "%20")), "wb") as f:
                f.write(data)
        with open(os.path.join(d, "EXPECT"), "w") as f:
            f.write(expect)


main()
