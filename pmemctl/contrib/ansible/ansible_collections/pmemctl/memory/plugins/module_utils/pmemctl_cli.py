# -*- coding: utf-8 -*-
# Copyright: pmemctl contributors
# MIT License (see the pmemctl repository's licence)
"""Shared helpers of the pmemctl.memory modules.

The modules never import pmemctl: every fact and every change goes through
the pmemctl command line (``module.run_command`` with an argument list, no
shell), so the knowledge stays in pmemctl and a module works against any
installed pmemctl that is new enough.  This file needs only the standard
library, so it also runs (and is unit-tested) without Ansible.

Kept compatible with the target Pythons of ansible-core 2.19 (3.8 and later):
no ``X | Y`` annotations, no ``match``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import os
import re

#: The oldest pmemctl these modules speak to (the JSON documents they read
#: carry ``schema_version`` 1 from this release on).
MIN_VERSION = (0, 1, 0)

#: The ``--json`` schema versions these modules read.  Version 2 is current;
#: version 1 (an older pmemctl) is still read: the only key the modules look
#: inside of that changed is ``.plan.checks[]`` (``ok``/``warning`` became
#: ``status``), and :func:`check_refused` reads both.  A newer version fails
#: the module with an upgrade hint instead of being misread.
SCHEMA_VERSIONS = (1, 2)

#: Exit codes of pmemctl (pmemctl/errors.py ExitCode), repeated here because
#: the modules may not import pmemctl.
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NO_CHANGE = 3
EXIT_REFUSED = 5
EXIT_DRIFT = 11
EXIT_DOCTOR_WARNINGS = 12
EXIT_DOCTOR_ERRORS = 13

#: The parameters every module takes (documented by the doc fragment
#: pmemctl.memory.common).
COMMON_ARGUMENT_SPEC = dict(
    sysroot=dict(type='path'),
    executable=dict(type='path'),
)

_VERSION_RE = re.compile(r'(\d+)\.(\d+)(?:\.(\d+))?')
_NO_SUCH_COMMAND_RE = re.compile(r"No such command '([^']+)'")


class PmemctlCliError(Exception):
    """pmemctl could not be used (missing, too old, unreadable output)."""


def parse_version(text):
    """``(major, minor, patch)`` from the output of ``pmemctl --version``
    (``pmemctl 0.1.0``; click's ``pmemctl, version 0.1.0`` also parses)."""
    match = _VERSION_RE.search(text or '')
    if match is None:
        raise PmemctlCliError('cannot read a version from %r' % (text or '').strip())
    return tuple(int(part or 0) for part in match.groups())


def format_version(version):
    return '.'.join(str(part) for part in version)


# --------------------------------------------------------------------------
# TOML: the small subset a layout file needs (pmemctl reads it back with
# tomllib; `pmemctl config validate` checks it before it is moved into place).

_BARE_KEY_RE = re.compile(r'^[A-Za-z0-9_-]+$')


def toml_key(key):
    if not isinstance(key, str):
        raise TypeError('TOML keys are strings, not %r' % (key,))
    if _BARE_KEY_RE.match(key):
        return key
    return toml_string(key)


def toml_string(text):
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == '\\':
            out.append('\\\\')
        elif char == '\n':
            out.append('\\n')
        elif char == '\t':
            out.append('\\t')
        elif char == '\r':
            out.append('\\r')
        elif code < 0x20 or code == 0x7f:
            out.append('\\u%04X' % code)
        else:
            out.append(char)
    out.append('"')
    return ''.join(out)


def toml_value(value):
    """One value, inline: tables become ``{ k = v }``, lists ``[a, b]``."""
    if isinstance(value, bool):  # before int: bool is an int
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError('a layout holds no NaN or infinite numbers')
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dict):
        if not value:
            return '{}'
        return '{ %s }' % ', '.join('%s = %s' % (toml_key(k), toml_value(v)) for k, v in value.items()
                                    if v is not None)
    if isinstance(value, (list, tuple)):
        return '[%s]' % ', '.join(toml_value(v) for v in value)
    raise TypeError('cannot write %r (%s) into a layout file' % (value, type(value).__name__))


def _is_table_array(value):
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, dict) for v in value)


