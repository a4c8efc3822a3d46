#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pmemctl contributors
# MIT License (see the pmemctl repository's licence)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pmemctl_apply
short_description: Converge persistent and CXL memory to the pmemctl layout
version_added: 0.1.0
description:
  - Runs C(pmemctl apply), which reads the layout files (see M(pmemctl.memory.pmemctl_layout)), plans the
    steps that bring every device to its wished mode, online blocks and zone, runs them, verifies every write
    and rolls back in reverse on failure.
  - Reports changed only when the plan had steps; a converged machine is left alone (no write at all).
  - In check mode it returns the plan (steps and the exact sysfs writes) from C(pmemctl apply --dry-run)
    and writes nothing.
  - A failure (a bad layout file, a refusal such as a dax device still mapped by a process, a rolled-back
    step) fails the task with pmemctl's exit code, its error document and the machine as it is now.
  - The layout is the consent for the plan (C(--yes) is passed); a namespace is only ever destroyed when
    its region entry in the layout says C(allow_destroy = true).
author:
  - pmemctl contributors
extends_documentation_fragment:
  - pmemctl.memory.common
options:
  config:
    description:
      - Layout files to read instead of pmemctl's defaults (C(/etc/pmemctl/pmemctl.toml), then
        C(/etc/pmemctl/conf.d/*.toml), below O(sysroot)).
    type: list
    elements: path
  wait:
    description:
      - Seconds C(pmemctl apply --wait) waits for devices named in the layout to appear (at boot they may be late).
    type: int
  force:
    description:
      - Proceed past the refusals pmemctl lets C(--force) override (for example a dax device still open or mapped
        by a process, whose data would be lost). Off by default; such a refusal fails the task before any write.
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
      - Before and after per layout entry (device mode, online blocks per zone), as pmemctl reports them.
'''

EXAMPLES = r'''
- name: Converge the memory to the layout files
  pmemctl.memory.pmemctl_apply:

- name: Show what would change, without changing anything
  pmemctl.memory.pmemctl_apply:
  check_mode: true
  diff: true
  register: plan

- name: Converge a simulated machine from one layout file
  pmemctl.memory.pmemctl_apply:
    sysroot: /tmp/machine
    config: [/tmp/machine/etc/pmemctl/conf.d/fleet.toml]
'''

RETURN = r'''
pmemctl_version:
  description: Version of the pmemctl that ran.
  returned: always
  type: str
plan:
  description: The plan document (title, checks, steps with their exact writes); null when converged.
  returned: always
  type: dict
differences:
  description: One sentence per layout entry that differs from the machine (before the run).
  returned: always
  type: list
  elements: str
items:
  description: The layout entries with what they match, the desired and the actual state and their status.
  returned: always
  type: list
  elements: dict
outcome:
  description: What the run came to (the outcome document); null in check mode or when nothing was done.
  returned: always
  type: dict
document:
  description: The whole C(apply --json) document of the run (of the dry run in check mode).
  returned: always
  type: dict
warnings_pmemctl:
  description: Warnings pmemctl gave about the layout (also shown as task warnings).
  returned: always
  type: list
  elements: str
exit_code:
  description: pmemctl's exit code (0 changed and verified, 3 converged; of the dry run in check mode).
  returned: success
  type: int
rc:
  description: pmemctl's exit code on failure (2 bad layout file, 5 refused, 6 rolled back, 7 rollback incomplete,
    10 locked, 11 a device of the layout missing).
  returned: failure
  type: int
error:
  description: pmemctl's error (message, status, exit_code).
  returned: failure
  type: dict
machine:
  description: The machine after a failure, the C(list) and C(blocks) documents.
  returned: failure
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pmemctl.memory.plugins.module_utils.pmemctl_cli import (
    COMMON_ARGUMENT_SPEC,
    EXIT_NO_CHANGE,
    EXIT_OK,
    EXIT_REFUSED,
    Pmemctl,
    device_states,
    device_wishes,
    differences,
    load_json,
    plan_is_empty,
    plan_refusals,
)

CONVERGED_OR_PLANNED = (EXIT_OK, EXIT_NO_CHANGE)


def argument_spec():
    spec = dict(COMMON_ARGUMENT_SPEC)
    spec.update(
        config=dict(type='list', elements='path'),
        wait=dict(type='int'),
        force=dict(type='bool', default=False),
    )
    return spec


def apply_args(params, dry_run):
    args = ['apply']
    for config in params['config'] or []:
        args += ['--config', config]
    if params['wait'] is not None:
        args += ['--wait', str(params['wait'])]
    if params['force']:
        args.append('--force')
    args += ['--dry-run'] if dry_run else ['--yes']
    return args


def run_apply(module, pmemctl, dry_run):
    args = apply_args(module.params, dry_run)
    rc, out, err = pmemctl.run(args + ['--json'])
    document = load_json(out)
    if rc not in CONVERGED_OR_PLANNED or not isinstance(document, dict) or 'error' in document:
        pmemctl.fail(args, rc, document, err, machine=pmemctl.machine(), pmemctl_version=pmemctl.version_string)
    return rc, document


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    pmemctl = Pmemctl(module)
    rc, planned = run_apply(module, pmemctl, dry_run=True)
    for warning in planned.get('warnings') or []:
        module.warn(warning)
    before = device_states(planned)
    result = dict(changed=not plan_is_empty(planned), exit_code=rc, plan=planned.get('plan'),
                  items=planned.get('items'), differences=differences(planned), outcome=None, document=planned,
                  warnings_pmemctl=planned.get('warnings') or [], pmemctl_version=pmemctl.version_string)
    refusals = plan_refusals(planned, forced=module.params['force'])
    if refusals and module.check_mode:
        # the dry run lists the refused checks; the real run would stop there (exit 5) before any write
        module.fail_json(msg='pmemctl apply would refuse: %s' % '; '.join(refusals), rc=EXIT_REFUSED,
                         document=planned, machine=pmemctl.machine(), pmemctl_version=pmemctl.version_string)
    if result['changed'] and not module.check_mode:
        rc, done = run_apply(module, pmemctl, dry_run=False)
        result.update(exit_code=rc, outcome=done.get('outcome'), document=done, items=done.get('items'))
        if rc == EXIT_NO_CHANGE:  # someone else converged it meanwhile
            result['changed'] = False
    if module._diff:
        if not result['changed']:
            after = before
        elif module.check_mode:
            after = dict((name, dict((device, wish) for device in matched))
                         for name, (matched, wish) in device_wishes(planned).items())
        else:  # what the machine is now, read back
            _rc, now = run_apply(module, pmemctl, dry_run=True)
            after = device_states(now)
        result['diff'] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
