# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGP, the speaker's second protocol: the node's sessions and prefixes, spoken by its own FRR.

``should_announce`` is ``engine.bgp.service_decisions.desired`` (``node_state.node_bgp``, the
planner's function). ``sync`` renders the whole desired state and sends FRR only the difference
to what it holds (``frr_diff``), in one vtysh batch per pass: a burst of Service changes is one
batch, a Service change never touches a session, a peer change touches only its neighbor. FRR is
started on the first pass that has a session (no FRR on a layer-2-only node); a running instance
of the same pathspace is adopted and read back, so a restarted speaker withdraws nothing.

Errors never cost what works: a command FRR refuses is reported once (log and a Warning Event on
the BGPPeer or BFDProfile it came from, naming the field) and everything else of the batch is
applied; a peer whose session cannot be resolved (its passwordSecret unreadable) keeps the session
and routes it had. Passwords never reach logs, Events, the status file or a repr
(``frr_config.redact``). On a planned stop every route is re-sent with GRACEFUL_SHUTDOWN
(65535:0), routers get ``shutdown_wait`` seconds to move traffic away, then the routes are
withdrawn and FRR is stopped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from ...adapters.frr.instance import FrrError, FrrInstance
from ...adapters.frr.session_state import NEIGHBORS_COMMAND, SessionState, sessions_from_json
from ...adapters.frr.vtysh import CommandError, Vtysh, VtyshError
from ...adapters.kube.bgp_status import BGPStatusWriter
from ...adapters.kube.service_statuses import ServiceStatuses
from ...engine.bgp.frr_config import FrrConfig, redact, render_model
from ...engine.bgp.frr_diff import diff
from ...engine.bgp.frr_readback import parse_running_config
from ...engine.bgp.node_state import NodeBGP, PeerRoutes, graceful_shutdown
from ...engine.bgp.service_decisions import ServiceBGP, desired
from ...engine.bgp.session_events import Observed, session_events
from ...engine.go_quote import go_quote
from ...engine.model import Config
from ...engine.vocabulary import GROUP
from .bgp_metrics import register_bgp_metrics
from .protocol import EventSink, Snapshot

LOG = logging.getLogger("metal_lb.speaker")
NAME = "bgp"
DEFAULT_SHUTDOWN_WAIT = 5.0
DEFAULT_POLL_INTERVAL = 2.0
STATUS_DRAIN = 2.0  # seconds a planned stop waits for this node's ServiceBGPStatus objects to be deleted
_PEER_OF_ERROR = re.compile(r'^BGPPeer "([^"]+)"')
# what a neighbor line sets → the BGPPeer field it comes from (frr_config.neighbor_lines)
NEIGHBOR_FIELDS = {"remote-as": "spec.peerASN", "interface": "spec.interface", "ebgp-multihop": "spec.ebgpMultiHop",
                   "local-as": "spec.localASN", "port": "spec.peerPort", "timers connect": "spec.connectTime",
                   "timers": "spec.holdTime", "password": "spec.password", "update-source": "spec.sourceAddress",
                   "graceful-restart": "spec.enableGracefulRestart", "bfd": "spec.bfdProfile",
                   "disable-connected-check": "spec.peerAddress"}
BFD_FIELDS = {"receive-interval": "spec.receiveInterval", "transmit-interval": "spec.transmitInterval",
              "detect-multiplier": "spec.detectMultiplier", "echo-mode": "spec.echoMode",
              "echo ": "spec.echoInterval", "passive-mode": "spec.passiveMode", "minimum-ttl": "spec.minimumTtl"}


def _object_ref(kind: str, name: str, namespace: str) -> dict:
    version = "v1beta2" if kind == "BGPPeer" else "v1beta1"
    return {"apiVersion": "%s/%s" % (GROUP, version), "kind": kind, "metadata": {"name": name,
                                                                                 "namespace": namespace}}


def blame(commands: list[str], error: CommandError, state: NodeBGP,
          secret_peers: frozenset[str] = frozenset()) -> tuple[str, str, str]:
    """(kind, name, field) of the configuration a refused command came from ("" when none).
    ``secret_peers``: BGPPeers whose password comes from a passwordSecret."""
    command = error.command.strip()
    context = ""
    for line in reversed(commands[: max(error.index, 0)]):
        if line and not line.startswith(" "):
            context = line
            break
        if line.startswith(" profile "):
            context = line.strip()
            break
    words = command.split()
    if words[:1] == ["neighbor"] and len(words) > 2:
        vrf = context.split(" vrf ", 1)[1].strip() if context.startswith("router bgp ") and " vrf " in context \
            else ""
        rest = " ".join(words[2:])
        field = next((f for key, f in NEIGHBOR_FIELDS.items() if rest.startswith(key)), "")
        for p in state.peers:
            if p.session.peer == words[1] and p.session.vrf == vrf:
                if field == "spec.password" and p.session.name in secret_peers:
                    field = "spec.passwordSecret"
                return "BGPPeer", p.session.name, field
    if context.startswith("profile "):
        profile = context.split(" ", 1)[1]
        field = next((f for key, f in BFD_FIELDS.items() if command.startswith(key)), "")
        return "BFDProfile", profile, field
    if words[:2] == ["bgp", "router-id"] or command.startswith("router bgp"):
        field = "spec.routerID" if words[:2] == ["bgp", "router-id"] else "spec.vrf"
        vrf = command.split(" vrf ", 1)[1] if " vrf " in command else ""
        names = [p.session.name for p in state.peers if p.session.vrf == vrf]
        if names:
            return "BGPPeer", names[0], field
    return "", "", ""


class BGP:
    """The BGP ``Protocol`` of one node. ``frr`` and ``vtysh`` are the node's FRR instance and its
    applier (tests pass fakes); ``shutdown_wait``: seconds between GRACEFUL_SHUTDOWN and withdrawal."""

    name = NAME

    def __init__(self, custom_api, *, node: str, namespace: str, metrics, event: EventSink,
                 resync: Callable[[], None], frr: FrrInstance | None = None, vtysh: Vtysh | None = None,
                 shutdown_wait: float = DEFAULT_SHUTDOWN_WAIT, poll_interval: float = DEFAULT_POLL_INTERVAL,
                 status_qps: float = 20.0, status_burst: int = 50, stop_frr: bool = True) -> None:
        self.node = node
        self.namespace = namespace
        self.metrics = metrics
        self.frr = frr if frr is not None else FrrInstance()
        self.vtysh = vtysh if vtysh is not None else Vtysh(self.frr.name)
        self.shutdown_wait = shutdown_wait
        self.poll_interval = poll_interval
        self.stop_frr = stop_frr
        self._event = event
        self._resync = resync
        self._config: Config | None = None
        self._desired: NodeBGP = NodeBGP(node)
        self._decisions: dict[str, ServiceBGP] = {}
        self._announced: dict[str, ServiceBGP] = {}
        self._lock = threading.RLock()  # FRR: the worker's batches, the poller's restarts, stop()
        self._started = False
        self._frr_error = ""
        self._applied: FrrConfig | None = None  # what FRR holds (None: nothing of ours)
        self._applied_state: NodeBGP = NodeBGP(node)
        self._failed_target: FrrConfig | None = None  # a target FRR refused part of: not retried as is
        self._errors: list[str] = []  # the refused commands of the last batch, as reported
        self._session_errors: tuple[str, ...] = ()
        self._retry_at = 0.0
        self._sessions: dict[tuple[str, str], SessionState] = {}
        self._stopping = threading.Event()
        self._writing = False  # the status writer's thread runs
        self._poller: threading.Thread | None = None
        self._service_statuses = ServiceStatuses(BGPStatusWriter, custom_api, namespace, node, qps=status_qps,
                                                 burst=status_burst, on_error=self._status_failed)
        self._statuses = self._service_statuses.writer
        registry = getattr(metrics, "registry", None)
        if registry is not None:
            register_bgp_metrics(registry, self)

    # -- status objects (informer thread) ------------------------------------------------------
    def _status_failed(self, key: str, exc: Exception) -> None:
        self.metrics.update_errors.inc()
        LOG.warning("ServiceBGPStatus for %s not written: %s (will retry)", key, exc)

    # -- Protocol -------------------------------------------------------------------------------
    def informers(self) -> list:
        return self._service_statuses.informers()

    def start(self) -> None:
        self._statuses.start()
        self._writing = True

    def set_config(self, config: Config) -> None:
        self._config = config

    def set_node(self, node: Mapping | None) -> None:
        """BGP reads this node's labels from the snapshot's Nodes: nothing to keep."""

    def should_announce(self, snapshot: Snapshot) -> dict[str, ServiceBGP]:
        state, decisions = desired(snapshot.services, snapshot.config, snapshot.nodes, snapshot.endpoint_slices,
                                   snapshot.my_node, snapshot.secrets, lb_class=snapshot.lb_class,
                                   ignore_exclude_lb=snapshot.ignore_exclude_lb)
        self._desired = self._keep_unresolved(state)
        self._decisions = decisions
        return decisions

    def keys(self) -> set[str]:
        return set(self._announced) | set(self._statuses.desired()) | self._service_statuses.own_keys()

    def announced(self) -> dict[str, tuple[str, ...]]:
        return {key: d.ips for key, d in self._announced.items()}

    def set_balancer(self, key: str, service: Mapping | None, decision: ServiceBGP) -> None:
        prev = self._announced.get(key)
        self._announced[key] = decision
        if prev is None or prev.ips != decision.ips:
            for ip in prev.ips if prev is not None else ():
                self.metrics.set_announced(key, ip, False, protocol=NAME)
            for ip in decision.ips:
                self.metrics.set_announced(key, ip, True, protocol=NAME)
            if prev is None and service is not None:
                LOG.info("announcing %s (%s) over BGP to %s", key, ", ".join(decision.ips),
                         ", ".join(decision.peers) or "no peer")
                self._event(service, "Normal", "nodeAssigned", "announcing from node %s with protocol %s"
                            % (go_quote(self.node), go_quote(NAME)))
        self._statuses.set(key, decision.peers or None)

    def delete_balancer(self, key: str, reason: str) -> None:
        prev = self._announced.pop(key, None)
        if prev is not None:
            LOG.info("withdrawing %s (%s) from BGP: %s", key, ", ".join(prev.ips) or "no IP", reason)
            for ip in prev.ips:
                self.metrics.set_announced(key, ip, False, protocol=NAME)
        self._statuses.set(key, None)

    def sync(self, services: Mapping[str, Mapping | None]) -> None:
        """One batch for the pass: the whole desired state against what FRR holds."""
        self._report_session_errors(self._desired.errors)
        with self._lock:
            if self._stopping.is_set():
                return
            if not self._started:
                if not self._desired.peers:
                    return  # no session on this node: no FRR
                if not self._start_frr():
                    return
            self._apply(self._desired)

    def burst(self) -> list[str]:
        return []  # BGP has no gratuitous packets: routers hold the routes

    def idle(self) -> bool:
        return self._statuses.idle()

    def stop(self) -> None:
        """Planned stop: GRACEFUL_SHUTDOWN on every route, wait, withdraw, stop FRR, delete this node's
        ServiceBGPStatus objects."""
        self._stopping.set()
        with self._lock:
            if self._started and self._applied_state.peers and any(p.routes for p in self._applied_state.peers):
                LOG.info("BGP: graceful shutdown of %d session(s); withdrawing in %.1fs",
                         len(self._applied_state.peers), self.shutdown_wait)
                self._apply(graceful_shutdown(self._applied_state), force=True)
                time.sleep(max(self.shutdown_wait, 0.0))
                withdrawn = replace(self._applied_state, peers=tuple(PeerRoutes(p.session) for p in
                                                                     self._applied_state.peers))
                self._apply(withdrawn, force=True)
            if self._started and self.stop_frr:
                self.frr.stop()
            self._started = False
        # nothing is advertised from here any more: this node's ServiceBGPStatus objects go too
        for key in self.keys():
            self._statuses.set(key, None)
        deadline = time.monotonic() + STATUS_DRAIN
        while self._writing and not self._statuses.idle() and time.monotonic() < deadline:
            time.sleep(0.02)
        self._service_statuses.stop()

    def status(self) -> dict:
        """The status file's ``bgp`` part: FRR, each session, what goes to it, errors."""
        sessions = []
        for p in self._applied_state.peers:
            s = p.session
            live = self._sessions.get((s.vrf, s.peer))
            sessions.append({"name": s.name, "peer": s.peer, "port": s.port, "vrf": s.vrf, "my_asn": s.my_asn,
                             "remote_as": s.remote_as, "state": live.state if live else "Unknown",
                             "established_epoch": live.established_epoch if live else 0,
                             "prefixes": [r.prefix for r in p.routes],
                             "prefixes_sent": live.prefixes_sent if live else 0,
                             "updates_sent": live.updates_sent if live else 0,
                             "bfd": live.bfd if live else "", "bfd_profile": s.bfd_profile})
        announced: dict[str, dict] = {}
        for key, decision in sorted(self._announced.items()):
            for ip in decision.ips:
                entry = announced.setdefault(ip, {"services": [], "peers": [],
                                                  "prefixes": list(self._desired.ip_prefixes.get(ip, ()))})
                entry["services"].append(key)
                entry["peers"] = sorted(set(entry["peers"]) | set(decision.peers))
        return {"bgp": {"enabled": True, "frr": {"pathspace": self.frr.name, "running": self._started,
                                                 "error": self._frr_error},
                        "sessions": sessions, "announced": announced,
                        "errors": list(self._session_errors) + self._errors}}

    # -- FRR ----------------------------------------------------------------------------------------
    def _start_frr(self) -> bool:
        try:
            fresh = self.frr.start()
            if not self.vtysh.wait_ready():
                raise FrrError("FRR instance %s does not answer vtysh" % self.frr.name)
            self._applied = None if fresh else parse_running_config(self.vtysh.running_config())
        except (FrrError, VtyshError, OSError) as exc:
            if str(exc) != self._frr_error:
                LOG.error("BGP: FRR cannot run: %s", exc)
            self._frr_error = str(exc)
            return False
        self._frr_error = ""
        self._started = True
        self._failed_target = None
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll_loop, name="frr-poll", daemon=True)
            self._poller.start()
        return True

    def _apply(self, state: NodeBGP, force: bool = False) -> None:
        target = render_model(state, previous=self._applied)
        if target == self._applied or (not force and target == self._failed_target):
            return
        commands = diff(self._applied, target)
        if not commands:
            self._applied, self._applied_state = target, state
            return
        started = time.monotonic()
        try:
            errors = self.vtysh.apply(commands)
        except VtyshError as exc:  # nothing known applied: FRR keeps what it had, retry later
            LOG.error("BGP: FRR not updated (%s); retrying", exc)
            self._retry_later()
            return
        LOG.debug("BGP: %d command(s) applied in %.0f ms", len(commands), (time.monotonic() - started) * 1000)
        if not errors:
            self._applied, self._applied_state = target, state
            self._failed_target = None
            self._report_errors([], state, commands)
            return
        # part of the batch was refused: FRR holds the rest; read what it really holds
        try:
            self._applied = parse_running_config(self.vtysh.running_config())
        except VtyshError as exc:
            LOG.error("BGP: FRR's configuration cannot be read back (%s); the next change is diffed "
                      "against the state before this batch", exc)
        self._applied_state = state
        self._failed_target = target
        self._report_errors(errors, state, commands)

    def _retry_later(self, delay: float = 1.0) -> None:
        now = time.monotonic()
        if now < self._retry_at:
            return
        self._retry_at = now + delay
        timer = threading.Timer(delay, self._resync)
        timer.daemon = True
        timer.start()

    def _report_errors(self, errors: list[CommandError], state: NodeBGP, commands: list[str]) -> None:
        lines = []
        secret_peers = frozenset(p.name for p in self._config.peers if p.password_secret) if self._config else \
            frozenset()
        for error in errors:
            kind, name, field = blame(commands, error, state, secret_peers)
            what = '%s "%s": %s: ' % (kind, name, field or "FRR") if kind else ""
            line = redact('%sFRR refused "%s": %s' % (what, error.command.strip(), error.message))
            lines.append(line)
            if line not in self._errors:
                LOG.error("BGP: %s", line)
                if kind:
                    self._event(_object_ref(kind, name, self.namespace), "Warning", "bgpConfigRefused", line)
        self._errors = lines

    def _report_session_errors(self, errors: tuple[str, ...]) -> None:
        if errors == self._session_errors:
            return
        for line in errors:
            if line not in self._session_errors:
                LOG.error("BGP: session not (re)configured, keeping what runs: %s", redact(line))
                match = _PEER_OF_ERROR.match(line)
                if match:
                    self._event(_object_ref("BGPPeer", match.group(1), self.namespace), "Warning",
                                "bgpPeerInvalid", redact(line))
        self._session_errors = errors

    def _keep_unresolved(self, state: NodeBGP) -> NodeBGP:
        """A peer that selects this node but cannot be resolved now (its passwordSecret unreadable)
        keeps the session and routes FRR has for it: a transient error never drops a session."""
        names = {m.group(1) for m in (_PEER_OF_ERROR.match(e) for e in state.errors) if m}
        kept = [p for p in self._applied_state.peers if p.session.name in names
                and all(q.session.name != p.session.name for q in state.peers)]
        if not kept:
            return state
        return replace(state, peers=tuple(sorted(state.peers + tuple(kept), key=lambda p: p.session.name)))

    # -- the poller: session states for status and metrics, dead daemons --------------------------
    def _poll_loop(self) -> None:
        while not self._stopping.wait(self.poll_interval):
            self.poll()

    def poll(self) -> None:
        """Read FRR's sessions; a change of state (up/down, BFD: Events too) or of the prefixes sent
        reaches the status file; a dead FRR daemon restarts the instance and everything is applied again."""
        with self._lock:
            if not self._started or self._stopping.is_set():
                return
            try:
                restarted = self.frr.restart_if_dead()
            except (FrrError, OSError) as exc:
                LOG.error("BGP: FRR cannot be restarted: %s", exc)
                self._started = False
                self._frr_error = str(exc)
                return
            if restarted:
                self.vtysh.wait_ready()
                self._applied = None
                self._failed_target = None
                self._apply(self._desired)
            try:
                sessions = sessions_from_json(self.vtysh.show_json(NEIGHBORS_COMMAND))
            except VtyshError as exc:
                LOG.debug("BGP: sessions not read: %s", exc)
                return
        previous, self._sessions = self._sessions, sessions
        states = {k: (s.state, s.bfd) for k, s in previous.items()}
        if {k: (s.state, s.bfd) for k, s in sessions.items()} != states:
            self._record_session_events(previous, sessions)
            self._resync()
        elif {k: s.prefixes_sent for k, s in sessions.items()} != {k: s.prefixes_sent for k, s in previous.items()}:
            self._resync()  # the status file's prefix counts follow what FRR sent

    def _record_session_events(self, before: Mapping[tuple[str, str], SessionState],
                               after: Mapping[tuple[str, str], SessionState]) -> None:
        names = {(p.session.vrf, p.session.peer): p.session.name for p in self._applied_state.peers}
        for event in session_events(self.node, names, {k: Observed(s.up, s.bfd) for k, s in before.items()},
                                    {k: Observed(s.up, s.bfd) for k, s in after.items()}):
            log = LOG.info if event.type == "Normal" else LOG.warning
            log("BGP: %s (BGPPeer %s)", event.message, event.peer_name)
            self._event(_object_ref("BGPPeer", event.peer_name, self.namespace), event.type, event.reason,
                        event.message)

    def sessions(self) -> dict[tuple[str, str], SessionState]:
        return dict(self._sessions)

    def desired_prefixes(self) -> dict[tuple[str, str], int]:
        """(vrf, peer) → how many prefixes it should receive (applied), for the pending-prefixes metric."""
        return {(p.session.vrf, p.session.peer): len(p.routes) for p in self._applied_state.peers}
