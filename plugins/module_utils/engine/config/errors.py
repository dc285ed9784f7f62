# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration errors that name the object and the field, with MetalLB's message text."""

from __future__ import annotations

from ..message_text import printable


class ConfigError(Exception):
    def __init__(self, kind: str, name: str, field: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.field = field
        self.message = printable(message)

    def __str__(self) -> str:
        where = '%s "%s"' % (printable(self.kind), printable(self.name))
        field = printable(self.field)
        return "%s: %s: %s" % (where, field, self.message) if field else "%s: %s" % (where, self.message)


class TransientError(ConfigError):
    """MetalLB's TransientError: may resolve by itself (an object created later)."""
