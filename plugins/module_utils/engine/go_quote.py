# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Go-style quoting, so that every message (allocator errors, Events, logs) reads exactly like
MetalLB's."""

from __future__ import annotations

import json
from collections.abc import Iterable


def go_quote(text: str) -> str:
    """Go's ``%q`` for a string (identical for the printable ASCII found in names and IPs)."""
    return json.dumps(text, ensure_ascii=False)


def go_quote_list(texts: Iterable[str]) -> str:
    """Go's ``%q`` for a slice: ``["1.2.3.4" "1000::1"]``."""
    return "[" + " ".join(go_quote(t) for t in texts) + "]"
