"""nginx workers and their capacity (CG3xx): whole configs only, and the profile's load."""

from __future__ import annotations

import math
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.nginx_edits import insert_before, replace_args
from confgen.lint.registry import Finding, rule
from confgen.profile.constants import FDS_PER_PROXIED_CLIENT

DEFAULT_WORKER_CONNECTIONS = 512
# Without worker_rlimit_nofile a worker inherits the soft RLIMIT_NOFILE, 1024 on most systems.
COMMON_SOFT_NOFILE = 1024


def _main_directive(ctx: LintContext, name: str):
    found = [d for d in ctx.nginx.root.block or () if d.name == name]
    return found[-1] if found else None


def _events(ctx: LintContext):
    return _main_directive(ctx, "events")


def _worker_connections(ctx: LintContext) -> tuple[int | None, object | None]:
    events = _events(ctx)
    directive = None
    if events is not None:
        found = [d for d in events.block or () if d.name == "worker_connections"]
        directive = found[-1] if found else None
    if directive is None:
        return DEFAULT_WORKER_CONNECTIONS, None
    value = directive.args[0] if directive.args else ""
    return (int(value) if value.isdigit() else None), directive


@rule(code="CG301", name="worker-connections-nofile", severity="warning", needs=("full",))
def worker_connections_nofile(ctx: LintContext) -> Iterator[Finding]:
    """``worker_rlimit_nofile`` missing, or below 1.5 x ``worker_connections``.

    A worker's connections, client and upstream sockets alike, each hold a descriptor and
    count in ``worker_connections``; every file it serves, buffers to a temp file or caches
    holds one more that does not. Without ``worker_rlimit_nofile`` a worker inherits the soft
    limit, 1024 under systemd's default and in containers from Docker Engine 29 (containerd
    2.1.5; older releases gave containers 1048576), so connections plus open files pass it well before
    ``worker_connections`` is reached when nginx also serves files or buffers bodies, and
    requests fail with "Too many open files"; pure proxying reaches ``worker_connections``
    first. Reported when the limit is set no higher than worker_connections (the connections
    alone use it up), or leaves room for fewer open files than half of worker_connections (below
    1.5 x: at capacity, a worker serving files or buffering bodies to disk runs out while most of
    its connections still have work), or is missing while 2 x worker_connections exceeds 1024;
    the fix sets twice worker_connections, room for a file on every connection. Not reported
    when missing on a platform that starts nginx with a limit of 1.5 x worker_connections or
    more: Heroku's nginx buildpack (10,000 on a Standard-1X dyno) and Cloud Foundry's (16,384 by
    default).

    Bad:
        events { worker_connections 4096; }
        http { server { listen 80; } }

    Good:
        worker_rlimit_nofile 8192;
        events { worker_connections 4096; }
        http { server { listen 80; } }

    Fix safety: Safe: ``worker_rlimit_nofile`` is set (or raised) to twice
    ``worker_connections``; a higher descriptor limit makes no request fail.

    References:
        https://nginx.org/en/docs/ngx_core_module.html#worker_rlimit_nofile
        https://nginx.org/en/docs/ngx_core_module.html#worker_connections
        https://github.com/moby/moby/issues/51485
        https://github.com/rust-lang/crates.io/pull/2785
        https://github.com/cloudfoundry/cloud_controller_ng (instance_file_descriptor_limit, 16384 by default)
    """
    connections, directive = _worker_connections(ctx)
    if connections is None:
        return
    needed = FDS_PER_PROXIED_CLIENT * connections
    limit = _main_directive(ctx, "worker_rlimit_nofile")
    if limit is None:
        if needed <= COMMON_SOFT_NOFILE:
            return
        platform = _hosting_platform(ctx)
        if platform is not None and platform.open_files >= connections * 3 // 2:
            ctx.note(f"worker_connections {connections} without worker_rlimit_nofile: not reported, as "
                     f"{platform.name} ({platform.evidence}) starts nginx with {platform.open_files} open files")
            return
        anchor = directive or _events(ctx) or ctx.block_anchor(ctx.nginx.root)
        yield ctx.finding(anchor,
                          f"worker_connections {connections} without worker_rlimit_nofile: workers inherit the "
                          f"soft open-file limit ({COMMON_SOFT_NOFILE} under systemd's default, and in containers "
                          f"from Docker Engine 29 / containerd 2.1.5), which {connections} connections "
                          f"plus the files they serve or buffer (each a descriptor outside worker_connections) "
                          f"can pass, failing with \"Too many open files\"; add `worker_rlimit_nofile {needed};` "
                          f"at the top level",
                          fix=_nofile_fix(ctx, needed))
        return
    value = limit.args[0] if limit.args else ""
    if not value.isdigit():
        return
    written = int(value)
    fix = Fix(lambda fx: [replace_args(fx, limit, str(needed))])
    if written <= connections:
        yield ctx.finding(limit,
                          f"worker_rlimit_nofile {value} is not above worker_connections {connections}: each "
                          f"connection holds a descriptor, so the connections alone use the limit up and every file "
                          f"served or buffered, and nginx's own logs and sockets, take it past: \"Too many open "
                          f"files\" before worker_connections is reached; raise it to {needed}", fix=fix)
    elif written < connections * 3 // 2:
        # Each connection may hold a file (one being sent, a body buffered to a temp file): room for
        # fewer than one per two connections runs out while most of them still have work.
        yield ctx.finding(limit,
                          f"worker_rlimit_nofile {value} leaves room for {written - connections} open files beyond "
                          f"worker_connections {connections}, fewer than one for every two connections: at capacity, "
                          f"a worker whose connections hold more files than that (files being sent, request or "
                          f"response bodies buffered to temp files) fails with \"Too many open files\" before "
                          f"worker_connections is reached; raise it to {needed}", fix=fix)


