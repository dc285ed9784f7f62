# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGPPeer (v1beta1 and v1beta2) and BFDProfile → model objects (MetalLB's bgppeer and bfdprofile types)."""

from __future__ import annotations

from collections.abc import Mapping

from ..addresses import parse_ip
from ..selectors import parse_selectors
from .errors import TransientError
from .durations import parse_duration
from .fields import Fields
from ..model import BFDProfile, Peer


def _duration(f: Fields, name: str) -> float | None:
    raw = f.spec.get(name)
    if raw is None:
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise f.error("spec.%s" % name, str(exc)) from exc


def _timers(f: Fields) -> tuple[float | None, float | None]:
    hold, keepalive = _duration(f, "holdTime"), _duration(f, "keepaliveTime")
    if hold is None and keepalive is None:
        return None, None
    if keepalive is None:
        keepalive = hold / 3
    if hold is None:
        hold = keepalive * 3
    if int(hold) != 0 and int(hold) < 3:
        raise f.error("spec.holdTime", 'invalid BGPPeer timers: invalid hold time "%s": must be 0 or >=3s'
                      % f.spec.get("holdTime", "%gs" % hold))
    if keepalive > hold:
        raise f.error("spec.keepaliveTime", 'invalid BGPPeer timers: invalid keepaliveTime "%s", must be lower '
                      'than holdTime "%s"' % (f.spec.get("keepaliveTime"), f.spec.get("holdTime")))
    return hold, keepalive


def _check_secret(f, secret: dict | None, namespace: str, ref_ns: str, ref_name: str) -> None:
    if secret is None:
        raise TransientError(f.kind, f.name, "spec.passwordSecret", 'secret ref not found for peer config '
                             '"%s"/"%s"' % (namespace, f.name))
    quoted = '"%s"/"%s"' % (ref_ns, ref_name)
    if secret.get("type") != "kubernetes.io/basic-auth":
        raise f.error("spec.passwordSecret", 'secret type mismatch on %s, type "kubernetes.io/basic-auth" '
                      'is expected' % quoted)
    if not (secret.get("data") or {}).get("password") and not (secret.get("stringData") or {}).get("password"):
        raise f.error("spec.passwordSecret", "password not specified in the secret %s" % quoted)


def peer_from_cr(obj: dict, secrets: Mapping[str, dict] | None, namespace: str) -> Peer:
    f = Fields("BGPPeer", obj)
    my_asn = f.get("myASN", int, 0)
    peer_asn = f.get("peerASN", int, 0)
    dynamic = f.get("dynamicASN", str, "")
    local_asn = f.get("localASN", int, 0)
    for name, value in (("myASN", my_asn), ("peerASN", peer_asn), ("localASN", local_asn)):
        if not 0 <= value <= 4294967295:
            raise f.error("spec.%s" % name, "must be between 0 and 4294967295")
    if my_asn == 0:
        raise f.error("spec.myASN", "missing local ASN")
    if peer_asn == 0 and not dynamic:
        raise f.error("spec.peerASN", "missing peer ASN and dynamicASN")
    if peer_asn and dynamic:
        raise f.error("spec.dynamicASN", "both peer ASN and dynamicASN specified")
    if dynamic and dynamic not in ("internal", "external"):
        raise f.error("spec.dynamicASN", "invalid dynamicASN %s" % dynamic)
    multihop = f.get("ebgpMultiHop", bool, False)
    if multihop and my_asn == peer_asn:
        raise f.error("spec.ebgpMultiHop", "invalid ebgp-multihop parameter set for an ibgp peer")
    address = f.get("peerAddress", str, "")
    interface = f.get("interface", str, "")
    if not address and not interface:
        raise f.error("spec.peerAddress", "peer has no Address or Interface specified")
    if address and interface:
        raise f.error("spec.interface", "peer has both Address and Interface specified")
    hold, keepalive = _timers(f)
    if address and parse_ip(address) is None:
        raise f.error("spec.peerAddress", 'invalid BGPPeer address "%s"' % address)
    router_id = f.get("routerID", str, "")
    if router_id and parse_ip(router_id) is None:
        raise f.error("spec.routerID", 'invalid router ID "%s"' % router_id)
    source = f.get("sourceAddress", str, "")
    if source and parse_ip(source) is None:
        raise f.error("spec.sourceAddress", 'invalid source IP "%s"' % source)
    port = f.get("peerPort", int, 179)
    if not 0 <= port <= 16384:
        raise f.error("spec.peerPort", "must be between 1 and 16384")
    try:
        nodes = parse_selectors(f.spec.get("nodeSelectors"), "spec.nodeSelectors")
    except ValueError as exc:
        field, _unused, message = str(exc).partition(": ")
        raise f.error(field, message) from exc
    password = f.get("password", str, "")
    secret_ref = f.get("passwordSecret", dict, {})
    secret_name = ""
    if secret_ref:
        if password:
            raise f.error("spec.passwordSecret", 'can not have both password and secret ref set in peer config '
                          '"%s"/"%s"' % (namespace, f.name))
        ref_ns = secret_ref.get("namespace") or namespace
        secret_name = "%s/%s" % (ref_ns, secret_ref.get("name") or "")
        if secrets is not None:  # None: a reader without Secrets (the controller) checks nothing here
            _check_secret(f, secrets.get(secret_name), namespace, ref_ns, secret_ref.get("name") or "")
    connect = _duration(f, "connectTime")
    return Peer(name=f.name, my_asn=my_asn, peer_asn=peer_asn, dynamic_asn=dynamic,
                local_asn=local_asn, address=address, interface=interface, source_address=source,
                port=port or 179, hold_time=hold, keepalive_time=keepalive, connect_time=connect,
                router_id=router_id, node_selectors=nodes, password=password, password_secret=secret_name,
                bfd_profile=f.get("bfdProfile", str, ""), ebgp_multihop=multihop,
                graceful_restart=f.get("enableGracefulRestart", bool, False), vrf=f.get("vrf", str, ""),
                disable_mp=f.get("disableMP", bool, False),
                dual_stack_address_family=f.get("dualStackAddressFamily", bool, False))


_BFD_RANGES = {
    "receiveInterval": (10, 60000, "invalid receive interval value"),
    "transmitInterval": (10, 60000, "invalid transmit interval value"),
    "detectMultiplier": (2, 255, "invalid detect multiplier value"),
    "echoInterval": (10, 60000, "invalid echo interval value"),
    "minimumTtl": (1, 254, "invalid minimum ttl value"),
}


def bfd_from_cr(obj: dict) -> BFDProfile:
    f = Fields("BFDProfile", obj)
    if not f.name:
        raise f.error("metadata.name", "missing bfd profile name")
    values = {}
    for field, (low, high, message) in _BFD_RANGES.items():
        value = f.get(field, int)
        if value is not None and not low <= value <= high:
            raise f.error("spec.%s" % field, "invalid value %d, must be in %d-%d range; %s"
                          % (value, low, high, message))
        values[field] = value
    return BFDProfile(name=f.name, receive_interval=values["receiveInterval"],
                      transmit_interval=values["transmitInterval"], detect_multiplier=values["detectMultiplier"],
                      echo_interval=values["echoInterval"], echo_mode=f.get("echoMode", bool, False),
                      passive_mode=f.get("passiveMode", bool, False), minimum_ttl=values["minimumTtl"])
