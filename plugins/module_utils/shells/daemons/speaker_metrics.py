# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The speaker's Prometheus series under MetalLB's names.

The layer-2 counters are bumped on the responder's hot path, so they live in plain dicts
(``layer2.announcer.CounterMetrics``) and are turned into samples only when scraped.
MetalLB's Go client exposes them without a ``_total`` suffix, which prometheus-client adds
to every counter; they are therefore exposed as untyped series with MetalLB's exact names,
so existing dashboards (``rate(metallb_layer2_requests_received[5m])``) keep working.
``metallb_speaker_announced`` is built at scrape time too, from a set of (service, ip): a
prometheus-client child per announced IP costs about 2 KB (its lock, value and label tuple),
2 MB of every node's speaker at 1,000 VIPs for a constant 1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ...adapters.layer2.announcer import CounterMetrics
from .metrics import k8s_client_metrics

try:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

    HAS_PROMETHEUS = True
except ImportError:  # pragma: no cover - reported by the CLI
    HAS_PROMETHEUS = False

LOG = logging.getLogger("metal_lb.speaker")


class SpeakerMetrics(CounterMetrics):
    """Layer-2 counters (the responder's ``Layer2Metrics``), announcements, config and membership."""

    def __init__(self, node: str, membership_stats: Callable[[], dict] | None = None) -> None:
        super().__init__()
        self.node = node
        self.membership_stats = membership_stats
        self.registry = CollectorRegistry()
        r = self.registry
        self.announced: set[tuple[str, str]] = set()  # (service, ip) announced from this node in layer 2
        self.announced_bgp: set[tuple[str, str]] = set()  # (service, ip) announced over BGP
        self.updates, self.update_errors, self.config_loaded, self.config_stale = k8s_client_metrics(r)
        r.register(_Collector(self))

    def set_announced(self, service: str, ip: str, on: bool, protocol: str = "layer2") -> None:
        held = self.announced_bgp if protocol == "bgp" else self.announced
        if on:
            held.add((service, ip))
        else:
            held.discard((service, ip))


class _Collector:
    """Reads the dict counters and the membership statistics at scrape time."""

    def __init__(self, metrics: SpeakerMetrics) -> None:
        self.m = metrics

    def describe(self):  # no describe: the series depend on runtime state
        return []

    def collect(self):
        m = self.m
        announced = GaugeMetricFamily("metallb_speaker_announced", "Services being announced from this node",
                                      labels=["service", "protocol", "node", "ip"])
        for protocol, held in (("layer2", m.announced), ("bgp", m.announced_bgp)):
            for service, ip in sorted(set(held)):  # a copy: the speaker thread changes it
                announced.add_metric([service, protocol, m.node, ip], 1)
        yield announced
        for name, values, doc in (
            ("metallb_layer2_requests_received", m.requests_received, "Number of layer2 requests received "
             "for owned IPs"),
            ("metallb_layer2_responses_sent", m.responses_sent, "Number of layer2 responses sent for owned "
             "IPs"),
            ("metallb_layer2_gratuitous_sent", m.gratuitous, "Number of gratuitous layer2 packets sent for "
             "owned IPs"),
        ):
            metric = Metric(name, doc, "unknown")
            for ip, count in sorted(dict(values).items()):
                metric.add_sample(name, {"ip": ip}, count)
            yield metric
        drops = CounterMetricFamily("metal_lb_layer2_frames_dropped", "Frames the layer2 responder "
                                    "ignored or could not answer, by reason", labels=["reason"])
        for reason, count in sorted(dict(m.drops).items()):
            drops.add_metric([reason], count)
        yield drops
        yield from self._membership()

    def _membership(self):
        if self.m.membership_stats is None:
            return
        try:
            stats = self.m.membership_stats()
        except Exception as exc:  # noqa: BLE001 - a scrape never fails because membership is stopping
            LOG.debug("membership statistics unavailable: %s", exc)
            return
        live = GaugeMetricFamily("metal_lb_membership_live_members", "Speakers this node counts as live "
                                 "(eligible to announce), itself included")
        live.add_metric([], len(stats.get("live") or ()))
        yield live
        ready = GaugeMetricFamily("metal_lb_membership_ready_bool", "1 once this node's membership view is "
                                  "worth acting on")
        ready.add_metric([], 1 if stats.get("ready") else 0)
        yield ready
        known = GaugeMetricFamily("metal_lb_membership_known_members", "Other speakers known from the API")
        known.add_metric([], stats.get("known") or 0)
        yield known
        for key, doc in (("datagrams_sent", "Membership datagrams sent"),
                         ("datagrams_received", "Membership datagrams received"),
                         ("send_errors", "Membership datagrams that could not be sent"),
                         ("accusations_sent", "Failure accusations sent"),
                         ("refutations", "Accusations against this node refuted"),
                         ("members_down", "Members marked down"),
                         ("members_left", "Members that left gracefully")):
            family = CounterMetricFamily("metal_lb_membership_%s" % key, doc)
            family.add_metric([], stats.get(key) or 0)
            yield family
        dropped = CounterMetricFamily("metal_lb_membership_datagrams_dropped", "Membership datagrams "
                                      "dropped (bad MAC, replay, garbage, ...), by reason", labels=["reason"])
        for reason, count in sorted((stats.get("dropped") or {}).items()):
            dropped.add_metric([reason], count)
        yield dropped
