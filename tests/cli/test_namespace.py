"""``pmemctl namespace create|reconfigure|destroy|plan`` and the combined
``pmemctl reconfigure NS --mode system-ram``, through click's CliRunner on
simulated trees.  Exit codes and one-line errors are the contract."""

from __future__ import annotations

import json
import os

import pytest
from cli_support import one_line

from pmemctl.errors import ExitCode
from pmemctl.sim.kernel import tool_unavailable_reason

_BRIDGE = tool_unavailable_reason("ndctl")


@pytest.fixture
def optane(fresh_tree):
    return fresh_tree("optane-2s")


@pytest.fixture
def qemu_raw(fresh_tree):
    return fresh_tree("qemu-nvdimm", stage="raw")


def ns_attr(tree, name, attr):
    return (tree / "sys/bus/nd/devices" / name / attr).read_text().strip()


# -- create --------------------------------------------------------------------------


def test_create_dry_run_shows_the_writes_and_changes_nothing(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "create", "-r", "region1", "-s", "66G", "-m", "devdax",
                 "--dry-run")
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "create namespace1.2 in region1: 66G devdax (align 2M)" in out
    assert "echo 0x1080000000 > /sys/bus/nd/devices/namespace1.2/size" in out
    assert "echo dax1.1 > /sys/bus/nd/drivers/dax_pmem/bind" in out
    assert "as system-ram it would give 32 memory block(s) of 2G = 64G" in out
    assert "dry run: nothing was written" in out
    assert ns_attr(optane, "namespace1.2", "size") == "0"


