"""The ndctl backend: JSON quirks, exit statuses, and the real ndctl run
against the simulated kernel through the FUSE bridge (kernel-abi.md §1, §3)."""

from __future__ import annotations

import errno

import pytest

from pmemctl.errors import Busy, ExitCode, Unsupported
from pmemctl.model.discover import discover
from pmemctl.ops.actions.nd_writes import ndctl_write
from pmemctl.ops.backends import ndctl as nd
from pmemctl.ops.plan.namespace import plan_create
from pmemctl.ops.requests import CreateRequest
from pmemctl.ops.services import RunOptions, run_plan
from pmemctl.sim.kernel import faults, tool_unavailable_reason
from pmemctl.sysfs.door import SysfsRoot

GiB = 1024**3

_BRIDGE = tool_unavailable_reason("ndctl")
needs_bridge = pytest.mark.skipif(_BRIDGE is not None, reason=f"real ndctl on the simulator: {_BRIDGE}")


# -- JSON quirks (no ndctl needed) ---------------------------------------------------


def test_parse_json_shapes():
    assert nd.parse_json("") == []  # list commands print nothing for no result
    assert nd.parse_json("  \n") == []
    one = '{\n  "dev":"namespace0.0",\n  "mode":"devdax"\n}\n'  # -u with one result, or create-namespace
    assert nd.parse_json(one) == [{"dev": "namespace0.0", "mode": "devdax"}]
    many = '[\n  {\n    "dev":"namespace0.0"\n  },\n  {\n    "dev":"namespace0.1"\n  }\n]\n'
    assert [d["dev"] for d in nd.parse_json(many)] == ["namespace0.0", "namespace0.1"]
    assert nd.parse_json("[\n  ]\n") == []
    # json-c escapes '/' as '\/'
    path = '{"path":"\\/LNXSYSTM:00\\/LNXSYBUS:00\\/ACPI0012:00\\/ndbus0\\/region0\\/dax0.0"}'
    assert nd.parse_json(path)[0]["path"] == "/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0"
    # two classes without -B: one object holding the arrays
    assert nd.parse_json('{"dimms":[],"regions":[{"dev":"region0"}]}')[0]["regions"][0]["dev"] == "region0"
    with pytest.raises(ValueError):
        nd.parse_json("42")


def test_parse_size_fields():
    assert nd.parse_size_field(16909336576) == 16909336576
    assert nd.parse_size_field("0x10200000") == 0x10200000  # hex fields under -u
    assert nd.parse_size_field("4096") == 4096
    assert nd.parse_size_field(None) is None
    # -u: two decimals of the binary unit; approximate
    got = nd.parse_size_field("15.75 GiB (16.91 GB)")
    assert abs(got - 16909336576) < 0.01 * GiB
    assert nd.parse_size_field("64.00 MiB (67.11 MB)") == 64 * 1024**2
    with pytest.raises(ValueError):
        nd.parse_size_field("lots")


@pytest.mark.parametrize(
    "status,err,code",
    [
        (0, None, ExitCode.OK),
        (1, None, ExitCode.NO_CHANGE),
        (129, None, ExitCode.USAGE),
        (240, errno.EBUSY, ExitCode.REFUSED),
        (228, errno.ENOSPC, ExitCode.REFUSED),
        (234, errno.EINVAL, ExitCode.USAGE),
        (254, errno.ENOENT, ExitCode.NOT_FOUND),
        (250, errno.ENXIO, ExitCode.NOT_FOUND),
        (237, errno.ENODEV, ExitCode.UNSUPPORTED),
        (161, errno.EOPNOTSUPP, ExitCode.UNSUPPORTED),
        (2, None, ExitCode.FAILED),
    ],
)
def test_exit_status_is_256_minus_errno(status, err, code):
    assert nd.status_errno(status) == err
    assert nd.exit_code_for_status(status) == code


def test_failure_keeps_the_errno_and_ndctl_words():
    res = nd.NdctlResult(("ndctl", "destroy-namespace", "namespace0.0"), 240, "",
                         "namespace0.0 is active, specify --force\n"
                         "error destroying namespaces: Device or resource busy\n")
    exc = res.failure()
    assert isinstance(exc, Busy) and exc.errno == errno.EBUSY
    assert "exit status 240 (= 256 - EBUSY" in exc.sentence()
    assert exc.sentence().endswith("ndctl said: error destroying namespaces: Device or resource busy")
    usage = nd.NdctlResult(("ndctl", "create-namespace", "--bogus"), 129, "", "usage: ndctl create-namespace\n")
    assert "rejected its options (exit 129)" in usage.failure().sentence()


