"""Issue 15 item 4: a recording of a real machine (``pmemctl sim record``) is
read-only.  Every command that may write refuses it (exit 5, one sentence
naming the recording) unless ``--dry-run``; a recording of a simulated tree
is itself a simulated machine and stays writable."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_support import one_line

from pmemctl.errors import ExitCode
from pmemctl.sim.record import load_metadata, record


@pytest.fixture
def recording(scenario_tree, tmp_path):
    """A recording of a plain captured tree (no simulator marker): what
    ``sim record`` makes of a real machine."""
    plain = tmp_path / "machine"
    shutil.copytree(scenario_tree("qemu-nvdimm", stage="system-ram"), plain, symlinks=True)
    shutil.rmtree(plain / ".pmemctl-sim")
    rec = tmp_path / "rec"
    record(rec, plain)
    assert load_metadata(rec)["read_only"] is True
    return rec


def _state(rec, index):
    return (rec / f"sys/devices/system/memory/memory{index}/state").read_text().strip()


def _online_block(invoke, rec):
    doc = json.loads(invoke("--sysroot", rec, "blocks", "--json", "--device", "dax0.0", "--state", "online").stdout)
    return doc["ranges"][-1]["last_block"]


MUTATING = [
    ("offline", "--blocks", "{block}", "--force", "--yes"),
    ("offline", "dax0.0", "--count", "1", "--yes"),
    ("online", "dax0.0", "--yes"),
    ("reconfigure", "dax0.0", "--mode", "devdax", "--force", "--yes"),
    ("namespace", "destroy", "namespace0.0", "--force", "--yes"),
    ("namespace", "reconfigure", "namespace0.0", "--mode", "fsdax", "--force", "--yes"),
    ("rollback",),
    ("resume",),
]


@pytest.mark.parametrize("args", MUTATING, ids=lambda a: " ".join(a[:2]))
def test_every_mutating_command_refuses_a_recording(invoke, recording, args):
    block = _online_block(invoke, recording)
    before = _state(recording, block)
    res = invoke("--sysroot", recording, *[a.format(block=block) for a in args])
    assert res.exit_code == ExitCode.REFUSED, res.output + res.stderr
    line = one_line(res.stderr)
    assert str(recording) in line and "recording" in line and "--dry-run" in line
    assert _state(recording, block) == before
    assert not (recording / "run").exists() and not (recording / "var").exists()  # no lock, no journal


def test_refusal_with_json_is_an_error_document(invoke, recording):
    res = invoke("--sysroot", recording, "offline", "dax0.0", "--count", "1", "--yes", "--json")
    assert res.exit_code == ExitCode.REFUSED
    doc = json.loads(res.stdout)
    assert "recording" in doc["error"]["message"]


def test_dry_run_on_a_recording_still_plans(invoke, recording):
    block = _online_block(invoke, recording)
    res = invoke("--sysroot", recording, "offline", "--blocks", block, "--force", "--dry-run")
    assert res.exit_code == ExitCode.OK, res.output + res.stderr
    assert f"memory{block}/state" in res.stdout
    assert _state(recording, block) == "online"


def test_a_recording_of_a_simulated_tree_stays_writable(invoke, scenario_tree, tmp_path):
    rec = tmp_path / "simrec"
    record(rec, scenario_tree("qemu-nvdimm", stage="system-ram"))
    assert load_metadata(rec)["read_only"] is False
    res = invoke("--sysroot", rec, "offline", "dax0.0", "--count", "1", "--yes")
    assert res.exit_code == ExitCode.OK, res.output + res.stderr
