"""Keep-alive between nginx and its upstreams (CG1xx): is a pooled connection ever reused?

nginx reuses an upstream connection only when three things hold: the upstream block keeps idle
connections (``keepalive N``; 32 by default from nginx 1.29.7), nginx speaks HTTP/1.1 to it, and
the request it sends carries no ``Connection: close`` (nginx's own default before 1.29.7).
"""

from __future__ import annotations

import math
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.fixes import nginx as nginx_fixes
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.gunicorn import editable, set_app_setting
from confgen.lint.fixes.nginx_edits import insert_last, replace_arg
from confgen.lint.registry import Finding, Option, rule
from confgen.lint.rules._proxy import (
    KEEPALIVE_BY_DEFAULT,
    binds_of,
    app_number,
    app_upstreams,
    by_cause,
    describe_setting,
    effective_directive,
    external_tls,
    governs_only,
    is_ip,
    maps,
    more_locations,
    pool_anchor,
    pool_size,
    says_close,
    routes,
    same_server,
    seconds,
    serves,
    upstream_child,
    upstream_idle_timeout,
    used_upstreams,
    not_pool_candidates,
    parse_address,
    reaches_app,
    websocket_only,
    value_without_header,
    worker_class,
)
from confgen.profile.constants import ACCEPT_IMBALANCE, APP_KEEPALIVE_MARGIN_S

# The idle timeout of the usual balancer in front of nginx (AWS ALB: 60 s), assumed when a
# profile declares one (trusted_proxies) and the project gives no balancer-idle-timeout.
BALANCER_IDLE_TIMEOUT_S = 60.0
VERSION_TEXT = ".".join(map(str, KEEPALIVE_BY_DEFAULT))
DEFAULT_POOL = 16
SYNC = "sync"


def app_closes_every_connection(ctx: LintContext, upstream_routes) -> str | None:
    """What, of the app these routes reach, closes every connection after one response: the
    paired gunicorn's sync worker, or another paired server that does (uWSGI's ``http-socket``,
    its HTTP router without ``http-keepalive``, granian ``--no-http1-keep-alive``); None when the
    app keeps connections open, or is not read."""
    if reaches_app(ctx, upstream_routes):
        maybe = ""
    elif _may_reach_app(ctx, upstream_routes):
        # A wildcard bind on a port upstreams on several hosts use: which of them is this app is
        # not known (app_routes says so), but these may be; advice that assumes otherwise may be moot.
        maybe = ", which these servers may be (they use the port it binds),"
    else:
        return None
    server = _paired_server(ctx)
    if _closes_every_connection(server):
        return f"the paired {server.server} ({server.label}){maybe} {server.closes}"
    if ctx.gunicorn is not None and worker_class(ctx) == SYNC:
        return f"the paired gunicorn{maybe} runs the sync worker, which closes every connection"
    return None


def _may_reach_app(ctx: LintContext, upstream_routes) -> bool:
    """Whether these routes' servers are on the address (port) the paired app binds."""
    if ctx.gunicorn is None and ctx.app_server is None:
        return False   # no app paired (and binds_of would load the gunicorn reader for nothing)
    binds = binds_of(ctx)
    return bool(binds) and any(serves(bind, server) for bind in binds for route in upstream_routes
                               for server in route.servers)


def _paired_server(ctx: LintContext):
    """The paired app server when it is not gunicorn (confgen.appserver.model.AppServer), else None."""
    return ctx.app_server if ctx.gunicorn is None else None


def _closes_every_connection(server) -> bool:
    """Whether a paired HTTP server answers one request per connection (``closes`` says why)."""
    return server is not None and not server.keeps_alive and server.protocol == "http" and bool(server.closes)


# What pool_advice makes of routes that pool nothing.
REPORT, RIGHT_FOR_NOW, APP_UNKNOWN = "report", "right for now", "app unknown"
UNKNOWN_APP_OPTION = Option("unknown-app", bool, False,
                            "also report targets whose app side is not read (the advice then depends on whether "
                            "that app keeps idle connections, which confgen cannot see)")


