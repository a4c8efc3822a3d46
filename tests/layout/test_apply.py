"""``pmemctl apply`` on simulated machines: selectors, idempotence (strace:
zero writes), drift, stale journals, the lock, device names that swap."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import check_schema
from layout_support import Invoke, dax, write_layout

ROOT = Path(__file__).resolve().parents[2]
NS11_UUID = "3277e9f8-2374-5c2f-8da6-e7fa1ae3becf"  # optane-2s namespace1.1 -> dax1.1 (devdax)
NS01_DAX_UUID = "82f541b2-1671-546f-8007-a6782a76f756"  # optane-2s namespace0.1's dax info block -> dax0.1


def _device(name: str, match: str, mode: str, extra: str = "") -> str:
    return f'\n[[device]]\nname = "{name}"\nmatch = {{ {match} }}\nmode = "{mode}"\n{extra}'


def _apply(invoke: Invoke, root: Path, *args: str) -> tuple[int, dict]:
    result = invoke("--sysroot", root, "apply", "--json", *args)
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    check_schema(doc)
    return result.exit_code, doc


def _item(doc: dict, name: str) -> dict:
    return next(i for i in doc["items"] if i["name"] == name)


# -- selectors ---------------------------------------------------------------

SELECTORS = [
    ("namespace_uuid", f'namespace_uuid = "{NS11_UUID}"', "dax1.1"),
    ("namespace_uuid-any-case", f'namespace_uuid = "{NS11_UUID.upper()}"', "dax1.1"),
    ("dax_uuid", f'dax_uuid = "{NS01_DAX_UUID}"', "dax0.1"),
    ("namespace-name", 'namespace = "namespace1.1"', "dax1.1"),
    ("range-of-namespace", "range = { start = 0x8c00000000 }", "dax1.1"),
    ("range-of-device", "range = { start = 0x8c80000000, size = 100931731456 }", "dax1.1"),
    ("node", "node = 3", "dax1.1"),
    ("device", 'device = "dax1.1"', "dax1.1"),
]


@pytest.mark.parametrize(("kind", "match", "expected"), SELECTORS, ids=[s[0] for s in SELECTORS])
def test_each_selector_kind_matches(tree, invoke: Invoke, kind: str, match: str, expected: str) -> None:
    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("it", match, "devdax"))
    code, doc = _apply(invoke, root, "--check")
    item = _item(doc, "it")
    assert item["matched"] == [expected]
    if expected == "dax1.1":  # already devdax
        assert (code, item["status"]) == (0, "converged")
    assert any("can change between boots" in w for w in doc["warnings"]) == (kind == "device")


def test_alt_name_selects_a_namespace_not_yet_devdax(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("log", 'namespace = "db-log"', "unmanaged"))
    code, doc = _apply(invoke, root)
    assert _item(doc, "log")["matched"] == ["namespace0.0"]
    assert (code, _item(doc, "log")["status"]) == (3, "unmanaged")


def test_range_selects_hmem_device(tree, invoke: Invoke) -> None:
    root = tree("cxl-hmem")
    write_layout(root, "version = 1\n" + _device("cxl", "range = { start = 0x1000000000 }", "system-ram",
                                                  'online = "50%"\nzone = "movable"\n'))
    code, doc = _apply(invoke, root, "--yes")
    assert code == 0, doc
    assert _item(doc, "cxl")["status"] == "changed"
    assert dax(root, invoke)["dax0.0"]["blocks_online"] == 64  # of 128
    assert _apply(invoke, root)[0] == 3


def test_expect_cardinality_is_a_finding_never_a_guess(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("two", "node = 3", "system-ram", "expect = 2\n")
                 + _device("gone", 'namespace = "nothing-here"', "system-ram")
                 + _device("maybe", 'namespace = "nor-here"', "system-ram", "optional = true\n"))
    code, doc = _apply(invoke, root, "--yes")
    assert code == 11
    assert _item(doc, "two")["status"] == "missing"
    assert _item(doc, "gone")["status"] == "missing"
    assert _item(doc, "maybe")["status"] == "optional-missing"
    assert doc["plan"] is None and doc["outcome"] is None
    assert dax(root, invoke)["dax1.1"]["mode"] == "devdax"  # nothing guessed


def test_too_many_matches_is_ambiguous(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("any", "node = 2", "system-ram"))
    code, doc = _apply(invoke, root, "--check")
    assert _item(doc, "any")["matched"] == ["dax0.1"]
    # dax1.1 reports node 2 as well: the selector now names two devices
    (root / "sys/bus/dax/devices/dax1.1/target_node").write_text("2\n")
    code, doc = _apply(invoke, root, "--yes")
    item = _item(doc, "any")
    assert sorted(item["matched"]) == ["dax0.1", "dax1.1"]
    assert (code, item["status"]) == (11, "ambiguous")
    assert "matches 2 devices" in item["difference"]
    assert dax(root, invoke)["dax1.1"]["mode"] == "devdax"


# -- apply, idempotence, drift --------------------------------------------------

LAYOUT = ("version = 1\n\n[policy]\nauto_online_blocks = \"offline\"\ndemotion_enabled = true\n"
          + _device("fast", f'namespace_uuid = "{NS11_UUID}"', "system-ram", 'online = "all"\nnormal = "8G"\n')
          + _device("log", f'dax_uuid = "{NS01_DAX_UUID}"', "system-ram", 'online = 80\nzone = "movable"\n'))


def test_apply_then_converged(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, LAYOUT)
    code, doc = _apply(invoke, root, "--dry-run")
    assert code == 0 and doc["dry_run"] and doc["outcome"] is None
    assert _item(doc, "fast")["status"] == "planned"
    assert _item(doc, "policy.demotion_enabled")["status"] == "planned"
    writes = [w for s in doc["plan"]["steps"] for w in s["writes"]]
    assert {"path": "/sys/kernel/mm/numa/demotion_enabled", "value": "true", "kind": "sysfs"} in writes
    assert dax(root, invoke)["dax1.1"]["mode"] == "devdax"  # dry run: nothing changed
    code, doc = _apply(invoke, root, "--yes")
    assert code == 0, doc
    assert {i["name"]: i["status"] for i in doc["items"]} == {
        "policy.auto_online_blocks": "converged", "policy.demotion_enabled": "changed",
        "fast": "changed", "log": "converged"}
    fast = _item(doc, "fast")["actual"]["dax1.1"]
    assert fast["mode"] == "system-ram" and fast["online_blocks"] == fast["blocks"] == 47
    assert fast["normal_blocks"] == 4  # 8G of 2G blocks
    assert (root / "sys/kernel/mm/numa/demotion_enabled").read_text().strip() == "true"
    code, doc = _apply(invoke, root)
    assert code == 3 and doc["plan"] is None
    assert all(i["status"] == "converged" for i in doc["items"])


def _strace_writes(root: Path, *args: str) -> tuple[int, list[str]]:
    """Run pmemctl under strace; every open for writing, creation, link,
    rename or removal of a path under ``root``.  ``-y`` prints the path of
    each descriptor argument: the simulated kernel reaches block files
    relative to a directory it holds open (openat, linkat, renameat)."""
    log = root.parent / f"strace-{os.getpid()}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("PMEMCTL_SYSROOT", None)
    proc = subprocess.run(
        ["strace", "-f", "-qq", "-y", "-o", str(log), "-e",
         "trace=open,openat,creat,link,linkat,symlink,symlinkat,rename,renameat,renameat2,unlink,unlinkat,mkdir,"
         "mkdirat,truncate,ftruncate",
         sys.executable, "-m", "pmemctl", "--sysroot", str(root), *args],
        env=env, capture_output=True, text=True, timeout=300)
    text = log.read_text()
    log.unlink()
    bad = []
    for line in text.splitlines():
        if str(root) not in line:
            continue
        if re.search(r"open(at)?\(.*(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC)", line) or re.search(
                r"\b(creat|link|linkat|symlink|symlinkat|rename|renameat2?|unlink|unlinkat|mkdir|mkdirat|truncate"
                r"|ftruncate)\(", line):
            bad.append(line)
    return proc.returncode, bad


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_converged_apply_writes_nothing_strace(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, LAYOUT)
    assert _apply(invoke, root, "--yes")[0] == 0
    code, bad = _strace_writes(root, "apply")
    assert code == 3
    assert bad == []
    code, bad = _strace_writes(root, "apply", "--check")
    assert (code, bad) == (0, [])


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_strace_check_sees_writes(tree) -> None:
    """The write detector itself: a real change is seen."""
    root = tree("optane-2s")
    write_layout(root, LAYOUT)
    code, bad = _strace_writes(root, "apply", "--yes")
    assert code == 0
    assert any("memory" in line and "state" in line for line in bad)


def test_drift_detection_and_repair(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, LAYOUT)
    assert _apply(invoke, root, "--yes")[0] == 0
    result = invoke("--sysroot", root, "offline", "dax1.1", "--count", "2", "--yes")
    assert result.exit_code == 0, result.stderr
    code, doc = _apply(invoke, root, "--check")
    assert code == 11
    fast = _item(doc, "fast")
    assert fast["status"] == "drift"
    assert "45 of 47 blocks online" in fast["difference"]
    assert _item(doc, "log")["status"] == "converged"
    result = invoke("--sysroot", root, "apply", "--check")
    assert result.exit_code == 11 and "the machine differs from the layout" in result.stdout
    code, doc = _apply(invoke, root, "--yes")
    assert code == 0 and _item(doc, "fast")["status"] == "changed"
    assert _apply(invoke, root, "--check")[0] == 0


def test_partial_online_offlines_the_highest_blocks(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("log", f'dax_uuid = "{NS01_DAX_UUID}"', "system-ram",
                                                  'online = "50%"\n'))
    code, doc = _apply(invoke, root, "--yes")
    assert code == 0, doc
    assert dax(root, invoke)["dax0.1"]["blocks_online"] == 47
    assert _apply(invoke, root)[0] == 3


def test_devdax_taken_back_needs_yes(tree, invoke: Invoke, runner) -> None:
    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("log", f'dax_uuid = "{NS01_DAX_UUID}"', "devdax"))
    result = invoke("--sysroot", root, "apply")
    assert result.exit_code == 5 and "--yes" in result.stderr
    code, _doc = _apply(invoke, root, "--yes")
    assert code == 0
    assert dax(root, invoke)["dax0.1"]["mode"] == "devdax"


def test_unsupported_policy_is_reported_not_drift(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, 'version = 1\n[policy]\nnuma_balancing = "memory-tiering"\n'
                       'weighted_interleave = { node2 = 3 }\n')
    code, doc = _apply(invoke, root, "--check")
    assert code == 0
    assert _item(doc, "policy.numa_balancing")["status"] == "unsupported"
    assert _item(doc, "policy.weighted_interleave")["status"] == "unsupported"


def test_numa_balancing_where_present(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    path = root / "proc" / "sys" / "kernel" / "numa_balancing"
    path.write_text("1\n")
    path.chmod(0o644)
    write_layout(root, 'version = 1\n[policy]\nnuma_balancing = "normal+memory-tiering"\n')
    code, doc = _apply(invoke, root, "--yes")
    assert code == 0, doc
    assert path.read_text().strip() == "3"
    assert _apply(invoke, root)[0] == 3


# -- journal, lock ------------------------------------------------------------


def _journal(root: Path, boot: str) -> Path:
    state = root / "var" / "lib" / "pmemctl"
    state.mkdir(parents=True, exist_ok=True)
    (state / "journal.json").write_text(json.dumps({
        "version": 1, "command": "reconfigure dax9.9 --mode system-ram", "state": "interrupted",
        "started": "2026-01-01T00:00:00+0000", "pid": 1, "boot_id": boot,
        "plan": {"title": "reconfigure dax9.9 to system-ram", "actions": [], "units": []}, "units": []}))
    (state / "journal.log").write_text("")
    return state


def test_stale_journal_from_an_earlier_boot_is_archived(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, LAYOUT)
    state = _journal(root, "00000000-0000-4000-8000-000000000000")
    code, doc = _apply(invoke, root, "--check")  # reports, never writes
    assert (state / "journal.json").exists()
    assert any("earlier boot" in w and "apply archives it" in w for w in doc["warnings"])
    code, doc = _apply(invoke, root, "--yes")
    assert code == 0, doc
    assert any("earlier boot" in w and "archived as" in w for w in doc["warnings"])
    assert not (state / "journal.json").exists()
    assert [p.name for p in state.iterdir() if p.name.startswith("journal.json.abandoned-")]


def test_journal_of_this_boot_still_blocks(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, LAYOUT)
    _journal(root, (root / "proc/sys/kernel/random/boot_id").read_text().strip())
    result = invoke("--sysroot", root, "apply", "--yes")
    assert result.exit_code == 10, result.stdout + result.stderr


def test_journal_records_the_boot_id(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, LAYOUT)
    assert _apply(invoke, root, "--yes")[0] == 0
    last = json.loads((root / "var/lib/pmemctl/last-run.json").read_text())
    assert last["boot_id"] == (root / "proc/sys/kernel/random/boot_id").read_text().strip()


def test_concurrent_apply_refused(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, LAYOUT)
    lock = root / "run" / "lock" / "pmemctl.lock"
    lock.parent.mkdir(parents=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = invoke("--sysroot", root, "apply", "--yes")
        assert result.exit_code == 10, result.stdout + result.stderr
        assert "lock" in result.stderr
    finally:
        os.close(fd)
    assert dax(root, invoke)["dax1.1"]["mode"] == "devdax"


# -- identity across boots ------------------------------------------------------


def _swap_uuids(root: Path) -> None:
    """The two devdax namespaces probed in the other order: namespace0.1 now
    carries what namespace1.1 had (label and info-block uuid) and back."""
    base = root / "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0"
    pairs = [(base / "region0/namespace0.1/uuid", base / "region1/namespace1.1/uuid"),
             (base / "region0/dax0.0/uuid", base / "region1/dax1.0/uuid")]
    for a, b in pairs:
        ta, tb = a.read_text(), b.read_text()
        a.write_text(tb)
        b.write_text(ta)


def test_device_names_swapped_between_trees_still_match_by_uuid(tree, invoke: Invoke) -> None:
    layout = ("version = 1\n" + _device("keep-devdax", f'namespace_uuid = "{NS11_UUID}"', "devdax")
              + _device("ram", f'dax_uuid = "{NS01_DAX_UUID}"', "system-ram", 'online = "all"\n'))
    first = tree("optane-2s")
    write_layout(first, layout)
    code, doc = _apply(invoke, first, "--dry-run")
    assert _item(doc, "keep-devdax")["matched"] == ["dax1.1"]
    assert _item(doc, "ram")["matched"] == ["dax0.1"]
    second = tree("optane-2s")
    _swap_uuids(second)
    write_layout(second, layout)
    code, doc = _apply(invoke, second, "--dry-run")
    assert _item(doc, "keep-devdax")["matched"] == ["dax0.1"]
    assert _item(doc, "ram")["matched"] == ["dax1.1"]
    assert set(doc["plan"]["targets"]) == {"dax0.1", "dax1.1"}
    code, doc = _apply(invoke, second, "--yes")
    assert code == 0, doc
    devices = dax(second, invoke)
    assert devices["dax0.1"]["mode"] == "devdax"
    assert devices["dax1.1"]["mode"] == "system-ram"
    assert _apply(invoke, second)[0] == 3


# -- --wait --------------------------------------------------------------------


def test_wait_reports_what_never_came(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("late", 'namespace = "never"', "system-ram"))
    code, doc = _apply(invoke, root, "--wait", "0.5")
    assert code == 11
    assert any(w.startswith("late: ") and "after waiting 0.5 s" in w for w in doc["warnings"])


def test_wait_polls_until_the_device_appears(tree) -> None:
    from pmemctl.ops.layout import load_layout
    from pmemctl.ops.layout.service import wait_for_devices
    from pmemctl.sysfs.door import SysfsRoot

    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("late", 'namespace = "late-one"', "system-ram"))
    door = SysfsRoot(root)
    layout = load_layout(door)
    alt = next(root.glob("sys/devices/**/region1/namespace1.1/alt_name"))
    calls = []

    def sleep(seconds: float) -> None:  # the device probes after the second poll
        calls.append(seconds)
        if len(calls) == 2:
            alt.write_text("late-one\n")

    assert wait_for_devices(door, layout, 30.0, 0.01, sleep=sleep) == []
    assert len(calls) == 2


# -- regions ---------------------------------------------------------------------


def test_region_namespaces_created_then_converted_in_later_passes(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, 'version = 1\n\n[[region]]\nname = "r1"\nmatch = { region = "region1" }\n'
                       'namespaces = [ { name = "db", size = "16416M", mode = "devdax" }, '
                       '{ name = "cache", size = "8208M" } ]\n'
                 + _device("db-ram", 'namespace = "db"', "system-ram", 'zone = "movable"\n'))
    code, doc = _apply(invoke, root, "--dry-run")
    assert _item(doc, "db-ram")["status"] == "missing"
    assert [s["kind"] for s in doc["plan"]["steps"]] == ["ns-create"]
    code, doc = _apply(invoke, root, "--yes")
    assert code == 0, doc
    assert _item(doc, "r1")["status"] == "changed"
    assert _item(doc, "db-ram")["status"] == "changed"
    assert any(w.startswith("pass 2:") for w in doc["warnings"])
    names = {d["name"]: d for d in dax(root, invoke).values()}
    modes = sorted(d["mode"] for n, d in names.items() if d["namespace"] in ("namespace1.2", "namespace1.3"))
    assert modes == ["devdax", "system-ram"]
    assert _apply(invoke, root)[0] == 3


def test_region_refusal_changes_nothing(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, 'version = 1\n\n[[region]]\nname = "r1"\nmatch = { region = "region1" }\n'
                       'namespaces = [ { name = "db", size = "16G" } ]\n')
    result = invoke("--sysroot", root, "apply", "--yes")
    assert result.exit_code == 5
    assert "not a multiple of 48M" in result.stderr
    assert len(dax(root, invoke)) == 2


# -- memmap_on_memory ----------------------------------------------------------------


def test_memmap_on_memory_set_before_kmem_binds(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    attr = root / "sys/bus/dax/devices/dax1.1/memmap_on_memory"
    attr.write_text("0\n")  # a 6.8+ kernel has the attribute
    attr.chmod(0o644)
    write_layout(root, "version = 1\n" + _device("fast", f'namespace_uuid = "{NS11_UUID}"', "system-ram",
                                                  "memmap_on_memory = true\n"))
    # memory_hotplug.memmap_on_memory off: the kernel would answer EOPNOTSUPP, so the plan refuses first
    code, doc = _apply(invoke, root, "--yes")
    assert code == 5, doc
    assert attr.read_text().strip() == "0"
    param = root / "sys/module/memory_hotplug/parameters/memmap_on_memory"
    param.write_text("Y\n")
    code, doc = _apply(invoke, root, "--dry-run")
    kinds = [s["kind"] for s in doc["plan"]["steps"]]
    assert kinds.index("memmap-on-memory") == kinds.index("bind") - 1  # between unbind device_dax and bind kmem
    code, doc = _apply(invoke, root, "--yes")
    assert code == 0, doc
    assert attr.read_text().strip() == "1"
    assert _apply(invoke, root)[0] == 3


def test_memmap_on_memory_findings(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("log", f'dax_uuid = "{NS01_DAX_UUID}"', "system-ram",
                                                  "online = 80\nmemmap_on_memory = true\n"))
    code, doc = _apply(invoke, root, "--check")
    assert "no memmap_on_memory" in _item(doc, "log")["difference"]  # 6.1: unsupported, reported
    assert code == 0
    attr = root / "sys/bus/dax/devices/dax0.1/memmap_on_memory"
    attr.write_text("0\n")
    code, doc = _apply(invoke, root, "--yes")
    assert code == 11 and _item(doc, "log")["status"] == "drift"  # bound to kmem: never changed in place
    assert "convert the device to devdax" in _item(doc, "log")["difference"]


def test_zone_split_fixed_by_moving_movable_blocks_to_normal(tree, invoke: Invoke) -> None:
    """All 80 online blocks of dax0.1 are movable; the layout wants the first 4G normal."""
    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("log", f'dax_uuid = "{NS01_DAX_UUID}"', "system-ram",
                                                  'online = 80\nnormal = "4G"\n'))
    code, doc = _apply(invoke, root, "--check")
    assert code == 11 and "80 of 94 blocks online (0 normal)" in _item(doc, "log")["difference"]
    code, doc = _apply(invoke, root, "--dry-run")
    kinds = [s["kind"] for s in doc["plan"]["steps"]]
    assert kinds == ["offline-block", "offline-block", "online-block", "online-block"]
    code, doc = _apply(invoke, root, "--yes", "--force")  # --force: MOVABLE:KERNEL checks, offlining checks
    assert code == 0, doc
    actual = _item(doc, "log")["actual"]["dax0.1"]
    assert (actual["online_blocks"], actual["normal_blocks"]) == (80, 2)
    assert _apply(invoke, root)[0] == 3


def test_wait_on_the_running_machine_pauses_on_device_uevents(tree, monkeypatch) -> None:
    """On the running machine the pauses are udev waits on nd and dax uevents
    (pyudev), ended early by an event; the monitor is closed at the end."""
    from pmemctl.ops.layout import load_layout, service
    from pmemctl.sysfs.door import SysfsRoot

    root = tree("optane-2s")
    write_layout(root, "version = 1\n" + _device("late", 'namespace = "late-one"', "system-ram"))
    door = SysfsRoot(root)
    layout = load_layout(door)
    alt = next(root.glob("sys/devices/**/region1/namespace1.1/alt_name"))
    opened: list[tuple[str, ...]] = []

    class Events:
        waits: list[float] = []
        closed = False

        def wait(self, timeout: float) -> bool:
            self.waits.append(timeout)
            alt.write_text("late-one\n")  # the namespace probes: its uevent ends the pause
            return True

        def close(self) -> None:
            self.closed = True

    events = Events()

    def fake_open(door_: SysfsRoot, subsystems: tuple[str, ...]) -> Events:
        opened.append(subsystems)
        return events

    monkeypatch.setattr(service, "open_block_events", fake_open)
    monkeypatch.setattr(service.time, "sleep", lambda s: (_ for _ in ()).throw(AssertionError("polled")))
    assert service.wait_for_devices(door, layout, 30.0, 0.01) == []
    assert opened == [("nd", "dax")]
    assert len(events.waits) == 1 and events.waits[0] == 1.0  # re-checked at least every second
    assert events.closed


def test_wait_on_a_tree_polls(tree) -> None:
    from pmemctl.sysfs.door import SysfsRoot
    from pmemctl.sysfs.udev import DEVICE_SUBSYSTEMS, open_block_events

    assert open_block_events(SysfsRoot(tree("optane-2s")), DEVICE_SUBSYSTEMS) is None  # no uevents from a tree
