"""nginx and the gunicorn app behind it, checked together (CG2xx).

Each rule here needs the paired gunicorn config (``--gunicorn``, ``--gunicorn-cmd`` or a
``gunicorn.conf.py`` beside the nginx file) and stays silent about values that cannot be known
without running it (``os.environ[...]`` without a default, ``cpu_count()``). A gunicorn config
describes one app: the routes checked are those whose upstream servers reach its ``bind`` (socket
path or port); other upstreams are not judged by it, and when the match cannot be made (a computed
bind, no route reaching it, a wildcard bind whose port several hosts use) a note says so and no
route is assumed.
"""

from __future__ import annotations

import math
import os
from typing import Iterator

from confgen.lint.containers import containerised
from confgen.lint.context import LintContext
from confgen.lint.fixes import nginx as nginx_fixes
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.gunicorn import editable, set_app_setting
from confgen.lint.fixes.nginx_edits import remove
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import (
    app_anchor,
    app_number,
    app_routes,
    app_setting,
    app_upstreams,
    binds_of,
    by_cause,
    describe_setting,
    effective_directive,
    effective_flag_off,
    external_tls,
    governs_only,
    is_ip,
    is_loopback,
    is_wildcard,
    more_locations,
    parse_address,
    pool_anchor,
    pool_size,
    reuses_connections,
    routes,
    seconds,
    serves,
    size,
    upstream_child,
    upstream_idle_timeout,
    uvicorn_worker,
    uwsgi_targets,
    websocket_only,
    worker_class,
)
from confgen.profile.constants import APP_KEEPALIVE_MARGIN_S

# gunicorn's request-line limit cannot be raised above this (its documentation).
GUNICORN_MAX_REQUEST_LINE = 8190
CRLF = 2


def _gunicorn_anchor(ctx: LintContext, setting):
    """The gunicorn line that set ``setting``; else the top of the gunicorn file, where the fix
    goes; else (a command line only) the first nginx route to the app; else None: this tree
    does not reach the app (a main nginx.conf whose sites are included from the server), and
    the tree that does reports it."""
    if setting is not None and setting.source == "file" and setting.line:
        return (setting.file or ctx.gunicorn.path, setting.line)
    if ctx.gunicorn.path:
        return (ctx.gunicorn.path, 1)
    first = next(iter(app_routes(ctx)), None)
    if first is not None:
        return first.upstream if first.upstream is not None else first.proxy_pass
    return None


# Worker classes whose requests gunicorn's own parser reads (gunicorn/http/), where its
# limit_request_* apply: the sync and gthread workers, gevent's and eventlet's through gunicorn's
# base_async worker, and gunicorn's own asgi worker (gunicorn/asgi/parser.py). Others parse with a server of their own: uvicorn's, aiohttp's
# GunicornWebWorker (8190-byte limits), tornado's, gevent's pywsgi (gevent_wsgi, gevent_pywsgi),
# and a project's own worker class, whose parser is not known.
GUNICORN_PARSER_WORKERS = {"sync", "gthread", "gevent", "eventlet", "asgi"}


def _gunicorn_parses_requests(ctx) -> bool:
    raw = ctx.gunicorn.get("worker_class")
    if isinstance(raw, str) and "wsgi" in raw.lower():
        return False    # gevent_wsgi / gevent_pywsgi / GeventPyWSGIWorker: gevent.pywsgi parses
    return worker_class(ctx) in GUNICORN_PARSER_WORKERS


