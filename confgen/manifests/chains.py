"""Following Kubernetes manifests from the front to the app: Ingress rule backend -> Service (by
name in the Ingress's namespace, port by number or name) -> the workloads whose pod labels match
the Service's selector -> the container serving the targetPort (or the only container) -> the
app server its command starts. A ``type: LoadBalancer`` Service starts a chain of its own.

Each :class:`Chain` holds the front hop, the app's hop and settings, where a finding about the
app points (the container's command in the manifest), and the pod's shutdown timeline for the
rolling-deploy rule. What cannot be followed is never guessed: it is a note saying what was not
paired and why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from confgen.hops import Hop, Timer
from confgen.manifests.apps import read_app
from confgen.manifests.documents import Node, read_documents
from confgen.manifests.fronts import ingress_front, service_front
from confgen.manifests.gateway import gateway_front, route_backends
from confgen.manifests.resources import Container, Manifests, Service, Workload, index
from confgen.manifests.mounts import mounted_files
from confgen.manifests.sidecar import SidecarNginx, is_nginx, sidecar_nginx

GRACE_DEFAULT_S = 30
GRACE_SOURCE = ("Kubernetes' default terminationGracePeriodSeconds 30 s; "
                "https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination")


@dataclass
class PodShutdown:
    """How a pod of the chain stops during a rolling update (what ``ctx.manifest_pod`` holds).

    On deletion the pod is taken out of the Service's endpoints while its preStop hook runs and,
    after the hook, its containers get SIGTERM; the ingress or balancer learns of the removal a
    few seconds late. The grace period counts from before the preStop hook, and at its end the
    kubelet kills what still runs (SIGKILL)."""

    workload: str                     # "Deployment shop/web"
    workload_kind: str                # Deployment, StatefulSet, DaemonSet
    container: str
    front: str                        # what sends it traffic: "Ingress shop/web", "Service shop/web (LoadBalancer)";
                                      # "" when the input's Services select none of its pods
    file: str                         # the container in the manifest (where a missing preStop is reported)
    line: int
    pre_stop_hook: bool               # a lifecycle.preStop hook exists
    pre_stop: Timer | None            # how long it delays SIGTERM, when known (sleep N)
    grace: Timer                      # terminationGracePeriodSeconds, or Kubernetes' default 30 s
    grace_where: tuple[str, int]      # the field, or the pod spec when it is not set
    app_graceful: Timer | None        # how long the app finishes requests after SIGTERM (None: no limit or unknown)
    app_graceful_why: str = ""        # why app_graceful is None
    # Where a shell script starts the app without exec while a shell is the container's first
    # process: SIGTERM never reaches the app ((file, line); None when it does or is not known).
    app_unsignalled: tuple[str, int] | None = None


@dataclass
class Chain:
    entry: str                        # "Ingress shop/web" or "Service shop/web" (a LoadBalancer Service)
    entry_where: tuple[str, int]
    service: str                      # "Service shop/web"
    workload: str                     # "Deployment shop/web"
    container: str                    # the container's name
    front: Hop | None                 # the hop in front of the pods (None: not in the input)
    server: str | None                # gunicorn, uvicorn, hypercorn, daphne, uwsgi, granian; None: not read
    gunicorn: object | None           # confgen.gunicorn.reader.GunicornConfig for gunicorn
    app_server: object | None         # confgen.appserver.model.AppServer for the others
    app_hop: Hop | None               # the app's hop (confgen.hops)
    anchor: tuple[str, int]           # where findings about the app point: the command's line, or the container's
    pod: PodShutdown
    notes: list[str] = field(default_factory=list)
    image: str | None = None          # the Dockerfile whose CMD the container runs, when read from one
    # nginx in the pod in front of the app (confgen.nginx.model.NginxConfig, from a ConfigMap):
    # then ``front`` is the hop in front of nginx, and the app is the container nginx forwards to.
    nginx: object | None = None


def chains(paths: list[str], notes: list[str] | None = None, images: list | None = None,
           nginx_version: str | None = None) -> list[Chain]:
    """Every chain the manifests in ``paths`` (files or directories) describe. ``notes``, when
    given, receives what could not be followed (and the files skipped). ``images``: the
    Dockerfiles of the input (CommandSource), for containers that run their image's CMD. A pod
    whose nginx is configured from a ConfigMap is a chain even when nothing in the input routes
    to it. ConfgenError for a path that does not exist or YAML that does not parse."""
    notes = notes if notes is not None else []
    manifests = index(read_documents(paths, notes))
    pods = _Pods(manifests, notes, images, nginx_version)
    found: list[Chain] = []
    seen: set[tuple] = set()
    for ingress in manifests.ingresses:
        namespace = ingress.doc.namespace
        for backend in ingress.backends:
            found_port = _service_port(manifests, ingress.doc.label, namespace, backend.service, backend.port,
                                       backend.node, notes)
            if found_port is None:
                continue
            service, port = found_port
            front = ingress_front(ingress, service, port.name, port.port, manifests, notes)
            key = (ingress.doc.label, service.doc.label, port.port)
            if key in seen:
                continue
            seen.add(key)
            found.extend(pods.behind(f"Ingress {namespace}/{ingress.doc.name}", (ingress.doc.file, ingress.doc.line),
                                     front, service, port.target if port.target is not None else port.port))
    for route in manifests.http_routes:
        for backend in route_backends(route):
            found_port = _service_port(manifests, route.label, backend.namespace, backend.service, backend.port,
                                       backend.node, notes)
            if found_port is None:
                continue
            service, port = found_port
            front = gateway_front(backend, manifests.gateways, manifests.gateway_classes,
                                  manifests.upstream_policies, notes)
            found.extend(pods.behind(f"HTTPRoute {route.namespace}/{route.name}", (route.file, route.line), front,
                                     service, port.target if port.target is not None else port.port))
    for service in manifests.services.values():
        if service.type != "LoadBalancer":
            continue
        front = service_front(service, notes)
        for port in service.ports:
            found.extend(pods.behind(f"Service {service.doc.namespace}/{service.doc.name}",
                                     (service.doc.file, service.doc.line), front, service,
                                     port.target if port.target is not None else port.port))
    found.extend(pods.unreached_nginx({c.workload for c in found if c.nginx is not None}))
    # Several paths or ports of one entry may reach the same container: one chain each.
    def key(chain: Chain) -> tuple:
        return chain.entry, chain.service, chain.workload, chain.container, id(chain.nginx)

    unique = {key(c): c for c in reversed(found)}
    notes[:] = list(dict.fromkeys(notes))
    return [c for c in found if unique[key(c)] is c]


def _service_port(manifests: Manifests, entry: str, namespace: str, name: str, wanted, node: Node,
                  notes: list[str]):
    """(Service, its port) an Ingress or route backend names, or None with a note saying why."""
    where = f"{node.file}:{node.line}"
    service = manifests.services.get((namespace, name))
    if service is None:
        _add(notes, f"{where}: {entry} routes to Service {namespace}/{name}, which is not in the input: not paired")
        return None
    port = service.port_for(wanted)
    if port is None:
        _add(notes, f"{where}: {entry} routes to port {wanted!r} of {service.doc.label}, which has no such port: "
                    f"not paired")
        return None
    return service, port


class _Pods:
    """The chains from a front through a Service to the containers of its pods, each pod's
    sidecar nginx read once."""

    def __init__(self, manifests: Manifests, notes: list[str], images: list | None, nginx_version: str | None):
        self.manifests, self.notes, self.images, self.nginx_version = manifests, notes, images, nginx_version
        self._sidecars: dict[tuple[int, int], SidecarNginx] = {}

    def behind(self, entry: str, entry_where: tuple[str, int], front: Hop | None, service: Service,
               target) -> list[Chain]:
        notes = self.notes
        where = f"{service.doc.file}:{service.doc.line}"
        if service.selector is None:
            _add(notes, f"{where}: {service.doc.label} has no selector (its endpoints are set by hand): {entry} not "
                        f"paired with any pod")
            return []
        workloads = self.manifests.pods_of(service)
        if not workloads:
            selector = ", ".join(f"{k}={v}" for k, v in service.selector.items())
            _add(notes, f"{where}: no Deployment, StatefulSet or DaemonSet in the input has pods labelled {selector} "
                        f"(the selector of {service.doc.label}): {entry} not paired with an app")
            return []
        found = []
        for workload in workloads:
            container = _serving(workload, target)
            if container is None:
                several = "" if isinstance(target, str) else f", and it has {len(workload.containers)} containers"
                _add(notes, f"{workload.doc.file}:{workload.doc.line}: no container of {workload.doc.label} declares "
                            f"port {target!r} (the targetPort of {service.doc.label}){several}: not paired")
                continue
            found.extend(self.pod(entry, entry_where, front, service.doc.label, workload, container))
        return found

    def pod(self, entry: str, entry_where: tuple[str, int], front: Hop | None, service: str, workload: Workload,
            container: Container) -> list[Chain]:
        """The chains through ``container``: to its app server, or, when it is nginx, through each
        nginx tree to each app container beside it."""
        if not is_nginx(container):
            app = self.app(workload, container)
            pod = _shutdown(workload, container, entry, app)
            return [_chain(entry, entry_where, front, service, workload, container, app, pod)]
        sidecar = self.sidecar(workload, container)
        if not sidecar.configs:
            return []
        apps = [(c, self.app(workload, c), workload) for c in workload.containers
                if c is not container and not is_nginx(c)]
        served = [(c, app, w) for c, app, w in apps if app.server is not None] \
            or self.behind_services(sidecar.configs, workload) or [(None, None, workload)]
        found = []
        for config in sidecar.configs:
            for app_container, app, app_workload in served:
                pod = _shutdown(workload, container, entry, app)
                chain = _chain(entry, entry_where, front, service, app_workload, app_container or container,
                               app, pod)
                chain.nginx = config
                found.append(chain)
        return found

    def behind_services(self, configs, workload: Workload) -> list[tuple]:
        """(container, app, workload) for each app container an nginx pod with no app beside it
        proxies to through a Service of the input: each upstream host that names a Service of the
        pod's namespace (``web``, ``web.shop``, ``web.shop.svc.cluster.local``), followed by its
        selector to the container serving the port nginx uses."""
        namespace = workload.doc.namespace
        wanted: dict[str, set] = {}
        for config in configs:
            for address in (t for t in config.pass_targets() if "$" not in t):
                host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
                parts = host.lower().split(".")
                if len(parts) == 1 or (len(parts) >= 2 and parts[1] == namespace and parts[2:] in ([], ["svc"],
                                                                                                  ["svc", "cluster", "local"])):
                    wanted.setdefault(parts[0], set()).add(int(port) if port.isdigit() else None)
        found = []
        for name, ports in wanted.items():
            service = self.manifests.services.get((namespace, name))
            if service is None:
                continue
            for wanted_port in ports:
                service_port = service.port_for(wanted_port if wanted_port is not None else None) \
                    or (service.port_for(None) if wanted_port is None else None)
                if service_port is None:
                    continue
                target = service_port.target if service_port.target is not None else service_port.port
                for app_workload in self.manifests.pods_of(service):
                    container = _serving(app_workload, target)
                    if container is not None and not is_nginx(container):
                        app = self.app(app_workload, container)
                        if app.server is not None:
                            found.append((container, app, app_workload))
        return found

    def unreached_nginx(self, reached: set[str]) -> list[Chain]:
        """Pods running nginx from a ConfigMap that no Ingress, route or LoadBalancer Service in
        the input reaches (the front lives elsewhere): nginx and its app are checked together."""
        found = []
        for workload in self.manifests.workloads:
            if workload.doc.label in reached:
                continue
            for container in workload.containers:
                if not is_nginx(container):
                    continue
                chains = self.pod(workload.doc.label, (workload.doc.file, workload.doc.line), None, "",
                                  workload, container)
                # What takes the pod out of rotation on deletion: a ClusterIP Service that selects
                # it; none when the input has Services and none selects it (no traffic to drop).
                selecting = [s.doc.label for s in self.manifests.services.values()
                             if any(w is workload for w in self.manifests.pods_of(s))]
                sender = selecting[0] if selecting else "" if self.manifests.services else \
                    "whatever routes to the pod (a Service)"
                for chain in chains:
                    if chain.pod is not None:
                        chain.pod.front = sender
                found.extend(chains)
        return found

    def sidecar(self, workload: Workload, container: Container) -> SidecarNginx:
        key = (id(workload), id(container))
        if key not in self._sidecars:
            sidecar = sidecar_nginx(workload, container, self.manifests.config_maps, self.nginx_version)
            for note in sidecar.notes:
                _add(self.notes, note)
            self._sidecars[key] = sidecar
        return self._sidecars[key]

    def app(self, workload: Workload, container: Container):
        anchor_node = container.command or container.args or container.node
        files, _, _ = mounted_files(workload, container, self.manifests.config_maps)
        app = read_app(container, f"{anchor_node.file}:{anchor_node.line}", self.images, files)
        for note in app.notes:
            _add(self.notes, note)
        return app


def _chain(entry: str, entry_where: tuple[str, int], front: Hop | None, service: str, workload: Workload,
           container: Container, app, pod: PodShutdown) -> Chain:
    anchor_node = container.command or container.args or container.node
    return Chain(entry=entry, entry_where=entry_where, service=service, workload=workload.doc.label,
                 container=container.name, front=front, server=app.server if app else None,
                 gunicorn=app.gunicorn if app else None, app_server=app.app_server if app else None,
                 app_hop=app.hop if app else None, anchor=anchor_node.where, pod=pod,
                 notes=list(app.notes) if app else [], image=app.image if app else None)


def _serving(workload: Workload, target) -> Container | None:
    """The container that declares the target port, else the only container (a numeric
    targetPort needs no containerPort declared: ports in a pod spec are informational)."""
    declared = [c for c in workload.containers if target is not None and c.serves(target)]
    if declared:
        return declared[0]
    if len(workload.containers) == 1 and not isinstance(target, str):
        return workload.containers[0]
    return None


def _shutdown(workload: Workload, container: Container, entry: str, app) -> PodShutdown:
    hook = container.pre_stop
    grace_node = workload.grace
    if grace_node is not None and isinstance(grace_node.value, int):
        grace = Timer(float(grace_node.value), f"{grace_node.file}:{grace_node.line}", "terminationGracePeriodSeconds")
        grace_where = grace_node.where
    else:
        grace = Timer(float(GRACE_DEFAULT_S), GRACE_SOURCE, "terminationGracePeriodSeconds")
        grace_where = (workload.pod_spec or workload.doc.root).where
    return PodShutdown(workload=workload.doc.label, workload_kind=workload.doc.kind, container=container.name,
                       front=entry, file=container.node.file, line=container.node.line,
                       pre_stop_hook=hook is not None, pre_stop=_pre_stop_delay(hook), grace=grace,
                       grace_where=grace_where, app_graceful=app.graceful if app else None,
                       app_graceful_why=app.graceful_why if app else "no app server is read in the pod",
                       app_unsignalled=app.unsignalled if app else None)


def _pre_stop_delay(hook: Node | None) -> Timer | None:
    """The seconds a preStop hook waits: ``sleep: {seconds: N}`` (Kubernetes 1.30+) or an exec of
    ``sleep N`` (directly or through ``sh -c``). None for no hook, or one whose duration is unknown."""
    if hook is None:
        return None
    seconds = hook.get("sleep", "seconds")
    if seconds is not None and isinstance(seconds.value, int):
        return Timer(float(seconds.value), f"{seconds.file}:{seconds.line}", "preStop sleep")
    command = hook.get("exec", "command")
    words = [str(item.value) for item in command.list()] if command is not None else []
    if len(words) >= 3 and os.path.basename(words[0]) in ("sh", "bash", "ash", "dash") and words[1] == "-c":
        words = words[2].replace(";", " ").replace("&&", " ").split()
    if len(words) >= 2 and os.path.basename(words[0]) == "sleep":
        try:
            return Timer(float(words[1]), f"{command.file}:{command.line}", "preStop exec sleep")
        except ValueError:
            return None
    return None


def _add(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)
