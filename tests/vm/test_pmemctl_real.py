"""pmemctl itself on a real Debian 6.1 kernel (QEMU/TCG, emulated NVDIMMs).

One boot (``flow``, scenarios.PMEMCTL_FLOW: one 4 GiB NVDIMM on node 1 with
the HMAT figures of the simulator's ``qemu-nvdimm`` scenario) runs:

1. raw -> devdax (``ndctl create-namespace``) -> ``pmemctl reconfigure dax0.0
   --mode system-ram --zone movable``; pmemctl's ``blocks``/``list``/
   ``topology`` checked against ``lsmem``, ``daxctl list`` and ``numactl -H``;
2. ``offline`` everything, ``online --size 512M``, ``online --count 3``,
   ``offline --blocks 34,36-37``, ``online --zone normal`` for the rest;
   states and zones checked block by block against sysfs;
3. ``reconfigure --mode devdax``: refused by the zone guard (exit 5, no
   write), the Normal blocks offlined with ``--force``, the retry succeeds:
   blocks gone, device on device_dax, node 1 offline; then
   ``pmemctl namespace reconfigure`` devdax -> raw -> devdax (sysfs backend);
4. a refusal of the kernel itself: a ZONE_NORMAL block holding the page
   tables of a process bound to node 1 cannot be offlined (EBUSY); pmemctl's
   exit code, rollback and final state are compared with the simulator
   running the same commands with ``offline-busy`` injected on that block;
7. ``pmemctl demo`` runs in the guest; every ``--dry-run --json`` plan is
   compared with the writes the same command then made (strace).

The dual-node boot (``dual``, conftest) adds scenario 5: ``pmemctl topology
--json`` with two NVDIMMs on two memory-only nodes, after converting both.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pmemctl.units import format_cpulist

from . import harness
from .checks import (
    lsmem_ranges,
    match_planned_writes,
    normalise_uuids,
    numactl_nodes,
    plan_writes,
    pm_blocks,
    strace_writes,
    strace_zero_reads,
    sysfs_blocks,
    tolerated_failure,
    unmovable_pfns,
)
from .conftest import DUAL_NVDIMMS, kmem_tier, qemu_nvdimm_machine, qemu_nvdimm_tier
from .scenarios import FLOW_MOVABLE_PIN, FLOW_NORMAL_PIN

pytestmark = pytest.mark.vm

KMEM = list(range(33, 63))  # memory33-memory62: what kmem hot-adds here
BS = 128 << 20
PROJECT = harness.PROJECT_DIR


def _expand(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def _sysfs(flow, name: str) -> dict[int, tuple[str, str]]:
    return sysfs_blocks(flow.raw(f"{name}.sysfs").decode())


def _kmem_view(view: dict[int, tuple[str, str]]) -> dict[int, tuple[str, str]]:
    return {i: v for i, v in view.items() if i in KMEM}


def _outcome(flow, name: str) -> dict:
    doc = json.loads(flow.out(name))
    return doc["outcome"]


# --------------------------------------------------------------------------
# 1. raw -> devdax -> system-ram, pmemctl's view against the reference tools


def test_s1_conversion_to_system_ram(flow):
    assert flow.rc("create-namespace") == 0, flow.err("create-namespace")
    assert flow.rc("s1-sysram") == 0, flow.err("s1-sysram")
    out = _outcome(flow, "s1-sysram")
    assert out["status"] == "changed" and out["exit_code"] == 0
    assert set(_kmem_view(_sysfs(flow, "s1-sysram")).values()) == {("online", "Movable")}
    assert len(_kmem_view(_sysfs(flow, "s1-sysram"))) == 30
    assert flow.ok("s1-driver").strip().endswith("/bus/dax/drivers/kmem")


def test_s1_blocks_agree_with_lsmem(flow):
    """Same blocks, states, zones, nodes and sizes, block by block."""
    pm = json.loads(flow.ok("s1-pm-blocks"))
    rows = lsmem_ranges(flow.ok("s1-lsmem"))
    lsmem_blocks: dict[int, tuple] = {}
    for row in rows:
        first, _, last = row["block"].partition("-")
        lo, hi = (int(x, 16) for x in row["range"].split("-"))
        n = int(last or first) - int(first) + 1
        assert hi - lo + 1 == n * BS, row  # the range covers exactly its blocks
        zones = "" if row["zones"] in (None, "None") else row["zones"].lower()  # pmemctl JSON: lower case
        for i in range(int(first), int(last or first) + 1):
            lsmem_blocks[i] = (row["state"], zones, row["node"], row["removable"])
    pm_by_block: dict[int, tuple] = {}
    for r in pm["ranges"]:
        assert r["end"] - r["start"] + 1 == r["size"] == r["blocks"] * BS, r
        assert r["start"] == r["first_block"] * BS, r
        for i in range(r["first_block"], r["last_block"] + 1):
            pm_by_block[i] = (r["state"], "/".join(r["zones"]), r["node"], r["removable"])
    assert pm_by_block == lsmem_blocks
    assert [i for i, v in pm_by_block.items() if v[2] == 1] == KMEM
    totals = pm["totals"]
    assert totals["blocks_online"] == len(lsmem_blocks) and totals["blocks_offline"] == 0
    assert pm["block_size"] == BS


def test_s1_device_agrees_with_daxctl(flow):
    [dax] = json.loads(flow.ok("s1-daxctl"))
    pm = json.loads(flow.ok("s1-pm-list"))
    [ns] = [n for b in pm["buses"] for r in b["regions"] for n in r["namespaces"] if n["dax_device"]]
    dev = ns["dax_device"]
    assert dev["name"] == dax["chardev"] == "dax0.0"
    assert dev["size"] == dax["size"] == 4093640704
    assert dev["target_node"] == dax["target_node"] == 1
    assert dev["align"] == dax["align"]
    assert dev["mode"] == dax["mode"] == "system-ram"
    assert dev["blocks_online"] == dax["online_memblocks"] == 30
    assert dev["blocks_total"] == dax["total_memblocks"] == 30
    assert [(m["start"], m["end"], m["size"]) for m in dev["ranges"]] == [
        (m["start"], m["end"], m["size"]) for m in dax["mappings"]]
    topo = json.loads(flow.ok("s1-pm-topology"))
    [n1] = [n for n in topo["nodes"] if n["id"] == 1]
    assert dax["movable"] is True and n1["zone_blocks"] == {"movable": 30}


def test_s1_topology_agrees_with_numactl(flow, vm_profile):
    topo = json.loads(flow.ok("s1-pm-topology"))
    numa = numactl_nodes(flow.ok("s1-numactl"))
    nodes = {n["id"]: n for n in topo["nodes"]}
    assert sorted(nodes) == sorted(numa["nodes"]) == [0, 1]
    for nid, n in nodes.items():
        ref = numa["nodes"][nid]
        assert n["cpus"] == ref["cpus"], nid
        assert n["mem_total"] // (1 << 20) == ref["size"], nid  # numactl: MB, truncated
        assert [n["distances"][str(o)] for o in numa["header"]] == numa["distances"][nid]
    assert nodes[0]["kind"] == "dram" and nodes[1]["kind"] == "pmem"
    assert nodes[1]["mem_total"] == 30 * BS and nodes[1]["blocks_online"] == 30
    # 22 on 6.1; from the scenario's HMAT figures on 6.12 (36)
    assert {t["id"]: t["nodes"] for t in topo["tiers"]} == {4: [0], qemu_nvdimm_tier(vm_profile): [1]}
    f = flow.facts("s1")
    assert f["/sys/devices/system/node/has_memory"] == "0-1"
    assert "Node 1 MemTotal:        3932160 kB" in f["/sys/devices/system/node/node1/meminfo"]


def test_s1_recording_reads_back_like_the_machine(flow, flow_run, tmp_path, vm_ready):
    """`pmemctl --sysroot RECORDING` on the host says what pmemctl said in the guest."""
    root = harness.unpack_capture(flow_run.files["rec/system-ram.tar"], tmp_path / "rec")
    rec = root / "rec-system-ram"
    meta = json.loads((rec / ".pmemctl-record.json").read_text())
    assert meta["kernel"] == vm_ready.kernel_version and meta["read_only"] is True
    assert not (rec / ".pmemctl-sim").exists()
    for cmd, strip in (("blocks", ()), ("list", ()), ("topology", ("mem_free",))):
        r = subprocess.run([sys.executable, "-m", "pmemctl", "--sysroot", str(rec), cmd, "--json"],
                           check=False, capture_output=True, text=True, cwd=PROJECT)
        assert r.returncode == 0, r.stderr
        host, guest = json.loads(r.stdout), json.loads(flow.ok(f"s1-pm-{cmd}"))
        for doc in (host, guest):
            doc.pop("sysroot")
            for node in doc.get("nodes", []):
                for key in strip:
                    node.pop(key, None)
        assert host == guest, cmd


# --------------------------------------------------------------------------
# 2. partial online / offline, zones block by block


def test_s2_partial_online_offline_and_zones(flow):
    for name in ("s2-offline-all", "s2-online-size", "s2-online-count", "s2-offline-blocks",
                 "s2-online-normal"):
        assert flow.rc(name) == 0, (name, flow.err(name))
    v = _kmem_view(_sysfs(flow, "s2-offline-all"))
    assert {s for s, _ in v.values()} == {"offline"}

    def online(name: str) -> list[int]:
        return [i for i, (s, _) in _kmem_view(_sysfs(flow, name)).items() if s == "online"]

    assert online("s2-online-size") == [33, 34, 35, 36]  # 512M = 4 blocks, lowest first
    assert online("s2-online-count") == list(range(33, 40))  # 3 more
    assert online("s2-offline-blocks") == [33, 35, 38, 39]
    final = _kmem_view(_sysfs(flow, "s2-online-normal"))
    normal = [34, 36, 37] + list(range(40, 63))
    assert final == {i: ("online", "Normal" if i in normal else "Movable") for i in KMEM}


def test_s2_pmemctl_view_matches_sysfs_block_by_block(flow):
    sysfs = _sysfs(flow, "s2-online-normal")
    pm = pm_blocks(json.loads(flow.ok("s2-pm-blocks-all")))
    assert sorted(pm) == sorted(sysfs)
    for i, (state, zones) in sysfs.items():
        pstate, pzones, node, device = pm[i]
        assert pstate == state, i
        assert pzones == ("" if zones == "none" else zones.lower()), i  # the JSON spells zones in lower case
        assert (node, device) == ((1, "dax0.0") if i in KMEM else (0, None)), i
    ls = {}
    for row in lsmem_ranges(flow.ok("s2-lsmem-all")):
        ls[int(row["block"])] = (row["state"], row["zones"])
    assert {i: (s, z) for i, (s, z) in sysfs.items() if i in KMEM} == {i: ls[i] for i in KMEM}


#: every step of the flow that left the blocks' states and /proc/zoneinfo behind
ZONEINFO_STEPS = ("s1-sysram", "s2-offline-all", "s2-online-size", "s2-online-count", "s2-offline-blocks",
                  "s2-online-normal", "s3-offline-normal", "s3-devdax", "s4-before")


def test_zone_spans_name_the_zones_and_empty_ranges_the_kernel_shows(flow):
    """What pmemctl infers from /proc/zoneinfo (pmemctl/model/zoneinfo.py)
    holds on the real kernel at every step: an online block inside one
    zone's span alone has that zone in valid_zones; the device's range
    meets no populated span exactly when none of its blocks is online
    (offlining shrinks the spans past offline memory, so the precheck
    before kmem lets go reads no block)."""
    from pmemctl.model.zoneinfo import parse_zoneinfo

    placed = emptied = 0
    for step in ZONEINFO_STEPS:
        info = parse_zoneinfo(flow.raw(f"{step}.zoneinfo").decode(), 4096)
        assert info.spans is not None, step
        blocks = _kmem_view(_sysfs(flow, step))
        for first, end, zone in info.sole_zones(1, BS):
            for i in range(first, end):
                if blocks.get(i, ("offline", ""))[0] == "online":
                    assert blocks[i][1] == zone, (step, i, blocks[i], zone)
                    placed += 1
        online = [i for i, (s, _) in blocks.items() if s == "online"]
        empty = info.no_online_memory_in([(KMEM[0] * BS, (KMEM[-1] + 1) * BS)])
        assert empty == (not online), (step, online, info.spans)
        emptied += empty
    assert placed >= len(KMEM) and emptied >= 2  # s1's 30 Movable blocks; s2-offline-all and s3-devdax


# --------------------------------------------------------------------------
# 3. back to devdax: zone guard, then the real thing


def test_s3_zone_guard_refuses_without_writing(flow):
    assert flow.rc("s3-devdax-refused") == 5
    err = flow.err("s3-devdax-refused")
    assert "ZONE_NORMAL" in err and "--force" in err and "34,36-37,40-62" in err, err
    assert strace_writes(flow.raw("s3-devdax-refused.strace").decode()) == []
    assert _sysfs(flow, "s3-devdax-refused") == _sysfs(flow, "s2-online-normal")


def test_s3_back_to_devdax(flow):
    assert flow.rc("s3-offline-normal") == 0, flow.err("s3-offline-normal")
    after = _kmem_view(_sysfs(flow, "s3-offline-normal"))
    assert [i for i, (s, _) in after.items() if s == "online"] == [33, 35, 38, 39]
    assert flow.rc("s3-devdax") == 0, flow.err("s3-devdax")
    assert _outcome(flow, "s3-devdax")["status"] == "changed"
    # blocks gone, device on device_dax, node 1 offline and empty
    assert _kmem_view(_sysfs(flow, "s3-devdax")) == {}
    listing = flow.ok("s3-ls").split()
    assert not [n for n in listing if re.fullmatch(r"memory(3[3-9]|[4-5]\d|6[0-2])", n)]
    assert "node1" not in listing and "node0" in listing
    assert flow.ok("s3-driver").strip().endswith("/bus/dax/drivers/device_dax")
    [dax] = json.loads(flow.ok("s3-daxctl"))
    assert dax["mode"] == "devdax" and dax["chardev"] == "dax0.0"
    f = flow.facts("s3")
    assert f["/sys/devices/system/node/online"] == "0"
    assert f["/sys/devices/system/node/has_memory"] == "0"
    assert f["/sys/devices/system/node/node1/meminfo"] == "!MISSING"
    pm = json.loads(flow.ok("s3-pm-list"))
    [dev] = [n["dax_device"] for b in pm["buses"] for r in b["regions"] for n in r["namespaces"]
             if n["dax_device"]]
    assert dev["mode"] == "devdax" and dev["driver"] == "device_dax" and dev["blocks_total"] == 0
    topo = json.loads(flow.ok("s3-pm-topology"))
    assert [n["id"] for n in topo["nodes"]] == [0] and topo["possible_nodes"] == [0, 1]
    assert {t["id"]: t["nodes"] for t in topo["tiers"]} == {4: [0]}
    assert not any(r for r in lsmem_ranges(flow.ok("s3-lsmem")) if r["node"] == 1)


def test_namespace_commands_on_the_real_kernel(flow):
    """pmemctl's own namespace reconfigure (sysfs backend): devdax -> raw -> devdax."""
    if "out/ns-raw.rc" not in flow.result.files:
        pytest.skip("pmemctl has no 'namespace' command in this checkout")
    assert "out/ns-fallback.rc" not in flow.result.files, "dax0.0 had to be recreated with ndctl"
    assert flow.rc("ns-raw") == 0, flow.err("ns-raw")
    [ns] = json.loads(flow.ok("ns-raw-ndctl"))
    assert ns["mode"] == "raw" and ns["dev"] == "namespace0.0"
    assert flow.rc("ns-devdax") == 0, flow.err("ns-devdax")
    [ns] = json.loads(flow.ok("ns-devdax-ndctl"))
    assert ns["mode"] == "devdax" and ns["size"] == 4093640704
    [dax] = json.loads(flow.ok("ns-devdax-daxctl"))
    assert dax["chardev"] == "dax0.0" and dax["mode"] == "devdax" and dax["size"] == 4093640704