@rule(code="CG201", name="app-keepalive-race", severity="error", needs=("gunicorn",))
def app_keepalive_race(ctx: LintContext) -> Iterator[Finding]:
    """The app drops idle connections no later than nginx, which still reuses them: 502s.

    nginx keeps idle upstream connections for the upstream's ``keepalive_timeout`` (60 s by
    default) and may send the next request on one at any moment. If the app's own idle timeout
    (gunicorn ``keepalive``, 2 s by default; the uvicorn worker uses the same setting) is not
    longer, the app closes connections nginx is about to reuse and some requests fail with 502
    ("upstream prematurely closed connection"), rarely and under light load, so it is hard to
    trace. The app must hold idle connections longer than nginx does. The sync worker is
    exempt: it closes every connection itself (rule sync-worker-keepalive); so is a pool no
    location can fill (HTTP/1.0, or ``Connection: close``: keepalive-needs-http11 and
    keepalive-connection-header report that), since no idle connection is kept to race on.

    Gunicorn:
        worker_class = "uvicorn_worker.UvicornWorker"
        keepalive = 5

    Bad:
        upstream app { server 127.0.0.1:8000; keepalive 16; }
        server {
            location / {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
            }
        }

    Good:
        upstream app { server 127.0.0.1:8000; keepalive 16; keepalive_timeout 4s; }
        server {
            location / {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive_timeout
        https://docs.gunicorn.org/en/stable/settings.html#keepalive

    Fix safety: Safe or unsafe. Safe where the app's ``keepalive`` is written in a file confgen
    edits: it is raised above the longest idle time of every pool that reaches the app, so the
    app closes no connection nginx may still reuse. Where it cannot be edited (computed, or set
    in ``GUNICORN_CMD_ARGS``), the unsafe alternative shortens the upstream's
    ``keepalive_timeout`` below the app's: no request fails, but nginx reuses fewer connections.
    """
    worker = worker_class(ctx)
    if worker is None or worker == "sync":
        return
    keepalive, setting = app_number(ctx, "keepalive")
    if keepalive is None:
        return
    for upstream, upstream_routes in app_upstreams(ctx):
        pool = pool_size(ctx, upstream)
        idle, directive = upstream_idle_timeout(upstream)
        if pool <= 0 or idle is None or keepalive > idle:
            continue
        if not reuses_connections(ctx, upstream_routes):
            continue  # HTTP/1.0 or Connection: close: nothing is pooled to race on (keepalive-needs-http11 ...)
        if directive is None and ctx.unresolved_include(upstream, inherited=False) is not None:
            continue  # a file the deployment provides may set the upstream's keepalive_timeout
        nginx_side = f"keepalive_timeout {directive.args[0]}" if directive else "keepalive_timeout 60s by default"
        alternative = f" or the upstream's keepalive_timeout below {keepalive:g}s" \
            if keepalive > APP_KEEPALIVE_MARGIN_S else ""
        yield ctx.finding(directive or pool_anchor(upstream),
                          f"the app closes idle connections after {keepalive:g}s, {describe_setting(ctx, setting)}, "
                          f"but nginx keeps them pooled for upstream {upstream.args[0]} up to {idle:g}s "
                          f"({nginx_side}): a request sent on a connection the app is closing fails with 502; "
                          f"set gunicorn keepalive to {idle + APP_KEEPALIVE_MARGIN_S:g}{alternative}",
                          fix=_race_fix(ctx, upstream, directive, keepalive))


def _race_fix(ctx: LintContext, upstream, idle_directive, keepalive: float) -> Fix:
    if editable(ctx.gunicorn, "keepalive") or keepalive < 2:
        idles = [upstream_idle_timeout(u)[0] for u, _ in app_upstreams(ctx) if pool_size(ctx, u) > 0]
        # The longest idle time of every pool the app serves, so one value fixes all of them.
        target = math.ceil(max(i for i in idles if i is not None) + APP_KEEPALIVE_MARGIN_S)
        # (Where the app's keepalive cannot be edited, building this says why.)
        return Fix(lambda fx: set_app_setting(fx, "keepalive", target))
    return Fix(lambda fx: nginx_fixes.shorten_upstream_idle(fx, upstream, idle_directive, math.floor(keepalive) - 1),
               safe=False)


@rule(code="CG202", name="sync-worker-keepalive", severity="warning", needs=("gunicorn",))
def sync_worker_keepalive(ctx: LintContext) -> Iterator[Finding]:
    """An upstream pool in front of gunicorn's sync worker, which closes every connection.

    The sync worker answers each request with ``Connection: close`` and ignores ``keepalive``,
    so the idle connections ``keepalive N`` asks nginx to keep never exist: the pool setting
    only suggests a reuse that does not happen. Use the gthread worker (``threads`` > 1) or an
    async worker when connection reuse matters, or drop ``keepalive``. (nginx 1.29.7's implicit
    default pool is not reported: the sync worker behind a buffering nginx is a sound setup.)

    Gunicorn:
        worker_class = "sync"

    Bad:
        upstream app { server 127.0.0.1:8000; keepalive 16; }
        server {
            location / {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
            }
        }

    Good:
        upstream app { server 127.0.0.1:8000; }
        server { location / { proxy_pass http://app; } }

    References:
        https://docs.gunicorn.org/en/stable/settings.html#worker-class
        https://docs.gunicorn.org/en/stable/design.html#sync-workers
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive

    Fix safety: Safe: the ``keepalive`` line goes; no connection was ever reused through it, so
    every request is served as before. Only when the paired gunicorn config was read: a file
    that does not parse silences this rule.
    """
    if worker_class(ctx) != "sync":
        return
    for upstream, _ in app_upstreams(ctx):
        keepalive = upstream_child(upstream, "keepalive")
        if keepalive is not None and pool_size(ctx, upstream) > 0:
            yield ctx.finding(keepalive,
                              f"upstream {upstream.args[0]} pools {pool_size(ctx, upstream)} idle connections, "
                              f"but gunicorn's sync worker closes every connection after one response: "
                              f"nothing is ever reused; use worker_class gthread (threads > 1) or an async "
                              f"worker, or drop `keepalive`",
                              fix=Fix(lambda fx, pool=keepalive: fx.same_everywhere(pool, lambda d: [remove(fx, d)])))


