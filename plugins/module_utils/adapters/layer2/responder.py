# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layer-2 wire: ARP and NDP answered from raw AF_PACKET sockets, in one thread.

Per announceable interface (``interfaces.announceable``) the responder opens one socket for
ETH_P_ARP and one for ETH_P_IPV6, each with a classic BPF program so the kernel only wakes
us for ARP requests and ICMPv6 Neighbor Solicitations. A ``selectors`` loop reads them
nonblocking, answers from the ``Announcer``'s lock-free table and sends the gratuitous rounds
the announcer schedules. The request path has no sleep, no lock and no allocation beyond the
reply frame. The VIP is never added to a host interface: these sockets are the only thing
that makes it answer, so a host service on 0.0.0.0 is not reachable through it.

For IPv6 the responder joins each announced IP's solicited-node group twice: on the packet
socket (PACKET_ADD_MEMBERSHIP: the NIC's multicast filter) and on an IPv6 datagram socket
(IPV6_JOIN_GROUP: the kernel then sends MLD reports, so MLD-snooping switches forward the
solicitations to us, as MetalLB's ICMPv6 socket does).

Malformed or hostile frames are counted (``Layer2Metrics.dropped``) and dropped; nothing a
frame contains can raise out of the loop.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import re
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ...engine.model import IPV4
from . import arp, ndp
from .announcer import Announcer, IPState, Layer2Metrics
from .interfaces import (
    DEFAULT_EXCLUDE,
    Announceable,
    InterfaceRecord,
    NetlinkInterfaces,
    announceable,
    compile_exclude,
    local_names,
)

LOG = logging.getLogger("metal_lb.layer2")

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_DROP_MEMBERSHIP = 2
PACKET_MR_MULTICAST = 0
PACKET_IGNORE_OUTGOING = 23
PACKET_OTHERHOST = 3
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26

RESCAN_INTERVAL = 10.0  # MetalLB's interfaceScan period; netlink events make it only a safety net
MIN_RESCAN_SPACING = 0.02  # an event storm costs at most one rescan per 20 ms
LOOP_ERROR_BACKOFF = 0.5  # seconds before the loop retries after an unexpected error
READ_BUDGET = 64  # frames read per socket per wake-up, so one busy link cannot starve the others
RECV_SIZE = 2048

# Classic BPF (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k); offsets from the Ethernet header.
_LDH, _LDB, _JEQ, _RET = 0x28, 0x30, 0x15, 0x06
_ACCEPT = 0x40000
ARP_REQUEST_FILTER = (
    (_LDH, 0, 0, 12),
    (_JEQ, 0, 3, arp.ETH_P_ARP),
    (_LDH, 0, 0, 20),
    (_JEQ, 0, 1, arp.OP_REQUEST),
    (_RET, 0, 0, _ACCEPT),
    (_RET, 0, 0, 0),
)
NEIGHBOR_SOLICITATION_FILTER = (
    (_LDH, 0, 0, 12),
    (_JEQ, 0, 5, ndp.ETH_P_IPV6),
    (_LDB, 0, 0, 20),
    (_JEQ, 0, 3, ndp.IPPROTO_ICMPV6),
    (_LDB, 0, 0, 54),
    (_JEQ, 0, 1, ndp.ICMPV6_NS),
    (_RET, 0, 0, _ACCEPT),
    (_RET, 0, 0, 0),
)


class RawSocketPermissionError(PermissionError):
    """The process may not open AF_PACKET sockets (needs CAP_NET_RAW)."""


def check_raw_socket_permission() -> None:
    """Raise ``RawSocketPermissionError`` with one clear message unless raw sockets can be opened."""
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except PermissionError as exc:
        raise RawSocketPermissionError(
            "layer2 responder: opening a raw AF_PACKET socket was refused (%s); the speaker needs "
            "CAP_NET_RAW: run it as root or grant it the capability (systemd: "
            "AmbientCapabilities=CAP_NET_RAW)" % (exc.strerror or exc)
        ) from None


def attach_filter(sock: socket.socket, program: tuple[tuple[int, int, int, int], ...]) -> None:
    """SO_ATTACH_FILTER with a classic BPF program (the kernel copies it)."""
    code = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HL", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def open_packet_socket(ifname: str, ethertype: int, program) -> socket.socket:
    """A nonblocking AF_PACKET/SOCK_RAW socket on ``ifname``, filtered before it is bound so no
    unfiltered frame is ever queued; our own outgoing frames are not looped back."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        check_raw_socket_permission()
        raise
    try:
        attach_filter(sock, program)
        try:
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:  # Linux < 4.20: the read loop skips PACKET_OUTGOING itself
            pass
        sock.bind((ifname, ethertype))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _packet_mreq(ifindex: int, mac: bytes) -> bytes:
    return struct.pack("iHH8s", ifindex, PACKET_MR_MULTICAST, len(mac), mac)


class _MldJoins:
    """IPV6_JOIN_GROUP memberships, refcounted per (group, ifindex). Each socket holds a bounded
    number of groups (net.core.optmem_max), so a new socket is opened when one is full."""

    def __init__(self) -> None:
        self._socks: list[socket.socket] = []
        self._where: dict[tuple[bytes, int], socket.socket] = {}
        self._warned = False

    def join(self, group: bytes, ifindex: int) -> None:
        key = (group, ifindex)
        if key in self._where:
            return
        mreq = group + struct.pack("@I", ifindex)
        for attempt in (0, 1):
            if not self._socks or attempt:
                try:
                    self._socks.append(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
                except OSError as exc:
                    self._warn("cannot open an IPv6 socket for MLD joins: %s" % exc)
                    return
            sock = self._socks[-1]
            try:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
            except OSError as exc:
                if exc.errno in (errno.ENOBUFS, errno.ENOMEM) and not attempt:
                    continue
                self._warn(
                    "IPV6_JOIN_GROUP %s on ifindex %d failed: %s"
                    % (socket.inet_ntop(socket.AF_INET6, group), ifindex, exc)
                )
                return
            self._where[key] = sock
            return

    def leave(self, group: bytes, ifindex: int) -> None:
        sock = self._where.pop((group, ifindex), None)
        if sock is not None:
            try:
                sock.setsockopt(
                    socket.IPPROTO_IPV6, socket.IPV6_LEAVE_GROUP, group + struct.pack("@I", ifindex)
                )
            except OSError:
                pass  # the interface is gone, and the membership with it

    def forget_interface(self, ifindex: int) -> None:
        for group, index in [k for k in self._where if k[1] == ifindex]:
            self.leave(group, index)

    def close(self) -> None:
        for sock in self._socks:
            sock.close()
        self._socks, self._where = [], {}

    def _warn(self, text: str) -> None:
        if not self._warned:  # best effort: without MLD, snooping switches may not forward solicitations
            LOG.warning("layer2: %s (solicitations may not reach us through MLD-snooping switches)", text)
            self._warned = True


@dataclass
class Port:
    """One announceable interface and its sockets."""

    name: str
    index: int
    mac: bytes
    link_local: bytes | None
    arp_sock: socket.socket | None = None
    ndp_sock: socket.socket | None = None
    groups: set[bytes] = field(default_factory=set)  # solicited-node groups joined here

    def close(self) -> None:
        for sock in (self.arp_sock, self.ndp_sock):
            if sock is not None:
                sock.close()
        self.arp_sock = self.ndp_sock = None


class InterfaceSource(Protocol):
    def records(self) -> list[InterfaceRecord]: ...

    def close(self) -> None: ...


def _port_key(a: Announceable) -> tuple:
    r = a.record
    return (r.index, r.mac, r.link_local, a.arp, a.ndp)


class Responder:
    """ARP/NDP responder for the IPs this node leads. The speaker's whole API:

        responder = Responder(metrics=CounterMetrics(), exclude=DEFAULT_EXCLUDE, refresh_interval=None)
        responder.start()   # opens sockets here: RawSocketPermissionError without CAP_NET_RAW
        failed = responder.set_leading({"198.51.100.10": (), "2001:db8::10": ("eth1",)})
        ...                 # call again after every election; unchanged IPs send nothing
        responder.burst()   # a fresh gratuitous burst (after switch maintenance)
        responder.stop()

    ``set_leading`` takes every IP this node leads now with the interfaces it may answer on
    (empty: every announceable interface); new IPs get gratuitous ARP/NA at once, then every
    1.1 s for 5 s; IPs left out stop being answered (no goodbye packet, as MetalLB). It returns
    the IPs none of whose interfaces exists here (MetalLB's ``announceFailed`` Event); they stay
    registered and are answered as soon as such an interface appears.

    ``run()`` is the loop (one thread); ``start()`` opens everything in the caller's thread (so a
    missing CAP_NET_RAW is reported there) and runs the loop in a daemon thread; ``stop()`` ends
    it from any thread. ``announcer`` may be given instead of ``metrics``/``refresh_interval`` to
    share one (several owners announcing through ``Announcer.announce``)."""

    def __init__(
        self,
        announcer: Announcer | None = None,
        *,
        metrics: Layer2Metrics | None = None,
        refresh_interval: float | None = None,
        source: InterfaceSource | None = None,
        exclude: re.Pattern | None | tuple = DEFAULT_EXCLUDE,
        rescan_interval: float = RESCAN_INTERVAL,
        on_interfaces: Callable[[frozenset[str]], None] | None = None,
    ) -> None:
        if announcer is None:
            announcer = Announcer(metrics=metrics, refresh_interval=refresh_interval)
        self.announcer = announcer
        self.metrics = announcer.metrics
        self.clock = announcer.clock
        self.exclude = compile_exclude(exclude) if isinstance(exclude, (tuple, list)) else exclude
        self.rescan_interval = rescan_interval
        self.on_interfaces = on_interfaces
        self._source = source
        self._own_source = source is None
        self.ports: dict[str, Port] = {}
        self._keys: dict[str, tuple] = {}
        self.local_names: frozenset[str] = frozenset()
        self._mld = _MldJoins()
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._groups_version = -1
        self._rescan_at = 0.0
        self._last_rescan = float("-inf")
        announcer.add_listener(self.wakeup)

    # ------------------------------------------------------------------ what to answer for (speaker thread)

    def set_leading(self, leading: Mapping[str, Iterable[str]]) -> list[str]:
        """Answer for exactly these IPs (IP -> interfaces; empty: all). Returns the IPs that have
        interfaces named but none of them here (sorted); ValueError for a bad IP, nothing changed."""
        self.announcer.set_leading(leading)
        return self.unannounceable()

    def leading(self) -> dict[str, tuple[str, ...]]:
        """The IPs set by ``set_leading`` and their interfaces (() means all)."""
        return self.announcer.leading()

    def unannounceable(self) -> list[str]:
        """Led IPs none of whose named interfaces exists here (after the exclude list)."""
        names = self.local_names
        leading = self.announcer.leading()
        return sorted(ip for ip, interfaces in leading.items() if interfaces and names.isdisjoint(interfaces))

    def burst(self, ip: str | None = None) -> list[str]:
        """A fresh gratuitous burst for ``ip`` (None: every IP answered here); the IPs concerned."""
        return self.announcer.burst(ip)

    def alive(self) -> bool:
        """The loop thread is running (False before ``start()`` and after ``stop()`` or a crash)."""
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict:
        """For status reports and the ``announce`` module: interfaces, announced IPs, counters."""
        as_dict = getattr(self.metrics, "as_dict", None)
        return {
            "interfaces": self.interfaces(),
            "announced": self.announcer.announced(),
            "counters": as_dict() if as_dict is not None else {},
        }

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        if self._selector is not None:
            return
        check_raw_socket_permission()
        if self._source is None:
            self._source = NetlinkInterfaces()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        fileno = getattr(self._source, "fileno", None)
        if fileno is not None:
            self._selector.register(fileno(), selectors.EVENT_READ, self._on_netlink)
        self.rescan()

    def start(self) -> threading.Thread:
        self._stopping.clear()
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self.run, name="layer2-responder", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stopping.set()
        self.wakeup()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wakeup(self) -> None:
        """Make the loop look at the announcer now (thread-safe, never blocks)."""
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"\0")
            except OSError:  # full (already woken) or closed
                pass

    def close(self) -> None:
        for port in self.ports.values():
            port.close()
        self.ports.clear()
        self._keys.clear()
        self._mld.close()
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None
        if self._own_source and self._source is not None:
            self._source.close()
            self._source = None

    def run(self) -> None:
        self.open()
        try:
            while not self._stopping.is_set():
                try:
                    self.run_once()
                except RawSocketPermissionError:  # fatal: the capability is gone (alive() says so)
                    LOG.error("layer2: responder stopped: raw sockets are no longer permitted")
                    raise
                except Exception:  # a bug must not silence the node's VIPs: log, count, go on
                    LOG.exception("layer2: responder loop failed; continuing")
                    self.metrics.dropped("internalError")
                    self._stopping.wait(LOOP_ERROR_BACKOFF)
        finally:
            self.close()

    def run_once(self, max_wait: float = 1.0) -> None:
        """One loop iteration: rescan if needed, sync multicast groups, send due gratuitous
        rounds, then wait (at most until the next deadline) and answer what arrived."""
        now = self.clock()
        if now >= self._rescan_at:
            self.rescan()
        if self._groups_version != self.announcer.version:
            self._sync_groups()
        nxt = self.announcer.tick(self, now)
        timeout = min(max_wait, self._rescan_at - now)
        if nxt is not None:
            timeout = min(timeout, nxt - now)
        for key, _mask in self._selector.select(max(timeout, 0.0)):
            key.data(key.fileobj)

    # ------------------------------------------------------------------ interfaces

    def rescan(self) -> None:
        """Open sockets for new announceable interfaces, close those that went away or changed."""
        now = self.clock()
        self._last_rescan = now
        self._rescan_at = now + self.rescan_interval
        try:
            records = self._source.records()
        except Exception as exc:  # netlink hiccup: keep the current ports, retry soon
            LOG.warning("layer2: listing interfaces failed: %s", exc)
            self._rescan_at = now + 1.0
            return
        wanted = announceable(records, self.exclude)
        for name in list(self.ports):
            if name not in wanted or self._keys[name] != _port_key(wanted[name]):
                self._close_port(name)
        opened = []
        for name, item in wanted.items():
            if name not in self.ports and self._open_port(item):
                opened.append(name)
        self.local_names = local_names(records, self.exclude)
        if opened:
            self._groups_version = -1  # join the groups on the new NDP ports
            for state in self.announcer.states():  # the new link has not heard our announcements
                if any(state.allows(name) for name in opened):
                    self.announcer.burst(state.text)
        if self.on_interfaces is not None:
            self.on_interfaces(self.local_names)

    def _open_port(self, item: Announceable) -> bool:
        rec = item.record
        link_local = socket.inet_pton(socket.AF_INET6, rec.link_local.split("%", 1)[0]) if item.ndp else None
        port = Port(rec.name, rec.index, rec.mac, link_local)
        try:
            if item.arp:
                port.arp_sock = open_packet_socket(rec.name, arp.ETH_P_ARP, ARP_REQUEST_FILTER)
                self._selector.register(
                    port.arp_sock, selectors.EVENT_READ, self._reader(port, self._answer_arp)
                )
            if item.ndp:
                port.ndp_sock = open_packet_socket(rec.name, ndp.ETH_P_IPV6, NEIGHBOR_SOLICITATION_FILTER)
                self._selector.register(
                    port.ndp_sock, selectors.EVENT_READ, self._reader(port, self._answer_ndp)
                )
        except RawSocketPermissionError:
            self._unregister(port)
            port.close()
            raise
        except OSError as exc:  # e.g. the link vanished between the dump and the bind
            LOG.warning("layer2: cannot open responder on %s: %s", rec.name, exc)
            self._unregister(port)
            port.close()
            self._rescan_at = min(self._rescan_at, self.clock() + 1.0)
            return False
        self.ports[rec.name] = port
        self._keys[rec.name] = _port_key(item)
        LOG.info("layer2: responding on %s (arp=%s, ndp=%s)", rec.name, item.arp, item.ndp)
        return True

    def _unregister(self, port: Port) -> None:
        for sock in (port.arp_sock, port.ndp_sock):
            if sock is not None and self._selector is not None:
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError):
                    pass

    def _close_port(self, name: str) -> None:
        port = self.ports.pop(name)
        self._keys.pop(name, None)
        self._unregister(port)
        self._mld.forget_interface(port.index)
        port.close()
        LOG.info("layer2: stopped responding on %s", name)

    def _on_netlink(self, _fileobj) -> None:
        if self._source.drain():
            self._rescan_at = min(self._rescan_at, max(self.clock(), self._last_rescan + MIN_RESCAN_SPACING))

    def _on_wake(self, sock) -> None:
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass

    def _sync_groups(self) -> None:
        """Join/leave solicited-node groups so they match the announced IPv6 addresses."""
        self._groups_version = self.announcer.version
        v6 = [s for s in self.announcer.states() if s.family != IPV4]
        for port in self.ports.values():
            if port.ndp_sock is None:
                continue
            wanted = {ndp.solicited_node_address(s.packed) for s in v6 if s.allows(port.name)}
            for group in wanted - port.groups:
                try:
                    port.ndp_sock.setsockopt(
                        SOL_PACKET, PACKET_ADD_MEMBERSHIP, _packet_mreq(port.index, ndp.multicast_mac(group))
                    )
                except OSError as exc:
                    LOG.warning(
                        "layer2: joining %s on %s failed: %s",
                        socket.inet_ntop(socket.AF_INET6, group),
                        port.name,
                        exc,
                    )
                    continue
                self._mld.join(group, port.index)
                port.groups.add(group)
            for group in port.groups - wanted:
                try:
                    port.ndp_sock.setsockopt(
                        SOL_PACKET, PACKET_DROP_MEMBERSHIP, _packet_mreq(port.index, ndp.multicast_mac(group))
                    )
                except OSError:
                    pass
                self._mld.leave(group, port.index)
                port.groups.discard(group)

    # ------------------------------------------------------------------ the request path

    def _reader(self, port: Port, answer: Callable[[Port, bytes], tuple[bytes, str] | None]):
        metrics = self.metrics

        def read(sock: socket.socket) -> None:
            for _read in range(READ_BUDGET):
                try:
                    frame, address = sock.recvfrom(RECV_SIZE)
                except BlockingIOError:
                    return
                except OSError as exc:  # ENETDOWN and friends: the link changed under us
                    LOG.debug("layer2: read on %s failed: %s", port.name, exc)
                    self._rescan_at = min(self._rescan_at, self.clock() + MIN_RESCAN_SPACING)
                    return
                if address[2] == PACKET_OUTGOING:
                    continue
                try:
                    result = answer(port, frame)
                except Exception:  # a bug must not take the responder down; count it
                    LOG.exception("layer2: handling a frame on %s failed", port.name)
                    metrics.dropped("internalError")
                    continue
                if result is None:
                    continue
                reply, ip = result
                try:
                    sock.send(reply)
                except OSError as exc:
                    LOG.debug("layer2: reply on %s failed: %s", port.name, exc)
                    metrics.dropped("sendError")
                    continue
                metrics.response_sent(ip)

        return read

    def _answer_arp(self, port: Port, frame: bytes) -> tuple[bytes, str] | None:
        """The reply frame and the IP it is for, or None (counted by reason)."""
        pkt = arp.parse_frame(frame)
        metrics = self.metrics
        if pkt is None:
            metrics.dropped("malformed")
            return None
        if pkt.op != arp.OP_REQUEST:
            metrics.dropped("arpReply")
            return None
        if pkt.eth_dst != arp.BROADCAST_MAC and pkt.eth_dst != port.mac:
            metrics.dropped("ethernetDestination")
            return None
        if pkt.sender_mac == port.mac:
            metrics.dropped("ownFrame")
            return None
        state = self.announcer.lookup(pkt.target_ip)
        if state is None:
            metrics.dropped("notAnnounced")
            return None
        if not state.allows(port.name):
            metrics.dropped("notMatchInterface")
            return None
        metrics.request_received(state.text)
        return arp.build_reply(pkt, port.mac), state.text

    def _answer_ndp(self, port: Port, frame: bytes) -> tuple[bytes, str] | None:
        ns = ndp.parse_solicitation(frame)
        metrics = self.metrics
        if ns is None:
            metrics.dropped("malformed")
            return None
        if ns.source_lladdr is None:
            metrics.dropped("noSourceLL")
            return None
        if not ns.eth_dst[0] & 1 and ns.eth_dst != port.mac:
            metrics.dropped("ethernetDestination")
            return None
        if ns.eth_src == port.mac:
            metrics.dropped("ownFrame")
            return None
        state = self.announcer.lookup(ns.target)
        if state is None:
            metrics.dropped("notAnnounced")
            return None
        if not state.allows(port.name):
            metrics.dropped("notMatchInterface")
            return None
        metrics.request_received(state.text)
        return ndp.solicited_advertisement(ns, port.mac), state.text

    # ------------------------------------------------------------------ gratuitous (called by Announcer.tick)

    def send_gratuitous(self, state: IPState) -> int:
        sent = 0
        for port in list(self.ports.values()):
            if not state.allows(port.name):
                continue
            if state.family == IPV4:
                if port.arp_sock is None:
                    continue
                frames, sock = arp.gratuitous_frames(port.mac, state.packed), port.arp_sock
            else:
                if port.ndp_sock is None or port.link_local is None:
                    continue
                frames, sock = (
                    (ndp.unsolicited_advertisement(port.mac, port.link_local, state.packed),),
                    port.ndp_sock,
                )
            for frame in frames:
                try:
                    sock.send(frame)
                except OSError as exc:
                    LOG.debug("layer2: gratuitous frame on %s failed: %s", port.name, exc)
                    self.metrics.dropped("sendError")
                    continue
                sent += 1
        return sent

    # ------------------------------------------------------------------ status

    def interfaces(self) -> dict[str, dict[str, bool]]:
        """The interfaces answering now and for which protocol (for status and the module)."""
        return {
            name: {"arp": p.arp_sock is not None, "ndp": p.ndp_sock is not None}
            for name, p in sorted(self.ports.items())
        }
