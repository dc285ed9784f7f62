# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab parts used as context managers: ``stop()`` runs also when ``start()`` fails half-way, so a
failed start leaves no process, namespace or directory behind."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T", bound="StartStop")


class StartStop:
    """Subclasses define ``start()`` and an idempotent ``stop()`` that undoes any part of it."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: T) -> T:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
