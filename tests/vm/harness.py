"""Boot a real Debian kernel (6.1, 6.12, or any linux-image-* package) with
emulated NVDIMMs under QEMU/TCG.

Importable without pytest.  The public surface is:

* :class:`NvdimmSpec` -- one emulated NVDIMM on its own memory-only NUMA node;
* :func:`run_guest` -- boot, run a shell script as root in the guest (which
  sees the host's root file system read-only), collect results, power off;
* :class:`GuestResult` -- what came back;
* :func:`vm_available` -- ``(ok, reason)``: can this machine run guests at all;
* :func:`prepare` -- obtain (or reuse) the cached kernel and initramfs.

How a run works
---------------
1. ``prepare(kernel=...)`` resolves the kernel package -- ``6.1``: the
   dependency of the ``linux-image-amd64`` metapackage (``apt-cache
   depends``); ``6.12``: the newest ``linux-image-6.12.N+deb12-amd64-unsigned``;
   or a ``linux-image-*`` name (:data:`KERNEL_SERIES`, :func:`kernel_names`,
   :func:`current_kernel`) -- downloads it
   with ``apt-get download``, unpacks it with ``dpkg -x`` and runs
   ``depmod -b`` on it, all into the cache dir (``$PMEMCTL_VM_CACHE``,
   default ``/var/cache/pmemctl-vm``), keyed by kernel version.  It then builds
   a tiny initramfs (static busybox, the needed ``.ko`` files in dependency
   order computed from ``modules.dep``, built-ins skipped, ``.ko.xz``
   unpacked for busybox's insmod, and ``/init``) and caches it keyed by
   a hash of its inputs.  A second run downloads and builds nothing.
2. ``run_guest()`` makes a temp dir with sparse NVDIMM backing files and an
   ``io/`` directory shared writable with the guest (9p tag ``vmio``), writes
   the scenario script there, and boots QEMU (TCG; ``nvdimm=on,hmat=on``; one
   DRAM node with the CPUs, one memory-only node per NVDIMM with HMAT
   latency/bandwidth figures).  The host's ``/`` is shared read-only (tag
   ``hostroot``).
3. The guest's ``/init`` loads the modules, mounts ``hostroot`` on
   ``/newroot``, binds ``/proc /sys /dev`` into it, puts tmpfs on ``/tmp``
   and ``/run``, mounts ``vmio`` on ``/run/vmio`` and runs
   ``chroot /newroot /bin/sh /run/vmio/run.sh`` with stdout/stderr redirected
   into the share; then it writes ``exit_code`` and ``dmesg`` there and
   powers off.  The script therefore runs the host's own binaries (python3,
   ndctl, daxctl, lsmem, numactl...) and the project checkout, against the
   guest kernel.

Environment seen by the scenario script (``run.sh`` sets it up):
``VMIO`` (the writable share, ``/run/vmio``), ``PMEMCTL_SRC`` (host path of the
project checkout, also on ``PYTHONPATH``), ``PYTHON`` (the host interpreter
running the tests, by the path it was started with -- a venv's
``bin/python3`` stays that -- so pmemctl's dependencies are there; see
:func:`guest_python_default`, :func:`interpreter_shares`), ``VMTOOLS`` (path of
``guest_tools.py``), and shell functions ``pmemctl`` (``$PYTHON -m pmemctl``)
and ``vmtools`` (``$PYTHON -S $VMTOOLS``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

__all__ = [
    "GiB",
    "MiB",
    "NvdimmSpec",
    "GuestResult",
    "VmUnavailable",
    "Prepared",
    "cache_dir",
    "prepare",
    "run_guest",
    "vm_available",
    "kernel_names",
    "current_kernel",
    "DEFAULT_KERNELS",
    "KERNEL_SERIES",
    "GUEST_IO",
    "DEBIAN_PACKAGES",
    "unpack_capture",
]

MiB = 1 << 20
GiB = 1 << 30

HERE = Path(__file__).resolve().parent
PROJECT_DIR = HERE.parent.parent  # tests/vm/ -> checkout root

#: Where the writable share is mounted inside the guest (after chroot).
GUEST_IO = "/run/vmio"

#: Debian packages the harness needs on the host (the guest uses them too).
DEBIAN_PACKAGES = (
    "qemu-system-x86",  # qemu-system-x86_64
    "busybox-static",  # /bin/busybox for the initramfs
    "cpio",  # initramfs archive
    "kmod",  # depmod
    "ndctl",  # guest scenarios (ndctl)
    "daxctl",  # guest scenarios (daxctl)
    "numactl",  # guest scenarios (numactl -H)
    "util-linux",  # lsmem, timeout comes from coreutils (essential)
)

#: Modules to load in the guest, by name; dependencies are added and ordered
#: from modules.dep, built-ins are skipped.  kmem/device_dax/dax_pmem must be
#: loaded because the host root has no /lib/modules for the guest kernel, so
#: nothing can modprobe them later (daxctl is satisfied by /sys/module/kmem).
GUEST_MODULES = (
    "virtio_pci",
    "9pnet_virtio",
    "9p",
    "nfit",
    "nd_pmem",
    "nd_btt",
    "dax_pmem",
    "device_dax",
    "kmem",
    "dax_hmem",
)

KERNEL_METAPACKAGE = "linux-image-amd64"

#: Guest kernels known by short name: how apt names the package.  6.1 is what
#: Debian 12's metapackage depends on; 6.12 is Debian 12's second kernel
#: (``linux-image-6.12.N+deb12-amd64-unsigned``: .ko.xz modules, virtio and
#: fscache built in), the newest such package apt knows.
KERNEL_SERIES: dict[str, dict[str, str]] = {
    "6.1": {"metapackage": KERNEL_METAPACKAGE, "pattern": r"^linux-image-6\.1\.\d+-\d+-amd64$"},
    "6.12": {"prefix": "linux-image-6.12.", "pattern": r"^linux-image-6\.12\.\d+\+deb12-amd64-unsigned$"},
}
#: The kernels the tier runs on unless $PMEMCTL_VM_KERNELS says otherwise.
DEFAULT_KERNELS = ("6.1", "6.12")

DEFAULT_CMDLINE = "console=ttyS0 quiet panic=-1 memhp_default_state=offline"

# Bump to force an initramfs rebuild when the layout below changes.
_INITRAMFS_FORMAT = 4

_INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
log() { echo "pmemctl-vm: $*" > /dev/console; }
die() { log "FATAL: $*"; sync; poweroff -f; sleep 5; }
log "init start uptime=$(cut -d' ' -f1 /proc/uptime)"
while read -r mod; do
    insmod "/lib/modules/$mod" || log "insmod $mod failed"
done < /etc/modules.load
MSIZE=512000
mkdir -p /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=$MSIZE,cache=loose hostroot /newroot \
    || die "cannot mount hostroot"
mount -o bind /proc /newroot/proc || die "bind /proc"
mount -o bind /sys /newroot/sys || die "bind /sys"
mount -o bind /dev /newroot/dev || die "bind /dev"
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp || die "tmpfs /tmp"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || die "tmpfs /run"
mkdir -p /newroot/run/vmio
mount -t 9p -o trans=virtio,version=9p2000.L,msize=$MSIZE vmio /newroot/run/vmio \
    || die "cannot mount vmio"
# The project checkout has its own share: when it lives under /tmp or /run
# (CI clones anywhere), the tmpfs mounts above would hide it in hostroot.
for word in $(cat /proc/cmdline); do
    case "$word" in pmemctl.project=*) PROJECT="${word#pmemctl.project=}" ;; esac
done
case "$PROJECT" in
    /tmp/*|/run/*)
        mkdir -p "/newroot$PROJECT"
        mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=$MSIZE,cache=loose project "/newroot$PROJECT" \
            || die "cannot mount the project share" ;;
esac
# So has the guest interpreter's environment when it lives there (a venv made
# in a temp dir): pmemctl.share.TAG=DIR, one per hidden directory not already
# inside the project (the harness leaves those out).
for word in $(cat /proc/cmdline); do
    case "$word" in
        pmemctl.share.*=/*)
            spec="${word#pmemctl.share.}"; tag="${spec%%=*}"; dir="${spec#*=}"
            mkdir -p "/newroot$dir"
            mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=$MSIZE,cache=loose "$tag" "/newroot$dir" \
                || die "cannot mount the $tag share ($dir)" ;;
    esac
done
IO=/newroot/run/vmio
cut -d' ' -f1 /proc/uptime > $IO/guest_uptime_start
[ -f $IO/init_hook.sh ] && . $IO/init_hook.sh  # run_guest(init_hook=): may switch_root away
log "running scenario"
chroot /newroot /bin/sh /run/vmio/run.sh > $IO/stdout 2> $IO/stderr < /dev/null
echo $? > $IO/exit_code.tmp
cut -d' ' -f1 /proc/uptime > $IO/guest_uptime_end
dmesg > $IO/dmesg
mv $IO/exit_code.tmp $IO/exit_code
sync
log "scenario done rc=$(cat $IO/exit_code)"
umount /newroot/run/vmio
poweroff -f
sleep 5
"""