def pool_advice(ctx: LintContext, upstream_routes, idle_s: float, pool_text: str) -> tuple[str, str]:
    """(what to do so a pool is reused, REPORT / RIGHT_FOR_NOW / APP_UNKNOWN) for routes that
    pool nothing, from the app behind them. Following it must not produce another finding: behind gunicorn's
    sync worker, or another paired server that closes every connection after one response
    (uWSGI's ``http-socket``, its HTTP router without ``http-keepalive``, granian
    ``--no-http1-keep-alive``), a pool is never reused (sync-worker-keepalive; no pool is the
    sound setup there, so the advice is a note, not a finding, naming what to switch first), and
    behind a keep-alive-capable app whose idle timeout is not above nginx's upstream
    ``keepalive_timeout`` (``idle_s``) the pool races the app's close (app-keepalive-race).
    Where the app behind is not read (no app side paired with these routes, or a gunicorn whose
    worker class cannot be read), whether a pool would ever be reused is unknown: a server that
    answers one request per connection (Odoo's, Radicale's, a wsgiref one) makes the advice
    useless, so it is a note unless the rule's ``unknown-app`` option asks for a finding."""
    http11 = '`proxy_http_version 1.1;` and `proxy_set_header Connection "";`'
    if any(ctx.nginx.proxy_headers(r.block).get("connection", ("", None))[0].startswith("$") for r in upstream_routes):
        # The WebSocket idiom (Connection $connection_upgrade): a constant "" would break upgrades.
        http11 = ("`proxy_http_version 1.1;` and the Connection map's `''` value set to `''` (plain requests "
                  "keep the connection, WebSocket upgrades still send `upgrade`)")
    reaches = reaches_app(ctx, upstream_routes)
    server = _paired_server(ctx)
    closing = _closes_every_connection(server)
    idle = server.idle.value if server is not None and server.idle is not None else None
    if server is not None and reaches and server.protocol == "uwsgi":
        # proxy_pass speaks HTTP to a socket that speaks the uwsgi protocol: every request fails
        # (app-protocol-mismatch), and no pool matters until the two agree.
        return (f"the paired {server.server} ({server.label}) speaks the uwsgi protocol there, not HTTP "
                f"(app-protocol-mismatch): make the two agree first"), RIGHT_FOR_NOW
    cap = app_slot_cap(ctx) if server is not None and reaches else None
    if cap is not None and cap[0] < 1:
        return (f"{cap[1]}: too few for a pool, which would hold the app's workers while idle; to reuse "
                f"connections, give it more processes or threads first, then {pool_text} with {http11}"), RIGHT_FOR_NOW
    if cap is not None and cap[0] < DEFAULT_POOL:
        pool_text += f" (at most {cap[0]} per nginx worker: {cap[1]})"
    if server is not None and not closing and reaches \
            and isinstance(idle, (int, float)) and not isinstance(idle, bool) and idle > 0:
        # A paired server whose idle timeout is read: the pool must let idle connections go first.
        if idle > idle_s:
            return (f"{pool_text} with {http11} (the paired {server.server} ({server.label}) keeps idle connections "
                    f"{idle:g}s, longer than nginx's upstream keepalive_timeout {idle_s:g}s)"), REPORT
        below = max(1, math.floor(idle - APP_KEEPALIVE_MARGIN_S if idle > 2 * APP_KEEPALIVE_MARGIN_S else idle / 2))
        return (f"{pool_text} with {http11}, and let the pool drop idle connections before the app does: the "
                f"paired {server.server} ({server.label}) closes them after {idle:g}s, "
                f"{'sooner than' if idle < idle_s else 'no later than'} nginx's upstream "
                f"keepalive_timeout ({idle_s:g}s); raise the app's idle timeout above {idle_s:g}s, or write "
                f"`keepalive_timeout {below:g}s;` in the upstream"), REPORT
    unknown = REPORT if ctx.option("unknown-app") else APP_UNKNOWN
    if not reaches or (server is not None and not closing):
        return (f"if the app behind keeps connections open (gunicorn's gthread or async workers, uvicorn; "
                f"not gunicorn's sync worker) and holds idle ones longer than nginx's upstream "
                f"keepalive_timeout ({idle_s:g}s; gunicorn's default keepalive is 2s), {pool_text} with {http11}; "
                f"otherwise fix the app side first"), unknown if not reaches else REPORT
    if closing:
        # Another server that answers one request per connection (uWSGI's http-socket, its HTTP
        # router without http-keepalive, granian --no-http1-keep-alive): as the sync worker.
        reuse = server.reuse.format(idle=f"{idle_s:g}", keep=f"{idle_s + APP_KEEPALIVE_MARGIN_S:g}")
        return (f"the paired {server.server} ({server.label}) {server.closes}, so a pool alone is never reused: "
                f"to reuse connections, {reuse} first, then {pool_text} with {http11}"), RIGHT_FOR_NOW
    worker = worker_class(ctx)
    if worker == SYNC:
        return (f"the paired gunicorn runs the sync worker, which closes every connection, so a pool "
                f"alone is never reused: to reuse connections, switch worker_class to gthread (threads > 1) "
                f"or an async worker first, then {pool_text} with {http11} and gunicorn keepalive above "
                f"{idle_s:g}s"), RIGHT_FOR_NOW
    if worker is None:
        return (f"the paired gunicorn's worker class cannot be read: check that it keeps connections open "
                f"(not the sync worker) and that gunicorn keepalive is above nginx's upstream "
                f"keepalive_timeout ({idle_s:g}s), then {pool_text} with {http11}"), unknown
    cap = app_slot_cap(ctx)
    if cap is not None and cap[0] < 1:
        return (f"{cap[1]}, and it has too few for a pool: raise worker_connections first, then "
                f"{pool_text} with {http11} and gunicorn keepalive above {idle_s:g}s"), REPORT
    slots = f" (at most {cap[0]} per nginx worker: {cap[1]})" if cap is not None and cap[0] < DEFAULT_POOL else ""
    keepalive, setting = app_number(ctx, "keepalive")
    if keepalive is not None and keepalive > idle_s:
        return f"{pool_text}{slots} with {http11} (the app's {describe_setting(ctx, setting)} outlasts nginx's)", REPORT
    return (f"{pool_text}{slots} with {http11}, and set gunicorn keepalive = {idle_s + APP_KEEPALIVE_MARGIN_S:g} "
            f"(now {describe_setting(ctx, setting) if keepalive is not None else 'unknown'}) so the app "
            f"holds idle connections longer than nginx's upstream keepalive_timeout ({idle_s:g}s)"), REPORT


