# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""HTTP routing for the lab API: the real API's URL layout, JSON bodies, ``Status`` errors, chunked watch
streams. Stdlib ``http.server`` (HTTP/1.1 keep-alive, one thread per connection); binds 127.0.0.1 only.

Paths: ``/version``, ``/healthz``, ``/readyz``, ``/livez``, ``/api``, ``/api/v1``, ``/apis``,
``/apis/GROUP``, ``/apis/GROUP/VERSION`` and the resource paths
``/api/v1[/namespaces/NS]/PLURAL[/NAME[/status]]`` and
``/apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME[/status]]``. Subresources the real API has but
this server does not (pods/log, pods/exec, services/proxy, */scale, ...) answer 400 with a message that
says so; unknown paths 404 like the real API. The legacy ``/api/v1/watch/...`` paths are not served.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import ApiError, Invalid, bad_request, method_not_allowed, not_implemented
from .operations import LabApi, Result
from .resources import Resource

try:
    import yaml
except ImportError:  # pragma: no cover - the CLI reports it
    yaml = None

MAX_BODY = 3 * 1024 * 1024  # the real API's request size limit
VERSION = {
    "major": "1",
    "minor": "33",
    "emulationMajor": "1",
    "emulationMinor": "33",
    "gitVersion": "v1.33.0-metal-lb-lab",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "n/a (python)",
    "compiler": "cpython",
    "platform": "linux/amd64",
}
UNSERVED_SUBRESOURCES = {
    "log",
    "exec",
    "attach",
    "portforward",
    "proxy",
    "binding",
    "eviction",
    "ephemeralcontainers",
    "resize",
    "finalize",
    "token",
    "scale",
    "approval",
}
NOT_FOUND = ApiError(404, "NotFound", "the server could not find the requested resource", {})


class Route:
    """What a request addresses."""

    def __init__(
        self,
        resource: Resource,
        version: str,
        namespace: str | None,
        name: str | None,
        subresource: str | None,
    ) -> None:
        self.resource = resource
        self.version = version
        self.namespace = namespace
        self.name = name
        self.subresource = subresource


