# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Which earlier object an object equals, by hash: 10,000 objects compared pairwise took seconds."""

from __future__ import annotations

from collections.abc import Hashable, Mapping


# Markers no input can contain: a dict and a set of the same pairs, or a list and a tuple of the
# same items, differ under ``==`` and must differ here too.
_DICT, _SET, _LIST, _TUPLE = object(), object(), object(), object()


_SCALARS = frozenset({str, int, float, bool, type(None)})


def frozen(value) -> Hashable:
    """A hashable stand-in that is equal exactly when the (JSON-like) values are equal."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, dict):
        return _DICT, frozenset([(key, frozen(item)) for key, item in value.items()])
    if isinstance(value, list):
        return _LIST, tuple([frozen(item) for item in value])
    if isinstance(value, tuple):
        return _TUPLE, tuple([frozen(item) for item in value])
    if isinstance(value, (set, frozenset)):
        return _SET, frozenset([frozen(item) for item in value])
    if isinstance(value, Mapping):
        return _DICT, frozenset([(key, frozen(item)) for key, item in value.items()])
    hash(value)  # anything else must hash (TypeError otherwise: the caller compares the slow way)
    return value


class EqualObjects:
    """Objects seen so far; ``add`` returns the 1-based position of the first equal one, or None."""

    def __init__(self) -> None:
        self._index: dict[Hashable, int] = {}
        self._unhashable: list[tuple[object, int]] = []
        self._count = 0

    def add(self, obj) -> int | None:
        try:
            key = frozen(obj)
        except TypeError:
            key = None
        if key is not None:
            found = self._index.get(key)
            if found is not None:
                return found
        else:
            for other, position in self._unhashable:
                if other == obj:
                    return position
        self._count += 1
        if key is not None:
            self._index[key] = self._count
        else:
            self._unhashable.append((obj, self._count))
        return None

    def __len__(self) -> int:
        return self._count
