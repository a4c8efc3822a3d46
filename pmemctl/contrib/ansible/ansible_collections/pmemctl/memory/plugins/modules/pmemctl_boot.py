#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pmemctl contributors
# MIT License (see the pmemctl repository's licence)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pmemctl_boot
short_description: Install or remove pmemctl's boot units and workload drop-ins
version_added: 0.1.0
description:
  - Runs C(pmemctl boot install) or C(pmemctl boot uninstall), which manage C(pmemctl-apply.service)
    (converges the memory to the layout at boot), C(pmemctl-memory.target) (workloads order after it), the
    drop-ins C(UNIT.d/50-pmemctl.conf) that order the named workloads after the target, and optionally a udev rule.
  - Changed is decided from the files themselves (every file below the root whose path names pmemctl, read
    before and after), so a second run reports no change.
  - In check mode pmemctl installs into a scratch copy of those files and the module reports what would differ.
author:
  - pmemctl contributors
extends_documentation_fragment:
  - pmemctl.memory.common
options:
  state:
    description:
      - V(present) installs the units (and drop-ins), V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  root:
    description:
      - Root of the file system the units go to; defaults to O(sysroot), else C(/).
    type: path
  before:
    description:
      - Workload units that must start after the memory is converged (a drop-in is written for each).
    type: list
    elements: str
    default: []
  udev_rule:
    description:
      - Also install the udev rule that applies the layout to memory that appears after boot (hot-plug).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - One before/after text per unit, drop-in or rule file.
notes:
  - The module does not reload systemd; notify a handler running C(systemctl daemon-reload)
    (the pmemctl.memory.provision role does).
'''

EXAMPLES = r'''
- name: Converge memory at boot, before the database starts
  pmemctl.memory.pmemctl_boot:
    before: [postgresql.service]
  notify: Reload systemd

- name: Remove the boot units
  pmemctl.memory.pmemctl_boot:
    state: absent
'''

RETURN = r'''
files:
  description: The pmemctl files below the root after the run (in check mode, as they would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/pmemctl-apply.service, /etc/systemd/system/pmemctl-memory.target]
document:
  description: The C(boot install --json) or C(boot uninstall --json) document pmemctl printed.
  returned: always
  type: dict
'''

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.pmemctl.memory.plugins.module_utils.pmemctl_cli import (
    COMMON_ARGUMENT_SPEC,
    EXIT_NO_CHANGE,
    EXIT_OK,
    Pmemctl,
)

#: Where pmemctl boot puts its files (CONTRACT-10: units, drop-ins, udev rule).
MANAGED_DIRS = ('etc/systemd/system', 'etc/udev/rules.d', 'usr/lib/systemd/system', 'lib/systemd/system')


def argument_spec():
    spec = dict(COMMON_ARGUMENT_SPEC)
    spec.update(
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        root=dict(type='path'),
        before=dict(type='list', elements='str', default=[]),
        udev_rule=dict(type='bool', default=False),
    )
    return spec


def snapshot(root):
    """``{path below root: content}`` of every file or symlink pmemctl's boot
    commands manage (a path naming pmemctl); a symlink as ``-> target``."""
    files = {}
    for managed in MANAGED_DIRS:
        top = os.path.join(root, managed)
        for directory, subdirs, names in os.walk(top):
            subdirs.sort()
            for name in sorted(names) + [s for s in subdirs if os.path.islink(os.path.join(directory, s))]:
                path = os.path.join(directory, name)
                relative = '/' + os.path.relpath(path, root)
                if 'pmemctl' not in relative:
                    continue
                if os.path.islink(path):
                    files[relative] = '-> %s\n' % os.readlink(path)
                else:
                    with open(path, 'rb') as handle:
                        files[relative] = to_text(handle.read(), errors='surrogate_or_strict')
    return files


def seed(root, files):
    """A scratch root holding copies of ``files`` (what check mode installs into)."""
    scratch = tempfile.mkdtemp(prefix='boot-root-')
    for relative in files:
        source = os.path.join(root, relative.lstrip('/'))
        target = os.path.join(scratch, relative.lstrip('/'))
        if not os.path.isdir(os.path.dirname(target)):
            os.makedirs(os.path.dirname(target))
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
    return scratch


def boot_args(params, root):
    if params['state'] == 'present':
        args = ['boot', 'install', '--root', root]
        for unit in params['before']:
            args += ['--before', unit]
        if params['udev_rule']:
            args.append('--udev-rule')
    else:
        args = ['boot', 'uninstall', '--root', root]
    return args


def file_diffs(before, after):
    diffs = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            diffs.append(dict(before_header=path, after_header=path,
                              before=before.get(path, ''), after=after.get(path, '')))
    return diffs


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    pmemctl = Pmemctl(module)
    root = params['root'] or pmemctl.sysroot or '/'
    if not os.path.isdir(root):
        module.fail_json(msg='root %s is not a directory; fix the root parameter' % root)
    before = snapshot(root)
    target = seed(root, before) if module.check_mode else root
    try:
        args = boot_args(params, target)
        _rc, document, _err = pmemctl.run_json(args, ok=(EXIT_OK, EXIT_NO_CHANGE))
        after = snapshot(target)
    finally:
        if target != root:
            shutil.rmtree(target, ignore_errors=True)
    diffs = file_diffs(before, after)
    result = dict(changed=bool(diffs), files=sorted(after), document=document,
                  pmemctl_version=pmemctl.version_string)
    if module._diff:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