@rule(code="CG101", name="keepalive-needs-http11", severity="error")
def keepalive_needs_http11(ctx: LintContext) -> Iterator[Finding]:
    """A location proxies to an upstream that pools connections, but speaks HTTP/1.0 to it.

    HTTP/1.0 has no persistent connections: nginx closes every upstream connection after one
    response, so the upstream's ``keepalive`` pool stays empty and each request pays a new
    connect (and a TIME_WAIT socket). Before nginx 1.29.7 ``proxy_http_version`` defaults to 1.0;
    from 1.29.7 only an explicit ``proxy_http_version 1.0`` does this. Behind a paired app that
    closes every connection anyway (gunicorn's sync worker, uWSGI's ``http-socket``), HTTP/1.1
    alone would change nothing: a note says so, and sync-worker-keepalive reports the pool.

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

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_http_version
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive

    Fix safety: Safe: ``proxy_http_version 1.1`` for the locations reported, written where the
    1.0 is when that directive governs nothing else, else in each location; the app answers the
    same requests over a connection nginx may reuse.
    """
    for upstream, upstream_routes in used_upstreams(ctx):
        pool = pool_size(ctx, upstream)
        if pool <= 0:
            continue
        causes = []
        for route in upstream_routes:
            version = ctx.nginx.effective_args("proxy_http_version", route.block)
            if not version or version[0] != "1.0":
                continue
            directive = effective_directive(ctx, "proxy_http_version", route.block)
            if directive is None and ctx.unresolved_include(route.block) is not None:
                continue  # a file the deployment provides may set it
            causes.append((directive, route))
        if causes and _pool_moot(ctx, upstream, upstream_routes, "nginx speaks HTTP/1.0 to it",
                                 "HTTP/1.1 from nginx"):
            continue
        for directive, cause_routes in by_cause(causes).items():
            why = "proxy_http_version 1.0" if directive else \
                f"the default before nginx {VERSION_TEXT} is HTTP/1.0"
            where = "" if directive else more_locations(cause_routes)
            yield ctx.finding(directive or cause_routes[0].proxy_pass,
                              f"upstream {upstream.args[0]} keeps {pool} idle connections, but nginx speaks "
                              f"HTTP/1.0 to it{where} ({why}): every connection closes after one request; "
                              f"add `proxy_http_version 1.1;`{then_races(ctx, upstream)}",
                              fix=Fix(lambda fx, routes=cause_routes: http11_edits(fx, ctx, routes)))


def then_races(ctx: LintContext, upstream) -> str:
    """What the fix of an unused pool exposes, said with it: the paired app drops idle
    connections no later than the pool keeps them, so reused connections would race its close
    (app-keepalive-race and chain-keepalive-race report that only once the pool is used)."""
    hop = ctx.app_hop
    idle, _ = upstream_idle_timeout(upstream)
    app_idle = hop.idle_from_previous if hop is not None else None
    if idle is None or app_idle is None or app_idle.seconds > idle:
        return ""
    return (f"; then the app's idle timeout ({app_idle.seconds:g}s, {app_idle.source}) must also pass the "
            f"pool's {idle:g}s (raise it, or set the upstream's keepalive_timeout below {app_idle.seconds:g}s), "
            f"or reused connections meet its close (502)")


def _pool_moot(ctx: LintContext, upstream, upstream_routes, problem: str, remedy: str) -> bool:
    """Whether the app behind closes every connection anyway, so changing what nginx sends cannot
    make the pool work (sync-worker-keepalive names that cause): said in a note, not a finding."""
    closes = app_closes_every_connection(ctx, upstream_routes)
    if closes is not None:
        ctx.note(f"{upstream.file}:{upstream.line}: upstream {upstream.args[0]} keeps idle connections and {problem}, "
                 f"but {closes}, so {remedy} alone would not make them reused: not reported (switch the app to "
                 f"one that keeps connections first)")
    return closes is not None


