"""Issue 15, item 1: every read command works as an ordinary user.

On a real kernel the ``resource`` of regions, namespaces and dax devices,
dax mapping ranges and a dax region's ``align`` are mode 0400; the
simulator makes them 0400 too.  Each scenario tree is made readable to
others (``chmod -R o+rX`` except those 0400 attributes) and every read
command is run as uid/gid 65534: it succeeds, root-only values are null in
JSON, and one note on stderr says what needs root.

The commands run as a user would run them, through ``setpriv
--reuid=65534 --regid=65534 --clear-groups python3 -m pmemctl``; when the
test interpreter lives where that user cannot read it, a world-readable
stand-in is used (see ``nobody.py``).  Only where no interpreter can be run
by that user at all do they run in a forked child that drops to 65534 after
pmemctl is imported.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from cli_scenarios import CASES, case_id

NOBODY = 65534
READ_COMMANDS = [["list"], ["blocks"], ["topology"], ["list", "--json"], ["blocks", "--json"],
                 ["topology", "--json"], ["blocks", "--all"], ["status"]]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an ordinary user (uid 65534)")


def _open_to_others(root: Path) -> None:
    """chmod -R o+rX, leaving the attributes the kernel makes 0400 as they are."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, os.stat(dirpath).st_mode | stat.S_IROTH | stat.S_IXOTH)
        for name in filenames:
            path = os.path.join(dirpath, name)
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            if os.path.islink(path) or (mode & 0o077 == 0 and mode & 0o400):
                continue  # root-only (0400, 0600) stays root-only
            os.chmod(path, mode | stat.S_IROTH)


@pytest.fixture(scope="module")
def public_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="pmemctl-nonroot-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def public_tree(scenario_tree: Callable[..., Path], public_dir: Path) -> Callable[..., Path]:
    made: dict[str, Path] = {}

    def _tree(name: str, params: dict[str, Any]) -> Path:
        key = case_id((name, params))
        if key not in made:
            dest = public_dir / key
            shutil.copytree(scenario_tree(name, **params), dest, symlinks=True)
            _open_to_others(dest)
            made[key] = dest
        return made[key]

    return _tree


def _preload() -> None:
    """Import what the commands import lazily, while the files are readable."""
    import pmemctl

    for mod in pkgutil.walk_packages(pmemctl.__path__, "pmemctl."):
        if mod.name.startswith(("pmemctl.sim.fuse", "pmemctl.__main__")):
            continue
        try:
            importlib.import_module(mod.name)
        except Exception:  # noqa: BLE001 - optional pieces (fuse) may be missing
            pass
    import encodings.ascii  # noqa: F401 - looked up by name when a file is opened as ascii
    import traceback  # noqa: F401 - used by the error funnel


def run_as_nobody(*args: str) -> tuple[int, str, str]:
    """``pmemctl ARGS`` as uid/gid 65534: through setpriv when some Python
    can be run by that user, else in a forked child."""
    from nobody import nobody_python, run_pmemctl_as_nobody

    if nobody_python()[0] is not None:
        return run_pmemctl_as_nobody(*args)
    return _forked_as_nobody(*args)


def _forked_as_nobody(*args: str) -> tuple[int, str, str]:
    """``pmemctl ARGS`` in a forked child running as uid/gid 65534."""
    from cli_support import make_runner

    from pmemctl.cli.main import cli

    _preload()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            res = make_runner().invoke(cli, list(args), catch_exceptions=True)
            err = res.stderr
            if res.exception is not None and not isinstance(res.exception, SystemExit):
                err += f"\nexception: {res.exception!r}"
            data = json.dumps([res.exit_code, res.stdout, err]).encode()
            while data:
                data = data[os.write(wfd, data):]
            status = 0
        finally:
            os._exit(status)
    os.close(wfd)
    chunks = []
    while chunk := os.read(rfd, 1 << 16):
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    code, out, err = json.loads(b"".join(chunks))
    return code, out, err


def _nulls(doc: Any, key: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == key:
                found.append(v)
            found.extend(_nulls(v, key))
    elif isinstance(doc, list):
        for v in doc:
            found.extend(_nulls(v, key))
    return found


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_read_commands_as_an_ordinary_user(public_tree: Callable[..., Path], case: Any, command: list[str]) -> None:
    tree = public_tree(*case)
    root_only = [p for p in tree.rglob("*") if not p.is_symlink() and p.is_file()
                 and stat.S_IMODE(p.stat().st_mode) == 0o400]
    code, out, err = run_as_nobody("--sysroot", str(tree), *command)
    assert code == 0, err
    assert "EACCES" not in err and "exception" not in err and "Traceback" not in err
    notes = [line for line in err.splitlines() if line]
    assert len(notes) <= 1
    if notes:
        assert notes[0].startswith("pmemctl: note: ") and "only root may read" in notes[0]
    if "--json" in command:
        doc = json.loads(out)
        if command[0] == "list" and root_only:
            # regions and namespaces have no other source; a dax device's start
            # may come from /proc/iomem (readable here, zeros on a real kernel)
            regions = [r for bus in doc["buses"] for r in bus["regions"]]
            resources = [r["resource"] for r in regions]
            resources += [n["resource"] for r in regions for n in r["namespaces"]]
            assert all(r is None for r in resources), resources
            assert notes, "values were hidden without a word"


def test_the_same_as_root_has_no_note(public_tree: Callable[..., Path], invoke: Any) -> None:
    tree = public_tree("optane-2s", {})
    res = invoke("--sysroot", tree, "list", "--json")
    assert res.exit_code == 0 and "note" not in res.stderr
    assert any(r is not None for r in _nulls(json.loads(res.stdout), "resource"))


def test_an_ordinary_user_really_runs_them_through_setpriv() -> None:
    """The matrix above is not a fork of this (root) process: when setpriv
    exists, a Python that uid 65534 can run is found or made."""
    from nobody import nobody_python

    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    python, _env, why = nobody_python()
    assert python is not None, why


@pytest.mark.parametrize("command", [["list"], ["blocks"], ["topology", "--json"]], ids=" ".join)
def test_setpriv_as_a_user_would(public_tree: Callable[..., Path], command: list[str]) -> None:
    from nobody import nobody_python, run_pmemctl_as_nobody

    if nobody_python()[0] is None:
        pytest.skip(nobody_python()[2])
    tree = public_tree("optane-2s", {})
    code, _out, err = run_pmemctl_as_nobody("--sysroot", str(tree), *command)
    assert code == 0, err
    assert "only root may read" in err
