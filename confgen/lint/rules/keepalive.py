"""Keep-alive between nginx and its upstreams (CG1xx): is a pooled connection ever reused?

nginx reuses an upstream connection only when three things hold: the upstream block keeps idle
connections (``keepalive N``; 32 by default from nginx 1.29.7), nginx speaks HTTP/1.1 to it, and
the request it sends carries no ``Connection: close`` (nginx's own default before 1.29.7).
"""

from __future__ import annotations

import math
from typing import Iterator

from confgen.lint.rules._proxy import is_ip
from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import (
    KEEPALIVE_BY_DEFAULT,
    app_number,
    app_upstreams,
    effective_directive,
    pool_anchor,
    pool_size,
    routes,
    seconds,
    upstream_child,
    used_upstreams,
    value_without_header,
    worker_class,
)

# Common idle timeouts of balancers that put set_real_ip_from in front of nginx (AWS ALB: 60 s).
BALANCER_IDLE_TIMEOUT_S = 60.0
VERSION_TEXT = ".".join(map(str, KEEPALIVE_BY_DEFAULT))


@rule(code="CG101", name="keepalive-needs-http11", severity="error")
def keepalive_needs_http11(ctx: LintContext) -> Iterator[Finding]:
    """A location proxies to an upstream that pools connections, but speaks HTTP/1.0 to it.

    HTTP/1.0 has no persistent connections: nginx closes every upstream connection after one
    response, so the upstream's ``keepalive`` pool stays empty and each request pays a new
    connect (and a TIME_WAIT socket). Before nginx 1.29.7 ``proxy_http_version`` defaults to 1.0;
    from 1.29.7 only an explicit ``proxy_http_version 1.0`` does this.

    Version: 1.22.1

    Bad:
        upstream app { server 127.0.0.1:8000; keepalive 16; }
        server {
            location / { proxy_pass http://app; proxy_set_header Connection ""; }
        }

    Good:
        upstream app { server 127.0.0.1:8000; keepalive 16; }
        server {
            location / {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
            }
        }
    """
    for upstream, upstream_routes in used_upstreams(ctx):
        pool = pool_size(ctx, upstream)
        if pool <= 0:
            continue
        for route in upstream_routes:
            version = ctx.nginx.effective_args("proxy_http_version", route.block)
            if not version or version[0] != "1.0":
                continue
            directive = effective_directive(ctx, "proxy_http_version", route.block)
            why = "proxy_http_version 1.0" if directive else \
                f"the default before nginx {VERSION_TEXT} is HTTP/1.0"
            yield ctx.finding(directive or route.proxy_pass,
                              f"upstream {upstream.args[0]} keeps {pool} idle connections, but nginx speaks "
                              f"HTTP/1.0 to it ({why}): every connection closes after one request; "
                              f"add `proxy_http_version 1.1;`")


@rule(code="CG102", name="keepalive-connection-header", severity="error")
def keepalive_connection_header(ctx: LintContext) -> Iterator[Finding]:
    """A location proxies to an upstream that pools connections, but sends ``Connection: close``.

    With ``Connection: close`` the app closes the connection after answering, so the pool is
    never used. nginx sends ``close`` itself before 1.29.7 unless the location sets
    ``proxy_set_header Connection ""``; the WebSocket idiom ``Connection $connection_upgrade``
    does the same when its ``map`` gives ``close`` for requests without an Upgrade header
    (map ``''`` to ``''`` instead). A level with its own ``proxy_set_header`` inherits none from
    outside, so a ``Connection ""`` at ``server`` level is lost in such a location.

    Version: 1.22.1

    Bad:
        map $http_upgrade $connection_upgrade { default upgrade; '' close; }
        upstream app { server 127.0.0.1:8000; keepalive 16; }
        server {
            location / {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $connection_upgrade;
            }
        }

    Good:
        map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
        upstream app { server 127.0.0.1:8000; keepalive 16; }
        server {
            location / {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $connection_upgrade;
            }
        }
    """
    for upstream, upstream_routes in used_upstreams(ctx):
        pool = pool_size(ctx, upstream)
        if pool <= 0:
            continue
        for route in upstream_routes:
            value, directive = ctx.nginx.proxy_headers(route.block).get("connection", ("", None))
            resolved = value_without_header(ctx, value)
            if resolved is None or "close" not in {t.strip().lower() for t in resolved.split(",")}:
                continue
            if directive is None:
                how = f"nginx sends `Connection: close` by default before {VERSION_TEXT}"
                fix = 'add `proxy_set_header Connection "";` here'
            elif resolved == value:
                how = f"`proxy_set_header Connection {value}`"
                fix = 'use `proxy_set_header Connection "";`'
            else:
                how = f"`Connection {value}` is `close` on requests without that header (its map)"
                fix = "map the `''` entry to `''` so ordinary requests keep the connection"
            yield ctx.finding(directive or route.proxy_pass,
                              f"upstream {upstream.args[0]} keeps {pool} idle connections, but {how}: "
                              f"the app closes each connection after one response; {fix}")