def test_create_json(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "create", "--region", "1", "--size", "48G", "--mode", "fsdax",
                 "--name", "logs", "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["command"] == "namespace create" and doc["backend"] == "sysfs" and doc["dry_run"] is False
    assert doc["plan"]["steps"][0]["kind"] == "ns-create"
    assert doc["outcome"]["status"] == "changed" and doc["outcome"]["exit_code"] == 0
    assert ns_attr(optane, "namespace1.2", "alt_name") == "logs"
    assert ns_attr(optane, "namespace1.2", "holder").startswith("pfn1.")


def test_create_size_that_does_not_fit(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "create", "-r", "region1", "-s", "100G", "-m", "devdax")
    assert res.exit_code == ExitCode.REFUSED
    line = one_line(res.stderr)
    assert "not a multiple of 48M" in line and "nearest valid: 102384M or 102432M (both about 100G)" in line
    assert "nothing was changed" in line
    res = invoke("--sysroot", optane, "namespace", "create", "-r", "region1", "-s", "1T", "-m", "raw")
    assert res.exit_code == ExitCode.REFUSED and "nearest valid: 240G" in one_line(res.stderr)
    assert ns_attr(optane, "namespace1.2", "size") == "0"


@pytest.mark.parametrize(
    "args,code,words",
    [
        (["-r", "region9", "-s", "1G", "-m", "devdax"], ExitCode.NOT_FOUND, "no region named 'region9'"),
        (["-r", "region1", "-s", "1G", "-m", "devdax", "-a", "64K"], ExitCode.USAGE, "supported: 4K, 2M, 1G"),
        (["-r", "region1", "-s", "a lot", "-m", "raw"], ExitCode.USAGE, "not a size"),
        (["-r", "region1", "-s", "1G", "-m", "pmem"], ExitCode.USAGE, "Invalid value for '-m'"),
        (["-r", "region1", "-s", "1G", "-m", "raw", "--backend", "magic"], ExitCode.USAGE, "--backend"),
    ],
)
def test_create_bad_input(invoke, optane, args, code, words):
    res = invoke("--sysroot", optane, "namespace", "create", *args)
    assert res.exit_code == code, res.stderr
    assert words in one_line(res.stderr)


def test_create_on_a_label_less_region_is_refused(invoke, qemu_raw):
    res = invoke("--sysroot", qemu_raw, "namespace", "create", "-r", "region0", "-s", "1G", "-m", "devdax")
    assert res.exit_code == ExitCode.REFUSED
    assert "label-less" in one_line(res.stderr)


# -- reconfigure / destroy --------------------------------------------------------------


def test_reconfigure_needs_yes(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "reconfigure", "namespace1.0", "-m", "fsdax")
    assert res.exit_code == ExitCode.REFUSED
    line = one_line(res.stderr)
    assert "the data on namespace1.0 (48G, sector, /dev/pmem1s) will be lost" in line and "--yes" in line
    assert ns_attr(optane, "namespace1.0", "mode") == "safe"


def test_reconfigure_and_destroy_by_name_and_uuid(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "reconfigure", "db-log", "-m", "devdax", "-a", "1G", "--yes")
    assert res.exit_code == 0, res.stderr
    assert "done" in res.stdout
    assert ns_attr(optane, "namespace0.0", "mode") == "dax"
    uuid = ns_attr(optane, "namespace0.0", "uuid")
    res = invoke("--sysroot", optane, "namespace", "destroy", uuid, "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["plan"]["title"] == "destroy namespace0.0" and doc["outcome"]["status"] == "changed"
    assert ns_attr(optane, "namespace0.0", "size") == "0"
    res = invoke("--sysroot", optane, "namespace", "destroy", "namespace0.0", "--yes")
    assert res.exit_code == ExitCode.NO_CHANGE


def test_same_mode_is_no_change(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "reconfigure", "0.0", "-m", "fsdax", "--yes")
    assert res.exit_code == ExitCode.NO_CHANGE
    assert "already fsdax" in res.stdout


def test_unknown_and_ambiguous_namespaces(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "destroy", "namespace7.7", "--yes")
    assert res.exit_code == ExitCode.NOT_FOUND and "namespace7.7" in one_line(res.stderr)
    for region in ("region0", "region1"):
        res = invoke("--sysroot", optane, "namespace", "create", "-r", region, "-s", "96M", "-m", "raw",
                     "-n", "twin")
        assert res.exit_code == 0, res.stderr
    res = invoke("--sysroot", optane, "namespace", "destroy", "twin", "--yes")
    assert res.exit_code == ExitCode.USAGE
    line = one_line(res.stderr)
    assert "'twin' matches 2 namespaces" in line and "namespace0.3" in line and "namespace1.2" in line


def test_an_ambiguous_name_is_one_usage_error_for_every_command(invoke, optane):
    """Three namespaces named 'dup' (devdax, devdax, fsdax): every command that
    takes a selector refuses it the same way, as a usage error (exit 2)."""
    for region, mode in (("region0", "devdax"), ("region1", "devdax"), ("region1", "fsdax")):
        res = invoke("--sysroot", optane, "namespace", "create", "-r", region, "-s", "1152M", "-m", mode,
                     "-n", "dup", "--yes")
        assert res.exit_code == 0, res.stderr
    commands = (
        ("reconfigure", "dup", "--mode", "devdax", "--dry-run"),
        ("reconfigure", "dup", "--mode", "system-ram", "--dry-run"),
        ("online", "dup", "--dry-run"),
        ("offline", "dup", "--dry-run"),
        ("namespace", "destroy", "dup", "--dry-run"),
        ("namespace", "reconfigure", "dup", "--mode", "raw", "--dry-run"),
    )
    for args in commands:
        res = invoke("--sysroot", optane, *args)
        assert res.exit_code == ExitCode.USAGE, (args, res.stderr)
        assert "'dup' matches 3 namespaces" in one_line(res.stderr), (args, res.stderr)


def test_mounted_is_refused_even_with_force(invoke, optane):
    os.makedirs(optane / "proc/1", exist_ok=True)
    (optane / "proc/1/mountinfo").write_text("40 1 259:0 / /srv/db rw - xfs /dev/pmem0 rw,dax=always\n")
    res = invoke("--sysroot", optane, "namespace", "destroy", "db-log", "--yes", "--force")
    assert res.exit_code == ExitCode.REFUSED
    line = one_line(res.stderr)
    assert "/dev/pmem0 is mounted on /srv/db (xfs)" in line and "nothing was changed" in line
    res = invoke("--sysroot", optane, "namespace", "destroy", "db-log", "--dry-run")
    assert res.exit_code == ExitCode.REFUSED
    assert "REFUSED    mounted" in res.stdout and "(cannot be overridden)" in res.stdout


def test_open_by_a_process_needs_force(invoke, optane):
    (optane / ".pmemctl-sim/holders.json").write_text(json.dumps([{"pid": 77, "name": "redis", "path": "/dev/pmem0"}]))
    res = invoke("--sysroot", optane, "namespace", "destroy", "db-log", "--yes")
    assert res.exit_code == ExitCode.REFUSED
    assert "redis (pid 77) has /dev/pmem0 open" in res.stderr and "add --force" in res.stderr
    res = invoke("--sysroot", optane, "namespace", "destroy", "db-log", "--yes", "--force")
    assert res.exit_code == 0, res.stderr


def test_system_ram_online_needs_force(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "destroy", "namespace0.1", "--yes")
    assert res.exit_code == ExitCode.REFUSED and "80 block(s) online (160G)" in one_line(res.stderr)
    res = invoke("--sysroot", optane, "namespace", "destroy", "namespace0.1", "--yes", "--force", "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [s["kind"] for s in doc["plan"]["steps"]][-3:] == ["unbind", "wait-blocks-gone", "ns-destroy"]
    assert not (optane / "sys/bus/dax/devices/dax0.1").exists()


# -- the size planner ----------------------------------------------------------------------


def test_plan_system_ram(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "plan", "-r", "region1", "--system-ram", "64G")
    assert res.exit_code == 0, res.stderr
    assert "--size 66G" in res.stdout
    assert f"pmemctl --sysroot {optane} namespace create --region region1 --mode devdax --size 66G" in res.stdout
    res = invoke("--sysroot", optane, "namespace", "plan", "-r", "region1", "--system-ram", "64G", "--json")
    doc = json.loads(res.stdout)
    assert doc["exact"] is True and doc["namespace_size"] == 66 * 1024**3 and doc["blocks"] == 32
    # and it is right: create it and count what kmem would add
    res = invoke("--sysroot", optane, "namespace", "create", "-r", "region1", "-s", "66G", "-m", "devdax", "--json")
    assert res.exit_code == 0, res.stderr
    res = invoke("--sysroot", optane, "reconfigure", "dax1.2", "--mode", "system-ram", "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    online = [s for s in json.loads(res.stdout)["plan"]["steps"] if s["kind"] == "online-block"]
    assert len(online) == 32


def test_plan_bad_sizes(invoke, optane):
    res = invoke("--sysroot", optane, "namespace", "plan", "-r", "region1", "--system-ram", "63G")
    assert res.exit_code == ExitCode.USAGE
    assert "nearest: 62G or 64G" in one_line(res.stderr)
    res = invoke("--sysroot", optane, "namespace", "plan", "-r", "region1", "--system-ram", "1T")
    assert res.exit_code == ExitCode.REFUSED
    assert "at most 118 block(s) (236G)" in res.stdout and "--size 240G" in res.stdout


# -- namespace -> devdax -> system-ram -------------------------------------------------------


def test_reconfigure_a_raw_namespace_to_system_ram(invoke, qemu_raw):
    res = invoke("--sysroot", qemu_raw, "reconfigure", "namespace0.0", "--mode", "system-ram", "--dry-run")
    assert res.exit_code == 0, res.stderr
    assert "reconfigure namespace0.0 from raw to devdax (align 2M) (wipes its info block)" in res.stdout
    assert "echo dax0.0 > /sys/bus/dax/drivers/kmem/bind" in res.stdout
    res = invoke("--sysroot", qemu_raw, "reconfigure", "namespace0.0", "--mode", "system-ram", "--yes")
    assert res.exit_code == 0, res.stderr
    res = invoke("--sysroot", qemu_raw, "blocks", "--json", "--device", "dax0.0")
    assert json.loads(res.stdout)["totals"]["blocks_online"] == 30


# -- the ndctl backend -------------------------------------------------------------------------


def test_ndctl_backend(invoke, optane):
    args = ("--sysroot", optane, "namespace", "create", "-r", "region1", "-s", "48G", "-m", "devdax",
            "--backend", "ndctl")
    if _BRIDGE is not None:
        res = invoke(*args, "--dry-run")
        assert res.exit_code == ExitCode.UNSUPPORTED
        assert "--backend ndctl cannot run on the simulated tree" in one_line(res.stderr)
        return
    res = invoke(*args, "--dry-run")
    assert res.exit_code == 0, res.stderr
    assert "ndctl create-namespace --region region1 --mode devdax --size 51539607552 --uuid " in res.stdout
    res = invoke(*args, "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["backend"] == "ndctl" and doc["outcome"]["status"] == "changed"
    assert doc["plan"]["steps"][0]["writes"][0]["path"] == "ndctl"
    assert ns_attr(optane, "namespace1.2", "holder").startswith("dax1.")
