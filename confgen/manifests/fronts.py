"""The hop in front of a Service: the controller behind an Ingress (ingress-nginx, the AWS Load
Balancer Controller's ALB, GKE's Google Cloud load balancer, F5 NGINX Ingress Controller) or the
cloud balancer of a ``type: LoadBalancer`` Service, with its timers from the manifests (the
controller ConfigMap, annotations, a BackendConfig) or its documented defaults.

Which controller serves an Ingress is its class (``spec.ingressClassName``, or the older
``kubernetes.io/ingress.class`` annotation): an IngressClass in the input names its controller;
otherwise the conventional class names are read (``nginx``, ``alb``, ``gce``). An Ingress with
no class is served by the cluster's default IngressClass, which the manifests do not show
unless it is among them: then the front is unknown, and a note says so.
"""

from __future__ import annotations

import json
import re

from confgen.hops import Hop, Timer, balancer_hop
from confgen.manifests.documents import Document
from confgen.manifests.resources import Ingress, Manifests, Service

CONFIGMAP_DOC = "https://github.com/kubernetes/ingress-nginx/blob/main/docs/user-guide/nginx-configuration/configmap.md"
ANNOTATIONS_DOC = "https://github.com/kubernetes/ingress-nginx/blob/main/docs/user-guide/nginx-configuration/annotations.md"
# ingress-nginx's ConfigMap defaults (configmap.md, checked in shared/facts/proxy-chain.md).
INGRESS_NGINX_DEFAULTS = {"upstream-keepalive-timeout": 60, "upstream-keepalive-connections": 320,
                          "proxy-read-timeout": 60, "keep-alive": 75}
# The helm chart and the static deploy manifests name the controller ConfigMap
# ingress-nginx-controller and pass it as --configmap=$(POD_NAMESPACE)/ingress-nginx-controller.
INGRESS_NGINX_CONFIGMAP = "ingress-nginx-controller"
ALB_ATTRIBUTES = "alb.ingress.kubernetes.io/load-balancer-attributes"
ALB_DOC = "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#load-balancer-attributes"
ELB_IDLE = "service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout"
BACKEND_CONFIG = ("cloud.google.com/backend-config", "beta.cloud.google.com/backend-config")
F5_DOC = "https://docs.nginx.com/nginx-ingress-controller/configuration/global-configuration/configmap-resource/"

# IngressClass spec.controller -> the kind of front it runs.
CONTROLLERS = {"k8s.io/ingress-nginx": "ingress-nginx", "ingress.k8s.aws/alb": "aws-alb",
               "nginx.org/ingress-controller": "f5-nginx"}
CLASS_NAMES = {"nginx": "ingress-nginx", "alb": "aws-alb", "gce": "gclb"}


def ingress_front(ingress: Ingress, service: Service, port_name: str | None, port: int | None,
                  manifests: Manifests, notes: list[str]) -> Hop | None:
    """The hop in front of ``service`` for ``ingress``; None (with a note) when the manifests
    do not say which controller serves it."""
    kind = _controller(ingress, manifests)
    where = ingress.doc.label
    if kind is None:
        what = f"class {ingress.ingress_class!r}" if ingress.ingress_class else "no ingress class"
        notes.append(f"{ingress.doc.file}:{ingress.doc.line}: {where} has {what}: which controller serves it is "
                     f"not in the input, so its timers are unknown (name a class: nginx, alb, gce, or include "
                     f"its IngressClass)")
        return None
    if kind == "ingress-nginx":
        return _ingress_nginx(ingress, manifests, notes)
    if kind == "aws-alb":
        attributes = ingress.annotation(ALB_ATTRIBUTES)
        idle = _alb_idle(attributes.value) if attributes is not None else None
        if idle is None:
            hop = balancer_hop("aws-alb")
        else:
            hop = balancer_hop("aws-alb", idle_timeout=idle,
                               origin=f"{attributes.file}:{attributes.line} ({ALB_ATTRIBUTES} idle_timeout.timeout_seconds)")
        return _placed(hop, ingress.doc, f"{hop.label} (Ingress {ingress.doc.namespace}/{ingress.doc.name})")
    if kind == "gclb":
        hop = balancer_hop("gclb")
        config = _backend_config(service, port_name, port, manifests, notes)
        timeout = config.root.get("spec", "timeoutSec") if config is not None else None
        if timeout is not None and isinstance(timeout.value, int):
            hop.waits_for_next = Timer(float(timeout.value), f"{timeout.file}:{timeout.line} (BackendConfig "
                                       f"{config.namespace}/{config.name})", "timeoutSec")
        return _placed(hop, ingress.doc, f"{hop.label} (Ingress {ingress.doc.namespace}/{ingress.doc.name})")
    return _f5_nginx(ingress, notes)