@rule(code="CG104", name="upstream-no-keepalive", severity="warning")
def upstream_no_keepalive(ctx: LintContext) -> Iterator[Finding]:
    """An upstream used by ``proxy_pass`` keeps no idle connections (before nginx 1.29.7).

    Without ``keepalive N`` in the upstream block, nginx opens a new connection to the app for
    every request and closes it afterwards: a connect per request, TIME_WAIT sockets piling up
    on TCP, and more latency. From nginx 1.29.7 every upstream keeps 32 idle connections by
    default, so the directive is then only needed to size the pool.

    Version: 1.22.1

    Bad:
        upstream app { server 127.0.0.1:8000; }
        server { location / { proxy_pass http://app; } }

    Good:
        upstream app { server 127.0.0.1:8000; keepalive 16; }
        server {
            location / {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
            }
        }
    """
    if ctx.version >= KEEPALIVE_BY_DEFAULT:
        return
    for upstream, _ in used_upstreams(ctx):
        if upstream_child(upstream, "keepalive") is None:
            yield ctx.finding(upstream,
                              f"upstream {upstream.args[0]} has no `keepalive`: before nginx {VERSION_TEXT} "
                              f"every request opens and closes a connection to it; add `keepalive 16;` "
                              f"(with `proxy_http_version 1.1;` and `proxy_set_header Connection \"\";`)")


@rule(code="CG105", name="proxy-pass-no-upstream", severity="warning")
def proxy_pass_no_upstream(ctx: LintContext) -> Iterator[Finding]:
    """``proxy_pass`` to a literal address or unix socket instead of an ``upstream`` block.

    Only an upstream block has a connection pool you can size and a ``keepalive_timeout`` you
    can keep below the app's keep-alive: before nginx 1.29.7 a literal address is never reused
    (a new connection per request). In a snippet, a bare name may be an upstream defined
    elsewhere, so only addresses with a port, IPs and sockets are reported there.

    Version: 1.22.1

    Bad:
        server { location / { proxy_pass http://127.0.0.1:8000; } }

    Good:
        upstream app { server 127.0.0.1:8000; keepalive 16; }
        server {
            location / {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
            }
        }
    """
    whole = ctx.nginx.is_full
    for route in routes(ctx):
        if route.is_variable or route.upstream is not None:
            continue
        literal = route.target.startswith("unix:") or ":" in route.target or is_ip(route.target)
        if not (whole or literal):
            continue
        if ctx.version >= KEEPALIVE_BY_DEFAULT:
            effect = "no upstream block to size its pool or keep its keepalive_timeout below the app's"
        else:
            effect = "connections to it are never reused (a new connection per request)"
        yield ctx.finding(route.proxy_pass,
                          f"proxy_pass to {route.target} without an upstream block: {effect}; define "
                          f"`upstream NAME {{ server {route.target}; keepalive 16; }}` and proxy_pass http://NAME")


@rule(code="CG106", name="upstream-keepalive-pool-small", severity="warning")
def upstream_keepalive_pool_small(ctx: LintContext) -> Iterator[Finding]:
    """The upstream's idle pool is smaller than the requests one nginx worker has in flight.

    ``keepalive N`` is per nginx worker. When more requests run at once than the pool holds,
    the surplus connections are closed after each response and reopened for the next burst:
    reuse collapses under exactly the load it was meant for. In flight is taken from the
    profile (QPS x latency, Little's law) with ``--profile``, else from a gthread app's capacity
    (workers x threads); async workers' capacity says nothing about load, so they need the
    profile. Needs a known ``worker_processes`` (a whole config, or ``auto`` with a profile).

    Gunicorn:
        worker_class = "gthread"
        workers = 4
        threads = 8

    Bad:
        worker_processes 2;
        events {}
        http {
            upstream app { server 127.0.0.1:8000; keepalive 4; }
            server {
                location / {
                    proxy_pass http://app;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                }
            }
        }

    Good:
        worker_processes 2;
        events {}
        http {
            upstream app { server 127.0.0.1:8000; keepalive 32; }
            server {
                location / {
                    proxy_pass http://app;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                }
            }
        }
    """
    if ctx.gunicorn is None and ctx.profile is None:
        return
    workers = _nginx_workers(ctx)
    demand, source = _in_flight(ctx)
    if not workers or not demand:
        return
    per_worker = math.ceil(demand / workers)
    candidates = app_upstreams(ctx) if ctx.gunicorn is not None else used_upstreams(ctx)
    for upstream, _ in candidates:
        pool = pool_size(ctx, upstream)
        if 0 < pool < per_worker:
            yield ctx.finding(pool_anchor(upstream),
                              f"upstream {upstream.args[0]} keeps {pool} idle connections per nginx worker, "
                              f"but about {per_worker} requests are in flight per worker ({source} over "
                              f"{workers} workers): the surplus is reconnected for every request; "
                              f"use `keepalive {per_worker * 2};` or more")


