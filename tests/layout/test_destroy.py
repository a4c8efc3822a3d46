"""Region entries with ``allow_destroy = true`` (issue 10): a namespace whose
mode or size differs from the layout is reconfigured (same size) or
destroyed and created again (another size) through the namespace planner,
with consent, its data-safety refusals and rollback; without allow_destroy
the difference is drift and nothing is written."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from cli_support import check_schema
from layout_support import Invoke, write_layout

from pmemctl.sim.kernel import faults

GiB = 1 << 30
#: region1 of optane-2s: 48M granule (6 interleave ways x 8M); 16416M devdax = 7 blocks of 2G as system RAM
DB_SIZE = 16416 * (1 << 20)


def _layout(mode: str, size: str = "16416M", allow: bool = True, extra: str = "") -> str:
    return ('version = 1\n\n[[region]]\nname = "r1"\nmatch = { region = "region1" }\n'
            + ("allow_destroy = true\n" if allow else "")
            + f'namespaces = [ {{ name = "db", size = "{size}", mode = "{mode}" }} ]\n' + extra)


def _apply(invoke: Invoke, root: Path, *args: str) -> tuple[int, dict, str]:
    result = invoke("--sysroot", root, "apply", "--json", *args)
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    check_schema(doc)
    return result.exit_code, doc, result.stderr


def _r1(doc: dict) -> dict:
    return next(i for i in doc["items"] if i["name"] == "r1")


def _db(root: Path, invoke: Invoke) -> dict:
    """The namespace named 'db' in region1 (list --json)."""
    result = invoke("--sysroot", root, "list", "--json")
    doc = json.loads(result.stdout)
    [ns] = [n for b in doc["buses"] for r in b["regions"] if r["name"] == "region1"
            for n in r["namespaces"] if n["alt_name"] == "db" and n["size"]]
    return ns


def _snapshot(root: Path) -> str:
    """Every file and link of the machine (the layout files aside): equal
    snapshots mean nothing was written, created or removed."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel == "etc" or rel.startswith("etc" + os.sep):
            continue
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            h.update(os.path.join(rel, name).encode())
            h.update(os.readlink(path).encode() if os.path.islink(path) else Path(path).read_bytes())
    return h.hexdigest()


def _with_db(tree, invoke: Invoke, mode: str = "devdax") -> Path:
    """optane-2s with a 16416M namespace 'db' in region1, made by a layout."""
    root = tree("optane-2s")
    write_layout(root, _layout(mode, allow=False))
    code, _doc, err = _apply(invoke, root, "--yes")
    assert code == 0, err
    assert _db(root, invoke)["mode"] == mode
    return root


# -- without allow_destroy: drift, nothing written ------------------------------------


def test_without_allow_destroy_a_difference_is_drift_and_nothing_is_written(tree, invoke: Invoke) -> None:
    root = _with_db(tree, invoke)
    write_layout(root, _layout("fsdax", "32832M", allow=False))
    before = _snapshot(root)
    for args in ((), ("--yes",), ("--check",), ("--dry-run",)):
        code, doc, _err = _apply(invoke, root, *args)
        assert code == 11, args
        assert _r1(doc)["status"] == "drift" and doc["plan"] is None, args
        assert "is devdax, the layout wants fsdax" in _r1(doc)["difference"]
        assert "the layout wants 32.1G (34426847232 bytes)" in _r1(doc)["difference"]
        assert "allow_destroy = true" in _r1(doc)["difference"]
    assert _snapshot(root) == before


# -- re-mode (same size) ---------------------------------------------------------------


def test_mode_change_dry_run_then_yes_then_converged(tree, invoke: Invoke) -> None:
    root = _with_db(tree, invoke)
    old = _db(root, invoke)
    write_layout(root, _layout("fsdax"))
    code, doc, _err = _apply(invoke, root, "--check")
    assert code == 11 and _r1(doc)["status"] == "drift"  # --check reports it, allow_destroy or not
    before = _snapshot(root)
    code, doc, _err = _apply(invoke, root, "--dry-run")
    assert code == 0 and _r1(doc)["status"] == "planned"
    assert "is devdax, the layout wants fsdax: allow_destroy = true: reconfigured in place" in _r1(doc)["difference"]
    assert [s["kind"] for s in doc["plan"]["steps"]] == ["ns-reconfigure"]
    assert doc["plan"]["destructive"] is True
    writes = [w for s in doc["plan"]["steps"] for w in s["writes"]]
    assert {"path": f"/sys/bus/nd/devices/{old['name']}/holder_class", "value": "pfn", "kind": "sysfs"} in writes
    assert _snapshot(root) == before  # a dry run writes nothing
    text = invoke("--sysroot", root, "apply", "--dry-run")
    assert f"echo pfn > /sys/bus/nd/devices/{old['name']}/holder_class" in text.stdout
    assert "This is destructive" in text.stdout and "name 'db') will be lost" in text.stdout
    code, doc, err = _apply(invoke, root, "--yes")
    assert code == 0, err
    assert _r1(doc)["status"] == "changed"
    ns = _db(root, invoke)
    assert (ns["name"], ns["mode"], ns["size"]) == (old["name"], "fsdax", DB_SIZE)
    assert ns["uuid"] != old["uuid"]  # a new label uuid, as ndctl create-namespace -e gives
    assert _apply(invoke, root)[0] == 3
    assert _apply(invoke, root, "--check")[0] == 0