def http11_edits(fx, ctx: LintContext, chosen) -> list:
    """HTTP/1.1 on the ``chosen`` routes: the directive in force rewritten where it governs only
    them, else written in each route's own location."""
    edits = []
    for route in chosen:
        directive = effective_directive(ctx, "proxy_http_version", route.block)
        shared = directive is not None and governs_only(ctx, "proxy_http_version", directive, chosen)
        edits += fx.same_everywhere(route.proxy_pass,
                                    lambda d: nginx_fixes.ensure_http11(fx, d.parent, d, shared=shared))
    return edits


def connection_edits(fx, chosen) -> list:
    """``proxy_set_header Connection ""`` where each of the ``chosen`` routes' headers are set."""
    edits = []
    for route in chosen:
        edits += fx.same_everywhere(route.proxy_pass,
                                    lambda d: nginx_fixes.ensure_connection_kept(fx, d.parent, d))
    return edits


@rule(code="CG102", name="keepalive-connection-header", severity="error")
def keepalive_connection_header(ctx: LintContext) -> Iterator[Finding]:
    """A location proxies to an upstream that pools connections, but sends ``Connection: close``.

    With ``Connection: close`` the app closes the connection after answering, so the pool is
    never used. nginx sends ``close`` itself before 1.29.7 unless the location sets
    ``proxy_set_header Connection ""``; the WebSocket idiom ``Connection $connection_upgrade``
    does the same when its ``map`` gives ``close`` for requests without an Upgrade header
    (map ``''`` to ``''`` instead). A level with its own ``proxy_set_header`` inherits none from
    outside, so a ``Connection ""`` at ``server`` level is lost in such a location. Behind a
    paired app that closes every connection anyway, an empty header alone would change nothing:
    a note says so instead. Not
    reported on a WebSocket endpoint (as upstream-no-keepalive judges them: a ``/ws``,
    ``/socket.io``, ... location with nginx's documented ``$connection_upgrade`` map): its
    requests are upgrades, which never return to the pool, and a plain request there is rare.

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

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive
        https://nginx.org/en/docs/http/websocket.html

    Fix safety: Safe: the ``Connection`` header of the reported locations only: ``""`` added
    beside the headers they already set (none is lost), a literal ``close`` rewritten when no
    other location takes it from that line, or the map's ``''`` entry set to ``''`` (requests
    with an Upgrade header still get ``upgrade``). No other header changes.
    """
    reported_maps: set[int] = set()     # a map's `'' close` entry is one cause, however many use it
    for upstream, upstream_routes in used_upstreams(ctx):
        pool = pool_size(ctx, upstream)
        if pool <= 0:
            continue
        causes = []
        for route in upstream_routes:
            value, directive = ctx.nginx.proxy_headers(route.block).get("connection", ("", None))
            resolved = value_without_header(ctx, value)
            if resolved is None or not says_close(resolved):
                continue
            if websocket_only(ctx, [route]):
                continue  # nginx's WebSocket idiom on a WebSocket endpoint: an upgrade never returns to the pool
            if directive is None and ctx.unresolved_include(route.block) is not None:
                continue  # a file the deployment provides may set it
            causes.append(((directive, value, resolved), route))
        if causes and _pool_moot(ctx, upstream, upstream_routes, "nginx sends it `Connection: close`",
                                 'an empty Connection header'):
            continue
        for (directive, value, resolved), cause_routes in by_cause(causes).items():
            if directive is None:
                how = f"nginx sends `Connection: close` by default before {VERSION_TEXT}" + more_locations(cause_routes)
                fix = 'add `proxy_set_header Connection "";` here'
            elif resolved == value:
                how = f"`proxy_set_header Connection {value}`"
                fix = 'use `proxy_set_header Connection "";`'
            else:
                block = maps(ctx).get(value.strip())
                if block is not None and id(block) in reported_maps:
                    continue
                if block is not None:
                    reported_maps.add(id(block))
                how = f"`Connection {value}` is `close` on requests without that header (its map)"
                fix = "map the `''` entry to `''` so ordinary requests keep the connection"
            yield ctx.finding(directive or cause_routes[0].proxy_pass,
                              f"upstream {upstream.args[0]} keeps {pool} idle connections, but {how}: "
                              f"the app closes each connection after one response; {fix}{then_races(ctx, upstream)}",
                              fix=_connection_fix(ctx, directive, value, resolved, cause_routes))


def _connection_fix(ctx: LintContext, directive, value: str, resolved: str, chosen) -> Fix | None:
    if directive is None:
        return Fix(lambda fx: connection_edits(fx, chosen))
    block = maps(ctx).get(value.strip())
    if block is not None:
        return Fix(lambda fx: nginx_fixes.map_keeps_connection(fx, block))
    mine = {id(route.proxy_pass) for route in chosen}
    alone = all(id(route.proxy_pass) in mine for route in routes(ctx)
                if ctx.nginx.proxy_headers(route.block).get("connection", ("", None))[1] is directive)
    if resolved != value or not alone:
        return None  # set through a variable, or shared with locations the finding is not about
    return Fix(lambda fx: fx.same_everywhere(directive, lambda d: [replace_arg(fx, d, 1, '""')]))


