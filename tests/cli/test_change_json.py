"""The --json documents of the mutating commands (change, namespace_change),
of status and of rollback/resume (recovery) follow the documented schema.

Every document a test here sees goes through ``check_schema``: exactly the
documented keys, in order, of the documented types, and an enumeration key
(outcome and step ``status``, write ``kind``) only one of its values.  The
cases cover dry runs and applied runs: success, no change, refusal (an
error document), partial, rolled back, rollback incomplete, interrupted,
and the recovery that follows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from cli_support import Invoke, check_schema

from pmemctl.errors import ExitCode
from pmemctl.sim.kernel import faults, tool_unavailable_reason

_NDCTL = tool_unavailable_reason("ndctl")

#: every object kind these documents are made of
CHANGE_KINDS = {"change", "namespace_change", "plan", "check", "step", "write", "outcome", "outcome_step",
                "recovery", "status", "journal_run"}


@pytest.fixture
def devdax(fresh_tree: Any) -> Path:
    return fresh_tree("qemu-nvdimm", stage="devdax")


@pytest.fixture
def sysram(fresh_tree: Any) -> Path:
    return fresh_tree("qemu-nvdimm", stage="system-ram")


@pytest.fixture
def optane(fresh_tree: Any) -> Path:
    return fresh_tree("optane-2s")


@pytest.fixture
def raw(fresh_tree: Any) -> Path:
    return fresh_tree("qemu-nvdimm", stage="raw")


def run(invoke: Invoke, tree: Path, *args: Any, code: int = 0, seen: dict[str, int] | None = None) -> dict[str, Any]:
    """Run ``pmemctl --sysroot tree ARGS --json``; check the exit code and the schema."""
    res = invoke("--sysroot", tree, *args, "--json")
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    doc = json.loads(res.stdout)
    counts = check_schema(doc)
    if seen is not None:
        for kind, n in counts.items():
            seen[kind] = seen.get(kind, 0) + n
    return doc


def writes_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for s in doc["plan"]["steps"] for w in s["writes"]]


def assert_write_kinds(doc: dict[str, Any]) -> None:
    """A write's kind agrees with what its path names."""
    for w in writes_of(doc):
        expected = "ndctl" if w["path"] == "ndctl" else "wipe" if w["path"].startswith("/dev/") else "sysfs"
        assert w["kind"] == expected, w


# -- dry runs -----------------------------------------------------------------------------

DRY_RUNS = [
    # (tree fixture, args, exit code, document kind)
    ("devdax", ("reconfigure", "dax0.0", "-m", "system-ram"), ExitCode.OK, "change"),
    ("sysram", ("reconfigure", "dax0.0", "-m", "devdax"), ExitCode.OK, "change"),
    ("sysram", ("online", "dax0.0"), ExitCode.NO_CHANGE, "change"),
    ("sysram", ("offline", "dax0.0", "--count", "3"), ExitCode.OK, "change"),
    ("sysram", ("offline", "--blocks", "2"), ExitCode.REFUSED, "change"),  # ZONE_NORMAL: needs --force
    ("raw", ("reconfigure", "namespace0.0", "-m", "system-ram"), ExitCode.OK, "change"),
    ("optane", ("namespace", "create", "-r", "region1", "-s", "66G", "-m", "devdax"), ExitCode.OK, "namespace_change"),
    ("optane", ("namespace", "reconfigure", "namespace1.0", "-m", "devdax"), ExitCode.OK, "namespace_change"),
    ("optane", ("namespace", "destroy", "namespace0.1"), ExitCode.REFUSED, "namespace_change"),
    ("optane", ("namespace", "destroy", "namespace0.1", "--force"), ExitCode.OK, "namespace_change"),
]


@pytest.mark.parametrize("tree,args,code,kind", DRY_RUNS, ids=[" ".join(a) for _, a, _, _ in DRY_RUNS])
def test_dry_run_documents(invoke: Invoke, request: pytest.FixtureRequest, tree: str, args: tuple[str, ...],
                           code: int, kind: str) -> None:
    root = request.getfixturevalue(tree)
    seen: dict[str, int] = {}
    doc = run(invoke, root, *args, "--dry-run", code=code, seen=seen)
    assert seen[kind] == 1
    assert doc["dry_run"] is True and doc["outcome"] is None
    assert_write_kinds(doc)
    # the same exit code as the dry run in words
    assert invoke("--sysroot", root, *args, "--dry-run").exit_code == code
    if code == ExitCode.REFUSED:
        assert any(c["status"] == "refused" for c in doc["plan"]["checks"])


