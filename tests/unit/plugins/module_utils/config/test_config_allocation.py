# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller allocates from, and what it only reports (``config.allocation``)."""

from __future__ import annotations

from ansible_collections.metal.lb.plugins.module_utils.engine.config.allocation import allocation_config
from ansible_collections.metal.lb.plugins.module_utils.engine.config.sources import (
    CONTROLLER,
    MODULES,
    SPEAKER,
    sources_for,
)

import kube_objects as builders
from kube_objects import NS, cr


def obj(kind: str, name: str, spec: dict, version: str = "v1beta1") -> dict:
    return cr(kind, name, spec, api="metallb.io/%s" % version)


def pool(name: str = "a", addresses=("198.51.100.10-198.51.100.20",)) -> dict:
    return builders.pool(name, *addresses)


def peer(**spec) -> dict:
    return builders.peer("router", **spec)


SECRET = builders.secret("pw")
BFD = obj("BFDProfile", "fast", {"receiveInterval": 300})


def test_peer_secret_and_bfd_profile_do_not_stop_the_pools():
    result = allocation_config([pool(), peer(passwordSecret={"name": "pw"}), SECRET, BFD], namespace=NS,
                               bgp_type="native")
    assert result.errors == []
    assert result.config is not None and set(result.config.pools) == {"a"}
    # native BGP rejects BFD profiles: reported, not blocking
    assert any('BFDProfile "fast"' in line for line in result.reported)
    assert result.all_errors == result.reported


def test_bgp_objects_are_judged_as_frr_mode_by_default():
    """The speaker speaks BGP as MetalLB's FRR mode: a BFD profile and FRR-only peer fields are valid."""
    objects = [pool(), peer(bfdProfile="fast", vrf="red", enableGracefulRestart=True, connectTime="5s"), BFD]
    result = allocation_config(objects, namespace=NS)
    assert result.errors == [] and result.reported == [] and result.whole is not None
    assert result.whole.peers[0].bfd_profile == "fast"


def test_a_reader_without_secrets_does_not_report_the_secret_missing():
    without = allocation_config([pool(), peer(passwordSecret={"name": "pw"})], namespace=NS, secrets_read=False)
    assert without.errors == [] and without.reported == []
    read = allocation_config([pool(), peer(passwordSecret={"name": "pw"})], namespace=NS)
    assert any("secret ref not found" in line for line in read.reported)


def test_pool_errors_stop_allocation():
    result = allocation_config([pool("a"), pool("b", ["198.51.100.15/32"]), BFD], namespace=NS)
    assert result.config is None
    assert len(result.errors) == 1 and "overlaps" in result.errors[0]
    assert all("overlaps" not in line for line in result.reported)


def test_a_broken_bgp_advertisement_is_reported_only():
    ad = obj("BGPAdvertisement", "ad", {"ipAddressPools": ["a"], "peers": ["nobody"], "communities": ["bad:x"]})
    result = allocation_config([pool(), ad], namespace=NS)
    assert result.errors == [] and result.config is not None
    assert result.whole is None
    assert len(result.reported) == 1 and result.reported[0].startswith('BGPAdvertisement "ad"')


def test_who_reads_what():
    kinds = {reader: {s.kind for s in sources_for(reader)} for reader in (CONTROLLER, SPEAKER, MODULES)}
    assert "Secret" not in kinds[CONTROLLER]
    assert {"Secret", "BGPPeer", "BFDProfile", "IPAddressPool", "Node", "Namespace"} <= kinds[SPEAKER]
    assert kinds[MODULES] >= kinds[SPEAKER] | kinds[CONTROLLER]


def test_a_valid_whole_gives_the_same_pools_as_the_pools_alone():
    ad = obj("L2Advertisement", "l2", {"ipAddressPools": ["a"]})
    valid = allocation_config([pool(), ad, SECRET], namespace=NS, bgp_type="native")
    assert valid.whole is not None and valid.whole.l2_advertisements
    # BFD in native mode: the whole is invalid, the pools are not
    alone = allocation_config([pool(), ad, BFD], namespace=NS, bgp_type="native")
    assert alone.whole is None and alone.config == valid.config
