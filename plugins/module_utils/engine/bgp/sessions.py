# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The BGP sessions one node runs: every BGPPeer whose nodeSelectors match the node, resolved.

Resolved means what FRR is told: timers in whole seconds (MetalLB's FRR mode truncates), the
password taken from ``password`` or from the ``passwordSecret`` Secret, the address family the
session carries. The password never appears in a repr or in the planner's output (``MASK``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..addresses import parse_ip
from ..model import Config, Peer
from ..selectors import any_matches

MASK = "********"
INTERNAL = "internal"
EXTERNAL = "external"
IPV4, IPV6, DUAL = "ipv4", "ipv6", "dual"


@dataclass(frozen=True)
class Session:
    """One BGP session of a node (a BGPPeer that selects the node)."""

    name: str  # the BGPPeer's name (BGPAdvertisement ``peers`` refer to it)
    my_asn: int
    peer_asn: int  # 0 with dynamic_asn
    dynamic_asn: str = ""  # "internal" / "external"
    local_asn: int = 0
    address: str = ""
    interface: str = ""  # unnumbered
    port: int = 179
    source_address: str = ""
    router_id: str = ""
    hold_time: int | None = None  # seconds; None: FRR's default
    keepalive_time: int | None = None
    connect_time: int | None = None
    password: str = field(default="", repr=False, compare=True)
    bfd_profile: str = ""
    ebgp_multihop: bool = False
    graceful_restart: bool = False
    vrf: str = ""
    family: str = IPV4  # the address families the session carries: ipv4, ipv6 or dual

    def __repr__(self) -> str:  # the dataclass repr minus nothing but the password's value
        return "Session(%s, peer=%s, my_asn=%d, peer_asn=%s, vrf=%r, password=%s)" % (
            self.name, self.peer, self.my_asn, self.remote_as, self.vrf, MASK if self.password else "''")

    @property
    def peer(self) -> str:
        """The neighbor as FRR names it: the address, or the interface (unnumbered)."""
        return self.address or self.interface

    @property
    def remote_as(self) -> str:
        return self.dynamic_asn or str(self.peer_asn)

    @property
    def ibgp(self) -> bool:
        """LOCAL_PREF is only sent to iBGP peers (myASN == peerASN, or dynamicASN internal)."""
        if self.dynamic_asn:
            return self.dynamic_asn == INTERNAL
        return self.my_asn == self.peer_asn

    def carries(self, family: int) -> bool:
        """MetalLB's FRR mode: an IPv4 session gets IPv4 prefixes only, IPv6 likewise; an unnumbered
        or dualStackAddressFamily session gets both."""
        return self.family == DUAL or self.family == (IPV4 if family == 4 else IPV6)

    def public(self) -> dict:
        """The session as the planner and logs show it: the password masked."""
        out = {"name": self.name, "peer": self.peer, "port": self.port, "my_asn": self.my_asn,
               "remote_as": self.remote_as, "vrf": self.vrf, "family": self.family}
        if self.password:
            out["password"] = MASK
        return out


class SessionError(ValueError):
    """A peer that cannot run on this node; names the BGPPeer and the field."""


def secret_password(secret: Mapping) -> str:
    """The ``password`` key of a kubernetes.io/basic-auth Secret (``data`` is base64, ``stringData`` is not)."""
    string_data = secret.get("stringData") or {}
    if isinstance(string_data, Mapping) and isinstance(string_data.get("password"), str):
        return string_data["password"]
    data = secret.get("data") or {}
    raw = data.get("password") if isinstance(data, Mapping) else None
    if not isinstance(raw, str):
        raise SessionError("no password key")
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise SessionError("the password key is not base64 of UTF-8 text") from exc


def _seconds(value: float | None) -> int | None:
    return None if value is None else int(value)


def resolve(peer: Peer, secrets: Mapping[str, Mapping]) -> Session:
    """``peer`` as the session FRR runs. ``secrets`` maps ``namespace/name`` to Secret objects;
    SessionError (naming BGPPeer/field, never the value) when the password cannot be read or FRR would
    refuse the session."""
    if peer.local_asn and (peer.local_asn == peer.peer_asn or peer.my_asn == peer.peer_asn
                           or peer.dynamic_asn == INTERNAL):
        raise SessionError('BGPPeer "%s": spec.localASN: FRR accepts localASN only on an eBGP session and '
                           'different from peerASN' % peer.name)
    password = peer.password
    if peer.password_secret:
        secret = secrets.get(peer.password_secret)
        if secret is None:
            raise SessionError('BGPPeer "%s": spec.passwordSecret: secret %s not found'
                               % (peer.name, peer.password_secret))
        try:
            password = secret_password(secret)
        except SessionError as exc:
            raise SessionError('BGPPeer "%s": spec.passwordSecret: secret %s: %s'
                               % (peer.name, peer.password_secret, exc)) from exc
    if any(c.isspace() or not c.isprintable() for c in password):
        field_name = "spec.passwordSecret" if peer.password_secret else "spec.password"
        raise SessionError('BGPPeer "%s": %s: the password has a blank or control character, which FRR cannot '
                           'take' % (peer.name, field_name))
    if peer.interface or peer.dual_stack_address_family:
        family = DUAL
    else:
        parsed = parse_ip(peer.address)
        family = IPV6 if parsed is not None and parsed[0] == 6 else IPV4
    hold, keepalive = _seconds(peer.hold_time), _seconds(peer.keepalive_time)
    return Session(name=peer.name, my_asn=peer.my_asn, peer_asn=peer.peer_asn, dynamic_asn=peer.dynamic_asn,
                   local_asn=peer.local_asn, address=peer.address, interface=peer.interface, port=peer.port or 179,
                   source_address=peer.source_address, router_id=peer.router_id, hold_time=hold,
                   keepalive_time=keepalive, connect_time=_seconds(peer.connect_time), password=password,
                   bfd_profile=peer.bfd_profile, ebgp_multihop=peer.ebgp_multihop,
                   graceful_restart=peer.graceful_restart, vrf=peer.vrf, family=family)


def secrets_by_name(objects, namespace: str) -> dict[str, Mapping]:
    """Secret objects of ``objects`` keyed ``namespace/name`` (a Secret without a namespace is in ``namespace``)."""
    out = {}
    for obj in objects:
        if isinstance(obj, Mapping) and obj.get("kind") == "Secret":
            meta = obj.get("metadata") or {}
            if isinstance(meta, Mapping) and meta.get("name"):
                out["%s/%s" % (meta.get("namespace") or namespace, meta["name"])] = obj
    return out


def node_sessions(config: Config, node_labels: Mapping[str, str] | None,
                  secrets: Mapping[str, Mapping]) -> tuple[tuple[Session, ...], tuple[str, ...]]:
    """The sessions a node with ``node_labels`` runs (BGPPeer nodeSelectors; empty: every node), by
    peer name, and the errors of peers that select it but cannot run (one line each). A node without
    a Node object (``node_labels`` None) runs none."""
    if node_labels is None:
        return (), ()
    sessions, errors = [], []
    for peer in sorted(config.peers, key=lambda p: p.name):
        if not any_matches(peer.node_selectors, node_labels):
            continue
        try:
            session = resolve(peer, secrets)
            _fits(session, sessions)
            sessions.append(session)
        except SessionError as exc:
            errors.append(str(exc))
    return tuple(sessions), tuple(errors)


def _fits(session: Session, others: list[Session]) -> None:
    """FRR runs one BGP router per VRF: the sessions of a node must agree on myASN per VRF and on the
    router ID, and name a neighbor once (MetalLB's FRR mode validates the same across nodes)."""
    for other in others:
        if other.vrf != session.vrf:
            continue
        if other.my_asn != session.my_asn:
            raise SessionError('BGPPeer "%s": spec.myASN: %d differs from %d of BGPPeer "%s" in the same VRF on '
                               'this node' % (session.name, session.my_asn, other.my_asn, other.name))
        if other.peer == session.peer:
            raise SessionError('BGPPeer "%s": spec.peerAddress: %s is already the neighbor of BGPPeer "%s" on this '
                               'node' % (session.name, session.peer, other.name))
        if other.router_id and session.router_id and other.router_id != session.router_id:
            raise SessionError('BGPPeer "%s": spec.routerID: %s differs from %s of BGPPeer "%s" on this node'
                               % (session.name, session.router_id, other.router_id, other.name))