@rule(code="CG104", name="upstream-no-keepalive", severity="warning", options=[UNKNOWN_APP_OPTION])
def upstream_no_keepalive(ctx: LintContext) -> Iterator[Finding]:
    """An upstream used by ``proxy_pass`` keeps no idle connections (before nginx 1.29.7).

    Without ``keepalive N`` in the upstream block, nginx opens a new connection to the app for
    every request and closes it afterwards: a connect per request, TIME_WAIT sockets piling up
    on TCP, and more latency. From nginx 1.29.7 every upstream keeps 32 idle connections by
    default, so the directive is then only needed to size the pool. The advice follows the app
    behind it, so that following it raises no other finding: behind a keep-alive-capable app
    (gunicorn gthread, gevent, uvicorn, uWSGI's ``http11-socket`` or its HTTP router with
    ``http-keepalive``) the pool *and* an app keep-alive above the upstream's
    ``keepalive_timeout`` (else app-keepalive-race, chain-keepalive-race). Where the app behind
    is not read (no app side paired with the upstream, or a gunicorn whose worker class cannot be
    read), whether the pool would ever be reused is unknown (Odoo's or Radicale's server answers
    one request per connection), so a note says what to check instead of a finding, unless the
    ``unknown-app`` option is set. Behind a paired app that closes every connection after one response, no pool
    is right for now, and a note (not a finding) says what to switch first: gunicorn's sync
    worker (to gthread or an async worker), uWSGI's ``http-socket`` (to ``http11-socket``, the
    one its option list calls "HTTP 1.1 (Keep-Alive)", with ``socket-timeout`` above nginx's
    pool), uWSGI's HTTP router without ``http-keepalive`` (its docs: keep-alive only with that
    option; ``http-keepalive = true`` in an ini file reads as 0), granian
    ``--no-http1-keep-alive``; measured on uWSGI 2.0.31: ``http-socket`` and the router without
    ``http-keepalive`` answer one request per connection and close it. Behind uWSGI's
    ``http11-socket`` each idle pooled connection holds a worker (a process or thread) until
    ``socket-timeout``, so the pool is sized to half its workers over nginx's workers, and with
    a single worker (uWSGI's default) no pool is right for now (measured: a second client
    waits while a first connection idles). Upstreams that only carry
    WebSocket upgrades are not reported: every location sends ``Connection: upgrade``, or sends
    ``Connection $connection_upgrade`` from a ``map`` of ``$http_upgrade`` where its path names a
    WebSocket endpoint (a ``/ws``, ``/wss``, ``/websocket``, ``/socket.io``, ``/cable`` or
    ``/sockjs`` segment: an upgraded connection never returns to the pool; the map on ``/`` or
    ``/api`` still carries ordinary requests, so those keep the advice); nor are upstreams only
    used for event streams (every location has ``proxy_buffering off`` and a ``stream``,
    ``events``, ``sse`` or ``eventsource`` path segment: a stream lasts until its client leaves,
    and nginx then closes the upstream connection instead of pooling it, as the real-nginx test
    shows), nor those only used for long polling (a ``longpolling`` or ``longpoll`` segment: a
    request a minute per client), nor those only used for ``/.well-known/`` requests. A named
    location (``@ws``) counts with the paths of the locations whose ``try_files`` or
    ``error_page`` hand requests to it.

    Version: 1.22.1

    App command:
        gunicorn app:app --bind 127.0.0.1:8000 --threads 4 --keep-alive 75

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

    References:
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive_timeout
        https://docs.gunicorn.org/en/stable/settings.html#keepalive
        https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html
        https://uwsgi-docs.readthedocs.io/en/latest/Options.html#http11-socket
        https://nginx.org/en/docs/http/websocket.html

    Fix safety: Safe or unsafe. The pool (sized as ``confgen render`` sizes it), HTTP/1.1 and
    ``Connection ""`` on the upstream's locations, and, when the paired app closes idle
    connections first, its ``keepalive`` raised above the pool's idle time: safe when the paired
    app's worker class keeps connections open and its keep-alive is known, because the pool is
    then never closed under nginx. Without a paired app (reported with ``unknown-app``) the fix
    is unsafe (an app that closes idle connections before nginx's 60 s would race the pool,
    app-keepalive-race); behind the sync worker or an app whose settings cannot be read, no fix
    is offered.
    """
    if ctx.version >= KEEPALIVE_BY_DEFAULT:
        return
    for upstream, upstream_routes in used_upstreams(ctx):
        if upstream_child(upstream, "keepalive") is not None or not_pool_candidates(ctx, upstream_routes):
            continue
        if ctx.unresolved_include(upstream, inherited=False) is not None:
            continue  # the file the deployment provides may hold the keepalive line
        idle, _ = upstream_idle_timeout(upstream)
        ours = any(u is upstream for u, _ in app_upstreams(ctx))
        advice, verdict = pool_advice(ctx, upstream_routes, idle or 60.0,
                                      f"add `keepalive {upstream_pool_size(ctx, upstream, ours)};`")
        problem = (f"upstream {upstream.args[0]} has no `keepalive`: before nginx {VERSION_TEXT} every request "
                   f"opens and closes a connection to it")
        yield from _pool_verdict(ctx, verdict, upstream, problem, advice,
                                 lambda: _pool_fix(ctx, upstream, upstream_routes, idle or 60.0))