def test_destructive_change_without_yes_is_refused_and_writes_nothing(tree, invoke: Invoke) -> None:
    root = _with_db(tree, invoke)
    write_layout(root, _layout("fsdax"))
    before = _snapshot(root)
    code, doc, err = _apply(invoke, root)
    assert code == 5
    assert "is destructive: the data on" in err and "--yes" in err
    assert doc["error"]["status"] == "refused"
    assert _snapshot(root) == before
    assert _db(root, invoke)["mode"] == "devdax"


def test_failed_reconfigure_puts_the_old_mode_back(tree, invoke: Invoke) -> None:
    """The new personality is refused (simulated kernel fault): the step
    sets the namespace up as it was; nothing was changed."""
    root = _with_db(tree, invoke, "fsdax")
    old = _db(root, invoke)
    write_layout(root, _layout("devdax"))
    faults.inject(root, "bind-fail", driver="dax_pmem", device="dax1.1", errno="EINVAL")
    code, doc, _err = _apply(invoke, root, "--yes")
    assert code == 1 and doc["outcome"]["status"] == "failed"
    assert _r1(doc)["status"] == "failed"
    assert "EINVAL" in doc["outcome"]["message"] and "set up as fsdax (align 2M) again" in doc["outcome"]["message"]
    ns = _db(root, invoke)
    assert (ns["name"], ns["mode"], ns["size"], ns["enabled"]) == (old["name"], "fsdax", DB_SIZE, True)
    faults.clear(root)
    code, doc, err = _apply(invoke, root, "--yes")
    assert code == 0, err
    assert _db(root, invoke)["mode"] == "devdax"


# -- destroy + create (another size) -------------------------------------------------


def test_size_change_destroys_and_creates_in_one_plan(tree, invoke: Invoke) -> None:
    root = _with_db(tree, invoke, "fsdax")
    old = _db(root, invoke)
    write_layout(root, _layout("fsdax", "32832M"))
    code, doc, _err = _apply(invoke, root, "--dry-run")
    assert code == 0 and _r1(doc)["status"] == "planned"
    assert "the layout wants 32.1G (34426847232 bytes): allow_destroy = true: destroyed and created again" in (
        _r1(doc)["difference"])
    steps = doc["plan"]["steps"]
    assert [s["kind"] for s in steps] == ["ns-destroy", "ns-create"]
    assert {"path": f"/sys/bus/nd/devices/{old['name']}/size", "value": "0", "kind": "sysfs"} in steps[0]["writes"]
    assert any(w["path"].endswith("/size") and w["value"] == hex(2 * DB_SIZE) for w in steps[1]["writes"])
    code, doc, err = _apply(invoke, root, "--yes")
    assert code == 0, err
    ns = _db(root, invoke)
    assert (ns["mode"], ns["size"]) == ("fsdax", 2 * DB_SIZE) and ns["uuid"] != old["uuid"]
    assert _apply(invoke, root)[0] == 3


def test_size_change_that_only_fits_the_freed_extent(tree, invoke: Invoke) -> None:
    """The create is planned against the region as it will be once the
    namespace is gone: 240G free afterwards, 224G now."""
    root = _with_db(tree, invoke)
    write_layout(root, _layout("devdax", "240G"))
    code, doc, err = _apply(invoke, root, "--yes")
    assert code == 0, err
    assert _db(root, invoke)["size"] == 240 * GiB