@rule(code="CG203", name="app-timeout-exceeds-proxy", severity="warning", needs=("gunicorn",))
def app_timeout_exceeds_proxy(ctx: LintContext) -> Iterator[Finding]:
    """gunicorn's ``timeout`` is above nginx's ``proxy_read_timeout`` for sync workers.

    For the sync worker, ``timeout`` bounds a request: a worker busy that long is killed. When
    nginx's ``proxy_read_timeout`` (60 s by default) runs out first, the client gets 504 while
    the worker keeps working on a request nobody waits for, and the app's own timeout handling
    and logging never fires. Only the sync worker: gunicorn documents that for other workers
    ``timeout`` "is not tied to the length of time required to handle a single request" (it is
    a heartbeat; gthread's main thread keeps beating while a request thread runs, and the
    uvicorn/asgi/gevent workers' event loops do too), so there nginx's timeout is the only one.

    Gunicorn:
        timeout = 120

    Bad:
        location / {
            proxy_pass http://127.0.0.1:8000;
            proxy_read_timeout 60s;
        }

    Good:
        location / {
            proxy_pass http://127.0.0.1:8000;
            proxy_read_timeout 130s;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout
        https://docs.gunicorn.org/en/stable/settings.html#timeout

    Fix safety: Safe: nginx's ``proxy_read_timeout`` on the reported routes is raised above the
    app's timeout (written where it governs only them, else in each location), so a request
    the app still serves is never cut off with a 504; a request that succeeded before still
    does. Lowering gunicorn's ``timeout`` instead would kill requests that succeed today, so it
    is not offered. No fix when the app's timeout is 0 (none).
    """
    if worker_class(ctx) != "sync":
        return
    timeout, setting = app_number(ctx, "timeout")
    if timeout is None:
        return
    causes = []
    for route in app_routes(ctx):
        read = seconds(ctx.nginx.effective_args("proxy_read_timeout", route.block))
        # Equal values are not reported: gunicorn's arbiter checks its workers once a second, so
        # it kills the worker within a second of nginx's 504 (and equal huge values are the
        # deliberate "never time out" of both sides).
        if read is None or (0 < timeout <= read):
            continue
        directive = effective_directive(ctx, "proxy_read_timeout", route.block)
        if directive is None and ctx.unresolved_include(route.block) is not None:
            continue  # a file the deployment provides may set it
        causes.append(((directive, read), route))
    for (directive, read), cause_routes in by_cause(causes).items():
        app_side = "0 (no timeout)" if timeout == 0 else f"{timeout:g}s"
        where = "" if directive else more_locations(cause_routes)
        yield ctx.finding(directive or cause_routes[0].proxy_pass,
                          f"proxy_read_timeout {read:g}s{'' if directive else ' (default)'}{where} is below the "
                          f"sync worker's timeout {app_side} ({describe_setting(ctx, setting)}): nginx answers "
                          f"504 while the worker still runs the request; set proxy_read_timeout above the "
                          f"app's (e.g. {math.ceil(max(timeout + 5, timeout * 1.1)):g}s) or lower gunicorn's timeout",
                          fix=_read_timeout_fix(ctx, directive, cause_routes, timeout))


# Twice nginx's own proxy_read_timeout (60 s): a value above it was written to let long requests finish.
LONG_READ_TIMEOUT_S = 120.0


