#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pmemctl contributors
# MIT License (see the pmemctl repository's licence)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pmemctl_layout
short_description: Manage a pmemctl provisioning layout file
version_added: 0.1.0
description:
  - Writes C(/etc/pmemctl/conf.d/NAME.toml) (under O(sysroot)) from module parameters or from one dict.
  - The new file is checked with C(pmemctl config validate), together with the other layout files pmemctl
    reads, before it is moved into place atomically; an invalid layout fails naming the file and line and
    leaves the old file untouched.
  - The layout only describes the wished state; M(pmemctl.memory.pmemctl_apply) converges the machine to it.
author:
  - pmemctl contributors
extends_documentation_fragment:
  - pmemctl.memory.common
options:
  name:
    description:
      - Name of the layout file in C(conf.d), without C(.toml) (letters, digits, C(.), C(_), C(-)).
    type: str
    required: true
  state:
    description:
      - V(present) writes the file, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  layout:
    description:
      - The whole layout document as a dict (keys C(version), C(policy), C(device), C(region)), written as TOML.
      - C(version) defaults to 1. Mutually exclusive with O(policy), O(devices) and O(regions).
    type: dict
  policy:
    description:
      - The C([policy]) table, for example C(auto_online_blocks), C(demotion_enabled), C(numa_balancing).
    type: dict
  devices:
    description:
      - The C([[device]]) entries. Keys as in the layout file (C(name), C(match), C(mode), C(online), C(zone),
        C(normal), C(expect), C(optional), C(memmap_on_memory)); null values are left out.
    type: list
    elements: dict
  regions:
    description:
      - The C([[region]]) entries (opt-in namespace creation).
    type: list
    elements: dict
  conf_dir:
    description:
      - Directory of the layout files as seen on the machine (below O(sysroot) when that is set).
    type: path
    default: /etc/pmemctl/conf.d
  mode:
    description:
      - Permissions of the written file.
    type: raw
    default: '0644'
  validate:
    description:
      - Check the layout with C(pmemctl config validate) before it is written (and in check mode).
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
'''

EXAMPLES = r'''
- name: Online all of the Optane dax devices as movable system RAM
  pmemctl.memory.pmemctl_layout:
    name: fleet
    policy:
      auto_online_blocks: offline
    devices:
      - name: pmem-fast
        match: {namespace: namespace0.0}
        mode: system-ram
        online: all
        zone: movable

- name: The same from one dict (for example from group_vars)
  pmemctl.memory.pmemctl_layout:
    name: fleet
    layout: "{{ pmemctl_layout }}"

- name: Remove a layout file
  pmemctl.memory.pmemctl_layout:
    name: old
    state: absent
'''

RETURN = r'''
path:
  description: The layout file (below the sysroot).
  returned: always
  type: str
  sample: /etc/pmemctl/conf.d/fleet.toml
content:
  description: The TOML text of the file (null when O(state=absent)).
  returned: always
  type: str
validated:
  description: Whether C(pmemctl config validate) checked the text.
  returned: always
  type: bool
'''

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.pmemctl.memory.plugins.module_utils.pmemctl_cli import (
    COMMON_ARGUMENT_SPEC,
    EXIT_OK,
    Pmemctl,
    drop_none,
    error_of,
    layout_files,
    load_json,
    toml_dumps,
    under_sysroot,
)

HEADER = 'Managed by Ansible (pmemctl.memory.pmemctl_layout): local changes are overwritten.'
NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')


def argument_spec():
    spec = dict(COMMON_ARGUMENT_SPEC)
    spec.update(
        name=dict(type='str', required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        layout=dict(type='dict'),
        policy=dict(type='dict'),
        devices=dict(type='list', elements='dict'),
        regions=dict(type='list', elements='dict'),
        conf_dir=dict(type='path', default='/etc/pmemctl/conf.d'),
        mode=dict(type='raw', default='0644'),
        validate=dict(type='bool', default=True),
    )
    return spec


def wished_document(params):
    if params['layout'] is not None:
        document = dict(version=1)
        document.update(drop_none(params['layout']))
        return document
    document = dict(version=1)
    document['policy'] = drop_none(params['policy']) if params['policy'] else None
    document['device'] = drop_none(params['devices']) if params['devices'] else None
    document['region'] = drop_none(params['regions']) if params['regions'] else None
    return document


def read_text(path):
    try:
        with open(path, 'rb') as handle:
            return to_text(handle.read(), errors='surrogate_or_strict')
    except (IOError, OSError):
        return None


def validate(module, pmemctl, path, text):
    """Run `pmemctl config validate` on the new text, with the other layout
    files pmemctl would read beside it (names must be unique across them).
    The text lives in the module's temp dir, never under the sysroot, so
    check mode writes nothing there; errors name the real file."""
    handle, temp = tempfile.mkstemp(prefix='layout-', suffix='.toml', dir=module.tmpdir)
    with os.fdopen(handle, 'wb') as out:
        out.write(to_bytes(text))
    others = [f for f in layout_files(pmemctl.sysroot) if os.path.realpath(f) != os.path.realpath(path)]
    args = ['config', 'validate']
    for layout_file in others + [temp]:
        args += ['--config', layout_file]
    rc, out, err = pmemctl.run(args + ['--json'])
    if rc != EXIT_OK:
        message = (error_of(load_json(out), err) or 'exit code %d' % rc).replace(temp, path)
        module.fail_json(msg='layout %s is invalid, nothing was written: %s' % (path, message),
                         rc=rc, path=path, content=text, stderr=err.replace(temp, path))
    return temp


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[('layout', 'policy'), ('layout', 'devices'), ('layout', 'regions')],
        supports_check_mode=True,
    )
    params = module.params
    if not NAME_RE.match(params['name']):
        module.fail_json(msg='layout name %r is not a file name; use letters, digits, ".", "_" and "-"'
                             % params['name'])
    pmemctl = Pmemctl(module)
    path = under_sysroot(pmemctl.sysroot, os.path.join(params['conf_dir'], params['name'] + '.toml'))
    before = read_text(path)
    result = dict(changed=False, path=path, content=None, validated=False)

    if params['state'] == 'absent':
        result['changed'] = before is not None
        if module._diff:
            result['diff'] = dict(before=before or '', after='', before_header=path, after_header=path)
        if result['changed'] and not module.check_mode:
            os.remove(path)
        module.exit_json(**result)

    try:
        text = toml_dumps(wished_document(params), header=HEADER)
    except (TypeError, ValueError) as exc:
        module.fail_json(msg='layout %s cannot be written as TOML: %s' % (path, exc), path=path)
    result['content'] = text
    result['changed'] = before != text
    if module._diff:
        result['diff'] = dict(before=before or '', after=text, before_header=path, after_header=path)
    temp = None
    if params['validate'] and (result['changed'] or module.check_mode):
        temp = validate(module, pmemctl, path, text)
        result['validated'] = True
    if result['changed'] and not module.check_mode:
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        if temp is None:
            handle, temp = tempfile.mkstemp(prefix='layout-', suffix='.toml', dir=module.tmpdir)
            with os.fdopen(handle, 'wb') as out:
                out.write(to_bytes(text))
        module.atomic_move(temp, path)
    if not module.check_mode and os.path.exists(path):
        file_args = module.load_file_common_arguments(dict(path=path, mode=params['mode']))
        result['changed'] = module.set_fs_attributes_if_different(file_args, result['changed'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
