"""Every shipped scenario is a healthy machine (no finding above info), except
``big``, which is built with a messy mix on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from doctor_support import ids

from pmemctl.sim.cases import ALL_CASES, Case, TreeCache

#: big: dax1.0 is 10% online Normal next to Movable (its scenario says "a realistic mix"), and 16 GiB of
#: DRAM carry hundreds of GiB of movable memory: both are real problems doctor must report
EXPECTED_ABOVE_INFO = {"big": ["blocks-mixed-zones", "zone-ratio"]}


@pytest.fixture(scope="module")
def trees() -> Any:
    with TreeCache() as cache:
        yield cache


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_scenario_is_healthy(case: Case, trees: TreeCache, doctor: Callable[..., Any]) -> None:
    root, _scenario = trees.get(case)
    code, doc = doctor(root)
    expected = EXPECTED_ABOVE_INFO.get(case.scenario, [])
    assert ids(doc, "warning") == expected, doc["findings"]
    assert code == (12 if expected else 0)
    assert doc["healthy"] is (not expected)
    assert doc["counts"]["error"] == 0


def test_every_scenario_is_covered() -> None:
    from pmemctl.sim.scenario import list_scenarios

    assert {s.name for s in list_scenarios()} == {c.scenario for c in ALL_CASES}


def test_this_machine_runs(doctor: Callable[..., Any]) -> None:
    """On the running machine doctor reads what it can and never fails."""
    code, doc = doctor(Path("/"))
    assert code in (0, 12, 13) and doc["sysroot"] == "/"
