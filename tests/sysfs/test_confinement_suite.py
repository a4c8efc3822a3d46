"""The confinement suite (issue 16, "Done when"): hostile things planted at
the paths pmemctl opens — its own files included — for every command, and
nothing outside the sysroot changes and nothing hangs.

Planted: a link to a file outside (absolute and relative), a link to a
directory outside, a link loop, a FIFO, a character device node (where the
test may make one).  Each run is a real pmemctl process on a copy of a
simulated tree (system-ram stage, so changes have something to do), with
an outside directory holding the originals the links point at; after the
run its digest must be unchanged, the process must have ended within the
time limit, and no traceback may be printed.

By default each (path, plant) pair is tried with one command chosen by a
seeded draw (CI time); PMEMCTL_STRESS=1 tries every command, and
PMEMCTL_STRESS_SEED=N replays a draw.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pmemctl.sim.build import materialise
from pmemctl.sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
STRESS = os.environ.get("PMEMCTL_STRESS") == "1"
SEED = int(os.environ.get("PMEMCTL_STRESS_SEED", str(random.randrange(1 << 30))))
_SHM = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

COMMANDS = {
    "offline": ["offline", "dax0.0", "--count", "2", "--yes"],
    "online": ["online", "--blocks", "62", "--yes"],
    "reconfigure": ["reconfigure", "dax0.0", "--mode", "devdax", "--yes"],
    "status": ["status"],
    "rollback": ["rollback"],
    "resume": ["resume"],
    "abandon": ["journal", "abandon", "--yes"],
    "blocks": ["blocks", "--json"],
    "list": ["list"],
    "topology": ["topology"],
}

#: (kernel path, is a directory): the places pmemctl opens, one of each kind
PATHS = [
    ("/run/lock/pmemctl.lock", False),
    ("/run/lock", True),
    ("/var/lib/pmemctl", True),
    ("/var/lib/pmemctl/journal.json", False),
    ("/var/lib/pmemctl/journal.log", False),
    ("/var/lib/pmemctl/last-run.json", False),
    ("/sys/devices/system/memory/block_size_bytes", False),
    ("/sys/devices/system/memory/memory62/state", False),
    ("/sys/devices/system/memory/memory61/valid_zones", False),
    ("/sys/devices/system/memory/memory62", True),
    ("/sys/devices/system/memory", True),
    ("/sys/devices/system/node/node1/meminfo", False),
    ("/sys/bus/dax/drivers/kmem/unbind", False),
    ("/sys/bus/dax/drivers/kmem", True),
    ("/proc/meminfo", False),
    ("/proc/iomem", False),
    ("/.pmemctl-sim/kernel-state.json", False),
    ("/.pmemctl-sim", True),
]
PLANTS = ["link-absolute", "link-relative", "link-loop", "fifo", "device"]
TIMEOUT = 60


def digest(top: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, top)} {st.st_mode:o} {st.st_nlink}\n".encode())
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as fh:
                    h.update(fh.read())
            elif stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
    return h.hexdigest()


def cases() -> list[tuple[str, bool, str, str]]:
    rng = random.Random(SEED)
    out = []
    for kpath, is_dir in PATHS:
        for plant in PLANTS:
            if is_dir and plant in ("fifo", "device"):
                continue  # a directory's odd stand-ins are its links
            chosen = list(COMMANDS) if STRESS else [rng.choice(list(COMMANDS))]
            out.extend((kpath, is_dir, plant, command) for command in chosen)
    return out


@pytest.fixture(scope="module")
def template():
    base = Path(tempfile.mkdtemp(prefix="pmemctl-confinement-suite-", dir=_SHM))
    materialise(load_scenario("qemu-nvdimm", {"stage": "system-ram"}), base / "template")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def plant_at(root: Path, outside: Path, kpath: str, is_dir: bool, plant: str) -> None:
    """Put ``plant`` where ``kpath`` is, the original (if any) moved outside."""
    host = root / kpath.lstrip("/")
    host.parent.mkdir(parents=True, exist_ok=True)
    original = outside / ("dir" if is_dir else "file")
    if host.exists() or host.is_symlink():
        shutil.move(str(host), str(original))
    elif is_dir:
        original.mkdir()
    else:
        original.write_text("{}\n")  # pmemctl's own files: what a planted file could hold
    if plant == "link-absolute":
        host.symlink_to(original)
    elif plant == "link-relative":
        host.symlink_to(os.path.relpath(original, host.parent))
    elif plant == "link-loop":
        host.symlink_to(host.name)
    elif plant == "fifo":
        os.mkfifo(host)
    else:
        try:
            os.mknod(host, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
        except PermissionError:
            pytest.skip("device nodes cannot be made here")


@pytest.mark.parametrize("kpath,is_dir,plant,command", cases(),
                         ids=[f"{c[3]}-{c[2]}-{c[0]}" for c in cases()])
def test_nothing_outside_changes_and_nothing_hangs(template, tmp_path, kpath, is_dir, plant, command):
    root = tmp_path / "root"
    shutil.copytree(template / "template", root, symlinks=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("SECRET-TOKEN-123\n")
    plant_at(root, outside, kpath, is_dir, plant)
    before = digest(outside)
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    env.pop("PMEMCTL_SYSROOT", None)
    what = f"seed {SEED}: {command} with {plant} at {kpath}"
    try:
        proc = subprocess.run([sys.executable, "-m", "pmemctl", "--sysroot", str(root), *COMMANDS[command]],
                              capture_output=True, text=True, env=env, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: hung for {TIMEOUT} s")
    assert "Traceback" not in proc.stderr, (what, proc.stderr)
    assert "internal error" not in proc.stderr, (what, proc.stderr)
    assert digest(outside) == before, (what, proc.returncode, proc.stdout, proc.stderr)
