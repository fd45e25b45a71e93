"""``render --target kubernetes``: the self-checked nginx.conf and gunicorn configs in a ConfigMap,
and around them the Deployment (nginx and gunicorn side by side in each pod, over the unix socket
on a shared emptyDir), Service, HorizontalPodAutoscaler and PodDisruptionBudget, as plain YAML
from ``templates/kubernetes.yaml.j2``. One pod is one replica of the sizing."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
from typing import Any, Mapping

from confgen.errors import ConfgenError
from confgen.profile import sizing
from confgen.profile.loading import Profile, load_profile
from confgen.render.checked import SelfCheck, render_checked
from confgen.render.rendering import NGINX_FILE, _environment, route_file_names
from confgen.render.stamp import stamp

MANIFEST_FILE = "kubernetes.yaml"
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
        min_replicas=minimum, max_replicas=maximum, cpu_utilization=sizing.HPA_CPU_UTILIZATION)
    return {MANIFEST_FILE: stamp(text)}, check


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
    return problems


def _for_the_image(profile: Profile) -> Profile:
    """The official image has no www-data: its workers run as nginx, unless the profile says."""
    if profile.kubernetes.nginx_image is None and "user" not in (profile.raw.get("nginx") or {}):
        return dataclasses.replace(profile, nginx=dataclasses.replace(profile.nginx, user=OFFICIAL_IMAGE_USER))
    return profile


def _dns_name(name: str) -> str:
    """Kubernetes object and container names are DNS labels: no underscores."""
    return name.replace("_", "-")