def _pool_verdict(ctx: LintContext, verdict: str, anchor, problem: str, advice: str, fix=lambda: None):
    """The finding pool_advice's verdict asks for, or the note that stands in for it."""
    if verdict == REPORT:
        yield ctx.finding(anchor, f"{problem}; {advice}", fix=fix())
    elif verdict == RIGHT_FOR_NOW:
        ctx.note(f"{anchor.file}:{anchor.line}: {problem}, which is right for now: {advice}")
    else:
        ctx.note(f"{anchor.file}:{anchor.line}: {problem}; not reported, as the app behind it is not read "
                 f"(pair its app side, or set the rule's unknown-app option): {advice}")


@rule(code="CG105", name="proxy-pass-no-upstream", severity="warning", options=[UNKNOWN_APP_OPTION])
def proxy_pass_no_upstream(ctx: LintContext) -> Iterator[Finding]:
    """``proxy_pass`` to a literal address or unix socket instead of an ``upstream`` block.

    Only an upstream block has a connection pool you can size and a ``keepalive_timeout`` you
    can keep below the app's keep-alive: before nginx 1.29.7 a literal address is never reused
    (a new connection per request). In a snippet, a bare name may be an upstream defined
    elsewhere, so only addresses with a port, IPs and sockets are reported there. One finding
    per target, with the same app-aware advice as upstream-no-keepalive: behind a paired app that
    closes every connection after one response (gunicorn's sync worker, uWSGI's ``http-socket``
    or its HTTP router without ``http-keepalive``, granian ``--no-http1-keep-alive``) no pool is
    right for now, so a note says what to switch first instead of a finding, and where the app
    behind is not read a note says what to check (a finding with the ``unknown-app`` option);
    targets reached only
    by WebSocket, event-stream or long-poll locations (as upstream-no-keepalive judges them) are not reported, nor is
    ``proxy_pass https://`` to a host name (another site, not an app of this deployment), nor a host
    name in a URL that holds a variable (``http://api:8000$request_uri``): nginx then resolves the
    name for each request, which an upstream block does only once before nginx 1.27.3.

    Version: 1.22.1

    App command:
        gunicorn app:app --bind 127.0.0.1:8000 --threads 4 --keep-alive 75

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

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#upstream
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive
        https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html
        https://uwsgi-docs.readthedocs.io/en/latest/Options.html#http11-socket
    """
    whole = ctx.nginx.is_full
    by_target: dict[tuple, list] = {}
    for route in routes(ctx):
        if route.is_variable or route.upstream is not None or external_tls(route):
            continue
        kind, host, _ = parse_address(route.target)
        if "$" in route.proxy_pass.args[0] and kind == "tcp" and not is_ip(host.strip("[]")):
            continue    # a variable in the URL makes nginx resolve the name per request, as no upstream block would
        literal = route.target.startswith("unix:") or ":" in route.target or is_ip(route.target)
        if whole or literal:
            by_target.setdefault(same_server(route.target), []).append(route)
    # One finding per target, at its first proxy_pass: one problem, however many locations
    # (127.0.0.1:8000 and localhost:8000 are one server).
    for target_routes in by_target.values():
        target = target_routes[0].target
        if not_pool_candidates(ctx, target_routes):
            continue
        if ctx.version >= KEEPALIVE_BY_DEFAULT:
            effect = "no upstream block to size its pool or keep its keepalive_timeout below the app's"
        else:
            effect = "connections to it are never reused (a new connection per request)"
        more = f" (and {len(target_routes) - 1} more location(s))" if len(target_routes) > 1 else ""
        advice, verdict = pool_advice(ctx, target_routes, 60.0,
                                      f"define `upstream NAME {{ server {target}; keepalive "
                                      f"{upstream_pool_size(ctx, None, reaches_app(ctx, target_routes))}; }}`, "
                                      f"proxy_pass {target_routes[0].scheme}://NAME")
        problem = f"proxy_pass to {target}{more} without an upstream block: {effect}"
        yield from _pool_verdict(ctx, verdict, target_routes[0].proxy_pass, problem, advice)


