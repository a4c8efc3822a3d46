"""completions/ and man/ are generated from the click tree and must be current."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pmemctl import SCHEMA_VERSION
from pmemctl.cli import gendocs
from pmemctl.cli.completion import FILES
from pmemctl.cli.main import cli
from pmemctl.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
MAN_PAGES = sorted((REPO / "man").glob("*.1"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gendocs")
    gendocs.generate(root)
    return root


def test_committed_files_are_current(generated: Path) -> None:
    fresh = sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    assert fresh, "gendocs wrote nothing"
    committed = sorted(
        p.relative_to(REPO) for d in ("man", "completions") for p in (REPO / d).rglob("*") if p.is_file()
    )
    assert committed == fresh, (
        "man/ or completions/ hold other files than gendocs makes: run python -m pmemctl.cli.gendocs"
    )
    stale = [str(rel) for rel in fresh if (REPO / rel).read_bytes() != (generated / rel).read_bytes()]
    assert not stale, f"stale generated files {stale}: run python -m pmemctl.cli.gendocs"


def test_check_mode_agrees(generated: Path) -> None:
    assert gendocs.main(["--check", "--root", str(generated)]) == 0
    (generated / "man" / "pmemctl.1").write_text("old\n")
    assert gendocs.main(["--check", "--root", str(generated)]) == 1
    gendocs.generate(generated)


def test_one_page_per_command() -> None:
    names = {p.name for p in gendocs.walk(cli)}
    assert {f"{n}.1" for n in names} == {p.name for p in MAN_PAGES}
    assert {
        "pmemctl", "pmemctl-list", "pmemctl-blocks", "pmemctl-topology", "pmemctl-sim-create", "pmemctl-sim-list"
    } <= names


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_man_page_renders_without_warnings(page: Path) -> None:
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stderr == "", proc.stderr


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_page_reads_with_man() -> None:
    env = {**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(
        ["man", "--warnings", "-l", str(REPO / "man" / "pmemctl-blocks.1")], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0
    assert proc.stderr == "", proc.stderr
    text = re.sub(".\b", "", proc.stdout)  # drop overstrike (bold/underline)
    assert "-o, --output COLS" in text  # option dashes come out as ASCII, ready to copy


def test_top_page_documents_exit_codes_environment_and_schema() -> None:
    text = (REPO / "man" / "pmemctl.1").read_text()
    for code in ExitCode:
        assert f"\\fB{int(code)}\\fR ({code.name})" in text
    assert "\\fB130\\fR (INTERRUPTED)" in text
    for var in ("PMEMCTL_SYSROOT", "PMEMCTL_TRACEBACK", "NO_COLOR"):
        assert f"\\fB{var}\\fR" in text
    assert f"schema version {SCHEMA_VERSION}" in text
    assert ".SH JSON OUTPUT" in text


def test_every_exit_code_has_a_meaning() -> None:
    rows = gendocs._exit_codes()
    assert {name for _, name, _ in rows} >= {c.name for c in ExitCode}
    assert all(meaning for _, _, meaning in rows)


def test_roff_escapes() -> None:
    assert gendocs.roff_line(".starts with a dot") == "\\&.starts with a dot"
    assert gendocs.roff_text("a\\b") == "a\\eb"
    assert gendocs.roff_text("--json and hot-remove") == "\\-\\-json and hot-remove"
    assert gendocs.roff_text("bus → region") == "bus \\[u2192] region"


# -- completion scripts work in their shells ------------------------------------


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """PATH with a ``pmemctl`` that runs this checkout."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "pmemctl"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pmemctl "$@"\n')
    exe.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMEMCTL_", "_PMEMCTL"))}
    env.update(PATH=f"{bindir}:{os.environ.get('PATH', '')}", PYTHONPATH=str(REPO))
    return env


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_syntax(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    proc = subprocess.run([shell, "-n", str(REPO / "completions" / FILES[shell])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes(shell_env: dict[str, str]) -> None:
    script = f"""
source {REPO / "completions" / FILES["bash"]}
COMP_WORDS=(pmemctl bl); COMP_CWORD=1; COMPREPLY=(); _pmemctl_completion pmemctl
printf '%s\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(pmemctl blocks -o range,s); COMP_CWORD=3; COMPREPLY=(); _pmemctl_completion pmemctl
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=shell_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["blocks", "range,size", "range,state"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completion_completes(shell_env: dict[str, str]) -> None:
    script = (
        f'source {REPO / "completions" / FILES["fish"]}; complete -C "pmemctl bl"; complete -C "pmemctl list --mode sy"'
    )
    proc = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True, env=shell_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("blocks\tShow memory blocks")
    assert lines[1:] == ["system-ram"]
