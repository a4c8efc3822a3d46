"""The console entry's quick path for ``blocks`` (pmemctl/cli/entry.py):
every command line it takes prints exactly what the click path prints, with
the same exit status, and it never imports click; every other command line
goes to click.  Both paths run as the installed command runs, in a fresh
interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
ENV.pop("PMEMCTL_SYSROOT", None)
ENV.pop("PMEMCTL_TRACEBACK", None)
ENV.pop("PYTHONUNBUFFERED", None)  # as a user runs it (unbuffered, a closed pipe ends a write otherwise)

#: runs one entry point; says on descriptor PROBE_FD whether click was imported by the end
_PROBE = """
import atexit, os, sys
atexit.register(lambda: os.write(int(os.environ["PROBE_FD"]), b"click" if "click" in sys.modules else b"-"))
from pmemctl.cli.{module} import main
main()
"""


def run(module: str, argv: list[str], env: dict[str, str]) -> tuple[int, str, str, bool]:
    """(exit status, stdout, stderr, click imported) of ``pmemctl ARGV`` through ``module``'s main."""
    rfd, wfd = os.pipe()
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE.format(module=module), *argv],
                              env={**env, "PROBE_FD": str(wfd)}, capture_output=True, text=True, pass_fds=(wfd,),
                              cwd=REPO)
        os.close(wfd)
        wfd = -1
        said = os.read(rfd, 16)
    finally:
        os.close(rfd)
        if wfd >= 0:
            os.close(wfd)
    return proc.returncode, proc.stdout, proc.stderr, said == b"click"


@pytest.fixture(scope="module")
def trees(scenario_tree: Callable[..., Path]) -> dict[str, str]:
    return {
        "B": str(scenario_tree("big", blocks=1024)),
        "S": str(scenario_tree("qemu-nvdimm", stage="system-ram")),
        "O": str(scenario_tree("optane-2s")),
    }


#: command lines the quick path runs ({B}, {S}, {O}: trees)
QUICK = [
    "--sysroot {B} blocks",
    "--sysroot={B} blocks",
    "--sysroot {B} blocks -o range,size,state,removable,block,node,zone",
    "--sysroot {B} blocks -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES --json",
    "--sysroot {B} blocks --all --json",
    "--sysroot {B} blocks -a",
    "blocks --sysroot {B} --output=range,zones --state online",
    "--sysroot {O} blocks --sysroot {B}",
    "--sysroot {S} blocks --device dax0.0",
    "--sysroot {S} blocks --device dax0.0 --json",
    "--sysroot {S} blocks --node 1 -o block,node,device",
    "--sysroot {S} blocks --node=0 --state offline --all",
    "--sysroot {S} blocks --node 01",
    "--sysroot {O} blocks",
    "--sysroot {O} blocks --json -o device,block",
    "--sysroot {O} blocks --device dax1.0",
    "-q --sysroot {B} blocks",
    "--sysroot {B} blocks --quiet --json",
    "--no-color --sysroot {B} blocks --color",
    "--color --sysroot {B} blocks -o block,zone",
    "--traceback --sysroot {B} blocks --traceback -o size",
    # errors: the same sentence, exit status and (with --json) error document
    "--sysroot {B} blocks -o bogus",
    "--sysroot {B} blocks -o bogus --json",
    "--sysroot {B} blocks --state bogus",
    "--sysroot {B} blocks --device dax9.9",
    "--sysroot {B} blocks --device dax9.9 --json",
    "--sysroot {B} blocks --node 7",
    "--sysroot {B} blocks --node 7 --json",
]

#: command lines left to click (and what click makes of them)
CLICK = [
    "--sysroot {B} blocks --help",
    "--sysroot {B} blocks -h",
    "--sysroot {B} blocks extra",
    "--sysroot {B} blocks --node -1",
    "--sysroot {B} blocks --node x",
    "--sysroot {B} blocks --node",
    "--sysroot {B} blocks -o",
    "--sysroot {B} blocks -orange",
    "--sysroot {B} blocks -aq",
    "--sysroot {B} blocks --json=1",
    "--sysroot {B} blocks --state online --state offline",
    "--sysroot {B} blocks -o range --output size",
    "--sysroot {B} blocks --device=",
    "--sysroot {B} blocks --bogus",
    "--sysroot {B} blocks --",
    "--sysroot /nonexistent blocks",
    "--sysroot {B}/sys/devices/system/memory/block_size_bytes blocks",
    "--sysroot {B} blocks --sysroot /nonexistent",
    "--sysroot {B} --sysroot {O} blocks",
    "--sysroot {B} list",
    "--sysroot {B}",
    "--version",
]


