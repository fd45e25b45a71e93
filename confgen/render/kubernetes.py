"""``render --target kubernetes``: the self-checked nginx.conf and gunicorn configs in a ConfigMap,
and around them the Deployment (nginx and gunicorn side by side in each pod, over the unix socket
on a shared emptyDir), Service, HorizontalPodAutoscaler and PodDisruptionBudget, as plain YAML
from ``templates/kubernetes.yaml.j2``. One pod is one replica of the sizing.

In front of the Service, the edge object the profile's ``behind`` names: an Ingress for
ingress-nginx, an HTTPRoute for a Gateway API gateway, each set from the chain model
(``sizing.ingress_nginx_annotations``, ``sizing.httproute_request_timeout``). The chain model then
sees the balancer wait what the rendered object says (``sizing.with_rendered_edge``)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import re
from typing import Any, Mapping

from confgen.errors import ConfgenError
from confgen.profile import sizing
from confgen.profile.loading import Profile, load_profile
from confgen.render.checked import SelfCheck, render_checked
from confgen.render.rendering import NGINX_FILE, _environment, format_rows, route_file_names
from confgen.render.stamp import stamp

MANIFEST_FILE = "kubernetes.yaml"
# So `kubectl apply -k DIR` (and an overlay's `resources:`) takes the directory as it is.
KUSTOMIZATION_FILE = "kustomization.yaml"
KUSTOMIZATION = f"""# Rendered by confgen: the manifests of this directory, for kubectl apply -k and overlays.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {MANIFEST_FILE}
"""
# The Service's port (named http), which the Ingress names and an HTTPRoute's backendRef numbers.
SERVICE_PORT = 80
INGRESS_WILDCARD_DOC = "https://kubernetes.io/docs/concepts/services-networking/ingress/#hostname-wildcards"
CONFIG_DIR = "/etc/confgen"
# The official nginx image runs its workers as this user (it has no www-data).
OFFICIAL_IMAGE_USER = "nginx"


def render_kubernetes(source: str | os.PathLike | Mapping[str, Any], *, verify: bool = False) -> tuple[dict[str, str], SelfCheck]:
    """{"kubernetes.yaml": text} and the self-check of the configs it carries; ConfgenError
    (one line each) for a profile the pod layout cannot serve."""
    profile = load_profile(source)
    refusals = _refusals(profile)
    if refusals:
        raise ConfgenError(*refusals)
    profile = _for_the_image(profile)
    edge = _edge(profile)  # from the profile as written: its reasons say whether the wait was given or derived
    profile = sizing.with_rendered_edge(profile)
    files, check = render_checked(profile, verify=verify)
    the_plan = sizing.plan(profile)
    minimum, maximum = sizing.autoscaler_range(profile, the_plan.replicas)
    routes = []
    for route_plan in the_plan.routes:
        config = route_file_names(the_plan, route_plan)["gunicorn"]
        routes.append({"name": _dns_name(route_plan.route.name), "config": config,
                       "socket_dir": posixpath.dirname(route_plan.route.app.bind)})
    data = {name: text for name, text in files.items() if name == NGINX_FILE or name.endswith(".conf.py")}
    text = _environment().get_template("kubernetes.yaml.j2").render(
        name=_dns_name(profile.name), profile=profile, plan=the_plan, data=data, routes=routes,
        socket_dirs=sorted({route["socket_dir"] for route in routes}),
        nginx_image=profile.kubernetes.nginx_image or f"nginx:{'.'.join(map(str, profile.nginx_version[:2]))}",
        config_dir=CONFIG_DIR, digest=hashlib.sha256("".join(data.values()).encode()).hexdigest()[:16],
        prestop=sizing.prestop_sleep(profile), grace=sizing.termination_grace_period(profile),
        min_replicas=minimum, max_replicas=maximum, cpu_utilization=sizing.HPA_CPU_UTILIZATION,
        edge=edge, service_port=SERVICE_PORT)
    text = stamp(text)
    _check_manifests(text, check)
    return {MANIFEST_FILE: text, KUSTOMIZATION_FILE: stamp(KUSTOMIZATION)}, check


def _check_manifests(text: str, check: SelfCheck) -> None:
    """The manifests linted as ``confgen lint kubernetes.yaml`` reads them: the edge -> Service
    -> the pod's nginx (from the ConfigMap) -> gunicorn, and the pods' shutdown. The configs in
    the ConfigMap were checked with the profile already; this checks the hops around them."""
    import tempfile

    from confgen.lint.engine import lint
    from confgen.render.checked import SelfCheckFailed

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, MANIFEST_FILE)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        result = lint([path], nginx_version=None)
    findings = [dataclasses.replace(f, file=MANIFEST_FILE, message=f.message.replace(path, MANIFEST_FILE))
                for f in result.findings]
    chained = [note.split(": ", 1)[0].replace(path, MANIFEST_FILE) for note in result.notes if " -> " in note]
    check.findings.extend(findings)
    check.ran.append(f"lint of {MANIFEST_FILE}: {'; '.join(chained) or 'no chain followed'}")
    blocking = [f for f in findings if f.severity in ("error", "warning")]
    if blocking:
        raise SelfCheckFailed("confgen render: confgen's own linter rejects the manifests it rendered (a confgen "
                              "bug: please report it with the profile); nothing written", *check.lines())


def explain_kubernetes(source: str | os.PathLike | Mapping[str, Any]) -> str:
    """``--explain --target kubernetes``: the plan as the pods are sized (the chain model seeing
    the rendered edge's wait), then the edge object's values with their reasons."""
    profile = load_profile(source)
    refusals = _refusals(profile)
    if refusals:
        raise ConfgenError(*refusals)
    profile = _for_the_image(profile)
    edge = _edge(profile)
    rows = sizing.plan(sizing.with_rendered_edge(profile)).rows()
    if edge["kind"] == "Ingress":
        rows += [(f"Ingress {key}", value.value, value.reason) for key, value in edge["annotations"].items()]
    elif edge["kind"] == "HTTPRoute":
        rows.append(("HTTPRoute timeouts.request", str(edge["request_timeout"]), edge["request_timeout"].reason))
    return format_rows(rows)


def _refusals(profile: Profile) -> list[str]:
    where = profile.source
    problems = []
    if profile.kubernetes is None:
        problems.append(f"{where}: kubernetes: --target kubernetes needs kubernetes.image (the app's container image)")
    if any(route.upstreams for route in profile.routes):
        problems.append(f"{where}: upstreams: a pod runs nginx and its app together; app hosts elsewhere do not "
                        f"apply to --target kubernetes")
    if any(not route.app.binds_unix_socket for route in profile.routes):
        problems.append(f"{where}: app.bind: --target kubernetes connects nginx to gunicorn by a unix socket on a "
                        f"shared volume: leave bind out (or give a socket path)")
    if profile.tls is not None:
        problems.append(f"{where}: tls: terminate TLS at the Ingress or balancer in front of the Service with "
                        f"--target kubernetes")
    balancer = profile.behind.balancer if profile.behind is not None else "none"
    spelled = (profile.raw.get("kubernetes") or {}) if isinstance(profile.raw, Mapping) else {}
    if balancer == "gateway-api" and profile.kubernetes is not None and profile.kubernetes.gateway is None:
        problems.append(f"{where}: kubernetes.gateway: behind gateway-api renders an HTTPRoute, which needs the "
                        f"Gateway it attaches to: give kubernetes.gateway.name (and namespace, if not the route's)")
    if "gateway" in spelled and balancer != "gateway-api":
        problems.append(f"{where}: kubernetes.gateway: only used with behind gateway-api (the HTTPRoute that "
                        f"attaches to it is rendered for that balancer); behind is {balancer}")
    if "ingress_class" in spelled and balancer != "ingress-nginx":
        problems.append(f"{where}: kubernetes.ingress_class: only used with behind ingress-nginx (the Ingress is "
                        f"rendered for that balancer); behind is {balancer}")
    if sizing.renders_edge(profile):
        for index, server_name in enumerate(profile.server_names):
            if re.fullmatch(r"[0-9.]+", server_name):
                problems.append(f"{where}: server_names.{index}: {server_name} is an IP address, which an Ingress "
                                f"host or HTTPRoute hostname cannot be: leave it out for --target kubernetes")
    return problems


def _edge(profile: Profile) -> dict[str, Any]:
    """What the template needs for the edge object: its kind (Ingress, HTTPRoute, or None when
    the balancer in front is not one this target renders) and its values with their reasons."""
    if not sizing.renders_edge(profile):
        return {"kind": None, "balancer": profile.behind.balancer if profile.behind is not None else None}
    hosts = _hosts(profile.server_names)
    idle = sizing.balancer_idle(profile)
    common = {"hosts": hosts, "keepalive": sizing.client_keepalive_timeout(profile),
              "idle": idle[1] if idle is not None else None,
              "wildcards": any(host.startswith("*.") for host in hosts), "wildcard_doc": INGRESS_WILDCARD_DOC}
    if profile.behind.balancer == "ingress-nginx":
        return {**common, "kind": "Ingress", "ingress_class": profile.kubernetes.ingress_class,
                "annotations": sizing.ingress_nginx_annotations(profile),
                "annotations_doc": sizing.INGRESS_NGINX_ANNOTATIONS_DOC,
                "configmap_doc": sizing.INGRESS_NGINX_CONFIGMAP_DOC}
    return {**common, "kind": "HTTPRoute", "gateway": profile.kubernetes.gateway,
            "request_timeout": sizing.httproute_request_timeout(profile),
            "max_body_size": sizing.client_max_body_size(profile)}


def _hosts(server_names: tuple[str, ...]) -> list[str]:
    """nginx's server names as Ingress hosts and HTTPRoute hostnames (lower case; nginx's
    ``.example.com`` is example.com and its subdomains, two names there)."""
    hosts: list[str] = []
    for server_name in server_names:
        server_name = server_name.lower()
        for host in ([server_name[1:], "*" + server_name] if server_name.startswith(".") else [server_name]):
            if host not in hosts:
                hosts.append(host)
    return hosts


def _for_the_image(profile: Profile) -> Profile:
    """The official image has no www-data: its workers run as nginx, unless the profile says."""
    if profile.kubernetes.nginx_image is None and "user" not in (profile.raw.get("nginx") or {}):
        return dataclasses.replace(profile, nginx=dataclasses.replace(profile.nginx, user=OFFICIAL_IMAGE_USER))
    return profile


def _dns_name(name: str) -> str:
    """Kubernetes object and container names are DNS labels: no underscores."""
    return name.replace("_", "-")
