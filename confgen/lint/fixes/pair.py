"""Fixers that edit both sides of the pair: nginx's pool and timeouts together with the app's
keep-alive and timeout, so neither side is left contradicting the other."""

from __future__ import annotations

import math

from confgen.gunicorn.reader import UNKNOWN
from confgen.lint.fixes.base import Fix, FixContext, fixer
from confgen.lint.fixes.edits import Unfixable
from confgen.lint.fixes.gunicorn import set_app_setting
from confgen.lint.fixes.nginx import (
    ensure_connection_kept,
    ensure_http11,
    raise_proxy_read_timeout,
    shorten_upstream_idle,
)
from confgen.lint.fixes.nginx_source import insert_last
from confgen.lint.rules._proxy import (
    UPSTREAM_KEEPALIVE_TIMEOUT_S,
    app_routes,
    app_upstreams,
    pool_size,
    seconds,
    upstream_idle_timeout,
    used_upstreams,
)
from confgen.render import sizing
from confgen.render.sizing import APP_KEEPALIVE_MARGIN_S


def upstream_pool_size(fx: FixContext, upstream) -> int:
    """The pool ``confgen render`` would size: per nginx worker, twice the app's share of
    concurrent connections (accepts are uneven), at least 8; 16 when nothing says more."""
    ctx = fx.lint
    if ctx.profile is not None:
        return int(sizing.upstream_keepalive(ctx.profile).value)
    capacity = None
    if ctx.gunicorn is not None and ctx.gunicorn.worker_class == "gthread":
        workers, threads = ctx.gunicorn.get("workers"), ctx.gunicorn.get("threads")
        if isinstance(workers, int) and isinstance(threads, int):
            servers = max(1, len([d for d in upstream.block or () if d.name == "server"]))
            capacity = workers * threads * servers
    if capacity is None:
        return 16
    processes = next((d for d in fx.nginx.root.block or () if d.name == "worker_processes"), None)
    count = int(processes.args[0]) if processes is not None and processes.args and processes.args[0].isdigit() else 1
    return max(8, math.ceil(capacity * sizing.ACCEPT_IMBALANCE / max(1, count)))


@fixer("upstream-no-keepalive")
def fix_upstream_pool(fx: FixContext, finding) -> Fix:
    upstream = fx.at(finding, "upstream")
    # The paired app's settings matter only for an upstream that reaches it.
    app = fx.gunicorn if any(u is upstream for u, _ in app_upstreams(fx.lint)) else None
    worker = app.worker_class if app is not None else None
    if worker is UNKNOWN:
        raise Unfixable("the app's worker class is not known statically, so whether a pool is ever used is not known")
    if worker == "sync":
        raise Unfixable("gunicorn's sync worker closes every connection, so a pool would never be used; "
                        "switch to gthread or an async worker first")
    source, statement = fx.statement(upstream)
    edits = [insert_last(source, statement, f"keepalive {upstream_pool_size(fx, upstream)};")]
    for used, upstream_routes in used_upstreams(fx.lint):
        if used is not upstream:
            continue
        for route in upstream_routes:
            edits += ensure_http11(fx, route.block, route.proxy_pass)
            edits += ensure_connection_kept(fx, route.block, route.proxy_pass)
    if app is not None:
        keepalive = app.get("keepalive")
        if not isinstance(keepalive, (int, float)) or isinstance(keepalive, bool):
            raise Unfixable("the app's keepalive is not known statically: a pool may race its idle close")
        if keepalive <= UPSTREAM_KEEPALIVE_TIMEOUT_S:
            # A pool the app closes under nginx fails requests (app-keepalive-race): the app must
            # keep idle connections longer than nginx's upstream keepalive_timeout.
            edits += set_app_setting(fx, "keepalive", int(UPSTREAM_KEEPALIVE_TIMEOUT_S + APP_KEEPALIVE_MARGIN_S))
    # Without a paired app nothing says the pool will not race the app's idle close.
    return Fix(edits, safe=app is not None)


@fixer("app-keepalive-race")
def fix_keepalive_race(fx: FixContext, finding) -> Fix:
    idles = [upstream_idle_timeout(u)[0] for u, _ in app_upstreams(fx.lint) if pool_size(fx.lint, u) > 0]
    idles = [i for i in idles if i is not None]
    if not idles:
        raise Unfixable("no pooled upstream with a known keepalive_timeout")
    # The longest idle time of every pool the app serves, so one value fixes all of them.
    try:
        return Fix(set_app_setting(fx, "keepalive", math.ceil(max(idles) + APP_KEEPALIVE_MARGIN_S)))
    except Unfixable:
        keepalive = fx.gunicorn.get("keepalive")
        if not isinstance(keepalive, (int, float)) or isinstance(keepalive, bool) or keepalive < 2:
            raise
    # Unsafe: nginx then closes its idle connections sooner (less reuse), below the app's.
    return Fix(shorten_upstream_idle(fx, math.floor(keepalive) - 1), safe=False)


@fixer("app-timeout-exceeds-proxy")
def fix_app_timeout(fx: FixContext, finding) -> Fix:
    reads = [seconds(fx.nginx.effective_args("proxy_read_timeout", r.block)) for r in app_routes(fx.lint)]
    reads = [r for r in reads if r is not None]
    if not reads:
        raise Unfixable("proxy_read_timeout is not known")
    # Below the shortest proxy_read_timeout of the app's routes, with the margin render keeps.
    target = math.floor(min(reads)) - 5
    if target >= 1:
        try:
            return Fix(set_app_setting(fx, "timeout", target))
        except Unfixable:
            pass
    timeout = fx.gunicorn.get("timeout")
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise Unfixable("gunicorn's timeout cannot be lowered here and is not a number to wait for")
    # Unsafe: every request to the app may now wait longer before nginx gives up.
    return Fix(raise_proxy_read_timeout(fx, max(timeout + 5, timeout * 1.1)), safe=False)