def _nginx_workers(ctx) -> int | None:
    directive = next((d for d in ctx.nginx.root.block or () if d.name == "worker_processes"), None)
    if directive is None:
        return 1 if ctx.nginx.is_full else None
    value = directive.args[0] if directive.args else ""
    if value == "auto":
        return ctx.profile.cpus if ctx.profile is not None else None
    return int(value) if value.isdigit() and int(value) > 0 else None


def _in_flight(ctx) -> tuple[float | None, str]:
    """Concurrent upstream requests: from the profile's load, else a gthread app's capacity."""
    capacity = None
    if ctx.gunicorn is not None and worker_class(ctx) == "gthread":
        workers, _ = app_number(ctx, "workers")
        threads, _ = app_number(ctx, "threads")
        if workers and threads:
            capacity = workers * threads
    if ctx.profile is not None:
        from confgen.render.sizing import requests_in_flight

        load = requests_in_flight(ctx.profile)
        if capacity is not None and capacity < load:
            return capacity, f"the app's {capacity:g} threads"
        return load, f"profile: {ctx.profile.expected_qps:g} QPS x {ctx.profile.app.latency_ms:g} ms"
    if capacity is not None:
        return capacity, f"gunicorn workers x threads = {capacity:g}"
    return None, ""


@rule(code="CG107", name="keepalive-timeout-order", severity="warning")
def keepalive_timeout_order(ctx: LintContext) -> Iterator[Finding]:
    """Idle timeouts out of order along the chain balancer -> nginx -> app.

    Whoever reuses an idle connection must give it up before the other side closes it, or a
    request sent on it meets the close and fails (502 at the balancer). So each hop's idle
    timeout must exceed the one in front of it: nginx's client ``keepalive_timeout`` must exceed
    a balancer's (commonly 60 s, AWS ALB) when ``set_real_ip_from`` says one is in front; and
    the ``Keep-Alive: timeout=`` header nginx advertises (the second argument) must not promise
    more than nginx keeps. The app hop is rule app-keepalive-race.

    Bad:
        server {
            set_real_ip_from 10.0.0.0/8;
            keepalive_timeout 30s;
            location / { return 204; }
        }

    Good:
        server {
            set_real_ip_from 10.0.0.0/8;
            keepalive_timeout 75s;
            location / { return 204; }
        }
    """
    for directive in ctx.all("keepalive_timeout"):
        if directive.parent is None or directive.parent.name == "upstream" or len(directive.args) < 2:
            continue
        idle, advertised = seconds(directive.args[:1]), seconds(directive.args[1:2])
        if idle is not None and advertised is not None and advertised > idle:
            yield ctx.finding(directive,
                              f"keepalive_timeout advertises `Keep-Alive: timeout={advertised:g}` but closes "
                              f"idle connections after {idle:g}s: a client trusting the header reuses a "
                              f"closed connection; make the second value at most the first")
    for server in ctx.all("server"):
        if server.block is None or server.parent is None or server.parent.name not in ("http", "main"):
            continue
        if not ctx.nginx.effective("set_real_ip_from", server):
            continue
        idle_args = ctx.nginx.effective_args("keepalive_timeout", server)
        idle = seconds(idle_args)
        if idle is None or idle > BALANCER_IDLE_TIMEOUT_S:
            continue
        directive = effective_directive(ctx, "keepalive_timeout", server)
        yield ctx.finding(directive or server,
                          f"a balancer is in front (set_real_ip_from) and reuses connections to nginx, "
                          f"but nginx closes idle ones after {idle:g}s, not more than the usual balancer "
                          f"idle timeout ({BALANCER_IDLE_TIMEOUT_S:g}s): requests race the close (502); "
                          f"set keepalive_timeout above the balancer's, e.g. 75s")
