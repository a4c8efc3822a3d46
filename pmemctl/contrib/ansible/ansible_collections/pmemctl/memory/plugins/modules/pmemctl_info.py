#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pmemctl contributors
# MIT License (see the pmemctl repository's licence)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pmemctl_info
short_description: Facts about persistent and CXL memory from pmemctl
version_added: 0.1.0
description:
  - Reads the machine through C(pmemctl) and returns its versioned JSON documents
    (C(list), C(blocks), C(topology), and C(doctor) where this pmemctl has that command).
  - Read-only; runs the same in check mode. Needs no root.
author:
  - pmemctl contributors
extends_documentation_fragment:
  - pmemctl.memory.common
options:
  gather:
    description:
      - Which documents to read.
      - C(doctor) is skipped (returned as null, with a warning) when the installed pmemctl has no C(doctor) command.
    type: list
    elements: str
    choices: [list, blocks, topology, doctor]
    default: [list, blocks, topology, doctor]
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
'''

EXAMPLES = r'''
- name: Read the memory devices of a host
  pmemctl.memory.pmemctl_info:
  register: memory

- name: Show how much memory is offline
  ansible.builtin.debug:
    msg: "{{ memory.blocks.totals.offline_bytes }} bytes offline"

- name: Read a simulated machine
  pmemctl.memory.pmemctl_info:
    sysroot: /tmp/machine
    gather: [topology]
'''

RETURN = r'''
pmemctl_version:
  description: Version of the pmemctl that answered.
  returned: always
  type: str
  sample: 0.1.0
list:
  description: The document of C(pmemctl list --json) (buses, regions, namespaces, dax devices).
  returned: when C(list) is gathered
  type: dict
blocks:
  description: The document of C(pmemctl blocks --json) (memory block ranges and totals).
  returned: when C(blocks) is gathered
  type: dict
  sample: {"totals": {"blocks_online": 112, "blocks_offline": 14}}
topology:
  description: The document of C(pmemctl topology --json) (NUMA nodes, tiers, policy).
  returned: when C(topology) is gathered
  type: dict
doctor:
  description: The document of C(pmemctl doctor --json); null when this pmemctl has no C(doctor) command.
  returned: when C(doctor) is gathered
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pmemctl.memory.plugins.module_utils.pmemctl_cli import (
    COMMON_ARGUMENT_SPEC,
    EXIT_DOCTOR_ERRORS,
    EXIT_DOCTOR_WARNINGS,
    EXIT_OK,
    Pmemctl,
)

DOCUMENTS = ('list', 'blocks', 'topology', 'doctor')


def argument_spec():
    spec = dict(COMMON_ARGUMENT_SPEC)
    spec.update(gather=dict(type='list', elements='str', choices=list(DOCUMENTS), default=list(DOCUMENTS)))
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    pmemctl = Pmemctl(module)
    result = dict(changed=False, pmemctl_version=pmemctl.version_string)
    for name in DOCUMENTS:
        if name not in module.params['gather']:
            continue
        if name == 'doctor':
            if not pmemctl.has_command('doctor'):
                module.warn('pmemctl %s has no doctor command; upgrade pmemctl for the diagnosis'
                            % pmemctl.version_string)
                result['doctor'] = None
                continue
            # findings are the document's content, not a failure of the read
            ok = (EXIT_OK, EXIT_DOCTOR_WARNINGS, EXIT_DOCTOR_ERRORS)
        else:
            ok = (EXIT_OK,)
        _rc, document, _err = pmemctl.run_json([name], ok=ok)
        result[name] = document
    module.exit_json(**result)


if __name__ == '__main__':
    main()
