# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Watches through ``kubernetes.watch.Watch``: replay after a resourceVersion, selector transitions,
timeouts, bookmarks, and the 410 Expired path (in the stream, as the real API sends it) that client
code must answer with a relist.

Every watch here passes ``timeout_seconds``, so the client never retries on its own and every stream
ends by itself.
"""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes import watch  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

pytestmark = pytest.mark.integration


def cm(name: str, **labels: str) -> k.V1ConfigMap:
    return k.V1ConfigMap(metadata=k.V1ObjectMeta(name=name, labels=labels or None))


def collect(func, *args, **kwargs) -> list[tuple[str, str]]:
    kwargs.setdefault("timeout_seconds", 1)
    return [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(func, *args, **kwargs)]


def test_watch_replays_every_change_after_a_resource_version(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, cm("a"))
    core.patch_namespaced_config_map("a", namespace, {"data": {"x": "1"}})
    core.create_namespaced_config_map(namespace, cm("b"))
    core.delete_namespaced_config_map("a", namespace)
    events = [
        e
        for e in collect(core.list_namespaced_config_map, namespace, resource_version=start)
        if e[1] in ("a", "b")
    ]
    assert events == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]


def test_watch_without_version_starts_with_the_current_objects(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_config_map(namespace, cm("x"))
    core.create_namespaced_config_map(namespace, cm("y"))
    events = [e for e in collect(core.list_namespaced_config_map, namespace) if e[1] in ("x", "y")]
    assert sorted(events) == [("ADDED", "x"), ("ADDED", "y")]


def test_watch_delivers_live_events_in_order(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    seen: list[tuple[str, str, str]] = []
    ready = threading.Event()

    def run() -> None:
        stream = watch.Watch().stream(
            core.list_namespaced_config_map, namespace, resource_version=start, timeout_seconds=5
        )
        ready.set()
        for event in stream:
            seen.append(
                (event["type"], event["object"].metadata.name, event["object"].metadata.resource_version)
            )
            if event["type"] == "DELETED":
                break

    thread = threading.Thread(target=run)
    thread.start()
    ready.wait(5)
    created = core.create_namespaced_config_map(namespace, cm("live"))
    core.delete_namespaced_config_map("live", namespace)
    thread.join(10)
    assert [s[:2] for s in seen] == [("ADDED", "live"), ("DELETED", "live")]
    assert seen[0][2] == created.metadata.resource_version
    deleted_rv = int(seen[1][2])
    assert deleted_rv > int(created.metadata.resource_version)  # the delete has its own version


def test_label_selector_watch_sees_objects_enter_and_leave(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_config_map(namespace, cm("sel", role="other"))
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.patch_namespaced_config_map("sel", namespace, {"metadata": {"labels": {"role": "lb"}}})
    core.patch_namespaced_config_map("sel", namespace, {"data": {"k": "v"}})
    core.patch_namespaced_config_map("sel", namespace, {"metadata": {"labels": {"role": "other"}}})
    core.patch_namespaced_config_map("sel", namespace, {"data": {"k": "w"}})
    events = collect(
        core.list_namespaced_config_map, namespace, resource_version=start, label_selector="role=lb"
    )
    # entering the selector is ADDED, leaving it is DELETED (the real watch cache's behaviour)
    assert events == [("ADDED", "sel"), ("MODIFIED", "sel"), ("DELETED", "sel")]


def test_field_selector_watch(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, cm("one"))
    core.create_namespaced_config_map(namespace, cm("two"))
    events = collect(
        core.list_namespaced_config_map, namespace, resource_version=start, field_selector="metadata.name=two"
    )
    assert events == [("ADDED", "two")]


def test_cluster_wide_watch_filters_by_namespace_only_when_asked(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    start = core.list_config_map_for_all_namespaces().metadata.resource_version
    core.create_namespaced_config_map(namespace, cm("everywhere"))
    events = collect(
        core.list_config_map_for_all_namespaces,
        resource_version=start,
        field_selector=f"metadata.namespace={namespace}",
    )
    assert ("ADDED", "everywhere") in events


def test_expired_resource_version_raises_410_and_a_relist_recovers(lab_api_factory, make_client):
    server = lab_api_factory("--history", "5")
    core = k.CoreV1Api(make_client(server.kubeconfig))
    core.create_namespace(k.V1Namespace(metadata=k.V1ObjectMeta(name="old")))
    stale = core.list_namespaced_config_map("old").metadata.resource_version
    for i in range(10):
        core.create_namespaced_config_map("old", cm(f"c{i}"))
    with pytest.raises(ApiException) as err:
        collect(core.list_namespaced_config_map, "old", resource_version=stale)
    assert err.value.status == 410
    # what an informer does: relist, then watch from the list's version
    fresh = core.list_namespaced_config_map("old")
    assert len(fresh.items) == 10
    core.create_namespaced_config_map("old", cm("after"))
    events = collect(core.list_namespaced_config_map, "old", resource_version=fresh.metadata.resource_version)
    assert events == [("ADDED", "after")]


def test_expired_watch_is_a_200_stream_with_one_error_event(lab_api_factory):
    server = lab_api_factory("--history", "2")
    for name in ("a", "b", "c", "d"):
        request = urllib.request.Request(
            server.url + "/api/v1/namespaces/default/configmaps",
            method="POST",
            data=json.dumps({"metadata": {"name": name}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()
    with urllib.request.urlopen(
        server.url + "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=5",
        timeout=10,
    ) as resp:
        assert resp.status == 200
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        lines = [line for line in resp.read().split(b"\n") if line]
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith("too old resource version: 1 (")


def test_restart_without_state_makes_old_versions_expire(lab_api_factory, make_client):
    first = lab_api_factory()
    core = k.CoreV1Api(make_client(first.kubeconfig))
    old = core.list_namespaced_config_map("default").metadata.resource_version
    first.stop()
    second = lab_api_factory("--port", str(first.port))
    core = k.CoreV1Api(make_client(second.kubeconfig))
    with pytest.raises(ApiException) as err:
        collect(core.list_namespaced_config_map, "default", resource_version=old)
    assert err.value.status == 410


def test_bookmarks_carry_the_current_resource_version(lab_api_factory, make_client):
    server = lab_api_factory("--bookmark-interval", "0.2")
    core = k.CoreV1Api(make_client(server.kubeconfig))
    core.create_namespace(k.V1Namespace(metadata=k.V1ObjectMeta(name="marks")))
    listed = core.list_namespaced_config_map("marks").metadata.resource_version
    core.create_namespaced_config_map("default", cm("elsewhere"))  # advances the global version
    marks = []
    for event in watch.Watch().stream(
        core.list_namespaced_config_map,
        "marks",
        resource_version=listed,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
    ):
        assert event["type"] == "BOOKMARK"
        marks.append(int(event["raw_object"]["metadata"]["resourceVersion"]))
    assert len(marks) >= 2 and marks[-1] > int(listed)


def test_watch_ends_when_the_server_stops(lab_api_factory, make_client):
    server = lab_api_factory()
    core = k.CoreV1Api(make_client(server.kubeconfig))
    core.create_namespaced_config_map("default", cm("present"))
    streaming, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _event in watch.Watch().stream(
                core.list_namespaced_config_map, "default", timeout_seconds=60
            ):
                streaming.set()  # the synthetic ADDED arrived: the watch is registered
        except Exception as exc:  # noqa: BLE001 - a closed connection may surface either way
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert streaming.wait(15)
    assert server.stop() == 0  # SIGTERM ends open watch streams; the server exits cleanly
    assert done.wait(15)