def service_front(service: Service, notes: list[str]) -> Hop | None:
    """The cloud balancer of a ``type: LoadBalancer`` Service, when its annotations say which."""
    idle = service.doc.root.get("metadata", "annotations", ELB_IDLE)
    aws_type = service.annotations.get("service.beta.kubernetes.io/aws-load-balancer-type")
    if idle is not None and aws_type is None and _seconds(idle.value) is not None:
        hop = balancer_hop("aws-elb", idle_timeout=_seconds(idle.value), origin=f"{idle.file}:{idle.line} ({ELB_IDLE})")
        return _placed(hop, service.doc, f"{hop.label} (Service {service.doc.namespace}/{service.doc.name})")
    notes.append(f"{service.doc.file}:{service.doc.line}: {service.doc.label} is type LoadBalancer, but which "
                 f"balancer the cloud puts in front, and its timers, are not in the input")
    return None


def _controller(ingress: Ingress, manifests: Manifests) -> str | None:
    name = ingress.ingress_class
    if name is None:
        # The default IngressClass, when the input holds it.
        for doc in manifests.ingress_classes.values():
            if doc.root.text("metadata", "annotations", "ingressclass.kubernetes.io/is-default-class") == "true":
                name = doc.name
    if name is None:
        return None
    declared = manifests.ingress_classes.get(name)
    if declared is not None:
        return CONTROLLERS.get(declared.root.text("spec", "controller") or "")
    kind = CLASS_NAMES.get(name)
    if kind == "ingress-nginx" and any(key.startswith("nginx.org/") for key in ingress.annotations):
        return "f5-nginx"  # both controllers use the class name nginx by default
    return kind


def _ingress_nginx(ingress: Ingress, manifests: Manifests, notes: list[str]) -> Hop:
    config = _controller_configmap(manifests)
    data = config.root.get("data") if config is not None else None

    def timer(key: str) -> Timer | None:
        node = data.get(key) if data is not None else None
        if node is not None:
            seconds = _seconds(node.value)
            if seconds is not None:
                return Timer(seconds, f"{node.file}:{node.line} (ConfigMap {config.namespace}/{config.name})", key)
            notes.append(f"{node.file}:{node.line}: {key}: {node.value!r} is not a number of seconds; "
                         f"not read (ingress-nginx takes a plain number)")
        return Timer(float(INGRESS_NGINX_DEFAULTS[key]), f"ingress-nginx's default {key} "
                     f"{INGRESS_NGINX_DEFAULTS[key]}; {CONFIGMAP_DOC}", key)

    hop = Hop(kind="ingress-nginx", label=f"ingress-nginx (Ingress {ingress.doc.namespace}/{ingress.doc.name})",
              file=ingress.doc.file, line=ingress.doc.line)
    connections = timer("upstream-keepalive-connections")
    # upstream-keepalive-connections 0 leaves the keepalive directive out of the upstream
    # (rootfs/etc/nginx/template/nginx.tmpl: {{ if (gt $cfg.UpstreamKeepaliveConnections 0) }}):
    # no pool, nothing to race.
    if connections is not None and connections.seconds > 0:
        hop.idle_to_next = timer("upstream-keepalive-timeout")
    else:
        hop.notes.append(f"upstream-keepalive-connections is 0 ({connections.source}): no upstream pool")
    hop.idle_from_previous = timer("keep-alive")
    annotation = ingress.annotation("nginx.ingress.kubernetes.io/proxy-read-timeout")
    if annotation is not None and _seconds(annotation.value) is not None:
        hop.waits_for_next = Timer(_seconds(annotation.value), f"{annotation.file}:{annotation.line} (annotation)",
                                   "nginx.ingress.kubernetes.io/proxy-read-timeout")
    else:
        hop.waits_for_next = timer("proxy-read-timeout")
    if config is None:
        hop.notes.append(f"no ingress-nginx controller ConfigMap in the input (looked for the one a controller's "
                         f"--configmap names, else {INGRESS_NGINX_CONFIGMAP}): its documented defaults are used")
    return hop