@rule(code="CG218", name="proxy-waits-past-app-timeout", severity="warning", needs=("gunicorn",))
def proxy_waits_past_app_timeout(ctx: LintContext) -> Iterator[Finding]:
    """nginx's ``proxy_read_timeout`` was raised above the time gunicorn's sync worker lets a request run.

    A ``proxy_read_timeout`` far above nginx's 60 s is written for long requests (reports, uploads,
    exports). The sync worker's ``timeout`` (30 s by default) bounds each request: the arbiter
    aborts a worker busy longer ("WORKER TIMEOUT") and the request ends with an error at that
    moment, however long nginx would wait (checked: gunicorn 23, ``timeout = 2``, a 5 s request
    behind ``proxy_read_timeout 10s`` gets gunicorn's 500 after about 2 s; a worker killed
    outright gives nginx's 502). So no request outlives the app's timeout, and the raised nginx
    value does nothing. Only the sync worker (for the others
    ``timeout`` is a heartbeat, not a request limit), and only an explicitly written value above
    120 s (twice nginx's default) and above twice the app's timeout (a margin above it is what app-timeout-exceeds-proxy
    asks for, so that nginx never answers 504 before the app's own timeout).

    Gunicorn:
        timeout = 30

    Bad:
        location /reports/ {
            proxy_pass http://127.0.0.1:8000;
            proxy_read_timeout 600s;
        }

    Good:
        location /reports/ {
            proxy_pass http://127.0.0.1:8000;
            proxy_read_timeout 60s;
        }

    References:
        https://docs.gunicorn.org/en/stable/settings.html#timeout
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout
    """
    if worker_class(ctx) != "sync":
        return
    timeout, setting = app_number(ctx, "timeout")
    if timeout is None or timeout <= 0:
        return
    causes = []
    for route in app_routes(ctx):
        directive = effective_directive(ctx, "proxy_read_timeout", route.block)
        read = seconds(directive.args) if directive is not None else None
        # A margin above the app's timeout is what app-timeout-exceeds-proxy asks for; twice it and
        # more is waiting for requests the app never lets run.
        if read is None or read <= max(2 * timeout, LONG_READ_TIMEOUT_S):
            continue
        causes.append(((id(directive.enclosing("server")), read), (directive, route)))
    # One server that waits the same time in several locations is one cause.
    for places in by_cause(causes).values():
        directive = places[0][0]
        others = len({id(d) for d, _ in places}) - 1
        more = f" (and {others} more location{'s' if others > 1 else ''} of this server)" if others else ""
        yield ctx.finding(directive,
                          f"proxy_read_timeout {directive.args[0]}{more} lets nginx wait that long for the app, but "
                          f"the sync worker's timeout {timeout:g}s ({describe_setting(ctx, setting)}) aborts a worker "
                          f"busy longer: such requests end with an error after {timeout:g}s whatever nginx waits; "
                          f"raise gunicorn's timeout to {directive.args[0]} if they should finish (or use the gthread "
                          f"worker, whose timeout bounds no request), else lower proxy_read_timeout")


def _read_timeout_fix(ctx: LintContext, directive, chosen, timeout: float) -> Fix | None:
    if timeout <= 0:
        return None
    shared = directive is not None and governs_only(ctx, "proxy_read_timeout", directive, chosen)
    target = max(timeout + 5, timeout * 1.1)

    def build(fx) -> list:
        edits = []
        for route in chosen:
            edits += fx.same_everywhere(route.proxy_pass, lambda d: nginx_fixes.raise_proxy_read_timeout(
                fx, [_RouteAt(d)], target, shared=shared))
        return edits
    return Fix(build)


class _RouteAt:
    """A route as one instance of its proxy_pass (a file included twice has two)."""

    def __init__(self, proxy_pass):
        self.proxy_pass, self.block = proxy_pass, proxy_pass.parent


@rule(code="CG204", name="proxy-buffering-sync-worker", severity="warning", needs=("gunicorn",))
def proxy_buffering_sync_worker(ctx: LintContext) -> Iterator[Finding]:
    """``proxy_buffering off`` or ``proxy_request_buffering off`` in front of sync workers.

    A sync worker serves one request at a time. nginx's buffering is what lets it finish fast:
    nginx reads the whole request body before passing it on and takes the whole response at
    once, however slow the client. With buffering off, a slow client (a phone on a bad network,
    or a deliberate slowloris) holds the worker for as long as it likes, and a few such clients
    take the app down. Keep buffering on for sync workers; turn it off only for streaming
    endpoints served by gthread or async workers. WebSocket locations are not reported: once
    upgraded, nginx relays the connection both ways and buffering plays no part.

    Gunicorn:
        worker_class = "sync"

    Bad:
        location / {
            proxy_pass http://127.0.0.1:8000;
            proxy_buffering off;
        }

    Good:
        location / {
            proxy_pass http://127.0.0.1:8000;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_buffering
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_request_buffering
        https://docs.gunicorn.org/en/stable/deploy.html

    Fix safety: Unsafe: removing the ``off`` buffers again what a streaming endpoint (server-sent
    events, a long download) sends, which changes what its clients see.
    """
    if worker_class(ctx) != "sync":
        return
    for route in app_routes(ctx):
        if websocket_only(ctx, [route]):
            continue    # after the upgrade nginx relays bytes both ways: buffering plays no part
        for name, side in (("proxy_buffering", "response"), ("proxy_request_buffering", "request body")):
            directive = effective_flag_off(ctx, name, route.block)
            if directive is not None:
                yield ctx.finding(directive,
                                  f"{name} off in front of gunicorn's sync worker: a slow client holds a "
                                  f"worker for the whole {side} transfer, and a few of them stall the app; "
                                  f"keep buffering on, or use gthread/async workers for streaming",
                                  fix=Fix(lambda fx, off=directive: fx.same_everywhere(off, lambda d: [remove(fx, d)]),
                                          safe=False))


