"""Gateway API in front of the pods: an ``HTTPRoute`` rule's ``backendRefs`` to Services, the
rule's ``timeouts`` (how long the gateway waits), and, for NGINX Gateway Fabric, the upstream
keep-alive an ``UpstreamSettingsPolicy`` gives a Service.

- ``timeouts.request`` bounds the whole request at the gateway and ``timeouts.backendRequest`` one
  try to a backend (request >= backendRequest); neither says anything about keep-alive
  (https://gateway-api.sigs.k8s.io/api-types/httproute/#timeouts-optional; GEP-1742).
- Durations are Gateway API durations: up to four of ``<number><unit>``, units h, m, s, ms
  (GEP-2257, ``1h30m``, ``500ms``).
- NGINX Gateway Fabric keeps no upstream pool unless an ``UpstreamSettingsPolicy`` targeting the
  Service sets ``keepAlive.connections``; ``keepAlive.timeout`` is nginx's upstream
  ``keepalive_timeout`` (60 s when not set)
  (https://docs.nginx.com/nginx-gateway-fabric/traffic-management/upstream-settings/).
Other implementations keep their own pools: their keep-alive is not read (a note says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from confgen.hops import Hop, Timer
from confgen.manifests.documents import Document, Node

NGF_CONTROLLER = "gateway.nginx.org/nginx-gateway-controller"
NGINX_UPSTREAM_IDLE_S = 60
TIMEOUTS_SOURCE = "https://gateway-api.sigs.k8s.io/api-types/httproute/#timeouts-optional"
NGF_SOURCE = "https://docs.nginx.com/nginx-gateway-fabric/traffic-management/upstream-settings/"
_DURATION_PART = re.compile(r"(\d+)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


@dataclass
class RouteBackend:
    route: Document
    service: str
    namespace: str
    port: int | None
    node: Node                      # the backendRef
    rule: Node                      # the rule holding it (its timeouts)


def route_backends(route: Document) -> list[RouteBackend]:
    """The Service backends of every rule of an HTTPRoute."""
    found = []
    for rule in (route.root.get("spec", "rules") or _EMPTY).list():
        for ref in (rule.get("backendRefs") or _EMPTY).list():
            if (ref.text("kind") or "Service") != "Service" or (ref.text("group") or "") not in ("", "core"):
                continue
            port = ref.get("port")
            found.append(RouteBackend(route, ref.text("name") or "", ref.text("namespace") or route.namespace,
                                      port.value if port is not None and isinstance(port.value, int) else None,
                                      ref, rule))
    return found


def duration(text: str | None) -> float | None:
    """Seconds for a Gateway API duration (``10s``, ``1m30s``, ``500ms``); None otherwise."""
    if not text or not re.fullmatch(r"(\d+(ms|h|m|s)){1,4}", text.strip()):
        return None
    return sum(int(number) * _UNIT_S[unit] for number, unit in _DURATION_PART.findall(text.strip()))


def gateway_front(backend: RouteBackend, gateways: dict, classes: dict, policies: list[Document],
                  notes: list[str]) -> Hop:
    """The hop the route's Gateway is, for this backend Service."""
    route = backend.route
    parent = (route.root.get("spec", "parentRefs") or _EMPTY).list()
    gateway = None
    if parent:
        ref = parent[0]
        gateway = gateways.get((ref.text("namespace") or route.namespace, ref.text("name") or ""))
    gateway_class = classes.get(gateway.root.text("spec", "gatewayClassName") or "") if gateway is not None else None
    controller = gateway_class.root.text("spec", "controllerName") if gateway_class is not None else None
    named = f"Gateway {gateway.namespace}/{gateway.name}" if gateway is not None else "its Gateway"
    hop = Hop(kind="gateway-api", label=f"{named} (HTTPRoute {route.namespace}/{route.name})", file=route.file,
              line=route.line)
    timeouts = backend.rule.get("timeouts")
    for key in ("backendRequest", "request"):
        node = timeouts.get(key) if timeouts is not None else None
        seconds = duration(node.text() if node is not None else None)
        if node is not None and seconds is not None and seconds > 0:
            hop.waits_for_next = Timer(seconds, f"{node.file}:{node.line}; {TIMEOUTS_SOURCE}", f"timeouts.{key}")
            break
    if controller == NGF_CONTROLLER:
        hop.kind, hop.label = "nginx-gateway-fabric", f"NGINX Gateway Fabric ({named}, HTTPRoute {route.namespace}/{route.name})"
        hop.idle_to_next = _ngf_keepalive(backend, policies, hop)
    else:
        where = f"{route.file}:{route.line}"
        hop.notes.append(f"{where}: the gateway's implementation ({controller or 'not in the input'}) keeps its own "
                         f"upstream connections; its keep-alive is not read")
        if where not in " ".join(notes):
            notes.append(hop.notes[-1])
    return hop


def _ngf_keepalive(backend: RouteBackend, policies: list[Document], hop: Hop) -> Timer | None:
    for policy in policies:
        if policy.namespace != backend.namespace:
            continue
        targets = (policy.root.get("spec", "targetRefs") or _EMPTY).list()
        if not any(t.text("kind") == "Service" and t.text("name") == backend.service for t in targets):
            continue
        keepalive = policy.root.get("spec", "keepAlive")
        connections = keepalive.get("connections") if keepalive is not None else None
        if connections is None or not isinstance(connections.value, int) or connections.value <= 0:
            hop.notes.append(f"{policy.file}:{policy.line}: {policy.kind} {policy.namespace}/{policy.name}: no "
                             f"upstream pool (keepAlive.connections not above 0)")
            return None
        timeout = keepalive.get("timeout")
        seconds = duration(timeout.text() if timeout is not None else None)
        if timeout is not None and seconds is not None:
            return Timer(seconds, f"{timeout.file}:{timeout.line}; {NGF_SOURCE}", "keepAlive.timeout")
        return Timer(NGINX_UPSTREAM_IDLE_S, f"nginx's upstream keepalive_timeout default 60 s (keepAlive.timeout "
                                            f"not set at {policy.file}:{policy.line}); {NGF_SOURCE}", "keepAlive.timeout")
    hop.notes.append(f"no UpstreamSettingsPolicy gives Service {backend.namespace}/{backend.service} an upstream "
                     f"pool: NGINX Gateway Fabric opens a connection per request ({NGF_SOURCE})")
    return None


class _Empty:
    def list(self) -> list:
        return []


_EMPTY = _Empty()