def _controller_configmap(manifests: Manifests) -> Document | None:
    """The ConfigMap an ingress-nginx controller reads: the one its ``--configmap=NS/NAME``
    argument names, else one named ingress-nginx-controller."""
    for workload in manifests.workloads:
        for container in workload.containers:
            words, _ = container.argv()
            for word in words:
                if word.startswith("--configmap="):
                    namespace, _, name = word.removeprefix("--configmap=").rpartition("/")
                    found = manifests.config_maps.get((namespace or workload.doc.namespace, name))
                    if found is not None:
                        return found
    candidates = [doc for (namespace, name), doc in manifests.config_maps.items() if name == INGRESS_NGINX_CONFIGMAP]
    return candidates[0] if len(candidates) == 1 else None


def _f5_nginx(ingress: Ingress, notes: list[str]) -> Hop:
    hop = Hop(kind="f5-nginx", label=f"F5 NGINX Ingress Controller (Ingress {ingress.doc.namespace}/{ingress.doc.name})",
              file=ingress.doc.file, line=ingress.doc.line)
    annotation = ingress.annotation("nginx.org/proxy-read-timeout")
    seconds = _seconds(annotation.value) if annotation is not None else None
    if seconds is not None:
        hop.waits_for_next = Timer(seconds, f"{annotation.file}:{annotation.line} (annotation)",
                                   "nginx.org/proxy-read-timeout")
    else:
        hop.waits_for_next = Timer(60.0, f"F5 NGINX Ingress Controller's default proxy-read-timeout 60s; {F5_DOC}",
                                   "proxy-read-timeout")
    # Its upstream keep-alive pool (nginx.org/keepalive, ConfigMap keepalive) is not modelled yet.
    hop.notes.append("F5 NGINX Ingress Controller: its upstream keep-alive (nginx.org/keepalive) is not read")
    return hop


def _backend_config(service: Service, port_name: str | None, port: int | None, manifests: Manifests,
                    notes: list[str]) -> Document | None:
    """The BackendConfig a Service names for the port (``{"ports": {"80": "x"}}``) or for all
    of them (``{"default": "x"}``)."""
    for key in BACKEND_CONFIG:
        text = service.annotations.get(key)
        if text is None:
            continue
        try:
            chosen = json.loads(text)
        except ValueError:
            notes.append(f"{service.doc.file}:{service.doc.line}: {key} is not JSON; not read")
            return None
        ports = chosen.get("ports", {}) if isinstance(chosen, dict) else {}
        name = next((ports[k] for k in (port_name, str(port)) if k is not None and k in ports), None) \
            or (chosen.get("default") if isinstance(chosen, dict) else None)
        if name is None:
            return None
        found = manifests.backend_configs.get((service.doc.namespace, name))
        if found is None:
            notes.append(f"{service.doc.file}:{service.doc.line}: {service.doc.label} names BackendConfig {name}, "
                         f"which is not in the input: its timeoutSec is unknown, the 30 s default is assumed")
        return found
    return None


def _alb_idle(text: object) -> float | None:
    """idle_timeout.timeout_seconds from ``key=value,key=value`` ALB attributes."""
    for pair in str(text).split(","):
        key, _, value = pair.strip().partition("=")
        if key.strip() == "idle_timeout.timeout_seconds":
            return _seconds(value.strip())
    return None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return float(value) if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()) else None


def _placed(hop: Hop, doc: Document, label: str) -> Hop:
    hop.label, hop.file, hop.line = label, doc.file, doc.line
    return hop