_RUN_SH = """\
# generated by tests/vm/harness.py
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 LC_ALL=C.UTF-8
export VMIO={io}
export PMEMCTL_SRC={src}
export VMTOOLS={tools}
export PYTHON={python}
export PYTHONPATH={src}${{PYTHONPATH:+:$PYTHONPATH}}
# The host root is read-only: byte code compiled on first import is kept on
# the guest's /tmp (tmpfs), so later runs load it as an installed package does
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX=/tmp/pycache
{env}
cd /tmp
# The seam through which scenarios call the project under test.
pmemctl() {{ "$PYTHON" -m pmemctl "$@"; }}
vmtools() {{ "$PYTHON" -S "$VMTOOLS" "$@"; }}  # stdlib only: skip site
. "$VMIO/scenario.sh"
"""


#: Seconds a guest may take to reach its init script (it takes 2-5 s).
BOOT_DEADLINE = 120
#: qemu_returncode of a guest killed for not reaching init in time.
BOOT_HUNG = -1000


def _boot(argv: list[str], console_path: Path) -> tuple[int, str, str]:
    """Run QEMU until it exits; kill it if the console has not shown init
    starting within BOOT_DEADLINE.  (returncode or BOOT_HUNG, qemu's own
    output, console log)."""
    with contextlib.suppress(FileNotFoundError):
        console_path.unlink()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + BOOT_DEADLINE
        booted = False
        returncode: int | None = None
        while returncode is None:
            try:
                returncode = proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            if returncode is None and not booted:
                text = console_path.read_text(errors="replace") if console_path.exists() else ""
                booted = "pmemctl-vm: init start" in text
                if not booted and time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    returncode = BOOT_HUNG
        out.seek(0)
        qemu_out = out.read().decode(errors="replace")
    console = console_path.read_text(errors="replace") if console_path.exists() else ""
    return returncode, qemu_out, console


def _reached_init(console: str) -> bool:
    return "pmemctl-vm: init start" in console


class VmUnavailable(RuntimeError):
    """QEMU guests cannot run here (reason in the message)."""