def _hosting_platform(ctx: LintContext):
    from confgen.lint.platforms import hosting_platform

    main_file = ctx.nginx.main_file
    return None if main_file.startswith("<") else ctx.cached("platform", lambda: hosting_platform(main_file))


def _nofile_fix(ctx: LintContext, needed: int) -> Fix | None:
    events = _events(ctx)
    if events is None:
        return None
    return Fix(lambda fx: [insert_before(fx, events, f"worker_rlimit_nofile {needed};")])


@rule(code="CG302", name="worker-processes", severity="warning", needs=("full",))
def worker_processes(ctx: LintContext) -> Iterator[Finding]:
    """``worker_processes`` missing or 1 (or, with ``--profile``, below the profile's cpus).

    nginx's default is a single worker: one CPU core does all TLS, gzip and proxying while the
    others idle, and one blocked worker (a slow disk read) stalls every connection. ``auto``
    starts one per core. In a container held to a few CPUs (a Kubernetes ``limits.cpu``, a
    compose ``cpus``), ``auto`` still counts the machine's cores, not the container's quota:
    the advice is then the limit rounded up, and one worker under a limit of one CPU is not
    reported.

    Bad:
        worker_processes 1;
        events {}
        http { server { listen 80; } }

    Good:
        worker_processes auto;
        events {}
        http { server { listen 80; } }

    Fix safety: Safe: ``worker_processes auto`` (one per core), or the container's CPU limit
    rounded up, replaces a lower number or the missing line; more workers serve the same
    requests.

    References:
        https://nginx.org/en/docs/ngx_core_module.html#worker_processes
        https://github.com/nginxinc/docker-nginx/blob/master/entrypoint/30-tune-worker-processes.sh
        https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#how-pods-with-resource-limits-are-run
    """
    directive = _main_directive(ctx, "worker_processes")
    cpus = ctx.profile.cpus if ctx.profile is not None else None
    limit = _container_cpu_limit(ctx) if cpus is None else None
    # A container held to a few CPUs: `auto` counts the machine's cores, not the container's
    # quota, so the advice is the limit itself (as the official image's entrypoint sets it when
    # asked to tune it).
    advice, because = "auto", ""
    if limit is not None:
        workers = math.ceil(limit[0])
        if workers <= 1:
            return      # one worker is what the container's CPU limit gives room for
        advice = str(workers)
        because = (f" (its container may use {limit[0]:g} CPUs, {limit[1]}; auto would count the machine's "
                   f"cores, not the container's limit)")
    if directive is None:
        if cpus == 1:
            return
        first = next((d for d in ctx.nginx.root.block or () if d.file == ctx.nginx.main_file), None)
        yield ctx.finding(ctx.block_anchor(ctx.nginx.root),
                          f"worker_processes is not set, so nginx runs a single worker on one core; "
                          f"add `worker_processes {advice};`{because}",
                          fix=Fix(lambda fx: [insert_before(fx, first, f"worker_processes {advice};")])
                          if first is not None else None)
        return
    value = directive.args[0] if directive.args else ""
    if not value.isdigit():
        return
    count = int(value)
    if cpus is not None and count < cpus:
        yield ctx.finding(directive, f"worker_processes {count} is below the profile's cpus={cpus}: "
                                     f"cores stay idle; use `worker_processes auto;` (or {cpus})",
                          fix=Fix(lambda fx: [replace_args(fx, directive, "auto")]))
    elif cpus is None and count == 1:
        yield ctx.finding(directive, f"worker_processes 1 runs all traffic on one core; "
                                     f"use `worker_processes {advice};`{because}",
                          fix=Fix(lambda fx: [replace_args(fx, directive, advice)]))


