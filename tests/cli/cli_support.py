"""Helpers shared by the CLI tests (fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

from click.testing import CliRunner, Result

ENV = {"NO_COLOR": "1", "COLUMNS": "120", "PMEMCTL_SYSROOT": None, "PMEMCTL_TRACEBACK": None}

Invoke = Callable[..., Result]


def make_runner() -> CliRunner:
    try:
        return CliRunner(env=ENV, mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        return CliRunner(env=ENV)  # click >= 8.2 keeps stderr apart by default


def run_json(invoke: Invoke, *args: Any) -> dict[str, Any]:
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def one_line(stderr: str) -> str:
    """The single ``pmemctl: ...`` line an error must produce."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    assert lines[0].startswith("pmemctl: ")
    return lines[0]


def machine(tree: Path) -> Any:
    """The scenario's own description of the machine in ``tree``."""
    from pmemctl.sim.build import load_machine

    return load_machine(tree)


# -- JSON schema walker --------------------------------------------------------

_TOP_KIND = {
    "list": "list", "blocks": "blocks", "topology": "topology", "sim list": "sim_list",
    "reconfigure": "change", "online": "change", "offline": "change",
    "namespace create": "namespace_change", "namespace reconfigure": "namespace_change",
    "namespace destroy": "namespace_change",
    "rollback": "recovery", "resume": "recovery", "status": "status", "doctor": "doctor",
    "apply": "apply", "config validate": "config", "config show": "config",
    "boot install": "boot", "boot uninstall": "boot", "boot status": "boot",
    "namespace plan": "namespace_plan", "sim record": "sim_record", "sim conditions": "sim_conditions",
    "journal abandon": "journal_abandon",
}


def top_kind(doc: dict[str, Any]) -> str:
    """The object kind of a top-level document: ``error_document`` when it
    has ``error``; else the kind its command prints whose keys it has (``doctor``
    prints ``doctor`` or, with ``--explain``, ``doctor_explain``)."""
    from pmemctl.cli.render.json import OBJECTS

    if "error" in doc:
        return "error_document"
    kind = _TOP_KIND[doc["command"]]
    if list(doc) != list(OBJECTS[kind].keys):
        same = [k for k, spec in OBJECTS.items() if list(spec.keys) == list(doc) and k != "error_document"]
        assert len(same) == 1, f"{doc['command']}: no documented kind has the keys {list(doc)}"
        kind = same[0]
    return kind


def check_schema(doc: dict[str, Any]) -> dict[str, int]:
    """Check ``doc`` against the documented schema; return objects seen per kind.

    Every object must have exactly its kind's keys, in the documented order,
    and every value the documented type (``T|null``, ``array<T>``,
    ``object<string,T>``, primitives or another kind); a key with a closed
    set of values (``spec.enums``) must hold one of them.  A document with an
    ``error`` key is checked as an ``error_document``.
    """
    from pmemctl import SCHEMA_VERSION
    from pmemctl.cli.render.json import OBJECTS

    seen: dict[str, int] = {}

    def check_type(value: Any, typ: str, where: str) -> None:
        if typ.endswith("|null"):
            if value is None:
                return
            typ = typ[: -len("|null")]
        if typ.startswith("array<"):
            assert isinstance(value, list), f"{where}: expected an array, got {value!r}"
            for i, item in enumerate(value):
                check_type(item, typ[len("array<"):-1], f"{where}[{i}]")
        elif typ.startswith("object<string,"):
            assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
            for k, v in value.items():
                assert isinstance(k, str)
                check_type(v, typ[len("object<string,"):-1], f"{where}.{k}")
        elif typ == "int":
            assert isinstance(value, int) and not isinstance(value, bool), f"{where}: expected int, got {value!r}"
        elif typ == "string":
            assert isinstance(value, str), f"{where}: expected string, got {value!r}"
        elif typ == "bool":
            assert isinstance(value, bool), f"{where}: expected bool, got {value!r}"
        elif typ == "number":
            assert isinstance(value, (int, float)) and not isinstance(value, bool), \
                f"{where}: expected a number, got {value!r}"
        elif typ == "any":  # layout data (apply's desired/actual): any JSON value
            json.dumps(value)
        else:
            check_object(value, typ, where)

    def check_object(obj: Any, kind: str, where: str) -> None:
        spec = OBJECTS[kind]
        assert isinstance(obj, dict), f"{where}: expected a {kind} object, got {obj!r}"
        assert list(obj) == list(spec.keys), f"{where}: {kind} keys {list(obj)} != documented {list(spec.keys)}"
        seen[kind] = seen.get(kind, 0) + 1
        for key, typ, _ in spec.fields:
            check_type(obj[key], typ, f"{where}.{key}")
            allowed = spec.allowed(key)
            if allowed is not None and obj[key] is not None:
                # an array's items and a map's keys are the enumeration's values
                items = obj[key] if isinstance(obj[key], (list, dict)) else [obj[key]]
                for item in items:
                    assert item in allowed, f"{where}.{key}: {item!r} is not one of {list(allowed)}"

    assert doc["schema_version"] == SCHEMA_VERSION
    assert os.path.isabs(doc["sysroot"]), f"sysroot {doc['sysroot']!r} is not absolute"
    check_object(doc, top_kind(doc), "$")
    return seen


def tree_digest(tree: Path, below: str = "") -> str:
    """A hash of a tree's paths, link targets and file contents (below ``below``):
    equal before and after means nothing there changed."""
    h = hashlib.sha256()
    base = tree / below if below else tree
    for p in sorted(base.rglob("*")):
        h.update(str(p.relative_to(tree)).encode())
        if p.is_symlink():
            h.update(str(p.readlink()).encode())
        elif p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()
