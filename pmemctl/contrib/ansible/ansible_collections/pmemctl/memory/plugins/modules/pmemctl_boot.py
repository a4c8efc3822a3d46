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
  - Installing again with the same options changes nothing (pmemctl exits 3); with other options pmemctl
    rewrites the set (a drop-in of a workload no longer named is removed). A manifest
    (C(/etc/pmemctl/boot-units.json)) records the files so V(absent) removes exactly these.
  - Check mode asks C(pmemctl boot install --dry-run) (or C(uninstall)) which files it would create, update or
    remove, and writes nothing; diff mode shows each such file before and after.
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
  wait:
    description:
      - Seconds C(pmemctl-apply.service) waits at boot for the devices of the layout (pmemctl's default when unset).
    type: int
  timeout:
    description:
      - C(TimeoutStartSec=) of C(pmemctl-apply.service) in seconds (pmemctl's default when unset).
    type: int
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
  description: What pmemctl does (or in check mode would do) to each file, by path on the machine.
  returned: always
  type: dict
  sample: {"/etc/systemd/system/pmemctl-apply.service": "create", "/etc/pmemctl/boot-units.json": "unchanged"}
document:
  description: The C(boot install --json) or C(boot uninstall --json) document pmemctl printed (of the dry run
    in check mode).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.pmemctl.memory.plugins.module_utils.pmemctl_cli import (
    COMMON_ARGUMENT_SPEC,
    EXIT_NO_CHANGE,
    EXIT_OK,
    Pmemctl,
)


def argument_spec():
    spec = dict(COMMON_ARGUMENT_SPEC)
    spec.update(
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        root=dict(type='path'),
        before=dict(type='list', elements='str', default=[]),
        udev_rule=dict(type='bool', default=False),
        wait=dict(type='int'),
        timeout=dict(type='int'),
    )
    return spec


def boot_args(params):
    if params['state'] == 'present':
        args = ['boot', 'install']
        for unit in params['before']:
            args += ['--before', unit]
        if params['udev_rule']:
            args.append('--udev-rule')
        if params['wait'] is not None:
            args += ['--wait', str(params['wait'])]
        if params['timeout'] is not None:
            args += ['--timeout', str(params['timeout'])]
    else:
        args = ['boot', 'uninstall']
    if params['root']:
        args += ['--root', params['root']]
    return args


def read_text(path):
    try:
        with open(path, 'rb') as handle:
            return to_text(handle.read(), errors='surrogate_or_strict')
    except (IOError, OSError):
        return ''


def file_diffs(document):
    """Before (the file now) and after (pmemctl's content, '' when removed)
    of each file the dry run would touch."""
    diffs = []
    for entry in document.get('files') or []:
        if entry.get('change') in (None, 'unchanged'):
            continue
        diffs.append(dict(before_header=entry['path'], after_header=entry['path'],
                          before=read_text(entry['host_path']), after=entry.get('content') or ''))
    return diffs


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    pmemctl = Pmemctl(module)
    args = boot_args(module.params)
    _rc, planned, _err = pmemctl.run_json(args + ['--dry-run'], ok=(EXIT_OK, EXIT_NO_CHANGE))
    diffs = file_diffs(planned)
    result = dict(changed=bool(diffs), document=planned, pmemctl_version=pmemctl.version_string,
                  files=dict((entry['path'], entry.get('change')) for entry in planned.get('files') or []))
    for warning in planned.get('warnings') or []:
        module.warn(warning)
    if result['changed'] and not module.check_mode:
        rc, done, _err = pmemctl.run_json(args, ok=(EXIT_OK, EXIT_NO_CHANGE))
        result.update(document=done, changed=rc == EXIT_OK,
                      files=dict((entry['path'], entry.get('change')) for entry in done.get('files') or []))
    if module._diff:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