def _container_cpu_limit(ctx: LintContext) -> tuple[float, str] | None:
    """The CPU limit of the container running this nginx: its Kubernetes container's, or its
    compose service's."""
    from confgen.lint.containers import compose_cpu_limit, tree_services

    return ctx.nginx.cpu_limit or compose_cpu_limit(tree_services(ctx))


@rule(code="CG303", name="worker-connections-capacity", severity="warning", needs=("full", "profile"))
def worker_connections_capacity(ctx: LintContext) -> Iterator[Finding]:
    """All workers together hold fewer connections than the profile's clients need.

    Each proxied client takes two connections from a worker's ``worker_connections`` (client
    side and upstream side). When workers x worker_connections is below clients x 2, nginx
    logs "worker_connections are not enough" and drops connections at the load the profile
    expects. ``confgen render`` sizes it with headroom.

    Bad:
        worker_processes 2;
        events { worker_connections 128; }
        http { server { listen 80; } }

    Good:
        worker_processes 2;
        worker_rlimit_nofile 4096;
        events { worker_connections 2048; }
        http { server { listen 80; } }

    References:
        https://nginx.org/en/docs/ngx_core_module.html#worker_connections
    """
    connections, directive = _worker_connections(ctx)
    workers_directive = _main_directive(ctx, "worker_processes")
    value = workers_directive.args[0] if workers_directive is not None and workers_directive.args else "1"
    workers = ctx.profile.cpus if value == "auto" else int(value) if value.isdigit() else None
    if connections is None or not workers:
        return
    needed = ctx.profile.clients * FDS_PER_PROXIED_CLIENT
    if connections * workers >= needed:
        return
    from confgen.profile.sizing import nginx_worker_connections

    recommended = nginx_worker_connections(ctx.profile).value
    yield ctx.finding(directive or _events(ctx) or ctx.block_anchor(ctx.nginx.root),
                      f"{workers} workers x worker_connections {connections} = {connections * workers} "
                      f"connections, but clients={ctx.profile.clients} need {needed} (client + upstream "
                      f"each); use worker_connections {max(recommended, math.ceil(needed / workers))}")
