"""Journals written before the ops restructuring still resume and roll back.

``golden/*.tar.xz`` are simulated qemu-nvdimm machines captured right after
a ``reconfigure … --mode system-ram`` was interrupted (Ctrl-C) by the code
of commit 64df95e: the tree, its simulator state and pmemctl's journal
(``var/lib/pmemctl/journal.{json,log}``).  The journal format, the paths and
the action kinds are a promise: today's code must finish or undo them.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from pmemctl.model.discover import discover
from pmemctl.model.records import DaxMode, NamespaceMode
from pmemctl.ops.executor import ApplyOptions, Executor
from pmemctl.ops.outcome import OutcomeStatus
from pmemctl.sim.kernel import SimulatedKernel

GOLDEN = Path(__file__).parent / "golden"


def unpack(name: str, dest: Path) -> SimulatedKernel:
    with tarfile.open(GOLDEN / f"{name}.tar.xz") as tar:
        if hasattr(tarfile, "tar_filter"):  # Python >= 3.10.12 / 3.11.4
            tar.extractall(dest, filter="tar")
        else:  # pragma: no cover
            tar.extractall(dest)
    return SimulatedKernel(dest / name)


def executor(k: SimulatedKernel) -> Executor:
    return Executor(k, ApplyOptions(poll_interval=0.001, wait_timeout=5.0))


@pytest.mark.parametrize("name", ["dax-to-ram", "namespace-to-ram"])
def test_an_old_journal_is_seen_as_unfinished(tmp_path: Path, name: str) -> None:
    k = unpack(name, tmp_path)
    rec = executor(k).journal.load()
    assert rec is not None and rec.header["state"] == "interrupted"
    assert "system-ram" in rec.header["plan"]["title"]


@pytest.mark.parametrize("name", ["dax-to-ram", "namespace-to-ram"])
def test_an_old_journal_resumes(tmp_path: Path, name: str) -> None:
    k = unpack(name, tmp_path)
    before = [b.index for b in discover(k).blocks if b.online and b.device == "dax0.0"]
    assert before, "the capture was taken after some blocks were onlined"
    outcome = executor(k).resume_journal()
    assert outcome.status is OutcomeStatus.CHANGED, outcome.message
    topo = discover(k)
    dev = topo.dax_device("dax0.0")
    assert dev is not None and dev.mode == DaxMode.SYSTEM_RAM
    blocks = topo.blocks_of("dax0.0")
    assert blocks and all(b.online for b in blocks)
    assert executor(k).journal.load() is None


@pytest.mark.parametrize("name", ["dax-to-ram", "namespace-to-ram"])
def test_an_old_journal_rolls_back(tmp_path: Path, name: str) -> None:
    k = unpack(name, tmp_path)
    outcome = executor(k).rollback_journal()
    assert outcome.status is OutcomeStatus.ROLLED_BACK, outcome.message
    topo = discover(k)
    assert not [b for b in topo.blocks if b.device == "dax0.0"]
    ns = topo.namespace("namespace0.0")
    assert ns is not None
    if name == "dax-to-ram":
        dev = topo.dax_device("dax0.0")
        assert dev is not None and dev.mode == DaxMode.DEVDAX and ns.mode == NamespaceMode.DEVDAX
    else:
        assert ns.mode == NamespaceMode.RAW and topo.dax_device("dax0.0") is None
    assert executor(k).journal.load() is None
