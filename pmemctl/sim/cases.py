"""Named (scenario, params) cases and a per-process cache of built trees.

Tests of several tiers (simulator contract, agreement with the real tools,
later the model and CLI) need the same trees; building the ``big`` one takes
seconds, so :class:`TreeCache` materialises each case once, preferably on a
tmpfs (``/dev/shm``: creating ~650 000 small files on a journaling
filesystem can take minutes), and removes everything on :meth:`close`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from pmemctl.sim.build import materialise
from pmemctl.sim.scenario import Scenario, load_scenario

#: Environment variable naming the directory trees are built in.
TMP_ENV = "PMEMCTL_SIM_TMP"


@dataclass(frozen=True)
class Case:
    scenario: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """A readable pytest id: ``qemu-nvdimm[stage=devdax]``."""
        if not self.params:
            return self.scenario
        return f"{self.scenario}[{','.join(f'{k}={v}' for k, v in sorted(self.params.items()))}]"

    def load(self) -> Scenario:
        return load_scenario(self.scenario, dict(self.params))


#: Every shipped scenario, every qemu-nvdimm stage, every cxl-hmem variant;
#: ``big`` at a size that keeps a whole test run quick (the full default size
#: has its own timing test).
ALL_CASES: tuple[Case, ...] = (
    Case("qemu-nvdimm", {"stage": "raw"}),
    Case("qemu-nvdimm", {"stage": "devdax"}),
    Case("qemu-nvdimm", {"stage": "system-ram"}),
    Case("optane-2s"),
    Case("cxl-hmem", {"kind": "hmem", "mode": "devdax"}),
    Case("cxl-hmem", {"kind": "hmem", "mode": "system-ram"}),
    Case("cxl-hmem", {"kind": "cxl", "mode": "devdax"}),
    Case("cxl-hmem", {"kind": "cxl", "mode": "system-ram"}),
    Case("big", {"blocks": "4096"}),
)

BIG_DEFAULT = Case("big")


def fast_tmp_base() -> str:
    """Where to build trees: $PMEMCTL_SIM_TMP, else /dev/shm when writable, else $TMPDIR."""
    env = os.environ.get(TMP_ENV)
    if env:
        return env
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return tempfile.gettempdir()


class TreeCache:
    """Materialise each case at most once; ``close()`` removes every tree."""

    def __init__(self, base: Optional[str] = None) -> None:
        self._dir = tempfile.mkdtemp(prefix="pmemctl-sim-", dir=base or fast_tmp_base())
        self._trees: dict[str, tuple[Path, Scenario]] = {}

    def get(self, case: Case) -> tuple[Path, Scenario]:
        """(tree root, resolved scenario) of ``case``."""
        if case.id not in self._trees:
            scenario = case.load()
            dest = Path(self._dir, str(len(self._trees)))
            materialise(scenario, dest)
            self._trees[case.id] = (dest, scenario)
        return self._trees[case.id]

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
        self._trees.clear()

    def __enter__(self) -> TreeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ALL_CASES", "BIG_DEFAULT", "Case", "TMP_ENV", "TreeCache", "fast_tmp_base"]
