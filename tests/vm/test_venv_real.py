"""The tier run from a virtual environment: the guest must run the venv.

A fresh venv (in a temp dir, i.e. under /tmp, which the guest covers with
its own tmpfs) gets pmemctl and its dependencies installed; the harness is
then driven by that venv's interpreter, as when someone runs pytest from a
venv, and boots one guest with the default interpreter choice.  In the guest
``$PYTHON`` must be the venv (same ``sys.prefix``, the same click and rich
files as on the host), and ``pmemctl --version`` and ``pmemctl list --json``
must run against the emulated NVDIMM.

Resolving ``sys.executable`` (a symlink to the base interpreter in a venv)
made the guest run the base interpreter without the venv's site-packages.

The venv installs from PyPI (pip); when that fails (no network) it falls
back to ``--system-site-packages`` with the copy of pmemctl on a ``.pth``
file: the dependencies then come from the base interpreter, and
``sys.prefix`` still tells the venv apart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import harness
from .conftest import Outputs, _kept_result
from .scenarios import PRELUDE

pytestmark = pytest.mark.vm

_ENV_REPORT = (
    "import json, sys, click, rich, pmemctl; print(json.dumps({'prefix': sys.prefix, "
    "'base_prefix': sys.base_prefix, 'click': click.__file__, 'rich': rich.__file__, "
    "'pmemctl': pmemctl.__file__}))"
)

SCENARIO = PRELUDE + f"""
run env "$PYTHON" -c "{_ENV_REPORT}"
run version pmemctl --version
run list pmemctl list --json
"""

#: Runs harness.run_guest in the venv's interpreter, with the default
#: interpreter choice (no ``python=``).  The harness is loaded from its file:
#: a ``tests`` package installed in site-packages would shadow the checkout's.
_DRIVER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("vm_harness", sys.argv[1])
harness = sys.modules["vm_harness"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(harness)
r = harness.run_guest(sys.stdin.read(), results_dir=sys.argv[2], timeout=int(sys.argv[3]))
print(json.dumps({"exit_code": r.exit_code, "describe": r.describe(), "python": harness.guest_python_default()}))
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _make_venv(root: Path) -> tuple[Path, str]:
    """A venv under ``root`` with pmemctl (a copy of this checkout) installed;
    (its bin/python3, how it was made)."""
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (harness.PROJECT_DIR / name).exists():
            shutil.copy2(harness.PROJECT_DIR / name, src / name)
    shutil.copytree(harness.PROJECT_DIR / "pmemctl", src / "pmemctl",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = _clean_env()
    venv = root / "venv"
    py = venv / "bin" / "python3"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, env=env)
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--timeout", "30", "--retries", "1", str(src)],
                       capture_output=True, text=True, env=env, timeout=600)
    if r.returncode == 0:
        return py, "plain venv, pip install from PyPI"
    online_err = r.stderr.strip()[-500:]
    shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, capture_output=True, env=env)
    # offline, a wheel may not be buildable (setuptools < 70.1 without the
    # wheel package): install the copy as an editable install would, by path
    r = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       check=True, capture_output=True, text=True, env=env)
    Path(r.stdout.strip(), "pmemctl-src.pth").write_text(f"{src}\n")
    return py, f"--system-site-packages venv, pmemctl by a .pth (pip install failed: {online_err[-200:]!r})"


@pytest.mark.kernels("6.1")  # the interpreter, not the kernel, is under test
def test_guest_runs_the_venv_the_tier_runs_from(vm_ready, tmp_path: Path) -> None:
    py, how = _make_venv(tmp_path)
    env = _clean_env()
    host = json.loads(subprocess.run([str(py), "-c", _ENV_REPORT], check=True, capture_output=True,
                                     text=True, env=env, cwd=tmp_path).stdout)
    assert host["prefix"] == str(tmp_path / "venv") and host["prefix"] != host["base_prefix"], how

    io = tmp_path / "io"
    d = subprocess.run([str(py), "-c", _DRIVER, str(harness.HERE / "harness.py"), str(io), "300"],
                       input=SCENARIO, capture_output=True, text=True, env=env, timeout=420)
    assert d.returncode == 0, f"driver failed ({how}):\n{d.stdout}\n{d.stderr}"
    drive = json.loads(d.stdout.splitlines()[-1])
    assert drive["python"] == str(py), how
    assert drive["exit_code"] == 0, f"({how})\n{drive['describe']}"
    guest = Outputs(_kept_result(str(io)))

    seen = json.loads(guest.ok("env"))
    # the venv, not the interpreter it links to: its prefix, its packages
    assert seen["prefix"] == host["prefix"], f"guest ran {seen['prefix']}, not the venv ({how})"
    assert (seen["click"], seen["rich"]) == (host["click"], host["rich"]), how
    # ... and the checkout under test (PYTHONPATH), not the venv's copy
    assert seen["pmemctl"].startswith(str(harness.PROJECT_DIR) + "/"), seen["pmemctl"]

    import pmemctl

    assert guest.ok("version").split()[-1] == pmemctl.__version__
    doc = json.loads(guest.ok("list"))
    [region] = [r for b in doc["buses"] for r in b["regions"]]
    [ns] = region["namespaces"]
    assert (region["name"], ns["name"], ns["mode"]) == ("region0", "namespace0.0", "raw")
    assert region["target_node"] == 1 and ns["size"] == 4160749568  # 4 GiB less the 128 KiB label area