def test_command_lines_are_argument_lists():
    assert nd.create_args("region1", "devdax", 1 << 30, uuid="u", align=2097152, name="a b; rm -rf /",
                          sector_size=None) == [
        "create-namespace", "--region", "region1", "--mode", "devdax", "--size", str(1 << 30), "--uuid", "u",
        "--align", "2097152", "--name", "a b; rm -rf /"]
    shown = ndctl_write(nd.destroy_args("namespace0.0")).shell()
    assert shown == "ndctl destroy-namespace --force namespace0.0"
    named = ndctl_write(["create-namespace", "--name", "a b"]).shell()
    assert named == "ndctl create-namespace --name 'a b'"  # quoted for display, never run by a shell


def test_ndctl_only_runs_on_the_machine_or_the_simulator(tmp_path):
    with pytest.raises(Unsupported, match="only works on the running machine"):
        nd.run_ndctl(SysfsRoot(tmp_path), ["list"])


# -- the real ndctl against the simulated kernel ------------------------------------


@pytest.fixture
def sim(make_machine):
    """A simulated machine, wherever make_machine builds it (/dev/shm
    included: the bridge binds the tree outside its private /dev)."""
    return make_machine


@needs_bridge
def test_ndctl_list_agrees_with_the_size_math(sim):
    k = sim("optane-2s")
    res = nd.run_ndctl(k, ["list", "-N", "-r", "region0"])
    assert res.ok, res.stderr
    listed = {d["dev"]: d for d in nd.parse_json(res.stdout)}
    topo = discover(k)
    for name, ns in ((n.name, n) for n in topo.namespaces if n.region == "region0" and n.size):
        assert name in listed
        if ns.mode.value in ("devdax", "fsdax"):
            from pmemctl.ops.sizes import usable_size

            assert listed[name]["size"] == ns.usable_size == usable_size(ns.mode.value, ns.resource, ns.size,
                                                                         ns.align)
    human = nd.run_ndctl(k, ["list", "-N", "-u", "-n", "namespace0.0"])
    (obj,) = nd.parse_json(human.stdout)  # a bare object under -u
    assert isinstance(obj["size"], str) and obj["size"].endswith("GB)")
    assert abs(nd.parse_size_field(obj["size"]) - topo.namespace("namespace0.0").usable_size) < 0.01 * GiB


@needs_bridge
def test_real_ndctl_statuses_map_to_exit_codes(sim):
    k = sim("optane-2s")
    bad = nd.run_ndctl(k, ["create-namespace", "-r", "region1", "-m", "devdax", "-s", str(100 * GiB)])
    assert bad.status == 256 - errno.EINVAL and nd.exit_code_for_status(bad.status) == ExitCode.USAGE
    busy = nd.run_ndctl(k, ["destroy-namespace", "namespace0.0"])  # active, no --force
    assert busy.status == 256 - errno.EBUSY and nd.exit_code_for_status(busy.status) == ExitCode.REFUSED
    assert isinstance(busy.failure(), Busy)
    assert discover(k).namespace("namespace0.0").size == 96 * GiB


@needs_bridge
def test_a_failing_ndctl_step_fails_the_plan_with_its_errno(sim):
    k = sim("optane-2s")
    faults.inject(k.root, "bind-fail", driver="dax_pmem", device="dax1.1", errno="ENXIO")
    plan = plan_create(k, discover(k), CreateRequest("region1", "48G", "devdax", backend="ndctl"))
    out = run_plan(k, plan, RunOptions(yes=True)).outcome
    assert out.status == "failed" and out.exit_code == ExitCode.FAILED
    (step,) = out.results
    assert step.status == "failed" and step.errno is not None
    assert "failed with exit status" in (step.error or "")
    # ndctl's own autorecover left the seed idle: nothing changed
    topo = discover(k)
    assert topo.region("region1").available_size == 240 * GiB
    assert not [n for n in topo.namespaces if n.region == "region1" and n.size and n.name not in
                ("namespace1.0", "namespace1.1")]
