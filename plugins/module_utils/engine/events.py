# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Events as the engine emits them, with MetalLB's reasons and message texts."""

from __future__ import annotations

from typing import NamedTuple

from .go_quote import go_quote, go_quote_list

NORMAL = "Normal"
WARNING = "Warning"

__all__ = ["NORMAL", "WARNING", "Event", "go_quote", "go_quote_list"]


class Event(NamedTuple):
    type: str  # Normal | Warning
    reason: str
    message: str

    def as_dict(self) -> dict:
        return {"type": self.type, "reason": self.reason, "message": self.message}