def resolve(api: LabApi, parts: list[str]) -> Route:
    """Map path segments to a resource route, or raise 404 / 400 as the real API would."""
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise NOT_FOUND
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if rest[:1] == ["watch"]:
        raise not_implemented("the legacy /watch/ paths; use ?watch=true")
    if len(rest) > 3:
        raise NOT_FOUND
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    resource = api.registry.lookup(group, version, plural)
    if resource is None:
        raise NOT_FOUND
    if namespace is not None and not resource.namespaced:
        raise NOT_FOUND
    if sub is not None and sub != "status":
        if sub in UNSERVED_SUBRESOURCES:
            raise not_implemented(f"the {plural}/{sub} subresource")
        raise NOT_FOUND
    if sub == "status" and not resource.status:
        raise NOT_FOUND
    return Route(resource, version, namespace, name, sub)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stalls
    server_version = "metal-lb-lab-api"
    sys_version = ""

    # set on the subclass created per server
    api: LabApi
    bookmark_interval: float = 30.0
    log_requests: bool = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        if self.log_requests:
            sys.stderr.write(f"lab-api: {self.address_string()} {format % args}\n")

    # ------------------------------------------------------------------ plumbing
    def _send(
        self, code: int, body: Any, warnings: list[str] | None = None, content_type: str = "application/json"
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for warning in warnings or ():
            text = warning.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            self.send_header("Warning", f'299 - "{text}"')
        buffered = getattr(self, "_headers_buffer", None)
        if isinstance(buffered, list):  # one write for headers and body
            buffered.append(b"\r\n" + data)
            self.flush_headers()
        else:  # pragma: no cover - other http.server implementations
            self.end_headers()
            self.wfile.write(data)

    def _error(self, exc: ApiError) -> None:
        if exc.code >= 500:
            sys.stderr.write(f"lab-api: {self.command} {self.path} -> {exc.code} {exc.message}\n")
        self._send(exc.code, exc.status())

    def _body(self) -> Any:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            raw = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.close_connection = True
                raise ApiError(
                    413, "RequestEntityTooLarge", f"the request body is larger than {MAX_BODY} bytes"
                )
            raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return None
        kind = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        try:
            if kind.endswith("yaml"):
                if yaml is None:
                    raise bad_request("YAML bodies need PyYAML on the server")
                return yaml.safe_load(raw)
            return json.loads(raw)
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - json/yaml decode errors of every kind
            raise bad_request(
                "the request body is not valid {}: {}".format(
                    "YAML" if kind.endswith("yaml") else "JSON", exc
                )
            ) from exc

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()
            if len(out) > MAX_BODY:
                self.close_connection = True
                raise ApiError(
                    413, "RequestEntityTooLarge", f"the request body is larger than {MAX_BODY} bytes"
                )

    # ------------------------------------------------------------------ verbs
    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            parts = [unquote(p) for p in url.path.split("/") if p]
            body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else None
            if method == "GET" and self._discovery(parts):
                return
            route = resolve(self.api, parts)
            self._resource(method, route, query, body)
        except ApiError as exc:
            self._error(exc)
        except Invalid as exc:
            self._error(exc.api_error())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - never crash the server on one request
            traceback.print_exc(file=sys.stderr)
            try:
                self._error(ApiError(500, "InternalError", f"Internal error occurred: {exc}"))
            except OSError:
                self.close_connection = True

    def _discovery(self, parts: list[str]) -> bool:
        api = self.api
        if not parts:
            paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
            paths += [f"/apis/{g}" for g in sorted(api.registry.group_versions()) if g]
            self._send(200, {"paths": paths})
            return True
        head = parts[0]
        if head in ("healthz", "readyz", "livez"):
            self._send(200, b"ok", content_type="text/plain; charset=utf-8")
            return True
        if parts == ["version"]:
            self._send(200, VERSION)
            return True
        if parts == ["api"]:
            host = "{}:{}".format(*self.server.server_address[:2])
            self._send(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
                },
            )
            return True
        if parts == ["api", "v1"]:
            self._send(200, api.registry.resource_list("", "v1"))
            return True
        if parts == ["apis"]:
            self._send(200, api.registry.api_group_list())
            return True
        if head == "apis" and len(parts) == 2:
            group = api.registry.api_group(parts[1])
            if group is None:
                raise NOT_FOUND
            self._send(200, group)
            return True
        if head == "apis" and len(parts) == 3:
            listing = api.registry.resource_list(parts[1], parts[2])
            if listing is None:
                raise NOT_FOUND
            self._send(200, listing)
            return True
        if head in ("openapi", "swagger.json", "swaggerapi"):
            raise not_implemented("OpenAPI documents (/openapi/v2, /openapi/v3)")
        return False

    def _resource(self, method: str, route: Route, query: dict, body: Any) -> None:
        api, res = self.api, route.resource
        collection = route.name is None
        if res.namespaced and route.namespace is None and not collection:
            raise NOT_FOUND
        result: Result
        if method == "GET":
            if collection:
                if (query.get("watch") or "").lower() in ("true", "1"):
                    self._watch(route, query)
                    return
                result = api.list(res, route.version, route.namespace, query)
            else:
                result = api.get(res, route.version, route.namespace, route.name)
        elif method == "POST":
            if not collection:
                raise method_not_allowed(res.group, res.plural, "create")
            if res.namespaced and route.namespace is None:
                raise method_not_allowed(res.group, res.plural, "create")
            result = api.create(res, route.version, route.namespace, body, query)
        elif method == "PUT":
            if collection:
                raise method_not_allowed(res.group, res.plural, "update")
            result = api.update(
                res, route.version, route.namespace, route.name, body, query, route.subresource
            )
        elif method == "PATCH":
            if collection:
                raise method_not_allowed(res.group, res.plural, "patch")
            result = api.patch(
                res,
                route.version,
                route.namespace,
                route.name,
                body,
                self.headers.get("Content-Type") or "",
                query,
                route.subresource,
            )
        elif method == "DELETE":
            if route.subresource:
                raise method_not_allowed(res.group, res.plural + "/" + route.subresource, "delete")
            if collection:
                result = api.delete_collection(res, route.version, route.namespace, query, body)
            else:
                result = api.delete(res, route.version, route.namespace, route.name, query, body)
        else:  # pragma: no cover - only the do_* above call us
            raise method_not_allowed(res.group, res.plural, method)
        self._send(result.code, result.body, result.warnings)

    def _watch(self, route: Route, query: dict) -> None:
        stream = self.api.watch(route.resource, route.version, route.namespace, query, self.bookmark_interval)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.close_connection = True
        try:
            for event in stream.events():
                data = json.dumps(event, separators=(",", ":")).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            stream.close()


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of new client connections (tests start many clients at once)


class LabServer:
    """The HTTP server around one ``LabApi``. ``port=0`` picks a free port."""

    def __init__(
        self,
        api: LabApi,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 30.0,
        log_requests: bool = False,
    ) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the lab API only binds to the loopback address (127.0.0.1), not {host!r}")
        handler = type(
            "LabHandler",
            (Handler,),
            {"api": api, "bookmark_interval": bookmark_interval, "log_requests": log_requests},
        )
        self.api = api
        self.httpd = _ThreadingServer(("127.0.0.1" if host == "localhost" else host, port), handler)
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.5)

    def start(self) -> int:
        self._thread = threading.Thread(target=self.serve_forever, name="lab-api", daemon=True)
        self._thread.start()
        return self.port

    def shutdown(self) -> None:
        self.api.store.close()
        self.httpd.shutdown()
        self.httpd.server_close()
