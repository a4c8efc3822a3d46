"""Helpers shared by the doctor tests (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

Build = Callable[..., Path]


def ids(doc: dict[str, Any], at_least: str = "info") -> list[str]:
    rank = ("info", "warning", "error").index(at_least)
    return [f["id"] for f in doc["findings"] if ("info", "warning", "error").index(f["severity"]) >= rank]


def finding(doc: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found = [f for f in doc["findings"] if f["id"] == rule_id]
    assert found, f"{rule_id} not found; findings: {[f['id'] for f in doc['findings']]}"
    return found[0]
