"""Issue 15 item 19: ``sim create --scenario big`` ran minutes with no
output.  On a terminal a progress bar (rich, on stderr) follows the build;
piped there is no bar and no extra text.  (``demo`` refusing an unsuitable
scenario before building is pinned in test_sysadmin_small_items.py.)"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from cli_support import Invoke

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="100", TERM="xterm")
    env.pop("PMEMCTL_SYSROOT", None)
    env.pop("NO_COLOR", None)
    return env


def test_sim_create_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pmemctl", "sim", "create", "-s", "big", "--set", "blocks=4096",
             str(tmp_path / "t")], stdout=subprocess.PIPE, stderr=slave, env=_env(), text=True)
        os.close(slave)
        slave = -1
        seen = b""
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert proc.returncode == 0, (out, seen)
    text = seen.decode(errors="replace")
    assert "building big" in text and "/4101" in text, text[-500:]  # 4096 blocks + 5 other parts
    assert "created scenario big" in out


def test_sim_create_piped_prints_no_bar(invoke: Invoke, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pmemctl", "sim", "create", "-s", "big", "--set", "blocks=1024",
                           str(tmp_path / "t")], capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith("created scenario big")

