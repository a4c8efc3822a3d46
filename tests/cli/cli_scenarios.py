"""The scenario trees the CLI tests run against (name + parameters)."""

from __future__ import annotations

from typing import Any

import pytest

#: Scenarios the simulator must provide.
EXPECTED = {"qemu-nvdimm", "optane-2s", "cxl-hmem", "big"}

#: (scenario, params) pairs covering every shape: NVDIMM at each stage,
#: a two-socket Optane box, hmem and CXL dax devices, and a large box (kept
#: small enough for a unit-test run).
CASES: list[tuple[str, dict[str, Any]]] = [
    ("qemu-nvdimm", {"stage": "raw"}),
    ("qemu-nvdimm", {"stage": "devdax"}),
    ("qemu-nvdimm", {"stage": "system-ram"}),
    ("optane-2s", {}),
    ("cxl-hmem", {"kind": "hmem", "mode": "devdax"}),
    ("cxl-hmem", {"kind": "cxl", "mode": "system-ram"}),
    ("big", {"blocks": 1024}),
]


def case_id(case: tuple[str, dict[str, Any]]) -> str:
    name, params = case
    return "-".join([name] + [f"{k}={v}" for k, v in sorted(params.items())])


cases = pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