def toml_dumps(document, header=None):
    """The TOML text of ``document`` (a dict).

    Top-level scalars first, then each top-level table as ``[name]`` and each
    list of tables as ``[[name]]`` entries, in the document's order; anything
    nested deeper is written inline.  ``None`` values are left out (TOML has
    no null), so optional module parameters that were not given vanish.
    """
    lines = []
    if header:
        lines.extend('# ' + line if line else '#' for line in header.splitlines())
    tables = []
    for key, value in document.items():
        if value is None:
            continue
        if isinstance(value, dict) or _is_table_array(value):
            tables.append((key, value))
        else:
            lines.append('%s = %s' % (toml_key(key), toml_value(value)))
    for key, value in tables:
        entries = [value] if isinstance(value, dict) else value
        brackets = ('[%s]', '[[%s]]')[not isinstance(value, dict)]
        for entry in entries:
            lines.append('')
            lines.append(brackets % toml_key(key))
            for sub_key, sub_value in entry.items():
                if sub_value is not None:
                    lines.append('%s = %s' % (toml_key(sub_key), toml_value(sub_value)))
    return '\n'.join(lines).lstrip('\n') + '\n'


def drop_none(value):
    """``value`` without ``None`` entries in any dict, at any depth (what
    Ansible fills in for suboptions that were not given)."""
    if isinstance(value, dict):
        return dict((k, drop_none(v)) for k, v in value.items() if v is not None)
    if isinstance(value, (list, tuple)):
        return [drop_none(v) for v in value]
    return value


# --------------------------------------------------------------------------
# Paths under the sysroot


def under_sysroot(sysroot, path):
    """``path`` (absolute, as on the machine) under ``sysroot`` (None or '/'
    for the machine itself)."""
    if not sysroot or sysroot == '/':
        return path
    return os.path.join(sysroot, path.lstrip('/'))


def layout_files(sysroot, conf_dir='/etc/pmemctl/conf.d', main_file='/etc/pmemctl/pmemctl.toml'):
    """The layout files pmemctl reads by default, in its order: the main
    file, then ``conf.d/*.toml`` in lexical order (CONTRACT: layout file)."""
    files = []
    main = under_sysroot(sysroot, main_file)
    if os.path.isfile(main):
        files.append(main)
    directory = under_sysroot(sysroot, conf_dir)
    if os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name.endswith('.toml') and os.path.isfile(path):
                files.append(path)
    return files


# --------------------------------------------------------------------------
# Reading pmemctl's documents


def plan_is_empty(document):
    """True when an apply document plans no step (nothing to write)."""
    plan = (document or {}).get('plan')
    if plan:
        return not plan.get('steps')
    items = (document or {}).get('items') or []
    return not any(item.get('status') in ('planned', 'changed') for item in items)


def device_states(document):
    """``{item name: actual state}`` of an apply document's items, for a diff."""
    states = {}
    for item in (document or {}).get('items') or []:
        states[item.get('name')] = item.get('actual')
    return states


def device_wishes(document):
    """``{item name: (matched devices, desired state)}`` of an apply document's items."""
    states = {}
    for item in (document or {}).get('items') or []:
        states[item.get('name')] = (list(item.get('matched') or []), item.get('desired'))
    return states


def differences(document):
    """The apply document's per-item difference sentences."""
    return [item['difference'] for item in (document or {}).get('items') or [] if item.get('difference')]


def plan_refusals(document, forced=False):
    """Messages of the plan's failed checks that block (not mere warnings;
    with ``forced``, not those that ``--force`` overrides)."""
    plan = (document or {}).get('plan') or {}
    return [check.get('message') or check.get('name') for check in plan.get('checks') or []
            if check_refused(check) and not (forced and check.get('override'))]


def check_refused(check):
    """True when a pre-check of a plan blocks the run: ``status`` ``refused``
    (schema version 2), or neither ``ok`` nor ``warning`` (version 1)."""
    if 'status' in check:
        return check.get('status') == 'refused'
    return not check.get('ok') and not check.get('warning')


def schema_problem(document):
    """Why the modules cannot read ``document``, or None: its
    ``schema_version`` must be one of :data:`SCHEMA_VERSIONS`."""
    version = (document or {}).get('schema_version')
    if version in SCHEMA_VERSIONS:
        return None
    return ('pmemctl printed JSON schema version %r; this collection reads versions %s: upgrade the '
            'pmemctl.memory collection' % (version, ', '.join(str(v) for v in SCHEMA_VERSIONS)))


def error_of(document, stderr):
    """The one-line error pmemctl gave: its error document's message, else
    the refused checks of its plan, the failed steps of its outcome, else
    the last line of stderr."""
    document = document if isinstance(document, dict) else {}
    error = document.get('error')
    if isinstance(error, dict) and error.get('message'):
        return error['message']
    refusals = plan_refusals(document)
    if refusals:
        return 'refused: ' + '; '.join(refusals)
    failed_steps = [step.get('error') for step in ((document.get('outcome') or {}).get('steps') or [])
                    if isinstance(step, dict) and step.get('error')]
    if failed_steps:
        return '; '.join(failed_steps)
    unmet = ['%s: %s' % (item.get('name'), item.get('difference') or item.get('status'))
             for item in document.get('items') or []
             if isinstance(item, dict) and item.get('status') in ('missing', 'ambiguous', 'failed')]
    if unmet:
        return '; '.join(unmet)
    lines = [line for line in (stderr or '').splitlines() if line.strip()]
    if lines:
        return lines[-1].replace('pmemctl: ', '', 1)
    return None


