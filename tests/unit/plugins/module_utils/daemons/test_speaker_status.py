"""ServiceL2Status writes: the token bucket paces them, the writer converges MetalLB's objects
(one per announced Service, created by its node, other nodes' removed) against a fake API."""

from __future__ import annotations

import json
import threading
import time

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.kube import l2_status
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.l2_status import L2StatusWriter, TokenBucket

NS = "metallb-system"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_paces_at_its_rate():
    clock = Clock()
    bucket = TokenBucket(rate=4.0, burst=3, clock=clock)
    assert [bucket.delay() for _unused in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.delay() == pytest.approx(0.25)
    clock.now += 0.125
    assert bucket.delay() == pytest.approx(0.125)
    clock.now += 0.125
    assert bucket.delay() == 0.0
    clock.now += 100.0  # idle for long: never more than a burst
    assert [bucket.delay() for _unused in range(4)][-1] > 0.0


def test_token_bucket_clamps_nonsense_settings():
    bucket = TokenBucket(rate=0.0, burst=0, clock=Clock())
    assert bucket.burst == 1 and bucket.rate > 0
    assert bucket.delay() == 0.0 and bucket.delay() > 0.0


class Raw:
    def __init__(self, obj) -> None:
        self.data = json.dumps(obj).encode()


class FakeCustomApi:
    """ServiceL2Status objects in a dict; every call recorded; ``fail`` makes the next calls raise."""

    def __init__(self) -> None:
        self.objects: dict[str, dict] = {}
        self.calls: list[tuple] = []
        self.fail = 0
        self.lock = threading.Lock()
        self.serial = 0

    def _maybe_fail(self):
        if self.fail:
            self.fail -= 1
            raise l2_status.ApiException(status=503, reason="unavailable")

    def list_namespaced_custom_object(self, group, version, namespace, plural, label_selector="", **_kw):
        with self.lock:
            self.calls.append(("list", label_selector))
            self._maybe_fail()
            wanted = dict(part.split("=", 1) for part in label_selector.split(",") if part)
            items = [o for o in self.objects.values()
                     if all(o["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
            return Raw({"items": items})

    def create_namespaced_custom_object(self, group, version, namespace, plural, body, **_kw):
        with self.lock:
            self._maybe_fail()
            self.serial += 1
            obj = json.loads(json.dumps(body))
            obj["metadata"]["name"] = "l2-%d" % self.serial
            self.objects[obj["metadata"]["name"]] = obj
            self.calls.append(("create", obj["metadata"]["name"]))
            return Raw(obj)

    def patch_namespaced_custom_object_status(self, group, version, namespace, plural, name, patch, **_kw):
        with self.lock:
            self._maybe_fail()
            status = {k: v for k, v in patch["status"].items() if v is not None}
            self.objects[name]["status"] = status
            self.calls.append(("patch", name, status))
            return Raw(self.objects[name])

    def delete_namespaced_custom_object(self, group, version, namespace, plural, name, **_kw):
        with self.lock:
            self._maybe_fail()
            self.calls.append(("delete", name))
            if self.objects.pop(name, None) is None:
                raise l2_status.ApiException(status=404, reason="gone")


def other_nodes_object(api: FakeCustomApi, node: str, svc: str) -> str:
    ns, name = svc.split("/")
    api.serial += 1
    obj = {"metadata": {"name": "l2-old-%d" % api.serial, "labels": {
        l2_status.NODE_LABEL: node, l2_status.NAME_LABEL: name, l2_status.NAMESPACE_LABEL: ns}},
        "status": {"node": node, "serviceName": name, "serviceNamespace": ns}}
    api.objects[obj["metadata"]["name"]] = obj
    return obj["metadata"]["name"]


def wait_idle(writer: L2StatusWriter, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if writer.idle():
            return
        time.sleep(0.005)
    raise AssertionError("writer not idle")


def informer_view(api: FakeCustomApi):
    """The speaker's informer cache, as if every write were seen at once."""
    def cached(key: str) -> list[dict]:
        ns, name = key.split("/")
        with api.lock:
            return [o for o in api.objects.values() if o["metadata"]["labels"][l2_status.NAME_LABEL] == name
                    and o["metadata"]["labels"][l2_status.NAMESPACE_LABEL] == ns]
    return cached


@pytest.fixture
def setup():
    api = FakeCustomApi()
    errors: list[str] = []
    writer = L2StatusWriter(api, NS, "n1", informer_view(api), qps=1000, burst=1000,
                            backoff_min=0.01, on_error=lambda key, exc: errors.append(key))
    writer.start()
    yield api, writer, errors
    writer.stop()


def mine(api: FakeCustomApi, node: str = "n1") -> list[dict]:
    return [o for o in api.objects.values() if o["metadata"]["labels"][l2_status.NODE_LABEL] == node]


def test_new_leader_creates_its_object_and_removes_the_old_leaders(setup):
    api, writer, _errors = setup
    old = other_nodes_object(api, "n2", "shop/web")
    writer.set("shop/web", ("eth0",))
    wait_idle(writer)
    assert old not in api.objects
    [obj] = mine(api)
    assert obj["metadata"]["generateName"] == "l2-" and obj["metadata"]["labels"] == {
        l2_status.NODE_LABEL: "n1", l2_status.NAME_LABEL: "web", l2_status.NAMESPACE_LABEL: "shop"}
    assert obj["status"] == {"node": "n1", "serviceName": "web", "serviceNamespace": "shop",
                             "interfaces": [{"name": "eth0"}]}
    writer.set("shop/web", ())  # now on every interface: the list is removed, not merged
    wait_idle(writer)
    assert mine(api)[0]["status"] == {"node": "n1", "serviceName": "web", "serviceNamespace": "shop"}
    writer.set("shop/web", None)
    wait_idle(writer)
    assert api.objects == {}
    assert writer.desired() == {}  # nothing of ours left: forgotten


def test_no_call_when_the_cache_already_shows_the_desired_state(setup):
    api, writer, _errors = setup
    name = other_nodes_object(api, "n1", "shop/web")  # ours, from before a restart
    api.objects[name]["status"] = l2_status.desired_status("n1", "shop", "web", ())
    writer.set("shop/web", ())
    writer.set("shop/other", None)  # never ours, not announced: nothing to do
    wait_idle(writer)
    assert api.calls == []


def test_api_failures_are_retried_with_backoff_and_reported(setup):
    api, writer, errors = setup
    api.fail = 3
    writer.set("shop/web", ())
    deadline = time.monotonic() + 5
    while not mine(api) and time.monotonic() < deadline:
        time.sleep(0.01)
    wait_idle(writer)
    assert len(mine(api)) == 1
    assert errors and set(errors) == {"shop/web"} and writer.errors == len(errors)


def test_the_latest_desire_wins_over_one_not_written_yet():
    api = FakeCustomApi()
    writer = L2StatusWriter(api, NS, "n1", lambda key: [], qps=1000, burst=1000)
    writer.set("shop/web", ("eth0",))
    writer.set("shop/web", None)  # withdrawn before the worker ran
    writer.start()
    try:
        wait_idle(writer)
    finally:
        writer.stop()
    assert api.calls == [] and api.objects == {}  # the first desire was never written


def test_bgp_status_one_object_per_node_with_sorted_peers_and_others_left_alone():
    from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.bgp_status import BGPStatusWriter

    api = FakeCustomApi()
    writer = BGPStatusWriter(api, NS, "n1", informer_view(api), qps=1000, burst=1000, backoff_min=0.01)
    writer.start()
    try:
        theirs = other_nodes_object(api, "n2", "shop/web")
        writer.set("shop/web", ("tor2", "tor1"))
        wait_idle(writer)
        (obj,) = mine(api)
        assert obj["metadata"]["generateName"] == "bgp-"
        assert obj["status"] == {"node": "n1", "serviceName": "web", "serviceNamespace": "shop",
                                 "peers": ["tor1", "tor2"]}
        assert theirs in api.objects  # every announcing node has its own object (unlike layer 2)
        writer.set("shop/web", ("tor1",))
        wait_idle(writer)
        assert mine(api)[0]["status"]["peers"] == ["tor1"]
        writer.set("shop/web", ())  # no peer any more: MetalLB deletes the object
        wait_idle(writer)
        assert mine(api) == [] and theirs in api.objects
    finally:
        writer.stop()