@rule(code="CG106", name="upstream-keepalive-pool-small", severity="warning", options=[
    Option("min-size", int, 0, "a pool floor: an explicit `keepalive N` below it is reported even when the "
           "load is unknown (0: only the in-flight estimate counts)", 0, 100000)])
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

    References:
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive
        https://nginx.org/en/docs/ngx_core_module.html#worker_processes
        https://docs.gunicorn.org/en/stable/settings.html#threads
    """
    floor = ctx.option("min-size")
    if floor:
        for upstream, _ in used_upstreams(ctx):
            written = upstream_child(upstream, "keepalive")
            pool = pool_size(ctx, upstream)
            if written is not None and 0 < pool < floor:
                yield ctx.finding(written, f"upstream {upstream.args[0]} keeps {pool} idle connections per nginx "
                                           f"worker, below the project's floor of {floor} "
                                           f"([tool.confgen.rules.upstream-keepalive-pool-small] min-size); "
                                           f"use `keepalive {floor};` or more")
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
        if 0 < pool < per_worker and not (floor and upstream_child(upstream, "keepalive") is not None and pool < floor):
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
        from confgen.profile.sizing import requests_in_flight

        load = requests_in_flight(ctx.profile)
        if capacity is not None and capacity < load:
            return capacity, f"the app's {capacity:g} threads"
        return load, f"profile: {ctx.profile.expected_qps:g} QPS x {ctx.profile.app.latency_ms:g} ms"
    if capacity is not None:
        return capacity, f"gunicorn workers x threads = {capacity:g}"
    return None, ""


@rule(code="CG107", name="keepalive-timeout-order", severity="warning", options=[
    Option("balancer-idle-timeout", float, None,
           "the idle timeout of the balancer in front of nginx, in seconds (AWS ALB: 60); "
           "nginx's keepalive_timeout must exceed it", 1, 86400)])
def keepalive_timeout_order(ctx: LintContext) -> Iterator[Finding]:
    """Idle timeouts out of order along the chain balancer -> nginx -> app.

    Whoever reuses an idle connection must give it up before the other side closes it, or a
    request sent on it meets the close and fails (502 at the balancer). So each hop's idle
    timeout must exceed the one in front of it: the ``Keep-Alive: timeout=`` header nginx
    advertises (the second argument) must not promise more than nginx keeps; and nginx's client
    ``keepalive_timeout`` must exceed the idle timeout of a balancer in front, when one is
    declared: ``--behind`` / ``[tool.confgen] behind`` (a known balancer with its documented
    idle timeout, or the one configured), the ``balancer-idle-timeout`` option, or a profile's
    ``trusted_proxies`` (then 60 s, AWS ALB's). ``set_real_ip_from`` alone declares no balancer (it also trusts a CDN or a
    sidecar), so nothing is inferred from it. The app hop is rule app-keepalive-race.

    Bad:
        server {
            keepalive_timeout 30s 60s;
            location / { return 204; }
        }

    Good:
        server {
            keepalive_timeout 75s 60s;
            location / { return 204; }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#keepalive_timeout
        https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout
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
    balancer_idle, declared_by = _declared_balancer(ctx)
    if balancer_idle is None:
        return
    reported: set[int] = set()
    for server in ctx.all("server"):
        if server.block is None or server.parent is None or server.parent.name not in ("http", "main"):
            continue
        directive = effective_directive(ctx, "keepalive_timeout", server)
        if directive is None and ctx.unresolved_include(server) is not None:
            continue  # a file the deployment provides may set it
        idle = seconds(ctx.nginx.effective_args("keepalive_timeout", server))
        if idle is None or idle > balancer_idle or id(directive) in reported:
            continue
        reported.add(id(directive))  # one finding per directive, however many servers use it
        yield ctx.finding(directive or server,
                          f"the balancer in front ({declared_by}) keeps idle connections to nginx for "
                          f"{balancer_idle:g}s, but nginx closes them after {idle:g}s: requests race the close "
                          f"(502); set keepalive_timeout above the balancer's, e.g. "
                          f"{balancer_idle + 15:g}s")


def _declared_balancer(ctx) -> tuple[float | None, str]:
    """(idle timeout, what declares it) of the balancer in front of nginx, or (None, "")."""
    behind = ctx.behind
    if behind is not None and behind.idle_to_next is not None:
        return behind.idle_to_next.seconds, f"{behind.label}: {behind.idle_to_next.source}"
    configured = ctx.option("balancer-idle-timeout")
    if configured is not None:
        return configured, "[tool.confgen.rules.keepalive-timeout-order] balancer-idle-timeout"
    if ctx.profile is not None and ctx.profile.trusted_proxies:
        return BALANCER_IDLE_TIMEOUT_S, f"profile trusted_proxies; {BALANCER_IDLE_TIMEOUT_S:g}s as AWS ALB's"
    return None, ""


def _pool_fix(ctx: LintContext, upstream, upstream_routes, idle_s: float) -> Fix | None:
    app = ctx.gunicorn if any(u is upstream for u, _ in app_upstreams(ctx)) else None
    raise_app = False
    if app is not None:
        if worker_class(ctx) in (None, SYNC):
            return None
        keepalive, _ = app_number(ctx, "keepalive")
        if keepalive is None:
            return None
        raise_app = keepalive <= idle_s
        if raise_app and not editable(app, "keepalive"):
            return None

    def build(fx) -> list:
        edits = [insert_last(fx, upstream, f"keepalive {upstream_pool_size(ctx, upstream, app is not None)};")]
        edits += http11_edits(fx, ctx, upstream_routes)
        edits += connection_edits(fx, upstream_routes)
        if raise_app:
            # The app must hold idle connections longer than the pool does (app-keepalive-race).
            edits += set_app_setting(fx, "keepalive", int(idle_s + APP_KEEPALIVE_MARGIN_S))
        return edits

    return Fix(build, safe=app is not None)


def upstream_pool_size(ctx: LintContext, upstream, for_app: bool = False) -> int:
    """The pool ``confgen render`` would size: per nginx worker, twice the app's share of
    concurrent connections (accepts are uneven), at least 8; 16 when nothing says more; for the
    paired app's upstream (``for_app``) never more than its connection slots allow
    (app_slot_cap). ``upstream`` None: one server."""
    if ctx.profile is not None:
        from confgen.profile.sizing import upstream_keepalive

        size = int(upstream_keepalive(ctx.profile).value)
    else:
        size = DEFAULT_POOL
        capacity = None
        if ctx.gunicorn is not None and ctx.gunicorn.worker_class == "gthread":
            workers, threads = ctx.gunicorn.get("workers"), ctx.gunicorn.get("threads")
            if isinstance(workers, int) and isinstance(threads, int):
                servers = max(1, len([d for d in upstream.block or () if d.name == "server"])) if upstream else 1
                capacity = workers * threads * servers
        if capacity is not None:
            size = max(8, math.ceil(capacity * ACCEPT_IMBALANCE / max(1, _nginx_workers(ctx) or 1)))
    cap = app_slot_cap(ctx) if for_app else None
    return max(1, min(size, cap[0])) if cap is not None else size


# The share of an async or threaded gunicorn's connection slots the idle pool may take: the rest
# stays for requests that arrive on new connections (the other nginx workers' pools, health checks).
POOL_SLOT_SHARE = 0.5


def app_slot_cap(ctx: LintContext) -> tuple[int, str] | None:
    """(the largest pool per nginx worker, why) when the paired gunicorn counts idle keep-alive
    connections against ``worker_connections``: gevent serves each connection, idle ones
    between keep-alive requests included, in a greenlet of a ``Pool(worker_connections)``
    (gunicorn/workers/ggevent.py; eventlet's GreenPool likewise), so all nginx workers' pools
    together must leave room for new requests, else those wait for a slot until
    proxy_read_timeout (reproduced with gevent, 2 workers x 2 connections). gthread keeps
    ``threads`` slots free by closing keep-alive connections beyond ``worker_connections -
    threads``. None when the app has no such limit or it is not read."""
    server = _paired_server(ctx)
    if server is not None and server.slots is not None and isinstance(server.slots.value, int):
        slots, nginx_workers = server.slots.value, _nginx_workers(ctx)
        workers_text = f"{nginx_workers} nginx workers" if nginx_workers else "each nginx worker"
        return (math.floor(slots * POOL_SLOT_SHARE / (nginx_workers or 1)),
                f"the paired {server.server} ({server.label}) holds a worker for every idle keep-alive connection "
                f"until it closes, and has {slots} worker{'s' if slots != 1 else ''} ({server.slots.source}), so the "
                f"pools of {workers_text} must "
                f"leave room for new requests")
    if ctx.gunicorn is None or worker_class(ctx) not in ("gevent", "eventlet"):
        return None
    workers, _ = app_number(ctx, "workers")
    connections, setting = app_number(ctx, "worker_connections")
    if not workers or not connections:
        return None
    slots = int(workers * connections)
    nginx_workers = _nginx_workers(ctx)
    per_worker = math.floor(slots * POOL_SLOT_SHARE / (nginx_workers or 1))
    workers_text = f"{nginx_workers} nginx workers" if nginx_workers else "each nginx worker (worker_processes is not known here)"
    why = (f"the paired gunicorn ({worker_class(ctx)}) holds every idle connection in one of its {slots} slots "
           f"(workers {workers:g} x {describe_setting(ctx, setting)}), so the pools of {workers_text} must "
           f"leave room for new requests")
    return per_worker, why