def load_json(text):
    """The one JSON object pmemctl printed, or None."""
    text = (text or '').strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# --------------------------------------------------------------------------
# Running pmemctl


class Pmemctl:
    """pmemctl as one module sees it: found, version-checked, run with the
    module's sysroot on every command line."""

    def __init__(self, module, min_version=MIN_VERSION):
        self.module = module
        self.sysroot = module.params.get('sysroot')
        executable = module.params.get('executable')
        if executable:
            if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
                module.fail_json(msg='pmemctl executable %s does not exist or is not executable; install pmemctl '
                                     'there or fix the executable parameter' % executable)
        else:
            executable = module.get_bin_path('pmemctl')
            if not executable:
                module.fail_json(msg='pmemctl is not installed on this host (not on PATH); install it '
                                     '(pip install pmemctl, or the pmemctl.memory.provision role) or set '
                                     'the executable parameter')
        self.executable = executable
        rc, out, err = module.run_command([executable, '--version'])
        try:
            if rc != 0:
                raise PmemctlCliError((err or out).strip() or 'exit code %d' % rc)
            self.version = parse_version(out)
        except PmemctlCliError as exc:
            module.fail_json(msg='%s --version failed: %s; reinstall pmemctl' % (executable, exc), rc=rc)
        if self.version < tuple(min_version):
            module.fail_json(msg='pmemctl %s at %s is older than %s, which this module needs; upgrade pmemctl'
                                 % (format_version(self.version), executable, format_version(min_version)),
                             pmemctl_version=format_version(self.version))
        if self.sysroot and not os.path.isdir(self.sysroot):
            module.fail_json(msg='sysroot %s is not a directory; create it (pmemctl sim create) or fix the '
                                 'sysroot parameter' % self.sysroot)

    @property
    def version_string(self):
        return format_version(self.version)

    def argv(self, args):
        argv = [self.executable]
        if self.sysroot:
            argv += ['--sysroot', self.sysroot]
        return argv + list(args)

    def run(self, args):
        """``(rc, stdout, stderr)`` of ``pmemctl [--sysroot S] ARGS...``; fails
        the module with an upgrade hint when this pmemctl lacks the command."""
        rc, out, err = self.module.run_command(self.argv(args), environ_update=dict(NO_COLOR='1'))
        missing = _NO_SUCH_COMMAND_RE.search(err or '')
        if rc == EXIT_USAGE and missing is not None:
            self.module.fail_json(
                msg="pmemctl %s at %s has no '%s' command (needed for '%s'); upgrade pmemctl"
                    % (self.version_string, self.executable, missing.group(1), ' '.join(args)),
                rc=rc, stderr=err, pmemctl_version=self.version_string)
        return rc, out, err

    def has_command(self, *words):
        """True when ``pmemctl WORDS... --help`` is known to this pmemctl."""
        rc, _out, _err = self.module.run_command(self.argv(list(words) + ['--help']))
        return rc == 0

    def run_json(self, args, ok=(EXIT_OK,)):
        """Run a ``--json`` command: ``(rc, document, stderr)``; an exit code
        outside ``ok`` fails the module with pmemctl's error."""
        rc, out, err = self.run(list(args) + ['--json'])
        document = load_json(out)
        if rc not in ok:
            self.fail(args, rc, document, err)  # the error's message is read whatever the version
        if document is None:
            self.module.fail_json(msg="pmemctl %s printed no JSON document; upgrade pmemctl" % ' '.join(args),
                                  rc=rc, stdout=out, stderr=err)
        problem = schema_problem(document)
        if problem is not None:
            self.module.fail_json(msg='pmemctl %s: %s' % (' '.join(args), problem), rc=rc, document=document)
        return rc, document, err

    def fail(self, args, rc, document, stderr, **extra):
        message = error_of(document, stderr) or 'exit code %d' % rc
        self.module.fail_json(msg='pmemctl %s failed (exit %d): %s' % (' '.join(args), rc, message),
                              rc=rc, error=(document or {}).get('error'), document=document,
                              stderr=stderr, **extra)

    def machine(self):
        """What the machine is now: the list and blocks documents (None where
        they cannot be read), for a failure report."""
        state = {}
        for command in ('list', 'blocks'):
            rc, out, _err = self.module.run_command(self.argv([command, '--json']))
            state[command] = load_json(out) if rc == EXIT_OK else None
        return state
