#!/usr/bin/env python3
"""Helpers that run *inside* the guest (host python3 through the chroot).

Standard library only; no imports from the project or from pytest.

    python3 $VMTOOLS capture STAGE DEST     # copy pmem-relevant /sys + /proc and
                                            # run the reference tools into
                                            # DEST/tools; DEST ending in .tar: built
                                            # in /tmp and written as one tar file
                                            # (9p is slow for many small files)
    python3 $VMTOOLS tools OUTDIR           # run the reference tools, save output
    python3 $VMTOOLS probe OUT.json [DEV]   # write-semantics probe (destructive!)
    python3 $VMTOOLS write PATH DATA        # one write, print JSON {ok, errno}
    python3 $VMTOOLS facts OUT PATH...      # path=value lines (see write_facts)
    python3 $VMTOOLS tiers                  # memory tiers as JSON

Capture format (one directory per stage):

    OUTDIR/sys/...          plain files with the content read at capture time,
                            symlinks kept as symlinks (targets unchanged),
                            file and dir modes kept
    OUTDIR/proc/{iomem,cmdline,meminfo}
    OUTDIR/tools/NAME.{out,err}, rc.json   reference tool output (TOOL_COMMANDS)
    OUTDIR/_capture.json    what git cannot keep: modes other than 0444
                            (files) / 0755 (dirs), read errors (errno name;
                            the file is then left empty), empty dirs, and a
                            one-line summary of each skipped boot memory block
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import subprocess
import sys
import time

# Subtrees copied (never following symlinks).  The ndbus device tree is added
# at run time (it is wherever /sys/bus/nd/devices/ndbus0 resolves to).
CAPTURE_ROOTS = (
    "/sys/devices/system/memory",
    "/sys/devices/system/node",
    "/sys/bus/nd",
    "/sys/bus/dax",
    "/sys/bus/memory",
    "/sys/bus/node",
    "/sys/bus/memory_tiering",
    "/sys/devices/virtual/memory_tiering",
    "/sys/class/nd",
    "/sys/kernel/mm/numa",
    "/sys/module/memory_hotplug",
    "/sys/module/kmem",
    "/sys/module/device_dax",
    "/sys/module/dax_pmem",
    "/sys/module/nd_pmem",
    "/sys/module/libnvdimm",
    "/sys/module/nfit",
)
PROC_FILES = ("/proc/iomem", "/proc/cmdline", "/proc/meminfo")

SKIP_NAMES = {"power", "uevent", "sections", "notes"}
# block-device internals under .../block/pmemN/ (ndctl only needs the name)
SKIP_UNDER_BLOCK = {"queue", "trace", "integrity", "mq"}
# boot (node 0) memory blocks kept in full; the rest are summarised
KEEP_BOOT_BLOCKS = 4
MAX_READ = 1 << 20

_MEMBLOCK_RE = re.compile(r"^/sys/devices/system/memory/memory(\d+)$")


def _errname(e: OSError) -> str:
    return errno.errorcode.get(e.errno or 0, str(e.errno))


def _read_attr(path: str) -> tuple[bytes, str | None]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        return b"", _errname(e)
    try:
        chunks = []
        total = 0
        while total < MAX_READ:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
            total += len(b)
        return b"".join(chunks), None
    except OSError as e:
        return b"", _errname(e)
    finally:
        os.close(fd)


def _natural(name: str) -> list:
    """memory2 before memory10."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t)
            for t in re.split(r"(\d+)", name)]


def _boot_block(path: str) -> bool:
    """A memory block of boot DRAM (linked to node 0)."""
    return os.path.lexists(os.path.join(path, "node0"))


def _block_summary(path: str) -> dict:
    out = {}
    for a in ("state", "valid_zones", "phys_index", "removable", "online"):
        data, err = _read_attr(os.path.join(path, a))
        out[a] = data.decode(errors="replace").strip() if err is None else "!" + err
    out["nodes"] = sorted(n for n in os.listdir(path) if re.fullmatch(r"node\d+", n))
    return out


