"""The kinds of Kubernetes objects the chain goes through, read from their documents: Ingress,
Service, the workloads that run pods (Deployment, StatefulSet, DaemonSet) and their containers,
ConfigMap, IngressClass, GKE's BackendConfig, and Gateway API's HTTPRoute, Gateway, GatewayClass
(with NGINX Gateway Fabric's UpstreamSettingsPolicy). Only what the chain needs is modelled; every
value keeps its node, so a finding or a timer's source names the file and line it was written at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from confgen.manifests.documents import Document, Node

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# $(VAR) in a container's command and args is expanded from its environment, a reference to an
# undefined variable is left as written, and $$ is a literal $ (Container.args in the Kubernetes
# API reference; https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/).
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


@dataclass
class Backend:
    """An Ingress path (or default backend) to a Service port, by number or by name."""

    service: str
    port: int | str | None
    node: Node                      # the backend's ``service:`` mapping


@dataclass
class Ingress:
    doc: Document
    ingress_class: str | None       # spec.ingressClassName, else the kubernetes.io/ingress.class annotation
    class_node: Node | None
    annotations: dict[str, str]
    backends: list[Backend]

    def annotation(self, name: str) -> Node | None:
        return self.doc.root.get("metadata", "annotations", name)


@dataclass
class ServicePort:
    port: int | None
    name: str | None
    target: int | str | None        # targetPort; None: the same as port
    node: Node


@dataclass
class Service:
    doc: Document
    selector: dict[str, str] | None  # None: no selector (its endpoints are managed by hand)
    ports: list[ServicePort]
    type: str
    annotations: dict[str, str]

    def port_for(self, wanted: int | str | None) -> ServicePort | None:
        """The port an Ingress backend names (by number or name), or the only one."""
        if wanted is None:
            return self.ports[0] if len(self.ports) == 1 else None
        return next((p for p in self.ports if (p.port == wanted if isinstance(wanted, int) else p.name == wanted)), None)


@dataclass
class Container:
    name: str
    node: Node
    command: Node | None
    args: Node | None
    env: dict[str, str]              # what the manifests say each variable holds
    env_unknown: dict[str, str]      # variable -> why its value is not in the input (a Secret, ...)
    ports: list[tuple[int | None, str | None]]  # (containerPort, name)
    pre_stop: Node | None            # lifecycle.preStop

    def serves(self, target: int | str) -> bool:
        return any((number == target) if isinstance(target, int) else (name == target) for number, name in self.ports)

    def cpu_limit(self) -> tuple[float, str] | None:
        """The CPUs the container may use (``resources.limits.cpu``: "2", "0.5", "500m"), and
        where that is written; None without a limit or with one not written as a number."""
        node = self.node.get("resources", "limits", "cpu")
        text = str(node.value).strip() if node is not None and node.value is not None else ""
        match = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", text)
        if match is None or float(match.group(1)) == 0:
            return None
        return float(match.group(1)) / (1000 if match.group(2) else 1), f"{node.file}:{node.line}"

    def argv(self) -> tuple[list[str], list[str]]:
        """(command + args with $(VAR) expanded, the references that could not be expanded)."""
        words: list[str] = []
        unresolved: list[str] = []
        for part in (self.command, self.args):
            for item in part.list() if part is not None else []:
                words.append(_expand(str(item.value) if item.value is not None else "", self, unresolved))
        return words, unresolved


@dataclass
class Workload:
    doc: Document
    selector: Node | None
    labels: dict[str, str]           # the pod template's labels
    containers: list[Container]
    grace: Node | None               # spec.template.spec.terminationGracePeriodSeconds
    pod_spec: Node | None


@dataclass
class Manifests:
    """The objects of one input, by kind, namespace and name."""

    ingresses: list[Ingress] = field(default_factory=list)
    services: dict[tuple[str, str], Service] = field(default_factory=dict)
    workloads: list[Workload] = field(default_factory=list)
    config_maps: dict[tuple[str, str], Document] = field(default_factory=dict)
    backend_configs: dict[tuple[str, str], Document] = field(default_factory=dict)
    ingress_classes: dict[str, Document] = field(default_factory=dict)
    # Gateway API (confgen.manifests.gateway)
    http_routes: list[Document] = field(default_factory=list)
    gateways: dict[tuple[str, str], Document] = field(default_factory=dict)
    gateway_classes: dict[str, Document] = field(default_factory=dict)
    upstream_policies: list[Document] = field(default_factory=list)

    def pods_of(self, service: Service) -> list[Workload]:
        """The workloads in the Service's namespace whose pods carry every label it selects."""
        if not service.selector:
            return []
        return [w for w in self.workloads if w.doc.namespace == service.doc.namespace
                and all(w.labels.get(key) == value for key, value in service.selector.items())]


def index(documents: list[Document]) -> Manifests:
    found = Manifests()
    config_maps = {(d.namespace, d.name): d for d in documents if d.kind == "ConfigMap"}
    found.config_maps = config_maps
    for doc in documents:
        kind = doc.kind
        if kind == "Ingress":
            found.ingresses.append(_ingress(doc))
        elif kind == "Service":
            found.services[(doc.namespace, doc.name)] = _service(doc)
        elif kind in WORKLOAD_KINDS:
            found.workloads.append(_workload(doc, config_maps))
        elif kind == "BackendConfig":
            found.backend_configs[(doc.namespace, doc.name)] = doc
        elif kind == "IngressClass":
            found.ingress_classes[doc.name] = doc
        elif kind == "HTTPRoute":
            found.http_routes.append(doc)
        elif kind == "Gateway":
            found.gateways[(doc.namespace, doc.name)] = doc
        elif kind == "GatewayClass":
            found.gateway_classes[doc.name] = doc
        elif kind == "UpstreamSettingsPolicy":
            found.upstream_policies.append(doc)
    return found


