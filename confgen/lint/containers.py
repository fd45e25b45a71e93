"""Whether a linted file runs in a container, and which of nginx's ports a compose file publishes.

A container's port reaches clients only when it is published (compose ``ports:``) or through
the proxy in front of it (an ingress, traefik): a plain-HTTP nginx in a container whose port no
compose file publishes is written to sit behind such a proxy. The signs of a container are the
files around the config (a Dockerfile or compose file in its directory or the ones above) and
the folders it is kept in (``docker/``, ``k8s/``, ``charts/``).
"""

from __future__ import annotations

import ipaddress
import os

# Folders a repository keeps its container and cluster files in.
CONTAINER_DIRECTORIES = frozenset({"docker", ".docker", "k8s", "kubernetes", "helm", "charts", "container",
                                   "containers"})
# How many directories above a file a compose file or Dockerfile is looked for.
SEARCH_LEVELS = 3
# Images that run nginx.
_NGINX_IMAGES = ("nginx", "openresty")


def containerised(path: str) -> bool:
    """Whether ``path`` is kept as a container's file: under a container folder, or with a
    Dockerfile or compose file in its directory or one of the SEARCH_LEVELS above."""
    from confgen.appserver.commands import kind_of

    path = os.path.abspath(path)
    if CONTAINER_DIRECTORIES & set(path.split(os.sep)):
        return True
    return any(kind_of(candidate) in ("dockerfile", "compose") for candidate in files_around(path))


def tree_services(ctx) -> list[tuple[list[str], dict]]:
    """nginx_services of the linted tree's main file, read once per lint (none for stdin)."""
    main_file = ctx.nginx.main_file
    return ctx.cached("containers:nginx-services",
                      lambda: [] if main_file.startswith("<") else nginx_services(main_file))


def published_ports(services: list[tuple[list[str], dict]]) -> set[int] | None:
    """The container ports that the compose services running this nginx (nginx_services)
    publish on a host address clients reach (not one bound to loopback); None when no compose
    file around the config runs it (an nginx image, a build context holding the config, or a
    volume of it)."""
    if not services:
        return None
    return set().union(*(_published(service.get("ports")) for _, service in services))


def compose_cpu_limit(services: list[tuple[list[str], dict]]) -> tuple[float, str] | None:
    """The CPUs the compose services running this nginx (nginx_services) may use (``cpus:``, or
    ``deploy.resources.limits.cpus``), the largest when there are several, and the file saying
    so; None when one of them has no limit or none runs it."""
    limits = []
    for files, service in services:
        deploy = service.get("deploy") if isinstance(service.get("deploy"), dict) else {}
        resources = deploy.get("resources") if isinstance(deploy.get("resources"), dict) else {}
        limit = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
        try:
            cpus = float(str(service.get("cpus") or limit.get("cpus") or "").strip("'\""))
        except ValueError:
            return None
        if cpus <= 0:
            return None
        limits.append((cpus, files[-1]))
    return max(limits) if limits else None


def nginx_services(config_file: str) -> list[tuple[list[str], dict]]:
    """The compose services that run this nginx, each with the compose files defining it: those
    that mount or build this config, else those that run an nginx image."""
    from confgen.appserver.commands import kind_of

    config_file = os.path.abspath(config_file)
    # The services of the compose files of one folder, merged by name as compose merges a file and
    # its override (one gives the volumes, the other the ports).
    merged: dict[tuple[str, str], tuple[list[str], dict]] = {}
    for path in files_around(config_file):
        if kind_of(path) == "compose":
            for name, service in _services(path):
                files, into = merged.setdefault((os.path.dirname(path), name), ([], {}))
                files.append(path)
                for key, value in service.items():
                    into[key] = into.get(key, []) + value if key in ("ports", "volumes") and \
                        isinstance(value, list) and isinstance(into.get(key, []), list) else value
    chosen: dict[str, list] = {"mounts": [], "image": []}
    for (directory, _), (files, service) in merged.items():
        match = _runs_this_nginx(service, directory, config_file)
        if match:
            chosen[match].append((files, service))
    return chosen["mounts"] or chosen["image"]


def unreached_container(ctx, server) -> str | None:
    """How ``server`` is known to run in a container whose ports clients do not reach directly
    (kept as a container's file, and no compose service of this nginx publishes a port it
    listens on: only the deployment's own containers, or the proxy in front, reach it), for a
    note; None when it is not known to (not a container's file, or a port published)."""
    main_file = ctx.nginx.main_file
    if main_file.startswith("<"):
        return None
    # The files around the tree are read once per lint, however many servers ask.
    if not ctx.cached("containers:containerised", lambda: containerised(main_file)):
        return None
    published = published_ports(tree_services(ctx))
    if published is None:
        return "(no compose file beside it publishes a port of it)"
    ports = {listen.port or 80 for listen in ctx.nginx.listens(server)} or {80}
    if ports & published:
        return None
    return f"whose compose service publishes none of its ports ({', '.join(map(str, sorted(ports)))})"


def files_around(path: str) -> list[str]:
    """The files of ``path``'s directory and of the SEARCH_LEVELS directories above it (not past
    a repository's root)."""
    files = []
    directory = os.path.dirname(path)
    for _ in range(SEARCH_LEVELS + 1):
        try:
            files.extend(os.path.join(directory, name) for name in sorted(os.listdir(directory)))
        except OSError:
            break
        if os.path.isdir(os.path.join(directory, ".git")) or os.path.dirname(directory) == directory:
            break
        directory = os.path.dirname(directory)
    return [f for f in files if os.path.isfile(f)]


def _services(path: str) -> list[tuple[str, dict]]:
    import yaml

    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return []
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        return []
    return [(str(name), service) for name, service in services.items() if isinstance(service, dict)]


def _runs_this_nginx(service: dict, directory: str, config_file: str) -> str | None:
    """"mounts" for a service that mounts the config file or its folder, or builds an image from
    a Dockerfile that names nginx or from the config's folder or the one above it (neither being
    the compose file's own folder, which holds the app too); "image" for one that runs an nginx
    image; None."""
    folder = os.path.dirname(config_file)
    for volume in service.get("volumes") or ():
        source = volume.get("source") if isinstance(volume, dict) else str(volume).split(":", 1)[0]
        source = os.path.normpath(os.path.join(directory, source)) if isinstance(source, str) and \
            source.startswith((".", "/")) else None
        if source in (config_file, folder) and source != directory:
            return "mounts"
    build = service.get("build")
    context = build.get("context", ".") if isinstance(build, dict) else build
    dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
    if isinstance(context, str) and "$" not in context and "://" not in context:
        context = os.path.normpath(os.path.join(directory, context))
        if "nginx" in str(dockerfile).lower() or context != directory and context in (folder, os.path.dirname(folder)):
            return "mounts"
    image = str(service.get("image") or "").lower()
    return "image" if any(name in image.rsplit("/", 1)[-1] for name in _NGINX_IMAGES) else None


def _published(ports) -> set[int]:
    """The container ports of a compose ``ports:`` list published on an address clients reach."""
    found: set[int] = set()
    for entry in ports or ():
        if isinstance(entry, dict):
            host, target = str(entry.get("host_ip") or ""), str(entry.get("target") or "")
        else:
            parts = str(entry).rsplit("/", 1)[0].split(":")
            target = parts[-1]
            host = ":".join(parts[:-2]) if len(parts) > 2 else ""
        if _loopback(host):
            continue
        low, _, high = target.partition("-")
        if low.isdigit():
            found.update(range(int(low), int(high if high.isdigit() else low) + 1))
    return found


def _loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
