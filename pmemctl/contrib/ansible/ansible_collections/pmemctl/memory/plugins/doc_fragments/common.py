# -*- coding: utf-8 -*-
# Copyright: pmemctl contributors
# MIT License (see the pmemctl repository's licence)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The parameters every pmemctl.memory module takes (module_utils/pmemctl_cli.py COMMON_ARGUMENT_SPEC).
    DOCUMENTATION = r'''
options:
  sysroot:
    description:
      - Work on the machine under this directory instead of C(/), as C(pmemctl --sysroot) does.
      - A tree made by C(pmemctl sim create) is a simulated machine, so a whole play can run against one.
      - Layout files and boot units are read and written under it too.
    type: path
  executable:
    description:
      - Path of the C(pmemctl) program. By default it is looked up on C(PATH).
      - The module fails with an upgrade hint when this pmemctl is missing, older than the collection needs,
        or lacks a command the module calls.
    type: path
requirements:
  - pmemctl 0.1.0 or later on the managed host (only its command line is used).
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - The modules talk to pmemctl only through its command line and its versioned C(--json) documents.
'''