@rule(code="CG205", name="uvicorn-unix-forwarded", severity="warning", needs=("gunicorn",))
def uvicorn_unix_forwarded(ctx: LintContext) -> Iterator[Finding]:
    """The uvicorn worker on a unix socket ignores X-Forwarded-* unless forwarded_allow_ips is *.

    uvicorn trusts proxy headers only from peers whose address is in ``forwarded_allow_ips``
    (gunicorn's setting, ``127.0.0.1,::1`` by default). A unix-socket peer has no address, so
    nothing matches but ``*``: the app sees every client as the socket, every request as http,
    and builds wrong redirect URLs. On a socket only local processes (nginx) can connect, so
    ``*`` is safe there.

    Gunicorn:
        worker_class = "uvicorn_worker.UvicornWorker"
        bind = "unix:/run/app.sock"

    Bad:
        location / { proxy_pass http://unix:/run/app.sock; }

    Good:
        location / { proxy_pass http://unix:/run/app.sock; }

    Good gunicorn:
        worker_class = "uvicorn_worker.UvicornWorker"
        bind = "unix:/run/app.sock"
        forwarded_allow_ips = "*"

    References:
        https://docs.gunicorn.org/en/stable/settings.html#forwarded-allow-ips
        https://www.uvicorn.org/settings/

    Fix safety: Safe: ``forwarded_allow_ips = "*"`` in the gunicorn config; only processes on
    the machine can reach a unix socket, and every request is served as before, with the
    client's address and scheme as nginx saw them.
    """
    if not uvicorn_worker(ctx) or ctx.gunicorn.binds_unix_socket is not True:
        return
    allowed, setting = app_setting(ctx, "forwarded_allow_ips")
    if allowed is None:
        return
    entries = [e.strip() for e in (allowed.split(",") if isinstance(allowed, str) else allowed)]
    if "*" in entries:
        return
    _, bind_setting = app_setting(ctx, "bind")
    anchor = _gunicorn_anchor(ctx, setting if setting.source == "file" else bind_setting)
    if anchor is None:
        return
    yield ctx.finding(anchor,
                      f"uvicorn worker bound to a unix socket with {describe_setting(ctx, setting)}: a socket "
                      f"peer has no address to match, so X-Forwarded-For/-Proto from nginx are ignored "
                      f"(every client looks local, every request http); set forwarded_allow_ips = \"*\" "
                      f"(only local processes can reach the socket)",
                      fix=Fix(lambda fx: set_app_setting(fx, "forwarded_allow_ips", "*")))