# --------------------------------------------------------------------------
# 4. the kernel refuses: EBUSY on a ZONE_NORMAL block holding page tables


def test_s4_kernel_refuses_offline_of_pinned_normal_block(flow, vm_profile):
    assert flow.rc("s4-pinner-ready") == 0, flow.raw("pinner.log")
    before = _kmem_view(_sysfs(flow, "s4-before"))
    assert before == {i: ("online", "Normal" if i == FLOW_NORMAL_PIN else "Movable") for i in KMEM}
    # the kernel's own evidence: an unmovable page-table page in that block;
    # dump_page's first line differs by kernel (the profile's pattern)
    dmesg = flow.result.dmesg
    pfns = unmovable_pfns(dmesg, vm_profile.dump_page_header)
    assert pfns and {p * 4096 // BS for p in pfns} == {FLOW_NORMAL_PIN}, dmesg[-3000:]
    busy = [w for w in strace_writes(flow.raw("s4-offline-busy.strace").decode()) if w.ret < 0]
    assert [(os.path.basename(os.path.dirname(w.path)), w.errno) for w in busy] == [
        (f"memory{FLOW_NORMAL_PIN}", "EBUSY")]


def _sim(tree: Path, *args: str) -> tuple[int, str, str]:
    r = subprocess.run([sys.executable, "-m", "pmemctl", "--sysroot", str(tree), *args],
                       check=False, capture_output=True, text=True, cwd=PROJECT)
    return r.returncode, r.stdout, r.stderr


def _sim_kmem_view(tree: Path) -> dict[int, tuple[str, str]]:
    out = {}
    for i in KMEM:
        b = tree / f"sys/devices/system/memory/memory{i}"
        out[i] = ((b / "state").read_text().strip(), (b / "valid_zones").read_text().strip())
    return out


def test_s4_pmemctl_reacts_as_the_simulator_predicts(flow, tmp_path):
    """The same commands on the simulator with offline-busy injected on the
    pinned block: same exit codes, same outcome, same final block states."""
    from pmemctl.sim.build import materialise
    from pmemctl.sim.kernel import faults

    tree = materialise("qemu-nvdimm", tmp_path / "sim", {"stage": "system-ram"})
    for args in (("offline", "--blocks", str(FLOW_NORMAL_PIN), "--yes"),
                 ("online", "--blocks", str(FLOW_NORMAL_PIN), "--zone", "normal", "--yes")):
        rc, _, err = _sim(tree, *args)
        assert rc == 0, err
    assert _sim_kmem_view(tree) == _kmem_view(_sysfs(flow, "s4-before"))
    faults.inject(tree, "offline-busy", blocks=[FLOW_NORMAL_PIN])
    blocks = f"{FLOW_MOVABLE_PIN}-{FLOW_NORMAL_PIN}"
    rc, out, err = _sim(tree, "offline", "--blocks", blocks, "--force", "--yes", "--json")
    real_out = _outcome(flow, "s4-offline-busy")
    sim_out = json.loads(out)["outcome"]
    assert (rc, flow.rc("s4-offline-busy")) == (sim_out["exit_code"], real_out["exit_code"])
    assert rc == flow.rc("s4-offline-busy"), (err, flow.err("s4-offline-busy"))
    assert sim_out["status"] == real_out["status"]
    assert [(s["action"], s["status"], s["errno"]) for s in sim_out["steps"]] == [
        (s["action"], s["status"], s["errno"]) for s in real_out["steps"]]
    assert _sim_kmem_view(tree) == _kmem_view(_sysfs(flow, "s4-offline-busy"))
    # the same block alone
    rc, out, _ = _sim(tree, "offline", "--blocks", str(FLOW_NORMAL_PIN), "--force", "--yes", "--json")
    real_one = json.loads(flow.out("s4-offline-busy-one"))["outcome"]
    assert rc == flow.rc("s4-offline-busy-one") == real_one["exit_code"]
    assert json.loads(out)["outcome"]["status"] == real_one["status"]
    assert _sim_kmem_view(tree) == _kmem_view(_sysfs(flow, "s4-offline-busy-one"))
    real_pm = pm_blocks(json.loads(flow.ok("s4-pm-blocks-all")))
    _, out, _ = _sim(tree, "blocks", "-a", "--json")
    sim_pm = pm_blocks(json.loads(out))
    assert {i: sim_pm[i] for i in KMEM} == {i: real_pm[i] for i in KMEM}


# --------------------------------------------------------------------------
# 7. dry runs against what apply wrote; the demo


APPLIED = (
    "s1-sysram", "s2-offline-all", "s2-online-size", "s2-online-count", "s2-offline-blocks",
    "s2-online-normal", "s3-devdax-refused", "s3-offline-normal", "s3-devdax", "ns-raw",
    "ns-devdax", "s4-offline-busy",
)


@pytest.mark.parametrize("name", APPLIED)
def test_dry_run_writes_are_what_apply_writes(flow, name):
    """The `echo VALUE > PATH` writes of `--dry-run --json` are the writes
    the same command then made (strace), in order; uuids compare by shape."""
    if f"out/{name}.rc" not in flow.result.files:
        pytest.skip(f"{name} did not run (optional command absent)")
    dry = json.loads(flow.out(f"{name}-dry"))
    assert dry["dry_run"] is True and dry["plan"]["steps"]
    planned = normalise_uuids(plan_writes(dry))
    log = flow.raw(f"{name}.strace").decode()
    traced = strace_writes(log)
    done = normalise_uuids([w.pair for w in traced])
    rc = flow.rc(name)
    if rc == 5:  # refused before the first write: the plan was shown, nothing written
        assert flow.rc(f"{name}-dry") == 5
        assert done == []
        return
    failed = [k for k, w in enumerate(traced) if w.ret < 0 and not tolerated_failure(w)]
    end = failed[0] + 1 if failed else len(done)
    matched = match_planned_writes(planned, done[:end], strace_zero_reads(log))
    if not failed:
        assert rc == 0, flow.err(name)
        assert matched == len(planned), (planned, done)
        return
    # a write the kernel refused: everything up to it as planned, then only
    # the undo of what this run changed, newest first
    undo = done[end:]
    changed = [p for p, _ in planned[: end - 1] if p.endswith("/state")]
    assert [p for p, _ in undo] == list(reversed(changed))
    assert all(v.startswith("online") for _, v in undo), undo


def test_demo_runs_in_the_guest(flow):
    assert flow.rc("demo") == 0, flow.err("demo")
    assert "dax0.0" in flow.out("demo")


def test_flow_stays_fast_enough(flow_run):
    """Budget: the whole tier must stay under 10 minutes on this machine."""
    assert flow_run.wall_seconds < 420, flow_run.wall_seconds


# --------------------------------------------------------------------------
# 5. two NVDIMMs on two memory-only nodes: pmemctl topology


def test_dual_pmemctl_converts_both_devices(dual):
    for name in ("pm-devdax-all", "pm-sysram-all"):
        assert dual.rc(name) == 0, dual.err(name)
        assert json.loads(dual.out(name))["outcome"]["status"] == "changed"
    down = json.loads(dual.ok("pm-topology-devdax"))
    assert [n["id"] for n in down["nodes"]] == [0]


@pytest.mark.parametrize("after", ["pm-topology-daxctl", "pm-topology"])
def test_dual_topology(dual, after, vm_profile):
    """Kinds, HMAT figures, memory tiers and distances after converting both
    (first by daxctl, then back and forth by pmemctl itself)."""
    topo = json.loads(dual.ok(after))
    nodes = {n["id"]: n for n in topo["nodes"]}
    assert sorted(nodes) == [0, 1, 2] and topo["possible_nodes"] == [0, 1, 2]
    assert nodes[0]["kind"] == "dram" and nodes[0]["cpus"] == [0, 1]
    spec = {n.node: n for n in DUAL_NVDIMMS}
    blocks = {1: 30, 2: 14}
    for nid in (1, 2):
        n = nodes[nid]
        assert n["kind"] == "pmem" and n["cpus"] == []
        acc = n["access0"]
        if after == "pm-topology":
            # Linux 6.1 registers a node's HMAT access classes once (the
            # memory target is marked registered): when the node went offline
            # with its last memory and came back, nodeN/access0 is gone for
            # good, and pmemctl reports no HMAT figures rather than stale ones
            assert acc is None and n["access1"] is None, n
            assert not [e for e in n["evidence"] if "HMAT" in e]
        else:
            assert acc["initiators"] == [0]
            assert acc["read_latency_ns"] == acc["write_latency_ns"] == spec[nid].latency_ns
            assert acc["read_bandwidth_mib_s"] == acc["write_bandwidth_mib_s"] == spec[nid].bandwidth_mbs
        assert n["blocks_online"] == n["blocks_total"] == blocks[nid]
        assert n["mem_total"] == blocks[nid] * BS
        assert n["memory_tier"] == kmem_tier(vm_profile, spec[nid])
        assert n["zone_blocks"] == {"movable": blocks[nid]}
        assert n["dax_devices"] == [f"dax{nid - 1}.0"]
    assert nodes[0]["access0"]["read_latency_ns"] == 100
    assert nodes[0]["access0"]["read_bandwidth_mib_s"] == 16384
    tiers: dict[int, list[int]] = {4: [0]}
    for nid in (1, 2):
        tiers.setdefault(kmem_tier(vm_profile, spec[nid]), []).append(nid)
    assert {t["id"]: t["nodes"] for t in topo["tiers"]} == tiers
    assert json.loads(dual.ok("pm-tiers")) == {f"memory_tier{t}": format_cpulist(ns) for t, ns in tiers.items()}
    numa = numactl_nodes(dual.ok("pm-numactl-H"))
    for nid, n in nodes.items():
        assert [n["distances"][str(o)] for o in numa["header"]] == numa["distances"][nid]
        assert n["mem_total"] // (1 << 20) == numa["nodes"][nid]["size"]
    assert topo["node_lists"]["pmem"] == "1-2" and topo["node_lists"]["dram"] == "0"


def test_qemu_nvdimm_machine_matches_the_scenario():
    """The flow boot is shaped like the simulator's scenario it is compared with."""
    kw = qemu_nvdimm_machine()
    [nv] = kw["nvdimms"]
    assert nv.node == 1 and nv.size == 4 * harness.GiB and nv.label_size == 128 * 1024
