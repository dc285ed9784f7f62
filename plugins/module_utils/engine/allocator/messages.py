# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The allocator's error type: ``str(e)`` is MetalLB's message text."""

from __future__ import annotations


class AllocationError(Exception):
    """An assignment or allocation was refused; ``str(e)`` is MetalLB's message text."""
