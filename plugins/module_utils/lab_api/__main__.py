# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""``python -m ansible_collections.metal.lb.plugins.module_utils.lab_api``: run the lab API server."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
