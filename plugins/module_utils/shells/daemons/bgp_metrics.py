# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The BGP series under MetalLB's names, label ``peer`` (the neighbor's address, as MetalLB's FRR
mode): ``metallb_bgp_session_up``, ``metallb_bgp_updates_total``,
``metallb_bgp_announced_prefixes_total``, ``metallb_bgp_pending_prefixes_total`` and
``metallb_bfd_session_up``. Built at scrape time from the protocol's last reading of FRR (its
poller), so a scrape never waits for FRR."""

from __future__ import annotations

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    HAS_PROMETHEUS = True
except ImportError:  # pragma: no cover - reported by the CLI
    HAS_PROMETHEUS = False


class BGPCollector:
    def __init__(self, protocol) -> None:
        self.protocol = protocol

    def describe(self):  # no describe: the series depend on runtime state
        return []

    def collect(self):
        sessions = self.protocol.sessions()
        wanted = self.protocol.desired_prefixes()
        up = GaugeMetricFamily("metallb_bgp_session_up", "BGP session state (1 is up, 0 is down)",
                               labels=["peer"])
        updates = CounterMetricFamily("metallb_bgp_updates", "Number of BGP UPDATE messages sent",
                                      labels=["peer"])
        announced = GaugeMetricFamily("metallb_bgp_announced_prefixes_total",
                                      "Number of prefixes currently being advertised on the BGP session",
                                      labels=["peer"])
        pending = GaugeMetricFamily("metallb_bgp_pending_prefixes_total",
                                    "Number of prefixes that should be advertised on the BGP session",
                                    labels=["peer"])
        bfd = GaugeMetricFamily("metallb_bfd_session_up", "BFD session state (1 is up, 0 is down)",
                                labels=["peer"])
        for key in sorted(set(wanted) | set(sessions)):
            if key not in wanted:
                continue  # not one of ours (FRR is read between a peer's removal and the next pass)
            state = sessions.get(key)
            peer = key[1]
            up.add_metric([peer], 1 if state is not None and state.up else 0)
            updates.add_metric([peer], state.updates_sent if state is not None else 0)
            sent = state.prefixes_sent if state is not None and state.up else 0
            announced.add_metric([peer], sent)
            pending.add_metric([peer], max(wanted[key] - sent, 0))
            if state is not None and state.bfd:
                bfd.add_metric([peer], 1 if state.bfd == "up" else 0)
        yield from (up, updates, announced, pending, bfd)


def register_bgp_metrics(registry, protocol) -> None:
    if HAS_PROMETHEUS:
        registry.register(BGPCollector(protocol))