def test_create_failing_after_the_destroy_is_reported_partial(tree, invoke: Invoke) -> None:
    """The destroyed namespace cannot come back (its data is gone): the run
    says so, and the next apply creates the namespace."""
    root = _with_db(tree, invoke, "fsdax")
    write_layout(root, _layout("devdax", "32832M"))
    faults.inject(root, "bind-fail", driver="dax_pmem", device="dax1.1", errno="ENXIO")
    code, doc, err = _apply(invoke, root, "--yes")
    out = doc["outcome"]
    assert (code, out["status"]) == (4, "partial"), err  # the destroy stands, the create failed
    assert [s["kind"] for s in out["steps"]] == ["ns-destroy", "ns-create"]
    assert [s["status"] for s in out["steps"]] == ["done", "failed"] and "ENXIO" in out["message"]
    assert len(out["changed_units"]) == len(out["failed_units"]) == 1
    faults.clear(root)
    code, doc, err = _apply(invoke, root, "--yes")
    assert code == 0, err
    assert (_db(root, invoke)["mode"], _db(root, invoke)["size"]) == ("devdax", 2 * DB_SIZE)


# -- data safety -------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "wanted", "size"), [("fsdax", "devdax", "16416M"), ("devdax", "fsdax", "32832M")],
                         ids=["pmem-open-remode", "dax-open-resize"])
def test_busy_namespace_is_refused(tree, invoke: Invoke, mode: str, wanted: str, size: str) -> None:
    root = _with_db(tree, invoke, mode)
    ns = _db(root, invoke)
    node = f"/dev/{ns['blockdev']}" if mode == "fsdax" else f"/dev/{ns['dax_device']['name']}"
    marker = root / ".pmemctl-sim" / "holders.json"
    marker.write_text(json.dumps([{"pid": 4242, "name": "postgres", "path": node}]))
    write_layout(root, _layout(wanted, size))
    before = _snapshot(root)
    code, doc, err = _apply(invoke, root, "--yes")
    assert code == 5
    assert f"postgres (pid 4242) has {node} open" in err
    assert _snapshot(root) == before


def test_system_ram_online_is_refused_then_released_with_force(tree, invoke: Invoke) -> None:
    """A namespace whose dax device is online system RAM: refused (the
    memory would be taken from running programs); with --force the
    namespace planner offlines it and unbinds kmem first."""
    root = _with_db(tree, invoke)
    dev = _db(root, invoke)["dax_device"]["name"]
    assert invoke("--sysroot", root, "reconfigure", dev, "--mode", "system-ram", "--yes").exit_code == 0
    write_layout(root, _layout("fsdax"))
    before = _snapshot(root)
    code, doc, err = _apply(invoke, root, "--yes")
    assert code == 5
    assert f"{dev} is system RAM with 7 block(s) online" in err and "--force" in err
    assert _snapshot(root) == before
    code, doc, err = _apply(invoke, root, "--yes", "--dry-run", "--force")
    kinds = [s["kind"] for s in doc["plan"]["steps"]]
    assert kinds.index("offline-block") < kinds.index("unbind") < kinds.index("ns-reconfigure"), kinds
    # a block refuses to go offline (simulated EBUSY): the blocks already
    # offlined go back online, newest first, and nothing else is touched
    third = [s for s in doc["plan"]["steps"] if s["kind"] == "offline-block"][2]
    faults.inject(root, "offline-busy", blocks=[int(third["description"].split()[-1])])
    code, doc, err = _apply(invoke, root, "--yes", "--force")
    assert code == 6, (err, doc["outcome"])
    assert doc["outcome"]["status"] == "rolled-back"
    assert [s["status"] for s in doc["outcome"]["steps"]].count("undone") == 2
    ns = _db(root, invoke)
    assert ns["mode"] == "devdax" and ns["dax_device"]["mode"] == "system-ram"
    assert ns["dax_device"]["blocks_online"] == 7
    faults.clear(root)
    code, doc, err = _apply(invoke, root, "--yes", "--force")
    assert code == 0, err
    assert _db(root, invoke)["mode"] == "fsdax"


# -- a device entry on the namespace being changed ----------------------------------------


def test_device_entry_waits_for_its_region_change(tree, invoke: Invoke) -> None:
    root = _with_db(tree, invoke, "fsdax")
    write_layout(root, _layout("devdax", extra='\n[[device]]\nname = "db-ram"\nmatch = { namespace = "db" }\n'
                                              'mode = "system-ram"\nzone = "movable"\n'))
    code, doc, _err = _apply(invoke, root, "--dry-run")
    assert [s["kind"] for s in doc["plan"]["steps"]] == ["ns-reconfigure"]
    assert "waits for its region entry" in next(i for i in doc["items"] if i["name"] == "db-ram")["difference"]
    code, doc, err = _apply(invoke, root, "--yes")
    assert code == 0, err
    assert {i["name"]: i["status"] for i in doc["items"]} == {"r1": "changed", "db-ram": "changed"}
    assert _db(root, invoke)["dax_device"]["mode"] == "system-ram"
    assert _apply(invoke, root)[0] == 3
