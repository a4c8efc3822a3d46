"""``pmemctl boot install|uninstall|status``: the systemd units that apply the layout at boot.

What gets installed (templates in ``pmemctl/data/systemd``, shipped in the package):

* ``/etc/systemd/system/pmemctl-apply.service``: oneshot, RemainAfterExit,
  after udev coldplug and module loading, an explicit start timeout, a
  condition on the layout existing, ``pmemctl apply --wait N --yes`` with the
  pmemctl executable found at install time (exit 3, converged, is success);
* ``/etc/systemd/system/pmemctl-memory.target``: the ordering point, reached
  once apply has finished; workloads order themselves after it;
* ``/etc/systemd/system/multi-user.target.d/50-pmemctl.conf``: ``Wants=`` the
  target, so apply runs at every boot (no ``[Install]``/symlinks to manage);
* for each ``--before UNIT``: ``/etc/systemd/system/UNIT.d/50-pmemctl.conf``
  with ``Wants=`` and ``After=`` the target;
* with ``--udev-rule``: ``/etc/udev/rules.d/90-pmemctl.rules`` and
  ``pmemctl-apply-hotplug.service``, which re-run the idempotent apply when a
  dax device is added later;
* ``/etc/pmemctl/boot-units.json``: the manifest (settings, the SHA-256 of
  every file written, the directories it made), so uninstall removes
  exactly what install wrote and status can tell what changed.

Why a file plan and not the Plan/Action executor: actions are kernel state
changes (sysfs writes verified by reading the attribute back, journalled by
boot id so ``resume``/``rollback`` can finish them after a crash, under the
memory lock).  Unit files are configuration: nothing in the kernel reacts to
them, a crash half way is repaired by running install again (it is
idempotent), and none of them may live in the state journal of memory
changes.  So a :class:`FilePlan` lists file changes (create, update, remove,
with the full content); ``--dry-run`` prints it in words and as the exact
shell (``cat > PATH <<'EOF'`` / ``rm PATH``); :func:`apply_file_plan` carries it
out in order, each file written atomically and read back, and on a failure
puts back every file it changed, newest first (the executor's discipline,
for files).  All file access goes through :mod:`pmemctl.sysfs.etcfiles`, which
never follows a symbolic link below the root.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from pmemctl.errors import PmemctlError, Refused, UsageError
from pmemctl.ops.boot.units import (
    MANIFEST,
    BootFileError,
    BootFileRollbackError,
    BootSettings,
    BootStatus,
    Change,
    FileChange,
    FilePlan,
    FileState,
    Manifest,
    Role,
    StatusFile,
    desired_files,
    digest,
    manifest_text,
    read_manifest,
    validate_unit_name,
)
from pmemctl.sysfs import etcfiles

# --------------------------------------------------------------------------
# plans


def plan_install(root: str, settings: BootSettings) -> FilePlan:
    """The files to write so that ``root`` holds exactly the units for ``settings``."""
    settings = replace(settings, before=tuple(dict.fromkeys(validate_unit_name(u) for u in settings.before)))
    if settings.wait < 0 or settings.timeout <= settings.wait:
        raise UsageError(f"a start timeout of {settings.timeout}s does not leave room for waiting "
                         f"{settings.wait}s for devices", hint="give --timeout larger than --wait")
    old = read_manifest(root)
    files = desired_files(settings)
    paths = [p for p, _, _ in files] + [MANIFEST]
    directories = [d for d in (old.directories if old else ()) if any(p.startswith(d + "/") for p in paths)]
    changes: list[FileChange] = []
    for path, role, content in files:
        changes.append(_install_change(root, old, path, role, content))
        if changes[-1].change is Change.CREATE:
            directories += [d for d in _missing_parents(root, path) if d not in directories]
    directories += [d for d in _missing_parents(root, MANIFEST) if d not in directories]
    leftovers = _leftovers(root, old, {p for p, _, _ in files})
    changes += leftovers
    manifest = manifest_text(settings, files, directories)
    current = etcfiles.read_config(root, MANIFEST)
    change = Change.UNCHANGED if current == manifest.encode() else Change.CREATE if current is None else Change.UPDATE
    changes.append(FileChange(MANIFEST, Role.MANIFEST, change, manifest))
    unused = tuple(d for d in (old.directories if old else ()) if d not in directories)
    return FilePlan(f"install the pmemctl boot units under {root}", root, tuple(changes), settings,
                    tuple(sorted(directories)), unused, _edited_warnings(leftovers))


def _install_change(root: str, old: Optional[Manifest], path: str, role: Role, content: str) -> FileChange:
    current = etcfiles.read_config(root, path)
    if current is None:
        return FileChange(path, role, Change.CREATE, content)
    if current == content.encode():
        return FileChange(path, role, Change.UNCHANGED, content)
    if old is None or path not in old.files:
        raise Refused(f"{etcfiles.host_path(root, path)} exists and was not written by 'pmemctl boot install', "
                      "so it is not replaced", hint="move it away (or merge it by hand) and install again")
    note = "" if digest(current) == old.files[path][1] else "edited since install: replaced"
    return FileChange(path, role, Change.UPDATE, content, note)


def _leftovers(root: str, old: Optional[Manifest], wanted: set[str]) -> list[FileChange]:
    """Removals of the files a previous install wrote that are no longer wanted
    (``keep`` for those edited since)."""
    out: list[FileChange] = []
    for path, (role, sha) in sorted((old.files if old else {}).items(), key=lambda kv: _ROLE_ORDER.index(kv[1][0])):
        if path in wanted:
            continue
        current = etcfiles.read_config(root, path)
        if current is None:
            continue
        if digest(current) == sha:
            note = "no longer part of the install" if wanted != {MANIFEST} else ""
            out.append(FileChange(path, role, Change.REMOVE, None, note))
        else:
            out.append(FileChange(path, role, Change.KEEP, current.decode("utf-8", "replace"), "edited since install"))
    return out


def _edited_warnings(changes: list[FileChange]) -> tuple[str, ...]:
    return tuple(f"{c.path} was edited after install and is left in place; remove it by hand"
                 for c in changes if c.change is Change.KEEP)


def _missing_parents(root: str, path: str) -> list[str]:
    """The directories above target ``path`` that do not exist under ``root`` (install makes them)."""
    parts = path.strip("/").split("/")[:-1]
    missing: list[str] = []
    for i in range(len(parts), 0, -1):
        d = "/" + "/".join(parts[:i])
        if etcfiles.is_directory(root, d):
            break
        missing.append(d)
    return missing[::-1]


def plan_uninstall(root: str) -> FilePlan:
    """Remove exactly what install wrote (files edited since are left, with a warning)."""
    old = read_manifest(root)
    if old is None:
        return FilePlan(f"uninstall the pmemctl boot units under {root}", root, (), None)
    changes = _leftovers(root, old, {MANIFEST})
    changes.append(FileChange(MANIFEST, Role.MANIFEST, Change.REMOVE, None))
    return FilePlan(f"uninstall the pmemctl boot units under {root}", root, tuple(changes), old.settings,
                    old.directories, old.directories, _edited_warnings(changes))


_ROLE_ORDER = [Role.WORKLOAD_DROP_IN, Role.BOOT_DROP_IN, Role.UDEV_RULE, Role.HOTPLUG_SERVICE, Role.TARGET,
               Role.SERVICE, Role.MANIFEST]


def boot_status(root: str) -> BootStatus:
    """What is installed under ``root`` and whether it matches today's templates."""
    old = read_manifest(root)
    if old is None:
        return BootStatus(root, None)
    today = {p: c for p, _, c in desired_files(old.settings)}
    files: list[StatusFile] = []
    for path, (role, sha) in sorted(old.files.items(), key=lambda kv: (_ROLE_ORDER.index(kv[1][0]), kv[0])):
        current = etcfiles.read_config(root, path)
        text = None if current is None else current.decode("utf-8", "replace")
        if current is None:
            state = FileState.MISSING
        elif digest(current) != sha:
            state = FileState.MODIFIED
        elif today.get(path) != text:
            state = FileState.OUTDATED
        else:
            state = FileState.CURRENT
        files.append(StatusFile(path, role, state, text))
    warnings = [f"{p} is not installed though the templates of these settings have it; install the units again"
                for p in sorted(set(today) - set(old.files))]
    return BootStatus(root, old.settings, tuple(files), tuple(warnings))