@dataclasses.dataclass(frozen=True)
class NvdimmSpec:
    """One emulated NVDIMM on its own memory-only NUMA node.

    ``latency_ns``/``bandwidth_mbs`` become the HMAT access latency (ns) and
    access bandwidth (MB/s) from the CPU node (0) to ``node``.
    """

    size: int = 4 * GiB
    node: int = 1
    latency_ns: int = 300
    bandwidth_mbs: int = 4096
    label_size: int = 128 * 1024

    def __post_init__(self) -> None:
        if self.size % (128 * MiB):
            raise ValueError("NVDIMM size must be a multiple of 128 MiB")
        if self.node < 1:
            raise ValueError("node 0 is the DRAM/CPU node")


@dataclasses.dataclass
class GuestResult:
    """Outcome of one :func:`run_guest`.

    ``exit_code`` is the scenario script's exit status, or ``None`` when the
    guest never got to write it (boot failure, timeout, panic).
    ``files`` maps every regular file in the results share (posix relative
    paths) to its bytes; ``results_dir`` is that share on the host when it
    was kept (``keep_dir``/``results_dir`` given), else ``None``.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    files: dict[str, bytes]
    console_log: str
    qemu_returncode: int
    timed_out: bool
    wall_seconds: float
    guest_seconds: float | None
    results_dir: Path | None
    argv: list[str]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def dmesg(self) -> str:
        return self.text("dmesg")

    def text(self, name: str) -> str:
        return self.files.get(name, b"").decode("utf-8", "replace")

    def describe(self, tail: int = 60) -> str:
        """Human summary for assertion messages."""
        con = "\n".join(self.console_log.splitlines()[-tail:])
        err = "\n".join(self.stderr.splitlines()[-tail:])
        out = "\n".join(self.stdout.splitlines()[-tail:])
        return (
            f"guest exit_code={self.exit_code} qemu rc={self.qemu_returncode} "
            f"timed_out={self.timed_out} wall={self.wall_seconds:.1f}s\n"
            f"--- stdout (tail) ---\n{out}\n--- stderr (tail) ---\n{err}\n"
            f"--- console (tail) ---\n{con}"
        )


@dataclasses.dataclass(frozen=True)
class Prepared:
    kernel_version: str
    package: str
    package_version: str
    vmlinuz: Path
    initramfs: Path
    modules: tuple[str, ...]  # load order, relative to lib/modules/<kver>
    kernel: str = "6.1"  # the name it was prepared for (KERNEL_SERIES key or package)


# --------------------------------------------------------------------------
# cache / kernel


def cache_dir() -> Path:
    env = os.environ.get("PMEMCTL_VM_CACHE")
    if env:
        return Path(env)
    default = Path("/var/cache/pmemctl-vm")
    if os.access(default.parent, os.W_OK) or os.access(default, os.W_OK):
        return default
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pmemctl-vm"


@contextlib.contextmanager
def _locked(cdir: Path) -> Iterator[None]:
    cdir.mkdir(parents=True, exist_ok=True)
    with open(cdir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, **kw)


def kernel_names() -> list[str]:
    """The kernels the tier runs on, in order: ``$PMEMCTL_VM_KERNELS``
    (comma or space separated short names -- ``6.1``, ``6.12`` -- or
    ``linux-image-*`` package names; default :data:`DEFAULT_KERNELS`), plus
    the package ``$PMEMCTL_VM_KERNEL_PKG`` names, if any."""
    env = os.environ.get("PMEMCTL_VM_KERNELS", "")
    names = [n for n in re.split(r"[,\s]+", env) if n] or list(DEFAULT_KERNELS)
    extra = os.environ.get("PMEMCTL_VM_KERNEL_PKG", "").strip()
    if extra and extra not in names:
        names.append(extra)
    for n in names:
        if n not in KERNEL_SERIES and not n.startswith("linux-image-"):
            raise ValueError(f"unknown guest kernel {n!r}: use one of {sorted(KERNEL_SERIES)} "
                             "or a linux-image-* package name")
    return names


def current_kernel() -> str:
    """The kernel :func:`run_guest`/:func:`prepare` use when not told:
    ``$PMEMCTL_VM_KERNEL`` (conftest's ``vm_kernel`` fixture sets it for the
    test being run, so helpers and subprocesses follow), else the first of
    :func:`kernel_names`."""
    return os.environ.get("PMEMCTL_VM_KERNEL") or kernel_names()[0]


def kernel_series(name: str) -> str | None:
    """``6.1``/``6.12``... of a kernel name or package (None if unknown)."""
    if name in KERNEL_SERIES:
        return name
    m = re.match(r"^linux-image-(\d+\.\d+)\.", name)
    return m.group(1) if m else None


def _package_kver(pkg: str) -> str | None:
    """Kernel release a ``linux-image-*`` package installs (its vmlinuz
    suffix): the name without the prefix and a trailing ``-unsigned``."""
    m = re.match(r"^linux-image-(\d+\.\d+\S*?)(-unsigned)?$", pkg)
    return m.group(1) if m else None


def _candidate_version(pkg: str) -> str | None:
    r = _run(["apt-cache", "show", "--no-all-versions", pkg])
    mv = re.search(r"^Version:\s*(\S+)", r.stdout, re.M) if r.returncode == 0 else None
    return mv.group(1) if mv else None


def _series_package(name: str) -> str | None:
    """The package apt would install for short kernel name ``name``."""
    how = KERNEL_SERIES[name]
    if "metapackage" in how:
        r = _run(["apt-cache", "depends", how["metapackage"]])
        deps = re.findall(r"Depends:\s*(linux-image-\S+)", r.stdout)
        return next((d for d in deps if re.match(how["pattern"], d)), None)
    r = _run(["apt-cache", "pkgnames", how["prefix"]])
    names = sorted((n for n in r.stdout.split() if re.match(how["pattern"], n)),
                   key=_version_key, reverse=True)
    # pkgnames also lists names apt only knows from dependencies: the newest
    # one with a candidate version
    return next((n for n in names if _candidate_version(n)), None)


def resolve_kernel_package(update_if_empty: bool = False, kernel: str | None = None) -> tuple[str, str, str] | None:
    """``(package, kernel_version, package_version)`` of guest kernel
    ``kernel`` (default :func:`current_kernel`), from apt's local lists;
    ``None`` if apt cannot tell."""
    if not shutil.which("apt-cache"):
        return None
    name = kernel or current_kernel()
    pkg: str | None = name if name.startswith("linux-image-") else None
    if pkg is None:
        for attempt in range(2):
            pkg = _series_package(name)
            if pkg:
                break
            if attempt == 0 and update_if_empty and os.geteuid() == 0:
                _run(["apt-get", "update", "-qq"], timeout=300)
            else:
                return None
    assert pkg is not None
    kver = _package_kver(pkg)
    pver = _candidate_version(pkg)
    if not kver or not pver:
        return None
    return pkg, kver, pver


def _kernel_dir(cdir: Path, kver: str) -> Path:
    return cdir / f"kernel-{kver}"


def _release_series(kver: str) -> str:
    """``6.12`` of ``6.12.107+deb12-amd64``."""
    return ".".join(re.split(r"[.+-]", kver)[:2])


def _cached_kernels(cdir: Path, series: str | None = None) -> list[str]:
    """Cached kernel releases, oldest first; only those of ``series`` if given."""
    out = []
    if cdir.is_dir():
        for p in cdir.iterdir():
            if p.name.startswith("kernel-") and (p / ".ready").exists():
                kver = p.name[len("kernel-"):]
                if series is None or _release_series(kver) == series:
                    out.append(kver)
    return sorted(out, key=_version_key)


def _version_key(v: str) -> list:
    return [(0, int(x), "") if x.isdigit() else (1, 0, x) for x in re.split(r"[.-]", v)]


def _obtain_kernel(cdir: Path, pkg: str, kver: str, pver: str) -> Path:
    kdir = _kernel_dir(cdir, kver)
    if (kdir / ".ready").exists():
        return kdir
    for tool in ("apt-get", "dpkg", "depmod"):
        if not shutil.which(tool) and not Path("/usr/sbin", tool).exists():
            raise VmUnavailable(f"{tool} not found (needed to obtain the guest kernel)")
    work = Path(tempfile.mkdtemp(prefix=".dl-", dir=cdir))
    try:
        os.chmod(work, 0o755)
        r = _run(["apt-get", "download", f"{pkg}={pver}"], cwd=work, timeout=600)
        debs = list(work.glob("*.deb"))
        if r.returncode != 0 or not debs:
            raise VmUnavailable(
                f"cannot download kernel package {pkg}={pver}: {r.stderr.strip()[-400:]}"
            )
        tree = work / "tree"
        r = _run(["dpkg", "-x", str(debs[0]), str(tree)], timeout=600)
        if r.returncode != 0:
            raise VmUnavailable(f"dpkg -x failed: {r.stderr.strip()[-400:]}")
        depmod = shutil.which("depmod") or "/usr/sbin/depmod"
        r = _run([depmod, "-b", str(tree), kver], timeout=600)
        if r.returncode != 0:
            raise VmUnavailable(f"depmod failed: {r.stderr.strip()[-400:]}")
        if not (tree / "boot" / f"vmlinuz-{kver}").exists():
            raise VmUnavailable(f"no boot/vmlinuz-{kver} in {debs[0].name}")
        (tree / ".package").write_text(f"{pkg} {pver}\n")
        (tree / ".ready").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
        if kdir.exists():
            shutil.rmtree(kdir)
        tree.rename(kdir)
        # a new Debian ABI bump: keep this kernel and the previous one of its
        # series only (6.1 and 6.12 are cached side by side)
        for old in _cached_kernels(cdir, _release_series(kver))[:-2]:
            if old != kver:
                shutil.rmtree(_kernel_dir(cdir, old), ignore_errors=True)
                for p in cdir.glob(f"initramfs-{old}-*.cpio"):
                    p.unlink(missing_ok=True)
        return kdir
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------
# initramfs


def module_load_order(moddir: Path, wanted: Iterable[str]) -> list[str]:
    """Paths (relative to ``moddir``) of ``wanted`` modules and their
    dependencies, dependencies first, from ``modules.dep``.  Built-in modules
    are skipped; an unknown name raises ``VmUnavailable``."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        if ":" not in line:
            continue
        mod, rest = line.split(":", 1)
        deps[mod] = rest.split()
        by_name[_modname(mod)] = mod
    builtin = set()
    bfile = moddir / "modules.builtin"
    if bfile.exists():
        builtin = {_modname(x) for x in bfile.read_text().split()}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(mod: str) -> None:
        if state.get(mod) == 2:
            return
        if state.get(mod) == 1:
            raise VmUnavailable(f"module dependency cycle at {mod}")
        state[mod] = 1
        for d in deps.get(mod, []):
            visit(d)
        state[mod] = 2
        order.append(mod)

    for name in wanted:
        key = name.replace("-", "_")
        if key in by_name:
            visit(by_name[key])
        elif key in builtin:
            continue
        else:
            raise VmUnavailable(f"kernel module {name} not found in {moddir}")
    return order


