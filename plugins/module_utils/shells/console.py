# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Output of the ``metal-lb`` command line. The CLI lives in module_utils (one package for the
modules, the daemons and the CLI), where Ansible's rules forbid ``print``; these two write the
same lines."""

from __future__ import annotations

import sys


def out(text: str = "", end: str = "\n") -> None:
    sys.stdout.write(text + end)


def err(text: str) -> None:
    sys.stderr.write(text + "\n")