# --------------------------------------------------------------------------
# applying a file plan


@dataclass
class _Undo:
    path: str
    before: Optional[bytes]


@dataclass
class FileOutcome:
    done: list[FileChange] = field(default_factory=list)
    removed_directories: list[str] = field(default_factory=list)


def apply_file_plan(plan: FilePlan) -> FileOutcome:
    """Carry out ``plan``: each write atomic and read back; on a failure every
    file changed so far is put back, newest first, and the error says so."""
    root = plan.root
    undo: list[_Undo] = []
    made_dirs: list[str] = []
    outcome = FileOutcome()
    try:
        for c in plan.writes:
            before = etcfiles.read_config(root, c.path)
            undo.append(_Undo(c.path, before))
            if c.change is Change.REMOVE:
                etcfiles.remove_config(root, c.path)
                if etcfiles.read_config(root, c.path) is not None:
                    raise OSError(f"{c.path} is still there after removing it")
            else:
                data = (c.content or "").encode()
                made_dirs += etcfiles.write_config(root, c.path, data)
                if etcfiles.read_config(root, c.path) != data:
                    raise OSError(f"{c.path} does not read back as written")
            outcome.done.append(c)
    except (OSError, PmemctlError) as err:
        failed = _put_back(root, undo, made_dirs)
        where = etcfiles.host_path(root, undo[-1].path) if undo else root
        if failed:
            raise BootFileRollbackError(
                f"{where}: {err}; putting back the files changed before it failed too ({'; '.join(failed)})",
                hint="check those files by hand, then run the command again") from err
        raise BootFileError(f"{where}: {err}; every file changed before it was put back as it was",
                            hint="fix the cause (permissions, a full file system) and run the command again") from err
    for d in sorted(plan.remove_directories, key=len, reverse=True):
        if etcfiles.remove_empty_directory(root, d):
            outcome.removed_directories.append(d)
    return outcome


def _put_back(root: str, undo: list[_Undo], made_dirs: list[str]) -> list[str]:
    failed: list[str] = []
    for u in reversed(undo):
        try:
            if u.before is None:
                etcfiles.remove_config(root, u.path)
            else:
                etcfiles.write_config(root, u.path, u.before)
        except (OSError, PmemctlError) as err:
            failed.append(f"{u.path}: {err}")
    for d in reversed(made_dirs):
        try:
            etcfiles.remove_empty_directory(root, d)
        except (OSError, PmemctlError) as err:
            failed.append(f"{d}: {err}")
    return failed
