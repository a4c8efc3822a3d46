"""The simulator's own state files (.pmemctl-sim/*.json) are read only when
they are regular files: a FIFO planted there is refused at once instead of
blocking the run (the confinement suite drew this case for reconfigure once:
kmem's id list lives in kernel-state.json)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pmemctl.errors import OutsideSysroot
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import faults, state
from pmemctl.sim.scenario import load_scenario
from pmemctl.sim.tree import MARKER_DIR

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return materialise(load_scenario("qemu-nvdimm", {"stage": "system-ram"}), tmp_path / "t")


def plant_fifo(root: Path, name: str) -> None:
    path = root / MARKER_DIR / name
    if path.exists():
        path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize("name,load", [
    (state.STATE_FILE, lambda root: state.load_kernel_state(root, list)),
    (state.HOLDERS_FILE, lambda root: state.holders(root, "/dev/dax0.0")),
    (state.ND_STATE_FILE, state.load_nd_state),
    ("faults.json", faults.load),
])
def test_a_fifo_is_refused_not_waited_on(tree: Path, name: str, load) -> None:  # type: ignore[no-untyped-def]
    plant_fifo(tree, name)
    with pytest.raises(OutsideSysroot, match="not a regular file"):
        load(str(tree))


def test_reconfigure_with_a_fifo_as_kernel_state_ends_with_one_sentence(tree: Path) -> None:
    plant_fifo(tree, state.STATE_FILE)
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    env.pop("PMEMCTL_SYSROOT", None)
    proc = subprocess.run([sys.executable, "-m", "pmemctl", "--sysroot", str(tree), "reconfigure", "dax0.0",
                           "--mode", "devdax", "--yes"], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in said and "not a regular file" in said, said
    assert "dax0.0 is bound to kmem" in said  # what the machine is left as: untouched
