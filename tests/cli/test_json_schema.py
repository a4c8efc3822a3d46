"""Every ``--json`` document of every command, on every scenario, against the
generated schema (issue 15 item 14, schema version 2).

Each document must have exactly its kind's keys in the documented order
(null, never missing), the documented types (sizes and ids raw ints), the
closed sets of values (zones lower case, as ``--zone`` takes them), and an
absolute ``sysroot``.  Every command that takes ``--json`` is run here, and
every document kind it prints is in the schema reference (README and
pmemctl(1)); a command printing a document that no kind describes fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import click
import pytest
from cli_scenarios import cases
from cli_support import Invoke, check_schema, top_kind

from pmemctl import SCHEMA_VERSION
from pmemctl.cli.main import cli
from pmemctl.cli.render.json import _ENVELOPE, CHANGELOG, OBJECTS, ZONES, changelog_markdown
from pmemctl.sim.kernel import faults

REPO = Path(__file__).resolve().parents[2]

#: the kernel's spellings that must never be a value of a v2 document
#: (outside the evidence a doctor finding quotes from a file)
KERNEL_SPELLINGS = {"Movable", "Normal", "DMA", "DMA32", "Device", "Y", "N"}


def json_commands() -> set[str]:
    """Every command path that takes ``--json`` (from the click tree)."""
    ctx = click.Context(cli)
    out: set[str] = set()

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, path + [name])
        elif any("--json" in p.opts for p in cmd.params):
            out.add(" ".join(path))

    walk(cli, [])
    return out


def envelope_kinds() -> set[str]:
    """The kinds of top-level documents (those starting with the envelope)."""
    head = tuple(k for k, _, _ in _ENVELOPE)
    return {k for k, spec in OBJECTS.items() if spec.keys[: len(head)] == head}


def walk_values(value: Any, where: str = "$") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{where}.{k}", k
            yield from walk_values(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_values(v, f"{where}[{i}]")
    else:
        yield where, value


def check_document(doc: dict[str, Any]) -> str:
    """The full check of one document; returns its kind."""
    check_schema(doc)
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    for where, value in walk_values(doc):
        if ".evidence[" in where or where.endswith("kernel_cmdline"):
            continue  # a quoted file: the kernel's own words
        assert value not in KERNEL_SPELLINGS, f"{doc['command']}: {where} is {value!r}, not a v2 spelling"
    return top_kind(doc)


class Runner:
    """Runs pmemctl --json commands on one tree; records what it ran and saw."""

    def __init__(self, invoke: Invoke, tree: Path) -> None:
        self.invoke, self.tree = invoke, tree
        self.commands: set[str] = set()
        self.kinds: set[str] = set()

    def __call__(self, command: str, *args: Any, codes: tuple[int, ...] = ()) -> dict[str, Any]:
        res = self.invoke("--sysroot", self.tree, *command.split(), *args, "--json")
        doc = json.loads(res.stdout)  # exactly one object on stdout, whatever the exit code
        if codes:
            assert res.exit_code in codes, (command, args, res.exit_code, res.stderr)
        kind = check_document(doc)
        if kind != "error_document":
            assert doc["command"] == command, (doc["command"], command)
        self.commands.add(command)
        self.kinds.add(kind)
        return doc


def run_every_command(run: Runner, tmp: Path) -> None:
    """Each --json command once (read commands, dry runs, recovery with no
    journal, boot and config, sim), on whatever the tree has."""
    listing = run("list")
    regions = [r["name"] for b in listing["buses"] for r in b["regions"]]
    namespaces = [n for b in listing["buses"] for r in b["regions"] for n in r["namespaces"] if not n["idle"]]
    devices = [n["dax_device"] for n in namespaces if n["dax_device"]] + listing["standalone_dax_devices"]
    bs = listing["policy"]["block_size"]
    run("blocks")
    run("blocks", "--all", "-o", "zone,node,device")
    run("topology")
    run("status")
    run("doctor")
    run("doctor", "--explain", "zone-ratio")
    run("sim list")
    run("sim record", tmp / "recording")
    run("sim conditions")
    run("journal abandon", "--dry-run", codes=(3,))
    run("config show")
    run("config validate")  # no layout: an error document or an empty layout
    run("apply", "--check")
    run("apply", "--dry-run")
    run("boot status", "--root", tmp / "boot")
    run("boot install", "--root", tmp / "boot", "--dry-run")
    run("boot uninstall", "--root", tmp / "boot", "--dry-run")
    run("rollback")
    run("resume")
    run("rollback", "--dry-run")
    run("resume", "--dry-run")
    region = regions[0] if regions else "region0"
    run("namespace plan", "--region", region, "--system-ram", str(bs or 134217728))
    run("namespace create", "--region", region, "--mode", "devdax", "--size", "1G", "--dry-run")
    ns = namespaces[0]["name"] if namespaces else "namespace9.9"
    run("namespace reconfigure", ns, "--mode", "fsdax", "--dry-run", "--force")
    run("namespace destroy", ns, "--dry-run", "--force")
    for dev in devices or [{"name": "dax9.9", "mode": "devdax"}]:
        other = "devdax" if dev["mode"] == "system-ram" else "system-ram"
        run("reconfigure", dev["name"], "--mode", other, "--dry-run")
        run("online", dev["name"], "--dry-run")
        run("offline", dev["name"], "--dry-run")
    run("offline", "--blocks", "0", "--dry-run")
    run("online", "--blocks", "1", "--zone", "movable", "--dry-run")
    run("reconfigure", "dax99.99", "--mode", "devdax", "--dry-run")  # an error document


@cases
def test_every_json_document_on_every_scenario(
    invoke: Invoke, fresh_tree: Callable[..., Path], case: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    tree = fresh_tree(case[0], **case[1])
    run = Runner(invoke, tree)
    run_every_command(run, tmp_path)
    assert run.commands == json_commands(), "a --json command is not run here: add it to run_every_command"
    assert "error_document" in run.kinds


def test_changes_and_their_outcomes(invoke: Invoke, fresh_tree: Callable[..., Path], tmp_path: Path) -> None:
    """Documents of changes carried out: outcomes with structured target
    states, the last run in status, partial results, a vanished device."""
    tree = fresh_tree("optane-2s")
    run = Runner(invoke, tree)
    doc = run("reconfigure", "dax1.1", "--mode", "system-ram", "--yes", codes=(0,))
    states = doc["outcome"]["target_states"]
    assert states[0] == {"kind": "dax_device", "name": "dax1.1", "present": True, "driver": "kmem",
                         "mode": "system-ram", "first_block": None, "last_block": None, "state": None}
    runs = [s for s in states if s["kind"] == "memory_blocks"]
    assert runs and all(s["state"] == "online" and s["name"] is None for s in runs)
    assert sum(s["last_block"] - s["first_block"] + 1 for s in runs) == 47  # blocks 281-327
    assert "dax1.1 is bound to kmem (system-ram)" in doc["outcome"]["machine_state"]
    status = run("status")
    assert status["last_run"]["status"] == "changed" and status["last_run"]["state"] == "finished"
    assert list(status["last_run"]) == list(OBJECTS["journal_run"].keys)

    doc = run("online", "--blocks", "174-176", "--yes", codes=(0,))
    assert doc["plan"]["targets"] == ["memory174", "memory175", "memory176"]
    assert doc["outcome"]["changed_units"] == doc["plan"]["targets"]
    assert doc["outcome"]["target_states"] == [{"kind": "memory_blocks", "name": None, "present": True,
                                                "driver": None, "mode": None, "first_block": 174,
                                                "last_block": 176, "state": "online"}]
    faults.inject(tree, "offline-busy", blocks=[175])
    doc = run("offline", "--blocks", "174-176", "--yes")
    assert doc["outcome"]["status"] in ("partial", "rolled-back")
    assert any(s["errno"] is not None for s in doc["outcome"]["steps"])
    blocks = run("blocks", "--all", "-o", "zone")
    zones = {z for r in blocks["ranges"] for z in r["zones"] or ()}
    assert zones and zones <= {v for v, _ in ZONES}
    topology = run("topology")
    assert {z for n in topology["nodes"] for z in n["zone_blocks"]} == {"normal", "movable"}
    assert isinstance(topology["policy"]["memmap_on_memory"], bool)


def test_an_unfinished_journal(invoke: Invoke, fresh_tree: Callable[..., Path]) -> None:
    """``status`` of a killed run: the same journal_run keys as the last run;
    rollback's plan and outcome."""
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    faults.inject(tree, "offline-hang", blocks=[57], seconds=60)
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    env.pop("PMEMCTL_SYSROOT", None)
    proc = subprocess.Popen([sys.executable, "-m", "pmemctl", "--sysroot", str(tree), "offline", "dax0.0", "--yes"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tree / "var/lib/pmemctl/journal.json"
    try:
        deadline = time.monotonic() + 30
        while not journal.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert journal.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    faults.clear(tree)
    run = Runner(invoke, tree)
    status = run("status")
    u = status["unfinished"]
    assert u is not None and list(u) == list(OBJECTS["journal_run"].keys)
    assert u["state"] == "applying" and u["status"] is None and u["arguments"].endswith("offline dax0.0 --yes")
    assert isinstance(u["steps"], int) and isinstance(u["steps_done"], int)
    abandon = run("journal abandon", "--dry-run", codes=(0,))
    assert abandon["unfinished"] == u and abandon["archived"] == [] and abandon["dry_run"] is True
    assert abandon["target_states"] and {t["kind"] for t in abandon["target_states"]} == {"memory_blocks"}
    assert {t["state"] for t in abandon["target_states"]} <= {"online", "offline", "going-offline"}
    plan = run("rollback", "--dry-run")
    assert plan["plan"] is not None and plan["outcome"] is None
    done = run("rollback", codes=(0, 3))  # 3: the killed run had changed nothing yet
    assert done["outcome"]["status"] in ("rolled-back", "no-change")
    assert run("status")["unfinished"] is None


def test_sysroot_is_absolute_when_given_relative(invoke: Invoke, scenario_tree: Callable[..., Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tree = scenario_tree("optane-2s")
    monkeypatch.chdir(tree.parent)
    for args in (("list",), ("status",), ("reconfigure", "dax99.99", "--mode", "devdax")):
        doc = json.loads(invoke("--sysroot", tree.name, *args, "--json").stdout)
        assert doc["sysroot"] == str(tree), args


def test_every_document_kind_is_in_the_reference() -> None:
    """Every kind (and the changelog) is in the README reference and
    pmemctl(1); every type names a kind; every kind is reachable from a
    top-level document; commands print documents only through the schema."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    man = (REPO / "man/pmemctl.1").read_text(encoding="utf-8")
    for kind in OBJECTS:
        assert f"#### `{kind}` — " in readme, f"{kind} is missing from the README's JSON schema"
        assert f".SS {kind}\n" in man.replace("\\_", "_").replace("\\-", "-"), f"{kind} is missing from pmemctl(1)"
    assert changelog_markdown() in readme
    assert ".SH JSON SCHEMA CHANGELOG" in man
    primitive = {"int", "string", "bool", "number", "any"}
    used: set[str] = set()
    for spec in OBJECTS.values():
        for key, typ, _ in spec.fields:
            for name in re.findall(r"[a-z_]+", typ.replace("array", " ").replace("object", " ").replace("null", " ")):
                if name in primitive or name == "string":
                    continue
                assert name in OBJECTS, f"{spec.kind}.{key}: type {typ} names no kind"
                used.add(name)
    assert set(OBJECTS) - used == envelope_kinds(), "a kind is neither top level nor used by another"
    # documents are built through the schema: no hand-made JSON in the commands
    for path in (REPO / "pmemctl/cli").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "emit_json({" not in text.replace(" ", "").replace("\n", ""), path
        if path.name != "json.py":
            assert '"schema_version"' not in text, f"{path} makes a document by hand"


def test_changelog_covers_this_version() -> None:
    assert CHANGELOG[-1][0] == SCHEMA_VERSION
    wheres = " ".join(w for w, _, _ in CHANGELOG[-1][1])
    for old in ("block_size_bytes", "zones", "zone_blocks", "targets", "checks", "memmap_on_memory", "sysroot",
                "unfinished", "last_run", "root", "devdax_size", "target_states", "namespace plan", "sim record",
                "totals", "last_run.command"):
        assert old in wheres, f"the changelog does not list the change of {old}"
    # the new names it promises are in the schema
    assert "block_size" in OBJECTS["blocks"].keys and "block_size" in OBJECTS["policy"].keys
    assert OBJECTS["check"].allowed("status") == ("ok", "warning", "refused", "overridden")
    assert "read_as_root" in OBJECTS["doctor"].keys and "usable_size" in OBJECTS["namespace_plan"].keys
    assert OBJECTS["status"].fields[3][1] == OBJECTS["status"].fields[4][1] == "journal_run|null"


def test_enumerations_match_the_model() -> None:
    """The closed sets of the schema are the model's enumerations."""
    from pmemctl.cli.render import json as schema
    from pmemctl.model.records import BlockState, DaxMode, NamespaceMode, NodeKind

    for enumeration, model in ((schema.BLOCK_STATES, BlockState), (schema.DAX_MODES, DaxMode),
                               (schema.NAMESPACE_MODES, NamespaceMode), (schema.NODE_KINDS, NodeKind)):
        assert {v for v, _ in enumeration} == {m.value for m in model}, model


def test_zone_option_takes_the_schema_spelling() -> None:
    """What --zone accepts is what the JSON prints."""
    ctx = click.Context(cli)
    zones = {v for v, _ in ZONES}
    for name in ("online", "reconfigure"):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        [opt] = [p for p in cmd.params if "--zone" in p.opts]
        assert isinstance(opt.type, click.Choice) and set(opt.type.choices) <= zones