def _ingress(doc: Document) -> Ingress:
    root = doc.root
    spec = root.get("spec")
    class_node = root.get("spec", "ingressClassName") or root.get("metadata", "annotations", "kubernetes.io/ingress.class")
    backends = []
    default = root.get("spec", "defaultBackend", "service") or root.get("spec", "backend")
    candidates = [default] if default is not None else []
    for rule in (spec.get("rules").list() if spec is not None and spec.get("rules") else []):
        for path in (rule.get("http", "paths").list() if rule.get("http", "paths") else []):
            candidates.append(path.get("backend", "service") or path.get("backend"))
    for node in candidates:
        if node is None:
            continue
        # networking.k8s.io/v1: service.name + service.port.number|name; v1beta1: serviceName + servicePort.
        name = node.text("name") or node.text("serviceName")
        port_node = node.get("port", "number") or node.get("port", "name") or node.get("servicePort")
        port = port_node.value if port_node is not None else None
        if name:
            backends.append(Backend(name, port if isinstance(port, (int, str)) else None, node))
    return Ingress(doc, class_node.value if class_node is not None else None, class_node,
                   root.strings("metadata", "annotations"), backends)


def _service(doc: Document) -> Service:
    root = doc.root
    selector_node = root.get("spec", "selector")
    ports = []
    for node in (root.get("spec", "ports").list() if root.get("spec", "ports") else []):
        port, target = node.get("port"), node.get("targetPort")
        ports.append(ServicePort(port.value if port is not None else None, node.text("name"),
                                 target.value if target is not None else None, node))
    return Service(doc, root.strings("spec", "selector") if selector_node is not None else None, ports,
                   root.text("spec", "type") or "ClusterIP", root.strings("metadata", "annotations"))


def _workload(doc: Document, config_maps: dict[tuple[str, str], Document]) -> Workload:
    root = doc.root
    pod_spec = root.get("spec", "template", "spec")
    containers = [_container(node, doc.namespace, config_maps)
                  for node in (pod_spec.get("containers").list() if pod_spec and pod_spec.get("containers") else [])]
    return Workload(doc, root.get("spec", "selector"), root.strings("spec", "template", "metadata", "labels"),
                    containers, pod_spec.get("terminationGracePeriodSeconds") if pod_spec else None, pod_spec)


def _container(node: Node, namespace: str, config_maps: dict[tuple[str, str], Document]) -> Container:
    env: dict[str, str] = {}
    unknown: dict[str, str] = {}
    # envFrom first: a variable in env overrides one of the same name from envFrom.
    for source in (node.get("envFrom").list() if node.get("envFrom") else []):
        prefix = source.text("prefix") or ""
        name = source.text("configMapRef", "name")
        if name is not None and (namespace, name) in config_maps:
            env.update({prefix + key: value for key, value in config_maps[(namespace, name)].root.strings("data").items()})
        elif name is not None:
            unknown[f"{prefix}*"] = f"envFrom ConfigMap {namespace}/{name}, not in the input"
        elif source.get("secretRef") is not None:
            unknown[f"{prefix}*"] = f"envFrom Secret {source.text('secretRef', 'name')}"
    for item in (node.get("env").list() if node.get("env") else []):
        name = item.text("name")
        if not name:
            continue
        if item.get("value") is not None:
            env[name] = item.text("value") or ""
            continue
        reference = item.get("valueFrom", "configMapKeyRef")
        field_path = item.text("valueFrom", "fieldRef", "fieldPath")
        env.pop(name, None)
        if reference is not None:
            map_name, key = reference.text("name"), reference.text("key")
            data = config_maps[(namespace, map_name)].root.strings("data") if (namespace, map_name) in config_maps else None
            if data is not None and key in data:
                env[name] = data[key]
            else:
                unknown[name] = f"ConfigMap {namespace}/{map_name} key {key}, not in the input"
        elif field_path == "metadata.namespace":
            env[name] = namespace
        elif item.get("valueFrom", "secretKeyRef") is not None:
            secret = item.get("valueFrom", "secretKeyRef")
            unknown[name] = f"Secret {secret.text('name')} key {secret.text('key')}"
        else:
            unknown[name] = f"{field_path or 'a resource field'}, known only in the cluster"
    ports = [(p.get("containerPort").value if p.get("containerPort") else None, p.text("name"))
             for p in (node.get("ports").list() if node.get("ports") else [])]
    return Container(node.text("name") or "", node, node.get("command"), node.get("args"), env, unknown, ports,
                     node.get("lifecycle", "preStop"))


def _expand(word: str, container: Container, unresolved: list[str]) -> str:
    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name in container.env:
            return container.env[name]
        if name in container.env_unknown:
            unresolved.append(f"$({name}) from {container.env_unknown[name]}")
        return match.group(0)  # Kubernetes leaves a reference to an undefined variable as written

    return _REFERENCE.sub(substitute, word)