def ndbus_tree() -> str | None:
    """The device directory that holds ndbus0 (e.g. .../ACPI0012:00)."""
    link = "/sys/bus/nd/devices/ndbus0"
    if not os.path.lexists(link):
        return None
    return os.path.dirname(os.path.realpath(link))


def capture(stage: str, outdir: str) -> dict:
    meta: dict = {
        "stage": stage,
        "kernel": os.uname().release,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "modes": {},
        "errors": {},
        "empty_dirs": [],
        "skipped_memory_blocks": {},
        "skip_rules": {
            "names": sorted(SKIP_NAMES),
            "under_block_devices": sorted(SKIP_UNDER_BLOCK),
            "boot_memory_blocks_kept": KEEP_BOOT_BLOCKS,
        },
    }
    roots = list(CAPTURE_ROOTS)
    nd = ndbus_tree()
    if nd:
        roots.append(nd)
        meta["ndbus_parent"] = nd
    # /sys/dev/char links that point at nd/dax devices (daxctl/ndctl need them)
    char_links = []
    if os.path.isdir("/sys/dev/char"):
        for name in sorted(os.listdir("/sys/dev/char")):
            p = os.path.join("/sys/dev/char", name)
            tgt = os.readlink(p)
            if "/ndbus" in tgt or "/dax" in tgt:
                char_links.append(p)

    def dst_of(src: str) -> str:
        return os.path.join(outdir, src.lstrip("/"))

    def rel(src: str) -> str:
        return src.lstrip("/")

    def copy_link(src: str) -> None:
        d = dst_of(src)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        if os.path.lexists(d):
            return
        os.symlink(os.readlink(src), d)

    def copy_file(src: str, st: os.stat_result) -> None:
        d = dst_of(src)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        data, err = _read_attr(src)
        with open(d, "wb") as fh:
            fh.write(data)
        mode = stat.S_IMODE(st.st_mode)
        os.chmod(d, mode)
        if mode != 0o444:
            meta["modes"][rel(src)] = f"{mode:04o}"
        if err:
            meta["errors"][rel(src)] = err

    def copy_dir(src: str) -> None:
        st = os.lstat(src)
        d = dst_of(src)
        os.makedirs(d, exist_ok=True)
        mode = stat.S_IMODE(st.st_mode)
        os.chmod(d, mode)  # root: later writes into a 0555 dir still work
        if mode != 0o755:
            meta["modes"][rel(src)] = f"{mode:04o}"
        try:
            names = sorted(os.listdir(src), key=_natural)
        except OSError as e:
            meta["errors"][rel(src)] = _errname(e)
            names = []
        kept = 0
        boot_seen = 0
        for name in names:
            if name in SKIP_NAMES:
                continue
            if name in SKIP_UNDER_BLOCK and "/block/" in src + "/":
                continue
            p = os.path.join(src, name)
            try:
                cst = os.lstat(p)
            except OSError as e:
                meta["errors"][rel(p)] = _errname(e)
                continue
            if stat.S_ISLNK(cst.st_mode):
                copy_link(p)
            elif stat.S_ISDIR(cst.st_mode):
                if _MEMBLOCK_RE.match(p) and _boot_block(p):
                    boot_seen += 1
                    if boot_seen > KEEP_BOOT_BLOCKS:
                        meta["skipped_memory_blocks"][name] = _block_summary(p)
                        continue
                copy_dir(p)
            else:
                copy_file(p, cst)
            kept += 1
        if kept == 0:
            meta["empty_dirs"].append(rel(src))

    for root in roots:
        if not os.path.lexists(root):
            meta["errors"][rel(root)] = "ENOENT"
            continue
        # make sure the parents exist as directories
        if os.path.islink(root):
            copy_link(root)
        else:
            copy_dir(root)
    for p in char_links:
        copy_link(p)
    for p in PROC_FILES:
        data, err = _read_attr(p)
        d = dst_of(p)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        with open(d, "wb") as fh:
            fh.write(data)
        if err:
            meta["errors"][rel(p)] = err
    meta["empty_dirs"].sort()
    with open(os.path.join(outdir, "_capture.json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
        fh.write("\n")
    return meta


# Reference tools run at each stage; outputs saved as OUTDIR/<name>.{out,err,rc}
TOOL_COMMANDS = {
    "lsmem": ["lsmem", "-J", "-o", "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"],
    "lsmem-all": ["lsmem", "-a", "-J", "-o", "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"],
    "daxctl-list": ["daxctl", "list"],
    "daxctl-list-RDMi": ["daxctl", "list", "-R", "-D", "-M", "-i"],
    "ndctl-list": ["ndctl", "list", "-B", "-D", "-R", "-N", "-i", "-v"],
    "ndctl-list-NX": ["ndctl", "list", "-N", "-X"],
    "numactl-H": ["numactl", "-H"],
}


def run_tools(outdir: str) -> dict:
    os.makedirs(outdir, exist_ok=True)
    rcs = {}
    for name, argv in TOOL_COMMANDS.items():
        try:
            r = subprocess.run(argv, capture_output=True, timeout=120)
            rc, out, err = r.returncode, r.stdout, r.stderr
        except (OSError, subprocess.TimeoutExpired) as e:
            rc, out, err = -1, b"", str(e).encode()
        for ext, data in (("out", out), ("err", err)):
            with open(os.path.join(outdir, f"{name}.{ext}"), "wb") as fh:
                fh.write(data)
        rcs[name] = rc
    with open(os.path.join(outdir, "rc.json"), "w") as fh:
        json.dump(rcs, fh, indent=1, sort_keys=True)
    return rcs


# --------------------------------------------------------------------------
# write-semantics probe


def write_attr(path: str, data: bytes | str) -> dict:
    """One open(O_WRONLY) + one write, as a tool would.  Never raises."""
    if isinstance(data, str):
        data = data.encode()
    res: dict = {"path": path, "data": data.decode(errors="replace")}
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        res.update(ok=False, errno=_errname(e), phase="open")
        return res
    try:
        n = os.write(fd, data)
        res.update(ok=True, errno=None, phase=None, written=n)
    except OSError as e:
        res.update(ok=False, errno=_errname(e), phase="write")
    finally:
        try:
            os.close(fd)
        except OSError as e:  # sysfs reports errors at write time; be safe
            res.setdefault("close_errno", _errname(e))
    return res


def read_attr(path: str) -> dict:
    data, err = _read_attr(path)
    if err:
        return {"path": path, "ok": False, "errno": err}
    return {"path": path, "ok": True, "value": data.decode(errors="replace").strip()}


def _r(path: str) -> str | None:
    data, err = _read_attr(path)
    return None if err else data.decode(errors="replace").strip()


MEM = "/sys/devices/system/memory"
DAXBUS = "/sys/bus/dax"


def _driver_of(dev: str) -> str | None:
    link = f"{DAXBUS}/devices/{dev}/driver"
    if not os.path.islink(link):
        return None
    return os.path.basename(os.readlink(link))


def _node_blocks(node: int) -> list[str]:
    d = f"/sys/devices/system/node/node{node}"
    if not os.path.isdir(d):
        return []
    names = [n for n in os.listdir(d) if re.fullmatch(r"memory\d+", n)]
    return sorted(names, key=lambda n: int(n[6:]))


def _dev_blocks(dev: str) -> list[str]:
    """Blocks of the dax device: on its target node, inside its resource."""
    base = f"{DAXBUS}/devices/{dev}"
    node = int(_r(f"{base}/target_node") or -1)
    start = int(_r(f"{base}/resource") or "0", 16)
    size = int(_r(f"{base}/size") or 0)
    bs = int(_r(f"{MEM}/block_size_bytes"), 16)
    out = []
    for b in _node_blocks(node):
        pi = _r(f"{MEM}/{b}/phys_index")
        if pi is None:
            continue
        bstart = int(pi, 16) * bs
        if start <= bstart <= start + size - 1:
            out.append(b)
    return out


def _blocks_view(blocks: list[str]) -> dict:
    return {b: {"state": _r(f"{MEM}/{b}/state"), "valid_zones": _r(f"{MEM}/{b}/valid_zones")}
            for b in blocks}


def _dmesg_tail(since_lines: int) -> list[str]:
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines()
    except OSError:
        return []
    return out[since_lines:]


def _dmesg_len() -> int:
    try:
        return len(subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines())
    except OSError:
        return 0


def probe(out_path: str, dev: str = "dax0.0") -> dict:
    """Destructive write-semantics probe on a system-ram dax device whose
    blocks are all online (Movable).  Ends with the device *stranded* (kmem
    unbound with blocks online) -- run it last in a guest.

    Each step records {ok, errno, phase(open|write), written} plus observed
    state; results are keyed by step name.
    """
    steps: dict[str, dict] = {}
    obs: dict[str, object] = {}

    def step(name: str, path: str, data: bytes | str, **observe) -> dict:
        r = write_attr(path, data)
        for k, p in observe.items():
            r[k] = _r(p)
        steps[name] = r
        return r

    blocks = _dev_blocks(dev)
    if not blocks:
        raise SystemExit(f"probe: no memory blocks for {dev}")
    obs["device"] = dev
    obs["blocks"] = blocks
    obs["initial_driver"] = _driver_of(dev)
    obs["initial"] = _blocks_view(blocks)
    b0 = f"{MEM}/{blocks[0]}"
    bm = f"{MEM}/{blocks[len(blocks) // 2]}"
    obs["b0"] = blocks[0]
    obs["bmid"] = blocks[len(blocks) // 2]

    # --- state writes on an online block
    step("online_movable_on_online", f"{b0}/state", "online_movable", state=f"{b0}/state")
    step("online_on_online", f"{b0}/state", "online", state=f"{b0}/state")
    step("online_kernel_on_online", f"{b0}/state", "online_kernel", state=f"{b0}/state")
    step("online_movable_nl_on_online", f"{b0}/state", "online_movable\n")
    step("online_file_1_on_online", f"{b0}/online", "1", state=f"{b0}/state")
    step("bogus_state", f"{b0}/state", "bogus", state=f"{b0}/state")
    step("empty_state", f"{b0}/state", "", state=f"{b0}/state")
    # --- offline / offline again
    step("offline_online_block", f"{b0}/state", "offline",
         state=f"{b0}/state", valid_zones=f"{b0}/valid_zones", online=f"{b0}/online")
    step("offline_on_offline", f"{b0}/state", "offline", state=f"{b0}/state")
    step("online_file_0_on_offline", f"{b0}/online", "0", state=f"{b0}/state")
    step("online_file_2_on_offline", f"{b0}/online", "2", state=f"{b0}/state")
    # daxctl writes a trailing NUL
    step("online_movable_nul_on_offline", f"{b0}/state", b"online_movable\0",
         state=f"{b0}/state", valid_zones=f"{b0}/valid_zones")
    # --- offline block in the middle of a Movable run -> online_kernel
    step("offline_mid", f"{bm}/state", "offline\n",
         state=f"{bm}/state", valid_zones=f"{bm}/valid_zones")
    step("online_kernel_mid", f"{bm}/state", "online_kernel",
         state=f"{bm}/state", valid_zones=f"{bm}/valid_zones")
    step("offline_mid_again", f"{bm}/state", "offline",
         state=f"{bm}/state", valid_zones=f"{bm}/valid_zones")
    step("online_plain_mid", f"{bm}/state", "online",
         state=f"{bm}/state", valid_zones=f"{bm}/valid_zones")
    # --- missing block, read-only attributes, write-only attributes
    step("missing_block_state", f"{MEM}/memory99999/state", "offline")
    step("ro_phys_index", f"{b0}/phys_index", "1")
    step("ro_valid_zones", f"{b0}/valid_zones", "Movable")
    step("ro_removable", f"{b0}/removable", "0")
    step("ro_block_size_bytes", f"{MEM}/block_size_bytes", "8000000")
    step("ro_dax_size", f"{DAXBUS}/devices/{dev}/target_node", "1")
    steps["read_kmem_bind"] = read_attr(f"{DAXBUS}/drivers/kmem/bind")
    steps["read_kmem_new_id"] = read_attr(f"{DAXBUS}/drivers/kmem/new_id")
    # --- auto_online_blocks
    aob = f"{MEM}/auto_online_blocks"
    obs["auto_online_blocks_initial"] = _r(aob)
    step("auto_online_garbage", aob, "garbage", value=aob)
    step("auto_online_online_movable", aob, "online_movable", value=aob)
    step("auto_online_restore_offline", aob, "offline", value=aob)

    # --- driver-level errors while bound to kmem with blocks online
    step("device_dax_bind_while_kmem", f"{DAXBUS}/drivers/device_dax/bind", dev)
    step("kmem_bind_while_kmem", f"{DAXBUS}/drivers/kmem/bind", dev)
    step("device_dax_unbind_not_bound", f"{DAXBUS}/drivers/device_dax/unbind", dev)
    step("kmem_unbind_unknown_dev", f"{DAXBUS}/drivers/kmem/unbind", "dax9.9")
    step("kmem_bind_unknown_dev", f"{DAXBUS}/drivers/kmem/bind", "dax9.9")

    # --- a clean manual round trip: offline all, kmem -> device_dax -> kmem
    rt: dict[str, object] = {}
    offl = [write_attr(f"{MEM}/{b}/state", "offline") for b in blocks]
    rt["offline_all_errnos"] = sorted({r["errno"] or "0" for r in offl})
    rt["after_offline"] = _blocks_view(blocks)
    step("kmem_remove_id", f"{DAXBUS}/devices/{dev}/driver/remove_id", dev)
    step("kmem_unbind_all_offline", f"{DAXBUS}/devices/{dev}/driver/unbind", dev)
    rt["driver_after_unbind"] = _driver_of(dev)
    rt["blocks_after_unbind"] = _dev_blocks(dev)
    rt["node_online_after_unbind"] = _r("/sys/devices/system/node/online")
    rt["has_memory_after_unbind"] = _r("/sys/devices/system/node/has_memory")
    rt["tiers_after_unbind"] = _tiers()
    rt["dev_nodes_after_unbind"] = sorted(
        n for n in os.listdir("/dev") if n.startswith("dax"))
    step("device_dax_bind", f"{DAXBUS}/drivers/device_dax/bind", dev)
    rt["driver_after_device_dax_bind"] = _driver_of(dev)
    rt["dev_nodes_after_device_dax_bind"] = sorted(
        n for n in os.listdir("/dev") if n.startswith("dax"))
    step("device_dax_remove_id", f"{DAXBUS}/drivers/device_dax/remove_id", dev)
    step("device_dax_unbind", f"{DAXBUS}/devices/{dev}/driver/unbind", dev)
    rt["driver_after_device_dax_unbind"] = _driver_of(dev)
    step("kmem_new_id", f"{DAXBUS}/drivers/kmem/new_id", dev)
    rt["driver_after_kmem_new_id"] = _driver_of(dev)
    step("kmem_bind_after_new_id", f"{DAXBUS}/drivers/kmem/bind", dev)
    rt["driver_after_kmem_bind"] = _driver_of(dev)
    blocks2 = _dev_blocks(dev)
    rt["blocks_after_rebind"] = blocks2
    rt["after_rebind"] = _blocks_view(blocks2)
    onl = [write_attr(f"{MEM}/{b}/state", "online_movable") for b in blocks2]
    rt["online_movable_all_errnos"] = sorted({r["errno"] or "0" for r in onl})
    rt["after_online"] = _blocks_view(blocks2)
    obs["roundtrip"] = rt

    # --- the stranding: kmem unbind with blocks online
    st: dict[str, object] = {}
    n0 = _dmesg_len()
    step("kmem_unbind_blocks_online", f"{DAXBUS}/devices/{dev}/driver/unbind", dev)
    st["driver_after"] = _driver_of(dev)
    st["blocks_after"] = _dev_blocks(dev)
    st["states_after"] = sorted({v["state"] for v in _blocks_view(st["blocks_after"]).values()})
    st["dmesg"] = _dmesg_tail(n0)
    step("device_dax_bind_stranded", f"{DAXBUS}/drivers/device_dax/bind", dev)
    step("kmem_bind_stranded", f"{DAXBUS}/drivers/kmem/bind", dev)
    st["driver_final"] = _driver_of(dev)
    st["dmesg_after_binds"] = _dmesg_tail(n0)
    try:
        st["iomem"] = [ln for ln in open("/proc/iomem").read().splitlines()
                       if "kmem" in ln or "dax" in ln or "Persistent" in ln
                       or "namespace" in ln]
    except OSError:
        st["iomem"] = []
    obs["stranded"] = st

    result = {"kernel": os.uname().release, "steps": steps, "observed": obs}
    with open(out_path, "w") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)
        fh.write("\n")
    return result


def write_facts(out_path: str, paths: list[str]) -> None:
    """``path=value`` per file (newlines folded to spaces, trailing space
    stripped); ``path=!MISSING`` if absent, ``path=!ERRNAME`` if unreadable."""
    lines = []
    for p in paths:
        if not os.path.lexists(p):
            lines.append(f"{p}=!MISSING")
            continue
        data, err = _read_attr(p)
        if err:
            lines.append(f"{p}=!{err}")
        else:
            text = data.decode(errors="replace").rstrip("\n").replace("\n", " ")
            lines.append(f"{p}={text}")
    with open(out_path, "w") as fh:
        fh.write("".join(line + "\n" for line in lines))


def _tiers() -> dict:
    base = "/sys/devices/virtual/memory_tiering"
    out = {}
    if os.path.isdir(base):
        for n in sorted(os.listdir(base)):
            if n.startswith("memory_tier"):
                out[n] = _r(f"{base}/{n}/nodelist")
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "capture" and len(argv) == 4:
        stage, dest = argv[2], argv[3]
        if dest.endswith(".tar"):
            import tarfile
            import tempfile

            tmp = tempfile.mkdtemp(prefix="capture-")
            meta = capture(stage, tmp)
            run_tools(os.path.join(tmp, "tools"))
            with tarfile.open(dest + ".part", "w", format=tarfile.PAX_FORMAT) as tf:
                for name in sorted(os.listdir(tmp)):
                    tf.add(os.path.join(tmp, name), arcname=name)
            os.rename(dest + ".part", dest)
        else:
            meta = capture(stage, dest)
            run_tools(os.path.join(dest, "tools"))
        print(f"captured {stage}: {len(meta['errors'])} read errors, "
              f"{len(meta['skipped_memory_blocks'])} boot blocks summarised")
        return 0
    if cmd == "tools" and len(argv) == 3:
        print(json.dumps(run_tools(argv[2]), sort_keys=True))
        return 0
    if cmd == "probe" and len(argv) in (3, 4):
        probe(argv[2], *(argv[3:]))
        return 0
    if cmd == "write" and len(argv) == 4:
        print(json.dumps(write_attr(argv[2], argv[3])))
        return 0
    if cmd == "facts" and len(argv) >= 3:
        write_facts(argv[2], argv[3:])
        return 0
    if cmd == "tiers":
        print(json.dumps(_tiers(), sort_keys=True))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