def test_wipe_writes_carry_their_kind(invoke: Invoke, optane: Path) -> None:
    doc = run(invoke, optane, "namespace", "reconfigure", "namespace1.0", "-m", "devdax", "--backend", "sysfs",
              "--dry-run")
    assert doc["backend"] == "sysfs"
    kinds = {w["kind"] for w in writes_of(doc)}
    assert kinds == {"sysfs", "wipe"}
    wipe = next(w for w in writes_of(doc) if w["kind"] == "wipe")
    assert wipe["path"].startswith("/dev/pmem") and wipe["value"] == "zeros"  # as before: path/value kept


@pytest.mark.skipif(_NDCTL is not None, reason=f"ndctl cannot run on the simulator: {_NDCTL}")
@pytest.mark.parametrize("args", [
    ("namespace", "create", "-r", "region1", "-s", "48G", "-m", "devdax"),
    ("namespace", "reconfigure", "namespace1.0", "-m", "devdax"),
    ("namespace", "destroy", "namespace0.1", "--force"),
])
def test_ndctl_writes_carry_their_kind(invoke: Invoke, optane: Path, args: tuple[str, ...]) -> None:
    doc = run(invoke, optane, *args, "--backend", "ndctl", "--dry-run")
    assert doc["backend"] == "ndctl"
    ndctl = [w for w in writes_of(doc) if w["kind"] == "ndctl"]
    assert ndctl and all(w["path"] == "ndctl" for w in ndctl)
    assert_write_kinds(doc)


def test_each_write_kind_from_a_hand_made_plan() -> None:
    """Independent of ndctl being runnable: one action writing each kind."""
    from pmemctl.cli.render.change import plan_json
    from pmemctl.ops.actions.base import Action, Write
    from pmemctl.ops.actions.nd_writes import WipeInfoBlock, ndctl_write
    from pmemctl.ops.plan import Plan

    @dataclass(frozen=True)
    class Mixed(Action):
        kind: ClassVar[str] = "mixed"

        def describe(self) -> str:
            return "write one of each kind"

        def writes(self) -> list[Write]:
            return [Write("/sys/bus/nd/devices/namespace1.3/size", "0"),
                    WipeInfoBlock("/dev/pmem1.3", "zeros"),
                    ndctl_write(["disable-namespace", "namespace1.3"])]

    doc = plan_json(Plan("mixed", (Mixed(),)))
    assert doc["steps"][0]["writes"] == [
        {"path": "/sys/bus/nd/devices/namespace1.3/size", "value": "0", "kind": "sysfs"},
        {"path": "/dev/pmem1.3", "value": "zeros", "kind": "wipe"},
        {"path": "ndctl", "value": "disable-namespace namespace1.3", "kind": "ndctl"},
    ]


# -- applied: success, no change, refusal ------------------------------------------------


