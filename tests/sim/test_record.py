"""``pmemctl sim record``: recording simulated trees and this machine's /sys."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pmemctl.sim.build import materialise
from pmemctl.sim.cases import ALL_CASES, Case, TreeCache
from pmemctl.sim.kernel import faults
from pmemctl.sim.record import (
    RECORD_FILE,
    is_recording,
    load_metadata,
    record,
    remove_recording,
)
from pmemctl.sim.tree import MARKER_DIR

PROJECT = Path(__file__).resolve().parents[2]


def pmemctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pmemctl", *args], check=False, capture_output=True, text=True,
                          cwd=PROJECT)


def json_of(root: Path | str, *args: str) -> dict:
    r = pmemctl("--sysroot", str(root), *args, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    doc.pop("sysroot", None)
    return doc


@pytest.fixture
def rec_dir(tmp_path: Path):
    path = tmp_path / "rec"
    yield path
    remove_recording(path)


# --------------------------------------------------------------------------
# simulated trees


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.scenario != "big"], ids=lambda c: c.id)
def test_recorded_simulated_tree_reads_back_the_same(case: Case, sim_trees: TreeCache, rec_dir: Path) -> None:
    src, _ = sim_trees.get(case)
    rec = record(rec_dir, src)
    assert rec.simulated and not rec.errors and rec.files > 100
    for cmd in ("blocks", "list", "topology"):
        assert json_of(rec_dir, cmd) == json_of(src, cmd), cmd
    assert json_of(rec_dir, "blocks", "-a") == json_of(src, "blocks", "-a")


def test_big_tree_records_every_block(sim_trees: TreeCache, rec_dir: Path) -> None:
    src, _ = sim_trees.get(Case("big", {"blocks": "4096"}))
    record(rec_dir, src)
    assert json_of(rec_dir, "blocks") == json_of(src, "blocks")
    blocks = [n for n in os.listdir(rec_dir / "sys/devices/system/memory") if n.startswith("memory")]
    assert len(blocks) == len([n for n in os.listdir(src / "sys/devices/system/memory") if n.startswith("memory")])


def test_layout_links_modes_and_skips(tmp_path: Path, rec_dir: Path) -> None:
    src = materialise("qemu-nvdimm", tmp_path / "src", {"stage": "system-ram"})
    record(rec_dir, src)
    # symlinks stay symlinks, with the same relative target
    for rel in ("sys/bus/dax/devices/dax0.0", "sys/bus/nd/devices/region0",
                "sys/devices/system/memory/memory40/node1", "sys/class/nd/ndctl0"):
        assert os.path.islink(rec_dir / rel), rel
        assert os.readlink(rec_dir / rel) == os.readlink(src / rel), rel
        assert not os.path.isabs(os.readlink(rec_dir / rel))
    # /sys/dev/char links of nd/dax devices only
    chars = sorted(os.listdir(rec_dir / "sys/dev/char"))
    assert chars == sorted(os.listdir(src / "sys/dev/char"))
    # modes kept; write-only files created empty
    for rel in ("sys/bus/dax/drivers/kmem/bind", "sys/bus/dax/drivers/kmem/new_id",
                "sys/devices/system/memory/memory40/state", "sys/devices/system/memory/block_size_bytes"):
        assert stat.S_IMODE((rec_dir / rel).stat().st_mode) == stat.S_IMODE((src / rel).stat().st_mode), rel
    assert (rec_dir / "sys/bus/dax/drivers/kmem/bind").read_bytes() == b""
    daxdev = "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0"
    assert stat.S_IMODE((rec_dir / daxdev / "resource").stat().st_mode) == 0o400
    assert (rec_dir / daxdev / "resource").read_text() == (src / daxdev / "resource").read_text()
    # the ndbus parent: its own attributes only
    assert (rec_dir / "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/hid").is_file()
    # procfs
    for rel in ("proc/iomem", "proc/cmdline", "proc/meminfo"):
        assert (rec_dir / rel).read_bytes() == (src / rel).read_bytes()
    # skipped: power/ and uevent
    assert not list(rec_dir.rglob("uevent"))
    assert not [p for p in rec_dir.rglob("power") if p.is_dir() and not p.is_symlink()]
    # cpu basics only
    cpu = rec_dir / "sys/devices/system/cpu"
    assert sorted(os.listdir(cpu / "cpu1")) == ["node0", "online", "subsystem"]
    assert (cpu / "online").read_text() == "0-1\n"
    meta = load_metadata(rec_dir)
    assert meta["format"] == 1 and meta["simulated"] is True and meta["read_only"] is False
    assert meta["kernel"].startswith("6.1.")
    assert is_recording(rec_dir)


def test_a_recorded_simulated_tree_is_still_a_simulated_machine(tmp_path: Path, rec_dir: Path) -> None:
    src = materialise("qemu-nvdimm", tmp_path / "src", {"stage": "devdax"})
    faults.inject(src, "offline-busy", blocks=[39])
    record(rec_dir, src)
    assert (rec_dir / MARKER_DIR / "scenario.json").is_file()
    for root in (src, rec_dir):
        r = pmemctl("--sysroot", str(root), "reconfigure", "dax0.0", "--mode", "system-ram", "--yes")
        assert r.returncode == 0, r.stderr
        r = pmemctl("--sysroot", str(root), "offline", "--blocks", "39-40", "--yes")
        assert r.returncode == 6, r.stderr  # highest first: 40 offlined, 39 busy (the fault came along), 40 back
    assert json_of(rec_dir, "blocks", "-a") == json_of(src, "blocks", "-a")
    assert json_of(rec_dir, "topology") == json_of(src, "topology")


def test_unreadable_files_are_recorded_not_fatal(tmp_path: Path, rec_dir: Path, monkeypatch) -> None:
    src = materialise("qemu-nvdimm", tmp_path / "src", {"stage": "raw"})
    seed = "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/pfn0.0/align"
    real_open = os.open

    def fake_open(path, flags, *args, **kw):
        if isinstance(path, str) and path.endswith(seed) and not flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.ENXIO, "No such device or address")
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", fake_open)
    rec = record(rec_dir, src)
    monkeypatch.setattr(os, "open", real_open)
    assert rec.errors == {seed: "ENXIO"}
    meta = load_metadata(rec_dir)
    mode = f"{stat.S_IMODE(os.stat(str(src) + seed).st_mode):04o}"
    assert meta["errors"] == {seed: "ENXIO"} and meta["error_modes"] == {seed: mode}
    # left out, so it reads as "no value" (as the errno does), not as ''
    assert not (rec_dir / seed.lstrip("/")).exists()
    assert json_of(rec_dir, "list") == json_of(src, "list")


def test_refusals(tmp_path: Path, rec_dir: Path) -> None:
    src = materialise("qemu-nvdimm", tmp_path / "src")
    with pytest.raises(FileNotFoundError):
        record(rec_dir, tmp_path / "nothing")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("x")
    with pytest.raises(FileExistsError):
        record(tmp_path / "full", src)
    assert (tmp_path / "full" / "keep").read_text() == "x"
    with pytest.raises(ValueError):
        record(src / "sys" / "rec", src)
    assert not (src / "sys" / "rec").exists()


# --------------------------------------------------------------------------
# this machine's /sys, read-only


HOST_MEMORY = Path("/sys/devices/system/memory")


@pytest.mark.skipif(not (HOST_MEMORY / "block_size_bytes").exists(), reason="no memory blocks in this /sys")
def test_record_this_machine(rec_dir: Path) -> None:
    rec = record(rec_dir)
    assert not rec.simulated and rec.source == "/"
    assert not (rec_dir / MARKER_DIR).exists()
    meta = load_metadata(rec_dir)
    assert meta["read_only"] is True and meta["kernel"] == os.uname().release
    host = json_of("/", "blocks")
    assert json_of(rec_dir, "blocks") == host
    assert json_of(rec_dir, "blocks", "-a") == json_of("/", "blocks", "-a")
    # every memory block, attribute for attribute
    names = sorted(n for n in os.listdir(HOST_MEMORY) if n.startswith("memory"))
    assert sorted(n for n in os.listdir(rec_dir / "sys/devices/system/memory") if n.startswith("memory")) == names
    for n in names[:3] + names[-3:]:
        for attr in ("state", "valid_zones", "phys_index", "removable"):
            p = HOST_MEMORY / n / attr
            if p.exists():
                assert (rec_dir / "sys/devices/system/memory" / n / attr).read_bytes() == p.read_bytes()
    assert (rec_dir / "proc/cmdline").read_bytes() == Path("/proc/cmdline").read_bytes()


# --------------------------------------------------------------------------
# the command


def test_cli_record(tmp_path: Path, rec_dir: Path) -> None:
    src = materialise("qemu-nvdimm", tmp_path / "src", {"stage": "system-ram"})
    r = pmemctl("--sysroot", str(src), "sim", "record", str(rec_dir))
    assert r.returncode == 0, r.stderr
    assert "simulated machine" in r.stdout and is_recording(rec_dir)
    r = pmemctl("--sysroot", str(src), "sim", "record", str(rec_dir))
    assert r.returncode == 5 and "not empty" in r.stderr
    r = pmemctl("--sysroot", str(src), "sim", "record", str(rec_dir), "--force", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["command"] == "sim record" and doc["recording"]["simulated"] is True
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious").write_text("keep")
    r = pmemctl("--sysroot", str(src), "sim", "record", str(other), "--force")
    assert r.returncode == 5 and (other / "precious").read_text() == "keep"
    assert RECORD_FILE in r.stderr
    # a sysroot that does not exist is not found (exit 8) for every command (README "Everyday use")
    r = pmemctl("--sysroot", str(tmp_path / "nothing"), "sim", "record", str(tmp_path / "x"))
    assert r.returncode == 8 and "does not exist" in r.stderr and not (tmp_path / "x").exists()
    r = pmemctl("--sysroot", str(src), "sim", "record", str(src / "sys" / "x"))
    assert r.returncode == 5
