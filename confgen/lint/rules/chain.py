"""The chain a request travels, hop by hop (CG209, CG210): balancer -> nginx -> app server, or a
balancer straight to the app. Each hop is read by its own reader (confgen.hops, confgen.appserver,
confgen.gunicorn.hop); these rules compare neighbours only, whatever they are, and name both hops,
both numbers and where each number comes from. nginx -> gunicorn is checked by the richer rules
of confgen.lint.rules.gunicorn_pairing (per route, with fixes); balancer -> nginx by
keepalive-timeout-order.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterator

from confgen.lint.context import LintContext
from confgen.lint.fixes.appserver import set_server_option
from confgen.lint.fixes.base import Fix
from confgen.lint.registry import Finding, rule
from confgen.profile.constants import APP_KEEPALIVE_MARGIN_S
from confgen.lint.rules._proxy import (
    app_routes,
    app_upstreams,
    effective_directive,
    pool_size,
    reuses_connections,
    seconds,
    upstream_idle_timeout,
)

if TYPE_CHECKING:
    from confgen.hops import Hop, Timer

# The options that set the idle keep-alive timeout of the servers whose command a fix edits.
IDLE_FLAGS = ("--timeout-keep-alive", "--keep-alive")
NGINX_UPSTREAM_IDLE_SOURCE = ("nginx's upstream keepalive_timeout default 60 s; "
                              "https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive_timeout")
READ_TIMEOUT_SOURCE = "nginx's default 60 s; https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout"
UWSGI_READ_TIMEOUT_SOURCE = ("nginx's default 60 s; "
                             "https://nginx.org/en/docs/http/ngx_http_uwsgi_module.html#uwsgi_read_timeout")


def _anchor(ctx: LintContext, hop: Hop, fallback):
    where = hop.where
    return where if where is not None else fallback


def _race(front: Hop, idle: Timer, back: Hop, closes: Timer) -> str:
    if closes.ceiling is not None and idle.seconds >= closes.ceiling:
        # The app cannot be raised far enough (granian accepts at most 60 s): only the front can move.
        from confgen.hops import PLATFORMS

        platform = PLATFORMS.get(front.kind)
        if platform is not None and not platform.idle_configurable:
            fix = (f"{back.label} accepts at most {closes.setting} {closes.spelled(closes.ceiling)} and "
                   f"{front.label}'s idle timeout is fixed: put a proxy between them that keeps client "
                   f"connections longer than {idle.seconds:g}s and pooled ones to the app shorter than "
                   f"{closes.seconds:g}s (nginx: keepalive_timeout, and the upstream's keepalive_timeout)")
        else:
            front_setting = idle.setting or f"{front.label}'s idle timeout"
            fix = (f"{back.label} accepts at most {closes.setting} {closes.spelled(closes.ceiling)}, so lower "
                   f"{front_setting} below {closes.seconds:g}s")
    else:
        fix = f"raise {closes.setting or 'its idle timeout'} above {closes.spelled(idle.seconds)}"
    return (f"{front.label} keeps idle connections to {back.label} for {idle.describe()}, but "
            f"{back.label} closes them after {closes.describe()}: a request sent on a connection the app "
            f"is closing fails with 502; the hop behind must keep idle connections longer than the hop in "
            f"front ({fix})")


@rule(code="CG209", name="chain-keepalive-race", severity="error", needs=("chain",))
def chain_keepalive_race(ctx: LintContext) -> Iterator[Finding]:
    """A hop closes idle connections no later than the hop in front of it, which reuses them: 502s.

    Any hop that pools idle connections to the next one (a cloud balancer, ingress-nginx, an nginx
    ``upstream`` with ``keepalive``) may send the next request on one at any moment. When the hop
    behind closes idle connections first (uvicorn after 5 s, hypercorn after 5 s, gunicorn after
    2 s, daphne after 60 s, uWSGI's HTTP router after ``http-keepalive``/``http-timeout``, uWSGI's
    ``http11-socket`` after ``socket-timeout`` (4 s by default), granian
    after its ``--http1-header-read-timeout``, 30000 ms by default and at most 60000, which its
    HTTP layer also applies to an idle connection), a request meets the close and fails with 502,
    rarely and under light load. Each hop must keep idle connections longer than the hop in
    front: AWS ALB 60 s (configurable), Google's external load balancer 600 s (fixed), Heroku's
    router 90 s, nginx's upstream pool 60 s by default. Where the app cannot be set that long
    (granian), the front's idle time must go below the app's.
    Checked between nginx and an app server other than gunicorn (gunicorn: app-keepalive-race),
    and between a declared balancer (``--behind``, ``[tool.confgen] behind``) and an app linted
    with no nginx in front. A server that closes each connection after one response (gunicorn's
    sync worker, uWSGI's uwsgi protocol, its ``http-socket``, its HTTP router without
    ``http-keepalive``, granian ``--no-http1-keep-alive``) cannot race.

    App command:
        uvicorn main:app --port 8000

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

    Fix safety: Safe: the app's idle timeout raised to 5 s past the front's, on the command
    line where it is written (uvicorn ``--timeout-keep-alive``, hypercorn ``--keep-alive``); the
    app then only keeps idle connections longer, which the hop in front closes first. Not offered
    for a timeout set in a config file, a script or a Python call.

    References:
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive_timeout
        https://www.uvicorn.org/settings/#timeouts
        https://hypercorn.readthedocs.io/en/latest/how_to_guides/configuring.html
        https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html
        https://uwsgi-docs.readthedocs.io/en/latest/Options.html#socket-timeout
        https://github.com/emmett-framework/granian/blob/master/granian/cli.py
        https://github.com/emmett-framework/granian/blob/master/granian/http.py
        https://github.com/hyperium/hyper/blob/master/src/proto/h1/conn.rs
        https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html
        https://cloud.google.com/load-balancing/docs/https/request-distribution
        https://devcenter.heroku.com/articles/http-routing#keepalives
    """
    app = ctx.app_hop
    if app is None or app.idle_from_previous is None:
        return
    if ctx.app_only:
        front = ctx.behind
        if front is not None and front.idle_to_next is not None \
                and front.idle_to_next.seconds >= app.idle_from_previous.seconds:
            yield ctx.finding(_anchor(ctx, app, (ctx.nginx.main_file, 1)),
                              _race(front, front.idle_to_next, app, app.idle_from_previous),
                              fix=_longer_app_idle(ctx, front.idle_to_next.seconds))
        return
    if ctx.app_server is None:
        return  # nginx -> gunicorn: app-keepalive-race
    from confgen.hops import Hop, Timer  # here: the app's reader loaded it; an nginx-only lint never does

    for upstream, upstream_routes in app_upstreams(ctx):
        if pool_size(ctx, upstream) <= 0 or not reuses_connections(ctx, upstream_routes):
            continue  # no pool, or none a location can fill (HTTP/1.0, Connection: close)
        idle, directive = upstream_idle_timeout(upstream)
        if idle is None or idle < app.idle_from_previous.seconds:
            continue
        if directive is None and ctx.unresolved_include(upstream, inherited=False) is not None:
            continue
        source = f"{directive.file}:{directive.line}" if directive is not None else NGINX_UPSTREAM_IDLE_SOURCE
        front = Hop(kind="nginx", label=f"nginx upstream {upstream.args[0]}")
        timer = Timer(idle, source, "keepalive_timeout")
        yield ctx.finding(directive or upstream, _race(front, timer, app, app.idle_from_previous),
                          fix=_longer_app_idle(ctx, idle))


def _longer_app_idle(ctx: LintContext, front_idle: float) -> Fix | None:
    """The app server's idle timeout raised past the front's by the margin render gives
    gunicorn's keepalive, on its command line, for
    the servers whose timeout is a command-line option there (uvicorn, hypercorn)."""
    server = ctx.app_server
    idle = getattr(server, "idle", None)
    if server is None or server.command is None or idle is None or idle.setting not in IDLE_FLAGS:
        return None
    seconds = str(math.ceil(front_idle) + APP_KEEPALIVE_MARGIN_S)
    return Fix(lambda fx: set_server_option(fx, (idle.setting,), seconds))


@rule(code="CG210", name="chain-timeout-order", severity="warning", needs=("chain",))
def chain_timeout_order(ctx: LintContext) -> Iterator[Finding]:
    """A hop gives up on a request before the hop behind it stops working on it.

    A hop that kills a request itself (uWSGI's ``harakiri``, gunicorn's sync worker ``timeout``)
    should do so before the hop in front gives up waiting, or the front answers 504 (nginx, a
    balancer: Heroku's router after 30 s, H12) while the app keeps working on a request nobody
    waits for, and the app's own timeout handling never runs. Checked between nginx's
    ``proxy_read_timeout``/``uwsgi_read_timeout`` (60 s by default) and uWSGI's ``harakiri``,
    between a declared balancer and an app linted with no nginx in front, and between the
    balancer in front of nginx (an Ingress's ``proxy-read-timeout``, an HTTPRoute's
    ``timeouts.request``, ``--behind``) and nginx's ``proxy_read_timeout`` on the app's routes:
    the balancer must wait longer, or nginx's answer is thrown away. A front that waits exactly
    as long as the app's limit is not reported: the app's killer checks once a second, so it ends
    the request within a second of the 504.

    App command:
        uwsgi --socket 127.0.0.1:3031 --harakiri 60 --module app

    Bad:
        server {
            location / {
                include uwsgi_params;
                uwsgi_pass 127.0.0.1:3031;
                uwsgi_read_timeout 30s;
            }
        }

    Good:
        server {
            location / {
                include uwsgi_params;
                uwsgi_pass 127.0.0.1:3031;
                uwsgi_read_timeout 130s;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_uwsgi_module.html#uwsgi_read_timeout
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout
        https://uwsgi-docs.readthedocs.io/en/latest/Options.html#harakiri
        https://devcenter.heroku.com/articles/request-timeout
        https://github.com/kubernetes/ingress-nginx/blob/main/docs/user-guide/nginx-configuration/annotations.md#custom-timeouts
        https://gateway-api.sigs.k8s.io/api-types/httproute/#timeouts-optional
    """
    if not ctx.app_only:
        yield from _balancer_gives_up_before_nginx(ctx)
    app = ctx.app_hop
    if app is None or app.kills_after is None:
        return
    kills = app.kills_after
    if ctx.app_only:
        front = ctx.behind
        if front is not None and front.waits_for_next is not None and front.waits_for_next.seconds < kills.seconds:
            yield ctx.finding(_anchor(ctx, app, (ctx.nginx.main_file, 1)),
                              _late(front.label, front.waits_for_next, app, kills))
        return
    if ctx.app_server is None:
        return  # nginx -> gunicorn: app-timeout-exceeds-proxy
    from confgen.hops import Timer  # here: the app's reader loaded it; an nginx-only lint never does

    reported: set[int] = set()
    for block, directive_name, pass_directive in _app_passes(ctx):
        found = effective_directive(ctx, directive_name, block)
        wait = seconds(found.args) if found is not None else 60.0
        # Equal limits are not reported: the app's killer (uWSGI's master, gunicorn's arbiter)
        # looks once a second, so it ends the request within a second of the front's 504.
        if wait is None or wait >= kills.seconds or id(found or pass_directive) in reported:
            continue
        if found is None and ctx.unresolved_include(block) is not None:
            continue
        reported.add(id(found or pass_directive))
        source = f"{found.file}:{found.line}" if found is not None else (
            UWSGI_READ_TIMEOUT_SOURCE if directive_name.startswith("uwsgi") else READ_TIMEOUT_SOURCE)
        yield ctx.finding(found or pass_directive,
                          _late("nginx", Timer(wait, source, directive_name), app, kills))


def _balancer_gives_up_before_nginx(ctx: LintContext) -> Iterator[Finding]:
    """The balancer in front stops waiting no later than nginx waits for the app: the client
    gets the balancer's error while nginx still waits, and nginx's own answer (its 504, the
    app's late response) is thrown away."""
    front = ctx.behind
    if front is None or front.waits_for_next is None:
        return
    from confgen.hops import Timer  # here: a balancer's hop loaded it; an nginx-only lint never does

    wait = front.waits_for_next
    reported: set[int] = set()
    for route in app_routes(ctx) if ctx.app_hop is not None else []:
        found = effective_directive(ctx, "proxy_read_timeout", route.block)
        nginx_wait = seconds(found.args) if found is not None else 60.0
        if nginx_wait is None or nginx_wait < wait.seconds or id(found or route.proxy_pass) in reported:
            continue
        if found is None and ctx.unresolved_include(route.block) is not None:
            continue
        reported.add(id(found or route.proxy_pass))
        source = f"{found.file}:{found.line}" if found is not None else READ_TIMEOUT_SOURCE
        yield ctx.finding(found or route.proxy_pass,
                          f"{front.label} gives up after {wait.describe()}, but nginx waits for the app for "
                          f"{Timer(nginx_wait, source, 'proxy_read_timeout').describe()}: a slow request gets the "
                          f"balancer's error while nginx still waits, and nginx's own answer never reaches the "
                          f"client; let the balancer wait longer than nginx (or lower proxy_read_timeout below "
                          f"{wait.seconds:g}s)")


def _late(front_label: str, wait: Timer, back: Hop, kills: Timer) -> str:
    return (f"{front_label} gives up after {wait.describe()}, but {back.label} works on a request until "
            f"{kills.describe()}: the client gets a 504 while the app still runs a request nobody waits for; "
            f"let the front wait longer than the app's limit (e.g. {kills.seconds * 1.1 + 5:g}s), or lower "
            f"the app's")


def _app_passes(ctx: LintContext):
    """(block, its read-timeout directive name, the pass directive) of every route to the app:
    proxy_pass to its HTTP binds, uwsgi_pass to its uwsgi socket."""
    from confgen.lint.rules._proxy import binds_of, serves

    for route in app_routes(ctx):
        yield route.block, "proxy_read_timeout", route.proxy_pass
    binds = binds_of(ctx) or []
    if ctx.app_server is None or ctx.app_server.protocol != "uwsgi" or not binds:
        return
    for directive in ctx.all("uwsgi_pass"):
        target = (directive.args[0] if directive.args else "").removeprefix("uwsgi://")
        upstream = ctx.nginx.upstreams().get(target)
        servers = [s.args[0] for s in upstream.block or () if s.name == "server" and s.args] if upstream else [target]
        if any(serves(bind, server) for bind in binds for server in servers):
            yield directive.parent, "uwsgi_read_timeout", directive

