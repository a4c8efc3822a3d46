"""The collection as Ansible's own tools see it: ansible-test sanity (the
offline tests), the module code compiling on every target Python of
ansible-core 2.19, ansible-doc for each module and the role, a galaxy build,
and the documented options matching each module's argument spec (what the
validate-modules sanity test would check, which needs a network bootstrap)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.ansible.ansible_support import COLLECTION, COLLECTIONS, MODULES, ansible_env, require_ansible

#: ansible-test sanity tests that run offline from the local environment.
OFFLINE_SANITY = (
    "action-plugin-docs", "changelog", "compile", "empty-init", "ignores", "line-endings", "no-assert",
    "no-get-exception", "no-illegal-filenames", "no-smart-quotes", "pslint", "replace-urlopen", "shebang",
    "shellcheck", "symlinks", "use-argspec-type-path", "use-compat-six",
)
#: Left out: each runs in a virtual environment that ansible-test bootstraps by
#: downloading get-pip from ci-files.testing.ansible.com (not a package
#: registry, unreachable here) before installing its pinned requirements.
#: ansible-doc and the argument-spec check below stand in for validate-modules
#: and ansible-doc; ruff (tests/unit/test_code_rules.py) for pep8.
NEEDS_NETWORK = ("ansible-doc", "import", "pep8", "pylint", "runtime-metadata", "validate-modules", "yamllint")

#: The target (module-side) Pythons of ansible-core 2.19.
TARGET_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


@pytest.fixture(scope="module")
def collection_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ansible-test runs from a path ending in ansible_collections/NS/NAME,
    outside a git tree it would take for the collection's; a copy keeps its
    output (tests/output) out of the checkout too."""
    require_ansible()
    target = tmp_path_factory.mktemp("sanity") / "ansible_collections" / "pmemctl" / "memory"
    shutil.copytree(COLLECTION, target, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    return target


def test_sanity_lists_every_test_as_run_or_skipped(collection_copy: Path) -> None:
    listed = subprocess.run(["ansible-test", "sanity", "--list-tests"], cwd=collection_copy,
                            capture_output=True, text=True, check=True).stdout.split()
    assert sorted(listed) == sorted(OFFLINE_SANITY + NEEDS_NETWORK)


def test_ansible_test_sanity_offline(collection_copy: Path) -> None:
    argv = ["ansible-test", "sanity", "--local", "--python", "3.11", "--color", "no"]
    argv += [arg for name in OFFLINE_SANITY for arg in ("--test", name)]
    result = subprocess.run(argv, cwd=collection_copy, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"
    for name in OFFLINE_SANITY:
        assert f'Running sanity test "{name}"' in result.stdout


def _interpreter(version: str) -> str | None:
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "--version"], capture_output=True, check=False).returncode == 0:
        return found
    for candidate in sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}")):
        return str(candidate)
    return None


@pytest.mark.parametrize("version", TARGET_PYTHONS)
def test_module_code_compiles_on_target_python(collection_copy: Path, version: str) -> None:
    """The grammar of each target Python (ast feature_version), and the real
    interpreter through ansible-test's compile test where it is installed."""
    major, minor = (int(part) for part in version.split("."))
    for path in sorted((COLLECTION / "plugins").rglob("*.py")):
        ast.parse(path.read_text(), filename=str(path), feature_version=(major, minor))
    if version == "3.11":
        return  # the interpreter's compile run is part of test_ansible_test_sanity_offline
    interpreter = _interpreter(version)
    if interpreter is None:
        pytest.skip(f"python{version} is not installed: checked with the {version} grammar only")
    argv = ["ansible-test", "sanity", "--local", "--test", "compile", "--python", version,
            "--python-interpreter", interpreter, "--color", "no"]
    result = subprocess.run(argv, cwd=collection_copy, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def module_docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """``ansible-doc --json`` of every module, one run."""
    require_ansible()
    names = [f"pmemctl.memory.{module}" for module in MODULES]
    result = subprocess.run(["ansible-doc", "--json", *names], env=ansible_env(tmp_path_factory.mktemp("doc")),
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    return {module: docs[f"pmemctl.memory.{module}"] for module in MODULES}


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_documents_module(module: str, module_docs: dict[str, dict[str, Any]]) -> None:
    doc = module_docs[module]
    assert doc["doc"]["short_description"] and doc["examples"] and doc["return"]
    assert {"sysroot", "executable"} <= set(doc["doc"]["options"])
    assert {"check_mode", "diff_mode", "platform"} <= set(doc["doc"]["attributes"])


def test_ansible_doc_shows_every_module(tmp_path: Path) -> None:
    require_ansible()
    names = [f"pmemctl.memory.{module}" for module in MODULES]
    text = subprocess.run(["ansible-doc", *names], env=ansible_env(tmp_path), capture_output=True, text=True,
                          check=True).stdout
    for name in names:
        assert f"MODULE {name}" in text.replace("\x1b[1m", "").replace("\x1b[0m", "")
    assert text.count("EXAMPLES") == len(names) and text.count("RETURN VALUES") == len(names)


def test_ansible_doc_shows_role(tmp_path: Path) -> None:
    require_ansible()
    result = subprocess.run(["ansible-doc", "-t", "role", "pmemctl.memory.provision"], env=ansible_env(tmp_path),
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "pmemctl_layout" in result.stdout and "pmemctl_sysroot" in result.stdout


def _module_spec(module: str) -> dict[str, dict[str, object]]:
    sys.path.insert(0, str(COLLECTIONS))
    try:
        imported = __import__(f"ansible_collections.pmemctl.memory.plugins.modules.{module}", fromlist=["x"])
    finally:
        sys.path.remove(str(COLLECTIONS))
    return dict(imported.argument_spec())


@pytest.mark.parametrize("module", MODULES)
def test_documented_options_match_the_argument_spec(module: str, module_docs: dict[str, dict[str, Any]]) -> None:
    documented = module_docs[module]["doc"]["options"]
    spec = _module_spec(module)
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        doc = documented[name]
        assert doc.get("type", "str") == option.get("type", "str"), name
        assert doc.get("required", False) == option.get("required", False), name
        assert doc.get("choices") == option.get("choices"), name
        assert doc.get("elements") == option.get("elements"), name
        if "default" in option:
            assert doc.get("default") == option["default"], name
        else:
            assert doc.get("default") is None, name


def test_galaxy_build(tmp_path: Path) -> None:
    require_ansible()
    result = subprocess.run(["ansible-galaxy", "collection", "build", str(COLLECTION), "--output-path",
                             str(tmp_path)], env=ansible_env(tmp_path), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    [built] = list(tmp_path.glob("pmemctl-memory-*.tar.gz"))
    with tarfile.open(built) as archive:
        names = set(archive.getnames())
    for module in MODULES:
        assert f"plugins/modules/{module}.py" in names
    assert {"README.md", "CHANGELOG.md", "roles/provision/tasks/main.yml", "MANIFEST.json"} <= names
    assert not any("__pycache__" in name for name in names)
    assert os.path.getsize(built) < 200_000
