# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which host interfaces may announce layer-2 IPs (MetalLB's rules), and where they come from.

``announceable`` is pure: MetalLB's ``updateInterfaces`` over plain records (name not matching
the exclude list, UP, not enslaved to a bond/bridge, not NOARP; ARP if BROADCAST, NDP if it has
an IPv6 link-local address). ``NetlinkInterfaces`` is the adapter: it lists links and addresses
with pyroute2 and subscribes to link / IPv6-address events so that a change is seen at once
rather than at MetalLB's 10 s rescan (the caller still rescans slowly as a safety net).
"""

from __future__ import annotations

import errno
import logging
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

try:
    from pyroute2 import IPRoute

    HAS_PYROUTE2 = True
except ImportError:  # pragma: no cover - the speaker reports missing_required_lib
    IPRoute = None
    HAS_PYROUTE2 = False

LOG = logging.getLogger("metal_lb.layer2")

IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_NOARP = 0x80
ARPHRD_ETHER = 1

# MetalLB's default ``announcedInterfacesToExclude`` (config/native/exclude-l2-config.yaml).
DEFAULT_EXCLUDE = (
    r"^docker.*",
    r"^cbr.*",
    r"^dummy.*",
    r"^virbr.*",
    r"^lxcbr.*",
    r"^veth.*",
    r"^lo$",
    r"^cali.*",
    r"^tunl.*",
    r"^flannel.*",
    r"^kube-ipvs.*",
    r"^cni.*",
    r"^nodelocaldns.*",
    r"^lxc.*",
)

IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40

# rtnetlink multicast groups (linux/rtnetlink.h)
RTMGRP_LINK = 0x1
RTMGRP_IPV6_IFADDR = 0x100


@dataclass(frozen=True)
class InterfaceRecord:
    """What the rules need to know about one link. ``mac`` is 6 bytes (b"" when the link has
    none), ``master`` the ifindex of the bond/bridge it is enslaved to (0: none),
    ``link_local`` its first IPv6 link-local address in text form (None: none)."""

    name: str
    index: int
    flags: int
    mac: bytes
    master: int = 0
    link_local: str | None = None
    link_type: int = ARPHRD_ETHER


@dataclass(frozen=True)
class Announceable:
    """An interface the responder may use, and for which protocols."""

    record: InterfaceRecord
    arp: bool
    ndp: bool


def compile_exclude(
    patterns: Sequence[str], where: str = "announcedInterfacesToExclude"
) -> re.Pattern | None:
    """One regexp from MetalLB's list (any match excludes; ``search`` semantics like Go's
    MatchString). ValueError names the field and the bad entry."""
    parts = []
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            raise ValueError("%s[%d]: must be a string, got %r" % (where, index, pattern))
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                "%s[%d]: %r is not a valid regular expression: %s" % (where, index, pattern, exc)
            ) from None
        parts.append("(?:%s)" % pattern)
    return re.compile("|".join(parts)) if parts else None


_DEFAULT_EXCLUDE_RE = compile_exclude(DEFAULT_EXCLUDE)


def _excluded(name: str, exclude: re.Pattern | None) -> bool:
    return exclude is not None and exclude.search(name) is not None


def local_names(
    records: Iterable[InterfaceRecord], exclude: re.Pattern | None = _DEFAULT_EXCLUDE_RE
) -> frozenset[str]:
    """MetalLB's ``GetInterfaces``: every non-excluded name, whatever its state. An IP whose
    advertisement names none of these cannot be announced here (Event ``announceFailed``)."""
    return frozenset(r.name for r in records if not _excluded(r.name, exclude))


def announceable(
    records: Iterable[InterfaceRecord], exclude: re.Pattern | None = _DEFAULT_EXCLUDE_RE
) -> dict[str, Announceable]:
    """The interfaces that get an ARP and/or NDP responder, by name.

    On top of MetalLB's rules an interface needs a 6-byte Ethernet address (ARP and NDP here
    are Ethernet framings; MetalLB fails to open its responder on such links instead).
    """
    result: dict[str, Announceable] = {}
    for rec in records:
        if _excluded(rec.name, exclude):
            continue
        if not rec.flags & IFF_UP or rec.master or rec.flags & IFF_NOARP:
            continue
        if rec.link_type != ARPHRD_ETHER or len(rec.mac) != 6 or rec.mac == bytes(6):
            continue
        arp = bool(rec.flags & IFF_BROADCAST)
        ndp = rec.link_local is not None
        if arp or ndp:
            result[rec.name] = Announceable(rec, arp, ndp)
    return result


def _is_link_local(text: str) -> bool:
    try:
        packed = socket.inet_pton(socket.AF_INET6, text.split("%", 1)[0])
    except (OSError, ValueError):
        return False
    return packed[0] == 0xFE and packed[1] & 0xC0 == 0x80


def _mac(text: str | None) -> bytes:
    if not text:
        return b""
    try:
        return bytes(int(p, 16) for p in text.split(":"))
    except ValueError:
        return b""


class NetlinkInterfaces:
    """Links and link-local addresses from rtnetlink, plus a wake-up socket for changes.

    ``records()`` dumps through pyroute2. The event subscription is a plain rtnetlink socket
    bound to RTMGRP_LINK | RTMGRP_IPV6_IFADDR: events only say "rescan", and pyroute2 0.9's
    synchronous wrapper reads several messages per socket read and queues them, so a
    ``select()`` on its descriptor can miss queued events. The socket is opened before the
    first dump so that no change between the dump and the subscription is lost.
    """

    def __init__(self) -> None:
        if not HAS_PYROUTE2:
            raise RuntimeError("the pyroute2 Python library is required to list network interfaces")
        self._events = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
        try:
            self._events.bind((0, RTMGRP_LINK | RTMGRP_IPV6_IFADDR))
            self._events.setblocking(False)
            self._ipr = IPRoute()
        except Exception:
            self._events.close()
            raise

    def fileno(self) -> int:
        """Readable when links or IPv6 addresses changed; then call ``drain()``."""
        return self._events.fileno()

    def drain(self, limit: int = 1024) -> bool:
        """Consume pending events (bounded); True if any (or an overflow) was seen."""
        seen = False
        for _read in range(limit):
            try:
                if not self._events.recv(65536):
                    break
                seen = True
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # events were lost: the caller must rescan
                    seen = True
                    continue
                raise
        return seen

    def records(self) -> list[InterfaceRecord]:
        link_locals: dict[int, str] = {}
        for addr in self._ipr.get_addr(family=socket.AF_INET6):
            text = addr.get_attr("IFA_ADDRESS")
            flags = addr.get_attr("IFA_FLAGS") or addr["flags"]
            if flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED):  # not usable as a source address yet
                continue
            if text and addr["index"] not in link_locals and _is_link_local(text):
                link_locals[addr["index"]] = text
        result = []
        for link in self._ipr.get_links():
            index = link["index"]
            result.append(
                InterfaceRecord(
                    name=link.get_attr("IFLA_IFNAME") or "",
                    index=index,
                    flags=link["flags"],
                    mac=_mac(link.get_attr("IFLA_ADDRESS")),
                    master=link.get_attr("IFLA_MASTER") or 0,
                    link_local=link_locals.get(index),
                    link_type=link["ifi_type"],
                )
            )
        return result

    def close(self) -> None:
        self._events.close()
        self._ipr.close()