@rule(code="CG206", name="header-limits-mismatch", severity="warning", needs=("gunicorn",))
def header_limits_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """gunicorn rejects request lines or headers that nginx accepted and passed on.

    nginx accepts a request line or header line as long as one ``large_client_header_buffers``
    buffer (8k by default). gunicorn's ``limit_request_line`` defaults to 4094 bytes and
    ``limit_request_field_size`` to 8190, so a URL with a long query string passes nginx and
    is refused by gunicorn before the app sees it, logged nowhere useful. Match the limits
    (``limit_request_line = 8190``, gunicorn's maximum, for 8k buffers; 0 means unlimited) or
    shrink nginx's buffers.
    A mismatch one side wrote is a warning; the two defaults (8k and 4094) are reported at info,
    since nearly every deployment has them and URLs that long are rare. gunicorn answers the
    refused ones itself (414 or 431 in gunicorn 27, a bare 400 in older releases: issue 2487).
    Checked for the workers whose requests gunicorn's own parser reads (sync, gthread, gevent,
    eventlet, asgi); uvicorn's workers, aiohttp's ``GunicornWebWorker``, tornado's, gevent's pywsgi and
    a project's own worker class parse with their own server, so they are not checked, nor are
    WebSocket-only locations.

    Gunicorn:
        worker_class = "gthread"
        threads = 4

    Bad:
        events {}
        http {
            large_client_header_buffers 4 8k;
            server { location / { proxy_pass http://127.0.0.1:8000; } }
        }

    Good:
        events {}
        http {
            large_client_header_buffers 4 4k;
            server { location / { proxy_pass http://127.0.0.1:8000; } }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#large_client_header_buffers
        https://docs.gunicorn.org/en/stable/settings.html#limit-request-line
        https://docs.gunicorn.org/en/stable/settings.html#limit-request-field-size
        https://github.com/benoitc/gunicorn/issues/2487
        https://docs.aiohttp.org/en/stable/deployment.html#nginx-gunicorn

    Fix safety: Safe: gunicorn's limit is raised to what nginx passes (0, unlimited, where that is
    above gunicorn's 8190 maximum for request lines): requests it accepted before it still
    accepts, and the long ones nginx passed no longer get a 400.
    """
    if not _gunicorn_parses_requests(ctx):
        return
    checks = (("limit_request_line", "request lines (URLs)"), ("limit_request_field_size", "header lines"))
    causes = []
    for route in app_routes(ctx):
        if websocket_only(ctx, [route]):
            continue    # the upgrade request is a short GET; the rest is relayed, not parsed
        buffers = ctx.nginx.effective_args("large_client_header_buffers", route.block)
        buffer = size(buffers[1]) if buffers and len(buffers) > 1 else None
        if not buffer:
            continue
        directive = effective_directive(ctx, "large_client_header_buffers", route.block)
        if directive is None and ctx.unresolved_include(route.block) is not None:
            continue  # a file the deployment provides may set it
        causes.append(((directive, tuple(buffers), buffer), route))
    for (directive, buffers, buffer), cause_routes in by_cause(causes).items():
        route = cause_routes[0]
        accepted = buffer - CRLF
        for name, what in checks:
            limit, setting = app_number(ctx, name)
            if limit is None or limit == 0 or limit >= accepted:
                continue
            both_defaults = directive is None and setting.source == "default"
            if accepted <= GUNICORN_MAX_REQUEST_LINE or name != "limit_request_line":
                fix = f"set {name} = {accepted}"
                value = accepted
            else:
                fix = f"set {name} = 0 (unlimited) or large_client_header_buffers to 8k"
                value = 0
            nginx_side = f"large_client_header_buffers {' '.join(buffers)}" + ("" if directive else ", the default")
            yield ctx.finding(app_anchor(ctx, setting, directive or route.proxy_pass),
                              f"nginx passes {what} up to {accepted} bytes ({nginx_side}) but gunicorn "
                              f"rejects them above {limit:g} ({describe_setting(ctx, setting)}): longer ones "
                              f"are refused by gunicorn before the app sees them; {fix}", severity="info" if both_defaults else None,
                              fix=Fix(lambda fx, name=name, value=value: set_app_setting(fx, name, value)))


