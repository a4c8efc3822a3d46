"""materialise(): destination rules, marker, parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmemctl.errors import NotFound, UsageError
from pmemctl.sim import is_simulated_tree, load_devnodes, load_machine, load_scenario, materialise


def test_materialise_by_name_with_params(tmp_path: Path) -> None:
    root = materialise("qemu-nvdimm", tmp_path / "t", {"stage": "devdax"})
    assert root == (tmp_path / "t").absolute()
    assert is_simulated_tree(root)
    doc = json.loads((root / ".pmemctl-sim/scenario.json").read_text())
    assert doc["name"] == "qemu-nvdimm" and doc["params"] == {"stage": "devdax"}
    assert load_machine(root).dax_devices[0].name == "dax0.0"
    assert {n.path for n in load_devnodes(root)} == {"/dev/dax0.0", "/dev/ndctl0", "/dev/nmem0"}


def test_materialise_a_loaded_scenario_into_an_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    root = materialise(load_scenario("cxl-hmem", {"kind": "cxl"}), tmp_path / "t")
    assert (root / "sys/devices/platform/ACPI0017:00/root0/decoder0.0/region0/dax_region0/dax0.0").is_dir()
    with pytest.raises(ValueError):
        materialise(load_scenario("cxl-hmem"), tmp_path / "u", {"kind": "cxl"})


def test_materialise_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "precious").write_text("keep me")
    with pytest.raises(FileExistsError):
        materialise("qemu-nvdimm", tmp_path / "t")
    assert (tmp_path / "t" / "precious").read_text() == "keep me"


def test_materialise_errors_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        materialise("nope", tmp_path / "t")
    with pytest.raises(UsageError):
        materialise("qemu-nvdimm", tmp_path / "t", {"stage": "later"})
    assert not (tmp_path / "t").exists()


def test_scenarios_without_nvdimms_have_no_nd_bus(tmp_path: Path) -> None:
    root = materialise("cxl-hmem", tmp_path / "t")
    assert not (root / "sys/bus/nd").exists()
    assert (root / "sys/bus/dax/drivers/kmem").is_dir()
    assert (root / "sys/module/kmem/initstate").read_text() == "live\n"


def test_materialise_reports_progress_up_to_its_total(tmp_path: Path) -> None:
    """Issue 15 item 19: the build drives a progress bar; the memory blocks
    are most of it, reported a batch at a time, and the last report is done."""
    seen: list[tuple[int, int]] = []
    materialise("big", tmp_path / "t", {"blocks": "2048"}, progress=lambda done, total: seen.append((done, total)))
    totals = {total for _, total in seen}
    assert totals == {2048 + 5}
    dones = [done for done, _ in seen]
    assert dones == sorted(dones) and dones[-1] == 2048 + 5
    assert 8 <= len(seen) <= 2048 // 64  # batches, not one call per block
