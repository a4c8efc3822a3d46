"""Helpers shared by the layout tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from click.testing import Result

Invoke = Callable[..., Result]


def write_layout(root: Path, text: str, name: str = "pmemctl.toml") -> Path:
    """Put a layout at etc/pmemctl/NAME (or etc/pmemctl/conf.d/NAME for conf.d/...)."""
    path = root / "etc" / "pmemctl" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def listed(root: Path, invoke: Invoke) -> dict[str, Any]:
    result = invoke("--sysroot", root, "list", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def dax(root: Path, invoke: Invoke) -> dict[str, dict[str, Any]]:
    """dax device name -> its list --json object."""
    doc = listed(root, invoke)
    out: dict[str, dict[str, Any]] = {}
    for bus in doc["buses"]:
        for region in bus["regions"]:
            for ns in region["namespaces"]:
                if ns["dax_device"]:
                    out[ns["dax_device"]["name"]] = ns["dax_device"]
    for dev in doc["standalone_dax_devices"]:
        out[dev["name"]] = dev
    return out
