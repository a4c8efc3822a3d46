"""Every file ``pmemctl boot install`` writes passes ``systemd-analyze verify``.

The units are verified by path with ``SYSTEMD_UNIT_PATH=ROOT/etc/systemd/system:``
(the trailing colon keeps the host's unit directories, so ``sysinit.target``,
``systemd-udev-trigger.service`` and the other units they name resolve), which
also loads the drop-ins written for the workload unit and for
``multi-user.target``.  ``verify`` exits 0 on unknown keys and only prints a
warning, so the test requires its output to be empty as well; a control case
proves that a bad key in a drop-in is reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_support import Invoke

ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (package systemd)")


def _verify(root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    unit_dir = root / "etc/systemd/system"
    env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{unit_dir}:", SYSTEMD_LOG_COLOR="0")
    return subprocess.run([str(ANALYZE), "verify", *units], cwd=unit_dir, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("udev_rule", [False, True], ids=["units", "units+udev"])
def test_every_generated_unit_and_drop_in_verifies(invoke: Invoke, root: Path, udev_rule: bool) -> None:
    args = ["boot", "install", "--root", root, "--before", "demo-db.service"]
    r = invoke(*args, *(["--udev-rule"] if udev_rule else []))
    assert r.exit_code == 0, r.stderr
    units = ["pmemctl-apply.service", "pmemctl-memory.target", "demo-db.service", "multi-user.target"]
    if udev_rule:
        units.append("pmemctl-apply-hotplug.service")
    v = _verify(root, *units)
    assert v.returncode == 0 and not v.stdout.strip() and not v.stderr.strip(), v.stdout + v.stderr
    # every unit file and drop-in the manifest lists was among those loaded
    written = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    loaded_names = {p.split("/")[3].removesuffix(".d") for p in written if p.startswith("etc/systemd/system/")}
    assert loaded_names <= set(units)


def test_verify_reports_a_bad_drop_in(invoke: Invoke, root: Path) -> None:
    """The control: the check above can fail."""
    assert invoke("boot", "install", "--root", root, "--before", "demo-db.service").exit_code == 0
    dropin = root / "etc/systemd/system/demo-db.service.d/50-pmemctl.conf"
    dropin.write_text(dropin.read_text() + "Wnats=pmemctl-memory.target\n")
    v = _verify(root, "demo-db.service")
    assert "Unknown key 'Wnats'" in v.stdout + v.stderr


def test_verify_reports_a_missing_executable(invoke: Invoke, root: Path) -> None:
    assert invoke("boot", "install", "--root", root).exit_code == 0
    unit = root / "etc/systemd/system/pmemctl-apply.service"
    text = unit.read_text()
    exec_line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    unit.write_text(text.replace(exec_line, "ExecStart=/nonexistent/pmemctl apply --yes"))
    v = _verify(root, "pmemctl-apply.service")
    assert v.returncode != 0 and "/nonexistent/pmemctl" in v.stdout + v.stderr


def test_udev_rule_parses(invoke: Invoke, root: Path) -> None:
    """No ``udevadm verify`` in systemd 252: check the rule's syntax the way
    udev reads it (comma-separated KEY{ATTR}OP"VALUE" terms)."""
    import re

    assert invoke("boot", "install", "--root", root, "--udev-rule").exit_code == 0
    rule = (root / "etc/udev/rules.d/90-pmemctl.rules").read_text()
    lines = [ln for ln in rule.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1
    term = re.compile(r'^\s*[A-Z_]+(\{[A-Za-z0-9_]+\})?(==|!=|\+=|=|:=|-=)"[^"]*"\s*$')
    terms = lines[0].split(",")
    assert all(term.match(t) for t in terms), terms
    assert [t.strip().split("=")[0].rstrip("+!:-") for t in terms] == ["ACTION", "SUBSYSTEM", "TAG",
                                                                      "ENV{SYSTEMD_WANTS}"]
