"""--explain ID: the reasoning of every finding; the table of checks in the README."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from cli_support import check_schema, one_line

from pmemctl.ops.doctor import GROUPS, RULES

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_explain_every_rule(invoke: Callable[..., Any], rule_id: str) -> None:
    result = invoke("doctor", "--explain", rule_id)
    assert result.exit_code == 0
    rule = RULES[rule_id]
    assert result.stdout.startswith(f"{rule_id} ({rule.severity.value}, group {rule.group})")
    assert rule.explain.split()[0] in result.stdout and len(rule.explain) > 80


def test_explain_json(invoke: Callable[..., Any]) -> None:
    result = invoke("doctor", "--explain", "stranded-memory", "--json")
    doc = json.loads(result.stdout)
    assert doc["command"] == "doctor" and doc["needs_reboot"] is True and "hotremoved" in doc["explain"]
    from pmemctl.cli.render.json import OBJECTS

    assert list(doc) == list(OBJECTS["doctor_explain"].keys)


def test_explain_unknown_id(invoke: Callable[..., Any]) -> None:
    result = invoke("doctor", "--explain", "align")
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert "no doctor finding has the ID 'align'" in line and "align-loss" in line


def test_unknown_group_is_refused(invoke: Callable[..., Any]) -> None:
    result = invoke("doctor", "--only", "bios")
    assert result.exit_code == 2


def test_dry_run_needs_fix(invoke: Callable[..., Any]) -> None:
    result = invoke("doctor", "--dry-run")
    assert result.exit_code == 2 and "--fix" in result.stderr


def test_json_groups_match_the_ops_groups() -> None:
    from pmemctl.cli.commands.doctor import _GROUPS
    from pmemctl.cli.render.json import DOCTOR_GROUPS

    assert tuple(g for g, _ in DOCTOR_GROUPS) == tuple(g for g, _ in GROUPS) == _GROUPS
    assert dict(DOCTOR_GROUPS) == dict(GROUPS)


def test_readme_table_of_checks_is_current() -> None:
    text = README.read_text()
    begin, end = "<!-- BEGIN GENERATED DOCTOR CHECKS -->\n", "<!-- END GENERATED DOCTOR CHECKS -->"
    section = text[text.index(begin) + len(begin): text.index(end)]
    generated = subprocess.run([sys.executable, "-m", "pmemctl.cli.gendocs", "--doctor-checks"],
                               capture_output=True, text=True, check=True).stdout
    assert section.strip() == generated.strip(), (
        "README.md table of doctor checks is stale: paste 'python -m pmemctl.cli.gendocs --doctor-checks'")
    assert all(f"`{rule_id}`" in section for rule_id in RULES)


def test_schema_of_a_doc_with_every_kind(build: Any, doctor: Callable[..., Any]) -> None:
    _code, doc = doctor(build("qemu-nvdimm", {"stage": "system-ram"}, "auto-online"), "--fix", "--dry-run")
    seen = check_schema(doc)
    assert {"doctor", "finding", "evidence", "finding_fix", "runtime_fix", "doctor_fix", "plan"} <= set(seen)