def test_applied_change_then_no_change(invoke: Invoke, devdax: Path) -> None:
    seen: dict[str, int] = {}
    doc = run(invoke, devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes", seen=seen)
    out = doc["outcome"]
    assert doc["dry_run"] is False and out["status"] == "changed" and out["exit_code"] == 0
    assert {s["status"] for s in out["steps"]} <= {"done", "skipped"}
    assert len(out["steps"]) == len(doc["plan"]["steps"])
    doc = run(invoke, devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes", code=ExitCode.NO_CHANGE, seen=seen)
    assert doc["outcome"]["status"] == "no-change" and doc["outcome"]["steps"] == []
    doc = run(invoke, devdax, "offline", "dax0.0", "--count", "2", seen=seen)
    assert doc["outcome"]["status"] == "changed"
    doc = run(invoke, devdax, "online", "dax0.0", seen=seen)
    assert doc["outcome"]["status"] == "changed"
    assert {"change", "plan", "check", "step", "write", "outcome", "outcome_step"} <= set(seen)


def test_namespace_commands_applied(invoke: Invoke, optane: Path) -> None:
    doc = run(invoke, optane, "namespace", "create", "-r", "region1", "-s", "48G", "-m", "fsdax", "--name", "logs")
    assert doc["backend"] == "sysfs" and doc["outcome"]["status"] == "changed"
    doc = run(invoke, optane, "namespace", "reconfigure", "logs", "-m", "devdax", "--yes")
    assert doc["outcome"]["status"] == "changed"
    assert_write_kinds(doc)
    doc = run(invoke, optane, "namespace", "destroy", "logs", "--yes")
    assert doc["outcome"]["status"] == "changed"


@pytest.mark.parametrize("tree,args,code", [
    ("devdax", ("reconfigure", "dax0.0", "-m", "system-ram"), ExitCode.REFUSED),  # no --yes
    ("devdax", ("online", "dax0.0"), ExitCode.REFUSED),  # not system-ram
    ("optane", ("namespace", "destroy", "namespace0.1", "--yes"), ExitCode.REFUSED),  # online: needs --force
    ("optane", ("namespace", "create", "-r", "region1", "-s", "47G", "-m", "fsdax"), ExitCode.REFUSED),  # size
    ("sysram", ("offline", "--blocks", "9999"), ExitCode.NOT_FOUND),
])
def test_refusals_print_an_error_document(invoke: Invoke, request: pytest.FixtureRequest, tree: str,
                                          args: tuple[str, ...], code: int) -> None:
    doc = run(invoke, request.getfixturevalue(tree), *args, code=code)
    assert set(doc) == {"schema_version", "command", "sysroot", "error"}
    assert doc["error"]["exit_code"] == code


# -- applied: partial, rolled back, rollback incomplete, interrupted, recovery ----------


def test_partial(invoke: Invoke, devdax: Path) -> None:
    run(invoke, devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--no-online", "--yes")
    faults.inject(devdax, "online-fail", blocks=[35])
    doc = run(invoke, devdax, "online", "dax0.0", "--count", "4", code=ExitCode.PARTIAL)
    out = doc["outcome"]
    assert out["status"] == "partial" and out["exit_code"] == ExitCode.PARTIAL
    assert out["changed_units"] and out["failed_units"]
    failed = [s for s in out["steps"] if s["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"]


@pytest.mark.parametrize("fault,args", [
    ({"kind": "offline-busy", "blocks": [58]}, ("offline", "dax0.0", "--blocks", "57-62")),
])
def test_rolled_back_offline(invoke: Invoke, sysram: Path, fault: dict[str, Any], args: tuple[str, ...]) -> None:
    faults.inject(sysram, **fault)
    doc = run(invoke, sysram, *args, code=ExitCode.ROLLED_BACK)
    out = doc["outcome"]
    assert out["status"] == "rolled-back" and out["exit_code"] == ExitCode.ROLLED_BACK
    statuses = [s["status"] for s in out["steps"]]
    assert "failed" in statuses and "undone" in statuses
    failed = next(s for s in out["steps"] if s["status"] == "failed")
    assert isinstance(failed["errno"], int)


def test_rolled_back_bind(invoke: Invoke, devdax: Path) -> None:
    faults.inject(devdax, "bind-fail", driver="kmem", device="dax0.0")
    doc = run(invoke, devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes", code=ExitCode.ROLLED_BACK)
    assert doc["outcome"]["status"] == "rolled-back"
    assert [s["status"] for s in doc["outcome"]["steps"]][-1] == "undone"


def test_rollback_incomplete_status_and_rollback(invoke: Invoke, devdax: Path) -> None:
    seen: dict[str, int] = {}
    faults.inject(devdax, "bind-fail", driver="kmem", device="dax0.0")
    faults.inject(devdax, "bind-fail", driver="device_dax", device="dax0.0")
    doc = run(invoke, devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes",
              code=ExitCode.ROLLBACK_INCOMPLETE, seen=seen)
    out = doc["outcome"]
    assert out["status"] == "rollback-incomplete" and out["exit_code"] == ExitCode.ROLLBACK_INCOMPLETE
    assert "undo-failed" in [s["status"] for s in out["steps"]]
    st = run(invoke, devdax, "status", code=ExitCode.LOCKED, seen=seen)
    assert st["unfinished"]["state"] == "rollback-incomplete" and st["last_run"] is None
    # a new change is refused while the journal is there: an error document
    err = run(invoke, devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes", code=ExitCode.LOCKED)
    assert err["error"]["status"] == "locked"
    faults.clear(devdax)
    rb = run(invoke, devdax, "rollback", seen=seen)  # exits 0: undoing was the request
    assert rb["dry_run"] is False and rb["plan"] is None
    # ... and says so: the outcome's exit_code is the exit status (issue 15, item 8)
    assert rb["outcome"]["status"] == "rolled-back" and rb["outcome"]["exit_code"] == 0
    st = run(invoke, devdax, "status", seen=seen)
    assert st["unfinished"] is None
    assert st["last_run"]["state"] == "rolled-back" and st["last_run"]["status"] == "rolled-back"
    # nothing left to roll back or resume
    for name in ("rollback", "resume"):
        doc = run(invoke, devdax, name, code=ExitCode.NO_CHANGE, seen=seen)
        assert doc["outcome"]["status"] == "no-change" and doc["outcome"]["steps"] == []
    assert {"change", "recovery", "status", "journal_run"} <= set(seen)


def test_interrupted_then_resume(invoke: Invoke, sysram: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the middle of a run (raised from the fourth step) leaves a
    journal; status shows it, resume finishes it."""
    from pmemctl.ops.executor import Executor

    real = Executor.run_action
    calls = {"n": 0}

    def interrupt_fourth(self: Executor, action: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        real(self, action)

    monkeypatch.setattr(Executor, "run_action", interrupt_fourth)
    err = run(invoke, sysram, "offline", "dax0.0", "--count", "6", code=ExitCode.ROLLBACK_INCOMPLETE)
    assert err["error"]["status"] == "rollback-incomplete"
    monkeypatch.setattr(Executor, "run_action", real)
    st = run(invoke, sysram, "status", code=ExitCode.LOCKED)
    u = st["unfinished"]
    assert u["state"] == "interrupted" and u["steps"] == 6 and u["steps_done"] == 3
    doc = run(invoke, sysram, "resume")
    assert doc["command"] == "resume" and doc["plan"] is None
    assert doc["outcome"]["status"] == "changed"
    assert [s["status"] for s in doc["outcome"]["steps"]] == ["done"] * 3
    st = run(invoke, sysram, "status")
    assert st["unfinished"] is None and st["last_run"]["status"] == "changed"


def test_status_with_no_history(invoke: Invoke, devdax: Path) -> None:
    doc = run(invoke, devdax, "status")
    assert doc["unfinished"] is None and doc["last_run"] is None


# -- the specification itself ----------------------------------------------------------------


def test_every_change_kind_is_specified_and_documented() -> None:
    from pmemctl.cli.gendocs import markdown
    from pmemctl.cli.render.json import OBJECTS

    assert CHANGE_KINDS <= set(OBJECTS)
    text = markdown()
    for kind in CHANGE_KINDS:
        assert f"#### `{kind}` — " in text
        spec = OBJECTS[kind]
        assert all(meaning for _, _, meaning in spec.fields), kind
        assert set(spec.enums) <= set(spec.keys), kind
    assert OBJECTS["outcome"].allowed("status") == (
        "changed", "no-change", "partial", "rolled-back", "rollback-incomplete", "failed", "interrupted")
    assert OBJECTS["outcome_step"].allowed("status") == (
        "done", "skipped", "failed", "undone", "undo-failed", "not-run")
    assert OBJECTS["write"].allowed("kind") == ("sysfs", "wipe", "ndctl")
    for value in ("`rollback-incomplete` (", "`undo-failed` (", "`wipe` ("):
        assert value in text


def test_the_builders_refuse_a_value_outside_its_set() -> None:
    from pmemctl.cli.render.json import _obj

    with pytest.raises(AssertionError, match="not one of"):
        _obj("outcome_step", action="a", kind="bind", status="half-done", error=None, errno=None)
    with pytest.raises(AssertionError, match="not one of"):
        _obj("write", path="/x", value="1", kind="ioctl")
    with pytest.raises(AssertionError, match="out of step"):
        _obj("write", path="/x", value="1")


def _outcome(status: Any, step_status: Any) -> Any:
    action = SimpleNamespace(describe=lambda: "online memory block 33 into ZONE_MOVABLE", kind="online-block")
    return SimpleNamespace(
        status=status, title="t", message="m", machine_state=[], already=[], changed_units=["u"],
        failed_units=[], results=[SimpleNamespace(action=action, status=step_status, error=None, errno=None)],
        exit_code=ExitCode.OK,
    )


def test_str_enum_statuses_serialise_as_plain_strings() -> None:
    """ops may turn statuses into str-Enums: the JSON must not change."""
    from enum import StrEnum

    from pmemctl.cli.render.change import outcome_json

    class Status(str, Enum):
        CHANGED = "changed"
        DONE = "done"

    class Status2(StrEnum):
        CHANGED = "changed"
        DONE = "done"

    plain = json.dumps(outcome_json(_outcome("changed", "done")))
    assert json.dumps(outcome_json(_outcome(Status.CHANGED, Status.DONE))) == plain
    assert json.dumps(outcome_json(_outcome(Status2.CHANGED, Status2.DONE))) == plain
    doc = outcome_json(_outcome(Status.CHANGED, Status.DONE))
    assert type(doc["status"]) is str and type(doc["steps"][0]["status"]) is str


def test_str_enum_statuses_give_the_same_words() -> None:
    from pmemctl.cli.render.change import outcome_blocks
    from pmemctl.cli.render.doc import Document
    from pmemctl.cli.render.plain import render_document

    class Status(str, Enum):
        PARTIAL = "partial"
        FAILED = "failed"

    def text(status: Any, step_status: Any) -> str:
        out = _outcome(status, step_status)
        out.results[0].error = "memory block 35 is offline, not online"
        out.failed_units = ["memory35"]
        return render_document(Document.of(outcome_blocks(out)))

    plain = text("partial", "failed")
    assert "PARTIAL" in plain and "failed: memory block 35" in plain
    assert text(Status.PARTIAL, Status.FAILED) == plain