@rule(code="CG207", name="max-requests-no-jitter", severity="warning", needs=("gunicorn",))
def max_requests_no_jitter(ctx: LintContext) -> Iterator[Finding]:
    """``max_requests`` without ``max_requests_jitter``: all workers restart at once.

    Workers start together and share the load evenly, so they reach ``max_requests`` at about
    the same moment and restart together: capacity drops to zero for the length of an app
    import, and requests queue or fail. ``max_requests_jitter`` adds a random 0..N to each
    worker's limit so restarts spread out; a tenth of ``max_requests`` is usual.

    Gunicorn:
        max_requests = 1000

    Bad:
        location / { proxy_pass http://127.0.0.1:8000; }

    Good:
        location / { proxy_pass http://127.0.0.1:8000; }

    Good gunicorn:
        max_requests = 1000
        max_requests_jitter = 100

    References:
        https://docs.gunicorn.org/en/stable/settings.html#max-requests
        https://docs.gunicorn.org/en/stable/settings.html#max-requests-jitter

    Fix safety: Safe: ``max_requests_jitter`` is added at a tenth of ``max_requests``; workers
    still restart, at slightly different moments.
    """
    limit, setting = app_number(ctx, "max_requests")
    jitter, _ = app_number(ctx, "max_requests_jitter")
    if not limit or limit <= 0 or jitter is None or jitter > 0:
        return
    anchor = _gunicorn_anchor(ctx, setting)
    if anchor is None:
        return
    yield ctx.finding(anchor,
                      f"{describe_setting(ctx, setting)} without max_requests_jitter: the workers restart "
                      f"together and the app stops serving meanwhile; add max_requests_jitter = "
                      f"{max(1, int(limit // 10))}",
                      fix=Fix(lambda fx: set_app_setting(fx, "max_requests_jitter", max(1, int(limit // 10)))))


@rule(code="CG208", name="app-bind-mismatch", severity="warning", needs=("chain",))
def app_bind_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """No ``proxy_pass`` or ``uwsgi_pass`` reaches the address the paired app server listens on.

    The app listens where gunicorn's ``bind`` (or uWSGI's ``socket``, ``http-socket``, ``http``)
    says: a unix socket path or host:port; nginx sends requests where its upstream ``server``
    lines, ``proxy_pass`` or ``uwsgi_pass`` say. When none of them matches, nginx answers 502
    for every request: typically a socket path or port changed on one side only, or the app
    binds 127.0.0.1 inside a container that nginx reaches by name.

    Checked only for an address written in the app's config (gunicorn's default bind is often
    overridden on the command line; a uWSGI placeholder such as ``%(chdir)`` or ``$(PORT)`` is not
    resolved); for an app on all interfaces (``0.0.0.0:8000``) only when it is a compose service
    that nginx reaches by its name, since a published port may be mapped to another
    (``docker run -p 13037:3031``); not when a ``proxy_pass`` takes its address from a variable;
    and in a snippet (which may proxy to other services of its site) only for a uWSGI socket
    that the snippet's ``uwsgi_pass`` misses, when every upstream it names is defined in the linted
    files.

    Gunicorn:
        bind = "unix:/run/app/gunicorn.sock"

    Bad:
        events {}
        http {
            upstream app { server unix:/run/app.sock; }
            server { location / { proxy_pass http://app; proxy_set_header Host $host; } }
        }

    Good:
        events {}
        http {
            upstream app { server unix:/run/app/gunicorn.sock; }
            server { location / { proxy_pass http://app; proxy_set_header Host $host; } }
        }

    References:
        https://docs.gunicorn.org/en/stable/settings.html#bind
        https://uwsgi-docs.readthedocs.io/en/latest/Options.html#socket
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#server
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
    """
    listening = _written_binds(ctx)
    if listening is None:
        return
    who, binds = listening
    if any(r.is_variable for r in routes(ctx)):
        return  # `proxy_pass http://$admin`: the app may be reached through a variable
    places = [(r.proxy_pass, r.upstream, r.servers) for r in routes(ctx) if not external_tls(r)]
    if not ctx.nginx.is_full:
        # A snippet proxies to whatever its site needs (a search engine, a dashboard): only a
        # uWSGI socket's uwsgi_pass is surely meant for the app.
        if getattr(ctx.app_server, "protocol", None) != "uwsgi":
            return
        places = []
    places += uwsgi_targets(ctx)
    if ctx.app_hosts:
        # The app is a compose service: only routes to its service name are meant for it, on the
        # port the container listens on (services reach each other without port mapping).
        places = [p for p in places if any(parse_address(s)[1] in ctx.app_hosts for s in p[2])]
    elif not any(_only_here(bind) for bind in binds):
        return  # 0.0.0.0:3031 may be published on another port (docker -p 13037:3031) that nginx uses
    if not places or any(serves(b, s) for b in binds for _, _, servers in places for s in servers):
        return
    if not ctx.nginx.is_full and any(upstream is None and _may_name_an_upstream(server)
                                     for _, upstream, servers in places for server in servers):
        return  # a snippet's `uwsgi_pass app` may name an upstream another file defines
    targets = list(dict.fromkeys(s for _, _, servers in places for s in servers))
    directive, upstream, _ = places[0]
    yield ctx.finding(upstream if upstream is not None else directive,
                      f"{who} listens on {', '.join(binds)} but nginx sends requests to {', '.join(targets)}: "
                      f"no route reaches the app (502); make the upstream server and the app's address agree")


def _written_binds(ctx: LintContext) -> tuple[str, list[str]] | None:
    """("gunicorn", binds) or ("uWSGI (file)", sockets) when the app's addresses are written in its
    config and known; None otherwise."""
    if ctx.gunicorn is not None:
        if ctx.gunicorn.unreadable:
            return None
        _, setting = app_setting(ctx, "bind")
        binds = binds_of(ctx)
        return ("gunicorn", binds) if binds and setting.source != "default" and not _relative_socket(binds) else None
    server = ctx.app_server
    if server is None or server.server != "uwsgi":
        return None
    binds = [b for face in (server, *server.faces) for b in face.binds]
    if not binds or any(mark in b for b in binds for mark in ("%", "$", "@", "=")) or _relative_socket(binds):
        return None  # a placeholder, an abstract or a shared socket: where it listens is not known here
    return f"uWSGI ({server.label})", binds


def _relative_socket(binds: list[str]) -> bool:
    """``unix:app.sock``: a path relative to a working directory not known here."""
    return any(kind == "unix" and not host.startswith("/") for kind, host, _ in map(parse_address, binds))


def _only_here(bind: str) -> bool:
    """A unix socket or a loopback address: reached on this machine, at this very address."""
    kind, host, _ = parse_address(bind)
    return kind == "unix" or is_loopback(host)


def _may_name_an_upstream(server: str) -> bool:
    """``app`` (no port, not an address): an upstream block's name as much as a host name."""
    kind, host, port = parse_address(server)
    return kind == "tcp" and port is None and not is_ip(host.strip("[]")) and host != "localhost"


@rule(group="hardening", code="CG217", name="app-listens-beyond-nginx", severity="warning", needs=("chain",))
def app_listens_beyond_nginx(ctx: LintContext) -> Iterator[Finding]:
    """The app listens on every interface, though nginx reaches it on this machine's loopback.

    nginx connects to ``127.0.0.1:8001`` (or ``localhost``), so the app needs no other address;
    bound to ``0.0.0.0:8001`` it also answers anyone who can reach port 8001 from the network,
    past nginx's TLS, access rules, rate limits and the headers it sets (a client then names its
    own ``X-Forwarded-For``). Bind the loopback address (or a unix socket). Reported for an
    address written in the app's config (gunicorn ``bind``, uWSGI's sockets) when every route to
    the app goes through loopback, and not for an app that runs in a container (a Dockerfile or
    compose file beside its config or in a directory above, a ``docker/`` or ``k8s/`` path, a
    compose service, a pod): there the wildcard is how nginx's container reaches it, and the port
    is published only if the deployment says so. In the hardening group: whether the port is
    reachable from outside (a firewall, a private network) is the deployment's, not the config's.

    Gunicorn:
        bind = "0.0.0.0:8001"

    Bad:
        events {}
        http {
            server { location / { proxy_pass http://127.0.0.1:8001; } }
        }

    Good gunicorn:
        bind = "127.0.0.1:8001"

    Good:
        events {}
        http {
            server { location / { proxy_pass http://127.0.0.1:8001; } }
        }

    References:
        https://docs.gunicorn.org/en/stable/settings.html#bind
        https://uwsgi-docs.readthedocs.io/en/latest/Options.html#socket
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
    """
    listening = _written_binds(ctx)
    if listening is None or ctx.app_hosts or _in_a_container(ctx):
        return
    who, binds = listening
    wildcard = [b for b in binds if parse_address(b)[0] == "tcp" and is_wildcard(parse_address(b)[1])]
    if not wildcard:
        return
    servers = [s for r in app_routes(ctx) for s in r.servers]
    servers += [s for d, _, found in uwsgi_targets(ctx) for s in found if any(serves(b, s) for b in binds)]
    if not servers or not all(parse_address(s)[0] == "tcp" and is_loopback(parse_address(s)[1]) for s in servers):
        return
    if ctx.gunicorn is not None:
        anchor = _gunicorn_anchor(ctx, app_setting(ctx, "bind")[1]) or ctx.block_anchor(ctx.nginx.root)
    else:   # the uWSGI socket option that names the address, where it is written
        written = next((v.written_at for v in ctx.app_server.settings.values()
                        if v.value == wildcard[0] and v.written_at), None)
        anchor = written or (ctx.app_server.file, ctx.app_server.line)
    port = parse_address(wildcard[0])[2]
    yield ctx.finding(anchor, f"{who} listens on {wildcard[0]} (every interface), but nginx reaches it on "
                              f"{servers[0]}: anyone who can reach port {port} talks to the app past nginx (its TLS, "
                              f"access rules, limits and forwarded headers); bind 127.0.0.1:{port} or a unix socket")


def _in_a_container(ctx: LintContext) -> bool:
    """Whether the app side looks containerised: read from a compose file, a Dockerfile or a
    manifest, or kept as a container's file (containers.containerised)."""
    source = getattr(ctx.gunicorn, "command", None) or getattr(ctx.app_server, "command", None)
    if getattr(ctx, "manifest_pod", None) is not None or (source is not None and source.kind in
                                                          ("compose", "dockerfile", "kubernetes")):
        return True
    path = getattr(source, "path", None) or getattr(ctx.gunicorn, "path", None) or getattr(ctx.app_server, "file", None)
    if not path or not os.path.isfile(path):
        return True     # given on the command line: where it runs is not known
    return containerised(path)
