# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who uses an address, and whether another service may use it too (MetalLB ``checkSharing``).

Rules (MetalLB's checkSharing): services may share an address iff they carry the same
non-empty sharing key, the same backend key, and disjoint (protocol, port) sets; a
service that is the only user of an address may change its own keys in place.

Deliberate difference: MetalLB forgets an address's sharing key as soon as its *port* map
is empty, so services sharing with no ports lose protection when one leaves (unreachable
with real Services). Here the key lives as long as any service uses the address.

``SharingIndex`` lets an allocation find the addresses it could share without scanning
every address in use: per (sharing key, backend key, family) the set of addresses carrying
that key, plus per port how many of them already use it, so "every such address already
has port 80" is answered in O(1). Otherwise the search is linear in the number of addresses
carrying that one key (a handful in practice), never in the number of addresses in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

from ..go_quote import go_quote
from .messages import AllocationError

Port = tuple  # (protocol string as given, e.g. "TCP"; port number)


class Allocation:
    """One service's allocation. While it is the only user of an address, the allocator's
    address map points straight at this record (no per-address bookkeeping object).

    The text of a single address (nine allocations in ten) is stored bare, not as a 1-tuple:
    a tuple less per allocation (memory at 100,000 Services); ``texts`` still reads as a tuple."""

    __slots__ = ("svc", "pool", "keys", "text", "ports", "sharing", "backend")

    def __init__(
        self, svc: Any, pool: str, keys: tuple, texts: tuple, ports: tuple, sharing: str, backend: str
    ):
        self.svc = svc
        self.pool = pool
        self.keys = keys
        self.text = texts[0] if len(texts) == 1 else texts  # a str, or the tuple of two
        self.ports = ports
        self.sharing = sharing
        self.backend = backend

    @property
    def texts(self) -> tuple:
        text = self.text
        return (text,) if isinstance(text, str) else text

    def text_list(self) -> list[str]:
        """The addresses' canonical texts as a new list (the caller's to keep)."""
        text = self.text
        return [text] if isinstance(text, str) else list(text)


class IPUse:
    """An address shared by two or more services; all carry the same (sharing, backend) keys."""

    __slots__ = ("sharing", "backend", "users", "ports")

    def __init__(self, sole: Allocation):
        self.sharing = sole.sharing
        self.backend = sole.backend
        self.users: dict[Any, Allocation] = {sole.svc: sole}  # service key -> allocation
        self.ports: dict[Port, Any] = dict.fromkeys(sole.ports, sole.svc)  # (proto, port) -> service key


Entry = Union[Allocation, IPUse]  # what the address map holds for an address in use


def port_owner(entry: Entry, port: Port) -> Any:
    if isinstance(entry, IPUse):
        return entry.ports.get(port)
    return entry.svc if port in entry.ports else None


def sharing_ok(entry: Entry, sharing: str, backend: str) -> bool:
    """MetalLB ``sharingOK``: the keys of a new user are compatible with the address's."""
    return entry.sharing != "" and sharing != "" and entry.sharing == sharing and entry.backend == backend


def _others(entry: Entry, svc_key: Any) -> list:
    if isinstance(entry, IPUse):
        return [s for s in entry.users if s != svc_key]
    return [entry.svc] if entry.svc != svc_key else []


def check_sharing(
    entry: Entry, svc_key: Any, ip_text: str, ports: Sequence[Port], sharing: str, backend: str
) -> None:
    """Raise AllocationError with MetalLB's text if ``svc_key`` may not use this address."""
    if not isinstance(entry, IPUse) and entry.svc == svc_key:
        return  # the requester is the only user: it may change anything in place
    if not sharing_ok(entry, sharing, backend):
        others = _others(entry, svc_key)
        if others:
            raise AllocationError(
                "can't change sharing key for {}, address also in use by {}".format(
                    go_quote(str(svc_key)), ",".join(sorted(str(o) for o in others))
                )
            )
    for port in ports:
        owner = port_owner(entry, port)
        if owner is not None and owner != svc_key:
            raise AllocationError(f"port {port[0]}/{port[1]} is already in use on {go_quote(ip_text)}")


def passes_sharing(entry: Entry, svc_key: Any, ports: Sequence[Port], sharing: str, backend: str) -> bool:
    """``check_sharing`` as a predicate (no message built: used while searching)."""
    if not isinstance(entry, IPUse) and entry.svc == svc_key:
        return True
    if not sharing_ok(entry, sharing, backend) and _others(entry, svc_key):
        return False
    for port in ports:
        owner = port_owner(entry, port)
        if owner is not None and owner != svc_key:
            return False
    return True


class SharingIndex:
    """Addresses carrying each non-empty (sharing key, backend key), per family."""

    __slots__ = ("by_key", "port_count")

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str, int], set[int]] = {}
        self.port_count: dict[tuple[str, str, int, Port], int] = {}

    def add_ip(self, key: int, family: int, use: Entry) -> None:
        if use.sharing:
            self.by_key.setdefault((use.sharing, use.backend, family), set()).add(key)

    def remove_ip(self, key: int, family: int, use: Entry) -> None:
        if use.sharing:
            k = (use.sharing, use.backend, family)
            members = self.by_key.get(k)
            if members is not None:
                members.discard(key)
                if not members:
                    del self.by_key[k]

    def port_added(self, family: int, use: Entry, port: Port) -> None:
        if use.sharing:
            k = (use.sharing, use.backend, family, port)
            self.port_count[k] = self.port_count.get(k, 0) + 1

    def port_removed(self, family: int, use: Entry, port: Port) -> None:
        if use.sharing:
            k = (use.sharing, use.backend, family, port)
            n = self.port_count.get(k, 0) - 1
            if n > 0:
                self.port_count[k] = n
            else:
                self.port_count.pop(k, None)

    def shareable(
        self,
        ips: dict[int, Entry],
        family: int,
        svc_key: Any,
        ports: Sequence[Port],
        sharing: str,
        backend: str,
        holds_ports: bool,
    ) -> list[int]:
        """Addresses of ``family`` this request could join (same keys, no port clash).

        ``holds_ports``: the requester itself already holds ports somewhere, so the
        "every address already uses this port" shortcut would be wrong and is skipped.
        """
        if not sharing:
            return []
        members = self.by_key.get((sharing, backend, family))
        if not members:
            return []
        if not holds_ports:
            n = len(members)
            count = self.port_count
            for port in ports:
                if count.get((sharing, backend, family, port), 0) >= n:
                    return []
        found = []
        for key in members:
            entry = ips[key]
            for port in ports:
                owner = port_owner(entry, port)
                if owner is not None and owner != svc_key:
                    break
            else:
                found.append(key)
        return found
