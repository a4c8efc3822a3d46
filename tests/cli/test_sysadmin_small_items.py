"""Issue 15, items 17 (did you mean), 19 (refuse an unsuitable demo before
building) and 20 (smaller items): ``-o zones`` as the header says,
``blocks --device`` of a devdax device says why it is empty, and clean
one-line errors instead of "internal error" for ``sim create``/``sim record``
into a place that cannot be written and ``demo --keep EXISTING``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import pytest
from cli_support import Invoke, one_line

from pmemctl.errors import ExitCode


@pytest.mark.parametrize("typo,meant", [("lst", "list"), ("blcoks", "blocks"), ("topolgy", "topology"),
                                         ("rolback", "rollback")])
def test_mistyped_command_gets_did_you_mean(invoke: Invoke, typo: str, meant: str) -> None:
    res = invoke(typo)
    assert res.exit_code == ExitCode.USAGE
    assert f"did you mean '{meant}'" in one_line(res.stderr).lower()


def test_mistyped_subcommand_too(invoke: Invoke) -> None:
    res = invoke("namespace", "destory", "x")
    assert res.exit_code == ExitCode.USAGE and "did you mean 'destroy'" in one_line(res.stderr).lower()


def test_demo_refuses_a_scenario_without_devdax_before_building(invoke: Invoke) -> None:
    start = time.monotonic()
    res = invoke("demo", "--scenario", "big")
    assert res.exit_code == ExitCode.NOT_FOUND
    line = one_line(res.stderr)
    assert "no devdax device" in line and "nothing was built" in line
    assert res.stdout == "" and time.monotonic() - start < 30  # building big takes minutes


def test_demo_keep_existing_directory(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    res = invoke("demo", "--keep", tmp_path)
    assert res.exit_code == ExitCode.USAGE
    assert "already exists" in one_line(res.stderr) and (tmp_path / "something").read_text() == "x"


def test_sim_create_where_nothing_can_be_written(invoke: Invoke) -> None:
    res = invoke("sim", "create", "-s", "qemu-nvdimm", "/proc/pmemctl-x")
    assert res.exit_code == ExitCode.FAILED
    line = one_line(res.stderr)
    assert "internal error" not in line and "cannot write the simulated tree /proc/pmemctl-x" in line


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an ordinary user")
def test_sim_record_into_an_unwritable_directory(scenario_tree: Callable[..., Path]) -> None:
    import shutil
    import tempfile

    from nobody import nobody_python, run_pmemctl_as_nobody
    from test_read_without_root import _open_to_others

    if nobody_python()[0] is None:
        pytest.skip(nobody_python()[2])
    public = Path(tempfile.mkdtemp(prefix="pmemctl-rec-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    try:
        os.chmod(public, 0o755)
        tree = public / "tree"
        shutil.copytree(scenario_tree("qemu-nvdimm", stage="devdax"), tree, symlinks=True)
        _open_to_others(tree)
        locked = public / "locked"
        locked.mkdir(mode=0o555)
        code, _out, err = run_pmemctl_as_nobody("--sysroot", str(tree), "sim", "record", str(locked / "rec"))
        assert code == ExitCode.FAILED, err
        assert "internal error" not in err and "cannot write the recording" in err
    finally:
        shutil.rmtree(public, ignore_errors=True)


def test_zones_column_as_the_header_names_it(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("optane-2s")
    a = invoke("--sysroot", tree, "blocks", "-o", "range,zones")
    b = invoke("--sysroot", tree, "blocks", "-o", "RANGE,ZONE")
    c = invoke("--sysroot", tree, "blocks", "-o", "range,zone")
    assert a.exit_code == b.exit_code == c.exit_code == 0, a.stderr
    assert a.stdout == b.stdout == c.stdout and "ZONES" in a.stdout


def test_blocks_of_a_devdax_device_say_why_there_are_none(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="devdax")
    res = invoke("--sysroot", tree, "blocks", "--device", "dax0.0")
    assert res.exit_code == 0
    assert "dax0.0 has no memory blocks" in res.stdout and "system-ram" in res.stdout
    assert f"pmemctl --sysroot {tree} list --device dax0.0" in res.stdout  # pasted, it reads the same tree




def test_size_units_gb_is_decimal_gib_binary(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    """chmem reads GB as 10^9: so does pmemctl; G and GiB stay 2^30."""
    import json

    tree = scenario_tree("qemu-nvdimm", stage="system-ram")
    gb = json.loads(invoke("--sysroot", tree, "offline", "dax0.0", "--size", "1GB", "--dry-run", "--json").stdout)
    gib = json.loads(invoke("--sysroot", tree, "offline", "dax0.0", "--size", "1GiB", "--dry-run", "--json").stdout)
    assert len(gb["plan"]["steps"]) == 7 and len(gib["plan"]["steps"]) == 8  # 128 MiB blocks
    assert any("1GB rounded down to 7 whole block(s)" in n for n in gb["plan"]["notes"])


def test_does_not_fit_shows_enough_digits() -> None:
    from pmemctl.ops.sizes import GiB, MiB, RegionGeometry, check_size

    geom = RegionGeometry("region0", 4 * GiB, 4 * GiB - 122 * MiB, 2 * MiB, 1, True, 0)
    verdict = check_size(geom, "devdax", 4 * GiB - 120 * MiB)
    assert "does not fit" in verdict.problem
    assert "3.88G does not fit: region0 has 3.88G free" not in verdict.problem
    assert "3976M does not fit: region0 has 3974M free" in verdict.problem


def test_namespace_size_max(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    """--size max, like ndctl's default: the largest valid size that fits."""
    import json

    tree = scenario_tree("optane-2s")
    doc = json.loads(invoke("--sysroot", tree, "namespace", "create", "-r", "region1", "-s", "max", "-m", "devdax",
                            "--dry-run", "--json").stdout)
    assert doc["plan"]["title"] == "create a 240G devdax namespace in region1"
    assert any(n.startswith("--size max: 240G") for n in doc["plan"]["notes"])
    too_big = invoke("--sysroot", tree, "namespace", "create", "-r", "region1", "-s", "241G", "-m", "devdax",
                     "--dry-run")
    assert too_big.exit_code == ExitCode.REFUSED