def _modname(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    base = re.sub(r"\.ko(\.\w+)?$", "", base)
    return base.replace("-", "_")


def _busybox() -> Path:
    for cand in ("/bin/busybox", "/usr/bin/busybox"):
        p = Path(cand)
        if p.exists() and _is_static_elf(p):
            return p
    raise VmUnavailable("no static busybox (install busybox-static)")


def _is_static_elf(path: Path) -> bool:
    """True when the ELF has no PT_INTERP program header (statically linked)."""
    import struct

    try:
        with open(path, "rb") as fh:
            hdr = fh.read(64)
            if hdr[:4] != b"\x7fELF" or hdr[4] != 2:  # 64-bit only
                return False
            e_phoff, = struct.unpack_from("<Q", hdr, 0x20)
            e_phentsize, e_phnum = struct.unpack_from("<HH", hdr, 0x36)
            fh.seek(e_phoff)
            ph = fh.read(e_phentsize * e_phnum)
    except OSError:
        return False
    for i in range(e_phnum):
        p_type, = struct.unpack_from("<I", ph, i * e_phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def _uncompressed_name(mod: str) -> str:
    return re.sub(r"\.ko\.(xz|gz|zst)$", ".ko", mod)


def _module_bytes(path: Path) -> bytes:
    """A module file's ELF bytes, decompressed when it is ``.ko.xz``/``.gz``/``.zst``."""
    import gzip
    import lzma

    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko.zst"):
        if not shutil.which("zstd"):
            raise VmUnavailable(f"{path.name} is zstd-compressed: install zstd")
        return subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
    return data


def _build_initramfs(cdir: Path, kdir: Path, kver: str) -> tuple[Path, tuple[str, ...]]:
    moddir = kdir / "lib" / "modules" / kver
    order = module_load_order(moddir, GUEST_MODULES)
    bb = _busybox()
    h = hashlib.sha256()
    h.update(f"{_INITRAMFS_FORMAT}\n{_INIT_SCRIPT}\n{kver}\n".encode())
    h.update("\n".join(order).encode())
    h.update(hashlib.sha256(bb.read_bytes()).digest())
    out = cdir / f"initramfs-{kver}-{h.hexdigest()[:16]}.cpio"
    if out.exists():
        return out, tuple(order)
    if not shutil.which("cpio"):
        raise VmUnavailable("cpio not found (install cpio)")
    stage = Path(tempfile.mkdtemp(prefix=".initramfs-", dir=cdir))
    try:
        for d in ("bin", "dev", "proc", "sys", "newroot", "etc", "lib/modules", "tmp"):
            (stage / d).mkdir(parents=True, exist_ok=True)
        shutil.copy2(bb, stage / "bin" / "busybox")
        (stage / "bin" / "sh").symlink_to("busybox")
        loaded = []
        for mod in order:
            # busybox insmod takes plain ELF objects: 6.12's .ko.xz (and any
            # other compressed module) is unpacked here
            plain = _uncompressed_name(mod)
            dst = stage / "lib" / "modules" / plain
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(_module_bytes(moddir / mod))
            loaded.append(plain)
        (stage / "etc" / "modules.load").write_text("".join(m + "\n" for m in loaded))
        init = stage / "init"
        init.write_text(_INIT_SCRIPT)
        init.chmod(0o755)
        names = sorted(
            str(p.relative_to(stage)) for p in stage.rglob("*")
        )
        tmp_out = out.with_suffix(".tmp")
        with open(tmp_out, "wb") as fh:
            r = subprocess.run(
                ["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"],
                input="\n".join(names).encode(),
                cwd=stage,
                stdout=fh,
                stderr=subprocess.PIPE,
            )
        if r.returncode != 0:
            raise VmUnavailable(f"cpio failed: {r.stderr.decode(errors='replace')}")
        tmp_out.rename(out)
        # keep only the newest few initramfs images of this kernel
        old = sorted(cdir.glob(f"initramfs-{kver}-*.cpio"), key=lambda p: p.stat().st_mtime)
        for p in old[:-3]:
            if p != out:
                p.unlink(missing_ok=True)
        return out, tuple(order)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


_prepared: Prepared | None = None  # the last prepare()'s, kept for callers that looked here
_prepared_by_kernel: dict[str, Prepared] = {}


def _cached_for(cdir: Path, name: str) -> str | None:
    """Newest cached release usable as kernel ``name`` when apt cannot tell."""
    if name.startswith("linux-image-"):
        kver = _package_kver(name)
        return kver if kver in _cached_kernels(cdir) else None
    cached = _cached_kernels(cdir, kernel_series(name))
    return cached[-1] if cached else None


def prepare(*, allow_download: bool = True, kernel: str | None = None) -> Prepared:
    """Make sure guest kernel ``kernel`` (a short name of
    :data:`KERNEL_SERIES` or a ``linux-image-*`` package; default
    :func:`current_kernel`) and an initramfs for it are in the cache; return
    them.

    Resolves the package from apt's lists; if that kernel is cached, nothing
    is downloaded.  If apt cannot resolve a package (no lists), the newest
    cached kernel of the same series is used.  Raises :class:`VmUnavailable`.
    """
    global _prepared
    name = kernel or current_kernel()
    if name in _prepared_by_kernel:
        _prepared = _prepared_by_kernel[name]
        return _prepared
    cdir = cache_dir()
    with _locked(cdir):
        res = resolve_kernel_package(update_if_empty=_cached_for(cdir, name) is None, kernel=name)
        if res is not None:
            pkg, kver, pver = res
            if (_kernel_dir(cdir, kver) / ".ready").exists():
                kdir = _kernel_dir(cdir, kver)
            elif allow_download:
                kdir = _obtain_kernel(cdir, pkg, kver, pver)
            else:
                raise VmUnavailable(f"kernel {kver} not cached and download not allowed")
        else:
            found = _cached_for(cdir, name)
            if not found:
                raise VmUnavailable(
                    f"cannot resolve the package of guest kernel {name} (unknown to apt-cache; "
                    f"run apt-get update) and no such kernel cached in {cdir}"
                )
            kver = found
            kdir = _kernel_dir(cdir, kver)
            pkg, _, pver = (kdir / ".package").read_text().partition(" ")
            pver = pver.strip()
        initrd, order = _build_initramfs(cdir, kdir, kver)
    _prepared = _prepared_by_kernel[name] = Prepared(
        kernel_version=kver,
        package=pkg,
        package_version=pver,
        vmlinuz=kdir / "boot" / f"vmlinuz-{kver}",
        initramfs=initrd,
        modules=order,
        kernel=name,
    )
    return _prepared


def _qemu_binary() -> str | None:
    return shutil.which(os.environ.get("PMEMCTL_VM_QEMU", "qemu-system-x86_64"))


def vm_available(kernel: str | None = None) -> tuple[bool, str]:
    """``(True, description)`` if guests of ``kernel`` (default
    :func:`current_kernel`) can run here, else ``(False, reason)``.

    Does not download anything: a kernel counts as obtainable when it is
    cached or apt knows the package and the download tools exist.
    """
    qemu = _qemu_binary()
    if not qemu:
        return False, "qemu-system-x86_64 not found (install qemu-system-x86)"
    if not shutil.which("timeout"):
        return False, "timeout(1) not found"
    try:
        _busybox()
    except VmUnavailable as e:
        return False, str(e)
    if not shutil.which("cpio"):
        return False, "cpio not found (install cpio)"
    cdir = cache_dir()
    try:
        cdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return False, f"cache dir {cdir} not usable: {e}"
    if not os.access(cdir, os.W_OK):
        return False, f"cache dir {cdir} not writable"
    name = kernel or current_kernel()
    cached = [k for k in (_cached_for(cdir, name),) if k]
    res = resolve_kernel_package(kernel=name)
    if res and res[1] in _cached_kernels(cdir):
        return True, f"kernel {res[1]} cached in {cdir}"
    if res:
        if not shutil.which("apt-get") or not shutil.which("dpkg"):
            return False, "apt-get/dpkg not found: cannot obtain the guest kernel"
        if not (shutil.which("depmod") or Path("/usr/sbin/depmod").exists()):
            return False, "depmod not found (install kmod)"
        return True, f"kernel package {res[0]} {res[2]} will be downloaded"
    if cached:
        return True, f"kernel {cached[-1]} cached in {cdir} (apt cannot resolve a newer one)"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        return True, "kernel package not resolvable yet; apt-get update will be tried"
    return False, f"guest kernel {name} unknown to apt-cache and not cached in {cdir}"


# --------------------------------------------------------------------------
# running a guest


def qemu_argv(
    prep: Prepared,
    workdir: Path,
    iodir: Path,
    nvdimms: Sequence[NvdimmSpec],
    *,
    dram: int,
    cpus: int,
    dram_latency_ns: int,
    dram_bandwidth_mbs: int,
    cmdline: str,
    project: Path | None = None,
    shares: Sequence[tuple[str, str]] = (),
    backing_dir: Path | None = None,
) -> list[str]:
    nodes = [n.node for n in nvdimms]
    if len(set(nodes)) != len(nodes):
        raise ValueError("each NVDIMM needs its own node")
    if sorted(nodes) != list(range(1, len(nodes) + 1)):
        raise ValueError("NVDIMM nodes must be 1..N (QEMU wants contiguous node ids)")
    total = dram + sum(n.size for n in nvdimms)
    maxmem = total + 2 * GiB
    argv = [
        _qemu_binary() or "qemu-system-x86_64",
        "-accel", "tcg",
        "-cpu", "max",
        "-machine", "pc,nvdimm=on,hmat=on",
        "-smp", str(cpus),
        "-m", f"{dram // MiB}M,slots={max(4, len(nvdimms) + 1)},maxmem={maxmem // MiB}M",
        "-nodefaults",
        "-no-user-config",
        "-display", "none",
        "-no-reboot",
        "-serial", f"file:{workdir / 'console.log'}",
        "-kernel", str(prep.vmlinuz),
        "-initrd", str(prep.initramfs),
        "-append", cmdline,
        # a large DRAM (the 2 GiB-block boot) is mostly never touched: no
        # swap reservation, or QEMU cannot map it under overcommit heuristics
        "-object", f"memory-backend-ram,id=ram0,size={dram // MiB}M" + (",reserve=off" if dram > 8 * GiB else ""),
        "-numa", f"node,nodeid=0,cpus=0-{cpus - 1},memdev=ram0",
    ]
    for nv in sorted(nvdimms, key=lambda n: n.node):
        argv += ["-numa", f"node,nodeid={nv.node},initiator=0"]
    argv += [
        "-numa", f"hmat-lb,initiator=0,target=0,hierarchy=memory,"
                 f"data-type=access-latency,latency={dram_latency_ns}",
        "-numa", f"hmat-lb,initiator=0,target=0,hierarchy=memory,"
                 f"data-type=access-bandwidth,bandwidth={dram_bandwidth_mbs}M",
    ]
    for i, nv in enumerate(sorted(nvdimms, key=lambda n: n.node)):
        img = backing_dir / f"nvdimm-node{nv.node}.img" if backing_dir else workdir / f"nvdimm{i}.img"
        if not img.exists():
            with open(img, "wb") as fh:
                fh.truncate(nv.size)
        argv += [
            "-numa", f"hmat-lb,initiator=0,target={nv.node},hierarchy=memory,"
                     f"data-type=access-latency,latency={nv.latency_ns}",
            "-numa", f"hmat-lb,initiator=0,target={nv.node},hierarchy=memory,"
                     f"data-type=access-bandwidth,bandwidth={nv.bandwidth_mbs}M",
            "-object", f"memory-backend-file,id=nv{i},share=on,mem-path={img},"
                       f"size={nv.size // MiB}M,align=128M",
            "-device", f"nvdimm,id=nvdimm{i},memdev=nv{i},label-size={nv.label_size},"
                       f"node={nv.node}",
        ]
    argv += [
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,"
                   "multidevs=remap",
        "-virtfs", f"local,path={iodir},mount_tag=vmio,security_model=none,"
                   "multidevs=remap",
    ]
    if project is not None:
        argv += ["-virtfs", f"local,path={project},mount_tag=project,security_model=none,readonly=on,"
                            "multidevs=remap"]
    for tag, path in shares:
        argv += ["-virtfs", f"local,path={path},mount_tag={tag},security_model=none,readonly=on,"
                            "multidevs=remap"]
    return argv


#: Host directories the guest covers with its own tmpfs (init script), so
#: hostroot does not show what the host has there.
_GUEST_TMPFS = ("/tmp", "/run")

_ENV_PROBE = (
    "import json, sys; print(json.dumps([sys.prefix, sys.exec_prefix, sys.base_prefix, "
    "sys.base_exec_prefix, *sys.path]))"
)


def guest_python_default() -> str:
    """The interpreter the guest runs by default: the one running this code,
    by the path it was started with.  Not resolved: in a virtual environment
    ``sys.executable`` is ``VENV/bin/python3``, a symlink to the base
    interpreter, and only started by that path does Python find
    ``VENV/pyvenv.cfg`` and the venv's site-packages (pmemctl's
    dependencies).  The guest sees the host's root, so the path works there."""
    if sys.executable:
        return os.path.abspath(sys.executable)
    return shutil.which("python3") or "python3"


def interpreter_shares(python: str, project: Path | None = None) -> list[tuple[str, str]]:
    """``(tag, dir)`` 9p shares the guest needs to run ``python`` with its
    environment: the directories it uses (its prefixes, base prefixes and
    ``sys.path``, as reported by ``python -I``; the directories of the
    interpreter and of its resolved binary) that lie under /tmp or /run,
    where the guest's tmpfs mounts hide the host's files.  Nested ones and
    ones inside the (separately shared) ``project`` are left out.  Empty for
    an interpreter outside /tmp and /run, the usual case."""
    dirs = [os.path.dirname(os.path.abspath(python)), os.path.dirname(os.path.realpath(python))]
    try:
        r = _run([python, "-I", "-c", _ENV_PROBE], timeout=60)
        if r.returncode == 0:
            dirs += [d for d in json.loads(r.stdout) if isinstance(d, str)]
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass
    hidden: set[str] = set()
    for d in dirs:
        if not d or not os.path.isabs(d):
            continue
        d = os.path.normpath(d)
        while d != "/" and not os.path.isdir(d):  # a zip on sys.path
            d = os.path.dirname(d)
        if any(d == t for t in _GUEST_TMPFS):
            raise ValueError(f"the guest interpreter {python} uses {d} itself, which the guest "
                             "mounts a tmpfs on: put it (or its venv) in a directory below it")
        if any(d.startswith(t + "/") for t in _GUEST_TMPFS):
            hidden.add(d)
    roots: list[str] = []
    outer = [str(project)] if project is not None else []
    for d in sorted(hidden, key=len):
        if any(d == o or d.startswith(o.rstrip("/") + "/") for o in outer + roots):
            continue
        if any(c.isspace() for c in d):
            raise ValueError(f"cannot share {d!r} with the guest: white space in a kernel parameter")
        roots.append(d)
    return [(f"env{i}", d) for i, d in enumerate(roots)]


def run_guest(
    script: str,
    *,
    nvdimms: Sequence[NvdimmSpec] | None = None,
    timeout: int = 240,
    dram: int = 2 * GiB,
    cpus: int = 2,
    dram_latency_ns: int = 100,
    dram_bandwidth_mbs: int = 16384,
    extra_cmdline: str = "",
    env: dict[str, str] | None = None,
    project_dir: Path | str | None = None,
    results_dir: Path | str | None = None,
    python: str | None = None,
    backing_dir: Path | str | None = None,
    init_hook: str | None = None,
    kernel: str | None = None,
) -> GuestResult:
    """Boot a guest, run ``script`` (POSIX shell, as root, chrooted into the
    host root) and return what it left behind.

    ``nvdimms`` defaults to one 4 GiB NVDIMM on node 1.  ``results_dir``, if
    given, is used as the writable share and kept (it is created, and must be
    empty); otherwise a temp dir is used and removed.  ``env`` adds exported
    variables to the script's environment.  ``timeout`` bounds the whole QEMU
    run (wall seconds).  ``python`` is the interpreter the guest uses for
    ``pmemctl``/``vmtools`` (default: the one running this code).
    ``backing_dir`` keeps the NVDIMM images there (``nvdimm-nodeN.img``, made
    when absent, reused as they are when present: a second boot of the same
    DIMMs).  ``init_hook`` is sourced by the guest's init (PID 1, busybox,
    host root on /newroot, the share on $IO) before the scenario runs; it may
    ``exec switch_root`` to another init.
    ``kernel`` names the guest kernel (default :func:`current_kernel`: the
    test's ``vm_kernel`` under pytest).
    """
    if nvdimms is None:
        nvdimms = [NvdimmSpec()]
    prep = prepare(kernel=kernel)
    project = Path(project_dir or PROJECT_DIR).resolve()
    # the guest sees the host root, so the interpreter running the tests (and
    # its site-packages: pmemctl's dependencies) is usable there as is, by the
    # same path (a venv's bin/python3, not what it links to); what the guest's
    # tmpfs on /tmp and /run would hide of it is shared separately
    guest_python = python or guest_python_default()
    shares = interpreter_shares(guest_python, project)
    workdir = Path(tempfile.mkdtemp(prefix="pmemctl-vm-"))
    try:
        if results_dir is not None:
            iodir = Path(results_dir).resolve()
            iodir.mkdir(parents=True, exist_ok=True)
            if any(iodir.iterdir()):
                raise ValueError(f"results_dir {iodir} is not empty")
        else:
            iodir = workdir / "io"
            iodir.mkdir()
        os.chmod(iodir, 0o777)
        (iodir / "scenario.sh").write_text(script)
        if init_hook is not None:
            (iodir / "init_hook.sh").write_text(init_hook)
        env_lines = "\n".join(
            f"export {k}={shlex.quote(v)}" for k, v in sorted((env or {}).items())
        )
        (iodir / "run.sh").write_text(
            _RUN_SH.format(
                io=GUEST_IO,
                src=shlex.quote(str(project)),
                tools=shlex.quote(str(HERE / "guest_tools.py")),
                python=shlex.quote(guest_python),
                env=env_lines,
            )
        )
        cmdline = DEFAULT_CMDLINE + (" " + extra_cmdline if extra_cmdline else "")
        cmdline += f" pmemctl.project={project}"
        cmdline += "".join(f" pmemctl.share.{tag}={path}" for tag, path in shares)
        argv = qemu_argv(
            prep, workdir, iodir, nvdimms,
            dram=dram, cpus=cpus,
            dram_latency_ns=dram_latency_ns, dram_bandwidth_mbs=dram_bandwidth_mbs,
            cmdline=cmdline, project=project, shares=shares,
            backing_dir=Path(backing_dir) if backing_dir is not None else None,
        )
        full = ["timeout", "--kill-after=10", str(int(timeout))] + argv
        t0 = time.monotonic()
        returncode, qemu_out, console = _boot(full, workdir / "console.log")
        if returncode == BOOT_HUNG or not _reached_init(console):
            # A guest that never reached its init script ran no project code:
            # an emulator hiccup -- a hang seen once under heavy host load, and
            # on 6.12 an early "Oops: int3" in patched kernel text (TCG's
            # cross-vCPU code modification).  Boot once more, and keep the
            # first console in the log.
            first, how = console, "hung" if returncode == BOOT_HUNG else "ended"
            returncode, qemu_out, console = _boot(full, workdir / "console.log")
            console = f"[attempt 1 {how} before init; console tail]\n{first[-2000:]}\n[attempt 2]\n{console}"
        wall = time.monotonic() - t0
        timed_out = returncode in (124, 137, BOOT_HUNG)
        if qemu_out.strip():
            console = f"[qemu] {qemu_out.strip()}\n" + console
        files: dict[str, bytes] = {}
        for p in sorted(iodir.rglob("*")):
            if p.is_file() and not p.is_symlink():
                rel = p.relative_to(iodir).as_posix()
                if rel in ("scenario.sh", "run.sh", "init_hook.sh"):
                    continue
                files[rel] = p.read_bytes()
        rc_text = files.get("exit_code", b"").decode().strip()
        exit_code = int(rc_text) if rc_text.lstrip("-").isdigit() else None
        guest_seconds = None
        try:
            guest_seconds = float(files["guest_uptime_end"]) - float(files["guest_uptime_start"])
        except (KeyError, ValueError):
            pass
        return GuestResult(
            exit_code=exit_code,
            stdout=files.get("stdout", b"").decode(errors="replace"),
            stderr=files.get("stderr", b"").decode(errors="replace"),
            files=files,
            console_log=console,
            qemu_returncode=returncode,
            timed_out=timed_out,
            wall_seconds=wall,
            guest_seconds=guest_seconds,
            results_dir=iodir if results_dir is not None else None,
            argv=full,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def unpack_capture(tar: bytes | Path | str, dest: Path | str, *, replace: bool = True) -> Path:
    """Unpack a capture tar written by ``guest_tools.py capture`` into ``dest``
    (a plain directory tree: symlinks kept as symlinks, file modes kept).
    With ``replace`` an existing ``dest`` is removed first."""
    import io
    import tarfile

    dest = Path(dest)
    if replace and (dest.exists() or dest.is_symlink()):
        _rmtree_force(dest)
    dest.mkdir(parents=True, exist_ok=True)
    fobj = io.BytesIO(tar) if isinstance(tar, bytes) else open(tar, "rb")
    with fobj, tarfile.open(fileobj=fobj, mode="r:") as tf:
        members = tf.getmembers()
        for m in members:
            name = Path(m.name)
            if name.is_absolute() or ".." in name.parts:
                raise ValueError(f"unsafe member in capture tar: {m.name}")
            if not (m.isfile() or m.isdir() or m.issym()):
                raise ValueError(f"unexpected member type in capture tar: {m.name}")
            m.uid = m.gid = os.getuid()
            m.uname = m.gname = ""
        # directories may be 0555 in sysfs: extract with owner-writable dirs,
        # then restore their modes
        dir_modes = {m.name: m.mode for m in members if m.isdir()}
        for m in members:
            if m.isdir():
                m.mode |= 0o700
        tf.extractall(dest, members=members, numeric_owner=True)
    for name, mode in sorted(dir_modes.items(), key=lambda kv: -len(kv[0])):
        os.chmod(dest / name, mode)
    return dest


def _rmtree_force(path: Path) -> None:
    def onerror(func, p, exc):  # make read-only dirs writable and retry
        try:
            os.chmod(os.path.dirname(p), 0o755)
            func(p)
        except OSError:
            pass

    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        for root, dirs, _ in os.walk(path):
            for d in dirs:
                dp = os.path.join(root, d)
                if not os.path.islink(dp):
                    os.chmod(dp, 0o755)
        shutil.rmtree(path, onerror=onerror)