def _argv(line: str, trees: dict[str, str]) -> list[str]:
    return line.format(**trees).split()


@pytest.mark.parametrize("line", QUICK)
def test_the_quick_path_prints_what_click_prints(line: str, trees: dict[str, str]) -> None:
    argv = _argv(line, trees)
    quick = run("entry", argv, ENV)
    reference = run("main", argv, ENV)
    assert quick[:3] == reference[:3]
    assert reference[3]
    if reference[0] == 0:  # an error is reported through click's funnel, imported then
        assert not quick[3], "the quick path imported click"


@pytest.mark.parametrize("line", CLICK)
def test_other_command_lines_go_to_click(line: str, trees: dict[str, str]) -> None:
    argv = _argv(line, trees)
    quick = run("entry", argv, ENV)
    assert quick[:3] == run("main", argv, ENV)[:3]
    assert quick[3], "click did not run"


@pytest.mark.parametrize("value", ["{B}", "", "  ", "/nonexistent"])
def test_the_sysroot_from_the_environment(value: str, trees: dict[str, str]) -> None:
    env = {**ENV, "PMEMCTL_SYSROOT": value.format(**trees)}
    for line in ("blocks -o block,state", "blocks --sysroot {O}"):
        argv = _argv(line, trees)
        quick = run("entry", argv, env)
        assert quick[:3] == run("main", argv, env)[:3]
        assert quick[3] == (value != "{B}")


@pytest.mark.parametrize("line", ["--sysroot {B} blocks -o bogus", "--traceback --sysroot {B} blocks --node 7 --json"])
def test_the_traceback(line: str, trees: dict[str, str]) -> None:
    """With PMEMCTL_TRACEBACK=1 or --traceback an error shows its traceback
    (whose frames differ between the paths), then the same sentence."""
    env = {**ENV, "PMEMCTL_TRACEBACK": "1"}
    argv = _argv(line, trees)
    quick, reference = run("entry", argv, env), run("main", argv, env)
    assert quick[:2] == reference[:2]
    for got in (quick[2], reference[2]):
        assert got.startswith("Traceback (most recent call last):\n")
    assert quick[2].splitlines()[-2:] == reference[2].splitlines()[-2:]


def test_completion_goes_to_click(trees: dict[str, str]) -> None:
    env = {**ENV, "_PMEMCTL_COMPLETE": "bash_complete", "COMP_WORDS": "pmemctl blocks --st", "COMP_CWORD": "2"}
    argv = _argv("--sysroot {B} blocks", trees)
    quick = run("entry", argv, env)
    assert quick[:3] == run("main", argv, env)[:3]
    assert quick[3]


def _closed_early(module: str, argv: list[str]) -> tuple[int, str]:
    """Exit status and stderr when the reader of stdout goes away after one line."""
    proc = subprocess.Popen([sys.executable, "-c", f"from pmemctl.cli.{module} import main; main()", *argv],
                            env=ENV, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(), err


@pytest.mark.parametrize("json", [False, True])
def test_a_reader_that_goes_away(json: bool, scenario_tree: Callable[..., Path]) -> None:
    """``pmemctl blocks --all | head -1``: a closed pipe ends both paths alike
    (exit status 1, nothing on stderr; 4,096 blocks print far more than a pipe holds)."""
    argv = ["--sysroot", str(scenario_tree("big", blocks=4096)), "blocks", "--all"] + (["--json"] if json else [])
    assert _closed_early("entry", argv) == _closed_early("main", argv) == (1, "")


def test_the_console_script_and_python_m_use_the_entry() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert 'pmemctl = "pmemctl.cli.entry:main"' in text
    assert "from pmemctl.cli.entry import main" in (REPO / "pmemctl/__main__.py").read_text()
