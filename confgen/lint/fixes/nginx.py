"""Fixers for nginx rules: each edits the file where the directive lives (an include, not the
file including it), with the layout of its neighbours."""

from __future__ import annotations

import math

from confgen.lint.fixes.base import Fix, FixContext, enclosing_level, fixer
from confgen.lint.fixes.edits import Edit, Unfixable
from confgen.lint.fixes.nginx_source import (
    append_arg,
    insert_after,
    insert_before,
    insert_first,
    insert_last,
    remove_arg,
    remove_statement,
    replace_args,
    replace_token,
)
from confgen.lint.rules._proxy import maps

PROXY_LEVELS = ("location", "server", "http")
CONNECTION_KEEP = 'proxy_set_header Connection "";'


# ---------------------------------------------------------------------------------------------
# Keep-alive to the upstream: HTTP/1.1, no Connection: close, a pool


def ensure_http11(fx: FixContext, route_block, proxy_pass) -> list[Edit]:
    """Edits that make nginx speak HTTP/1.1 at ``route_block`` (none when it already does)."""
    version = fx.nginx.effective_args("proxy_http_version", route_block)
    if version and version[0] == "1.1":
        return []
    found = fx.nginx.effective("proxy_http_version", route_block)
    if found:
        source, statement = fx.statement(found[-1])
        return [replace_args(source, statement, "1.1")]
    level = enclosing_level(route_block, PROXY_LEVELS)
    if level is route_block:
        source, statement = fx.statement(proxy_pass)
        return [insert_after(source, statement, "proxy_http_version 1.1;")]
    source, statement = fx.statement(level)
    return [insert_first(source, statement, "proxy_http_version 1.1;")]


def ensure_connection_kept(fx: FixContext, route_block, proxy_pass) -> list[Edit]:
    """Edits that add ``proxy_set_header Connection "";`` where the route's headers are
    defined, so no header it inherits is lost (a level with its own proxy_set_header inherits
    none from outside)."""
    level = enclosing_level(route_block, PROXY_LEVELS)
    in_force = fx.nginx.effective("proxy_set_header", level)
    if any(d.args and d.args[0].lower() == "connection" for d in in_force):
        return []
    if not in_force:
        if level is route_block:
            source, statement = fx.statement(proxy_pass)
            return [insert_after(source, statement, CONNECTION_KEEP)]
        source, statement = fx.statement(level)
        return [insert_first(source, statement, CONNECTION_KEEP)]
    # Beside the headers in force (all written at one level), in the file they are written in.
    source, statement = fx.statement(in_force[-1])
    return [insert_after(source, statement, CONNECTION_KEEP)]


@fixer("keepalive-needs-http11")
def fix_http11(fx: FixContext, finding) -> Fix:
    directive = fx.at(finding, "proxy_http_version", "proxy_pass")
    if directive.name == "proxy_http_version":
        source, statement = fx.statement(directive)
        return Fix([replace_args(source, statement, "1.1")])
    return Fix(fx.same_everywhere(directive, lambda d: ensure_http11(fx, d.parent, d)))


@fixer("keepalive-connection-header")
def fix_connection_header(fx: FixContext, finding) -> Fix:
    directive = fx.at(finding, "proxy_set_header", "proxy_pass")
    if directive.name == "proxy_pass":
        return Fix(fx.same_everywhere(directive, lambda d: ensure_connection_kept(fx, d.parent, d)))
    value = directive.args[1] if len(directive.args) > 1 else ""
    block = maps(fx.lint).get(value.strip())
    if block is None:
        source, statement = fx.statement(directive)
        return Fix([replace_token(source, statement.args[1], '""')])
    return Fix(_map_keeps_connection(fx, block))


def _map_keeps_connection(fx: FixContext, block) -> list[Edit]:
    """The WebSocket map idiom: requests without the header map to ``''``, not ``close``."""
    source, statement = fx.statement(block)
    empty = [child for child in statement.children if child.name.value == "" and child.name.raw in ("''", '""')]
    if empty:
        entry = empty[-1]
        quote = entry.name.raw
        if entry.args:
            return [replace_token(source, entry.args[0], quote)]
        raise Unfixable(f"{source.path}:{entry.line}: the map's '' entry has no value")
    default = [child for child in statement.children if child.name.value == "default"]
    anchor = default[-1] if default else None
    if anchor is None:
        return [insert_first(source, statement, "'' '';")]
    return [insert_after(source, anchor, "'' '';")]


# ---------------------------------------------------------------------------------------------
# Headers


@fixer("proxy-header-inheritance")
def fix_header_inheritance(fx: FixContext, finding) -> Fix:
    directive = fx.at(finding, "proxy_set_header")
    return Fix(fx.same_everywhere(directive, lambda d: _repeat_lost_headers(fx, d)))


def _repeat_lost_headers(fx: FixContext, own) -> list[Edit]:
    """The headers set further out, written again (as they are written there) before the
    level's first own proxy_set_header."""
    level = own.parent
    outer = fx.nginx.effective("proxy_set_header", level.parent)
    kept = {d.args[0].lower() for d in fx.nginx.effective("proxy_set_header", level) if d.args}
    lost, seen = [], set()
    for d in outer:
        if d.args and d.args[0].lower() not in kept and d.args[0].lower() not in seen:
            seen.add(d.args[0].lower())
            lost.append(d)
    if not lost:
        return []
    texts = []
    for d in lost:
        source, statement = fx.statement(d)
        end = statement.end
        texts.append(source.text[statement.start:end])
    first = next(d for d in level.block or () if d.name == "proxy_set_header" and d.file == own.file)
    source, statement = fx.statement(first)
    return [insert_before(source, statement, *texts)]


@fixer("add-header-not-always")
def fix_add_header_always(fx: FixContext, finding) -> Fix:
    directive = fx.at(finding, "add_header")
    source, statement = fx.statement(directive)
    return Fix([append_arg(source, statement, "always")])


# ---------------------------------------------------------------------------------------------
# Workers, disclosure, gzip, deprecations, TLS


@fixer("worker-connections-nofile")
def fix_nofile(fx: FixContext, finding) -> Fix:
    from confgen.render.sizing import FDS_PER_PROXIED_CLIENT

    top = fx.nginx.root.block or []
    events = next((d for d in reversed(top) if d.name == "events"), None)
    connections = next((d for d in reversed(events.block or []) if d.name == "worker_connections"), None) \
        if events is not None else None
    if connections is None or not connections.args or not connections.args[0].isdigit():
        raise Unfixable("worker_connections is not a number written in the events block")
    needed = FDS_PER_PROXIED_CLIENT * int(connections.args[0])
    limit = next((d for d in reversed(top) if d.name == "worker_rlimit_nofile"), None)
    if limit is not None:
        source, statement = fx.statement(limit)
        return Fix([replace_args(source, statement, str(needed))])
    source, statement = fx.statement(events)
    return Fix([insert_before(source, statement, f"worker_rlimit_nofile {needed};")])


@fixer("version-disclosure")
def fix_server_tokens(fx: FixContext, finding) -> Fix:
    directive = fx.at(finding, "server_tokens", "http")
    source, statement = fx.statement(directive)
    if directive.name == "server_tokens":
        return Fix([replace_args(source, statement, "off")])
    return Fix([insert_first(source, statement, "server_tokens off;")])


@fixer("gzip-obsolete-msie6")
def fix_gzip_msie6(fx: FixContext, finding) -> Fix:
    directive = fx.at(finding, "gzip_disable")
    source, statement = fx.statement(directive)
    msie6 = [a for a in statement.args if a.value.lower() == "msie6"]
    if len(msie6) == len(statement.args):
        return Fix([remove_statement(source, statement)])
    return Fix([remove_arg(source, token) for token in msie6])


@fixer("gzip-level-high")
def fix_gzip_level(fx: FixContext, finding) -> Fix:
    directive = fx.at(finding, "gzip_comp_level")
    source, statement = fx.statement(directive)
    return Fix([replace_args(source, statement, str(fx.option("gzip-level-high", "max-level")))])


@fixer("deprecated-directive")
def fix_deprecated(fx: FixContext, finding) -> Fix:
    from confgen.lint.rules.deprecated import DEPRECATIONS, _matches

    candidates = fx.by_place().get((finding.file, finding.line), [])
    for directive in candidates:
        entry = next((e for e in DEPRECATIONS if fx.lint.version >= e.since and _matches(e, directive)), None)
        if entry is None:
            continue
        if directive.name == "listen" and entry.parameter == "http2":
            return Fix(_listen_http2(fx, directive))
        if directive.name == "ssl":
            return Fix(_ssl_on(fx, directive))
        if entry.ignored:
            # nginx ignores it already: removing it changes nothing but the warning.
            source, statement = fx.statement(directive)
            return Fix([remove_statement(source, statement)])
        raise Unfixable(f"`{directive.name}` has no mechanical replacement ({entry.replacement})")
    raise Unfixable("cannot find the deprecated directive the finding points at")


def _listen_http2(fx: FixContext, listen) -> list[Edit]:
    source, statement = fx.statement(listen)
    edits = [remove_arg(source, token) for token in statement.args[1:] if token.value == "http2"]
    server = listen.parent
    if server is None or server.name != "server":
        raise Unfixable("`listen` outside a server block")
    has_http2 = any(d.args[:1] == ["on"] for d in server.find("http2"))
    if not has_http2:
        last = [d for d in server.block or () if d.name == "listen" and "http2" in d.args[1:]][-1]
        last_source, last_statement = fx.statement(last)
        edits.append(insert_after(last_source, last_statement, "http2 on;"))
    return edits


def _ssl_on(fx: FixContext, directive) -> list[Edit]:
    server = directive.parent
    if server is None or server.name != "server":
        raise Unfixable("`ssl` outside a server block: add `ssl` to the listen of each TLS server by hand")
    source, statement = fx.statement(directive)
    edits = [remove_statement(source, statement)]
    if directive.args[:1] == ["on"]:
        listens = [d for d in server.block or () if d.name == "listen"]
        if not listens:
            raise Unfixable("`ssl on` in a server without listen: write `listen 443 ssl;` by hand")
        for listen in listens:
            if "ssl" not in listen.args[1:]:
                listen_source, listen_statement = fx.statement(listen)
                edits.append(append_arg(listen_source, listen_statement, "ssl"))
    return edits


@fixer("ssl-weak-protocols", kind="unsafe")
def fix_weak_protocols(fx: FixContext, finding) -> Fix:
    from confgen.lint.rules.security_tls import WEAK_PROTOCOLS

    directive = fx.at(finding, "ssl_protocols", "server")
    source, statement = fx.statement(directive)
    if directive.name == "ssl_protocols":
        strong = [a.raw for a in statement.args if a.value not in WEAK_PROTOCOLS]
        return Fix([replace_args(source, statement, " ".join(strong or ["TLSv1.2", "TLSv1.3"]))])
    line = "ssl_protocols TLSv1.2 TLSv1.3;"
    http = directive.parent
    if http is not None and http.name == "http":
        # Once for every server, in the http block: nginx negotiates the protocol with the
        # default server's settings, so one written in a named server has no effect.
        try:
            http_source, http_statement = fx.statement(http)
            return Fix([insert_first(http_source, http_statement, line)])
        except Unfixable:
            pass  # a snippet: its http block is not in its text
    listens = [d for d in directive.block or () if d.name == "listen" and d.file == directive.file]
    if listens:
        listen_source, listen_statement = fx.statement(listens[-1])
        return Fix([insert_after(listen_source, listen_statement, line)])
    return Fix([insert_first(source, statement, line)])


# ---------------------------------------------------------------------------------------------
# The nginx side of app-timeout-exceeds-proxy (unsafe: a longer wait for every request there)


def raise_proxy_read_timeout(fx: FixContext, seconds: float) -> list[Edit]:
    from confgen.lint.rules._proxy import app_routes

    edits = []
    text = f"{math.ceil(seconds)}s"
    for route in app_routes(fx.lint):
        found = fx.nginx.effective("proxy_read_timeout", route.block)
        if found:
            source, statement = fx.statement(found[-1])
            edits.append(replace_args(source, statement, text))
            continue
        level = enclosing_level(route.block, PROXY_LEVELS)
        if level is route.block:
            source, statement = fx.statement(route.proxy_pass)
            edits.append(insert_after(source, statement, f"proxy_read_timeout {text};"))
        else:
            source, statement = fx.statement(level)
            edits.append(insert_first(source, statement, f"proxy_read_timeout {text};"))
    return edits


# ---------------------------------------------------------------------------------------------
# Beyond the list: fixes as mechanical as the others


@fixer("worker-processes")
def fix_worker_processes(fx: FixContext, finding) -> Fix:
    top = fx.nginx.root.block or []
    found = [d for d in top if d.name == "worker_processes"]
    if found:
        source, statement = fx.statement(found[-1])
        return Fix([replace_args(source, statement, "auto")])
    first = next((d for d in top if d.file == finding.file and d.line == finding.line), None)
    if first is None:
        raise Unfixable("no top-level directive to write worker_processes before")
    source, statement = fx.statement(first)
    return Fix([insert_before(source, statement, "worker_processes auto;")])


@fixer("sync-worker-keepalive")
def fix_sync_pool(fx: FixContext, finding) -> Fix:
    """The pool the sync worker never lets nginx use is dropped (reuse needs another worker
    class, which is the app's decision, not a fix)."""
    directive = fx.at(finding, "keepalive")
    source, statement = fx.statement(directive)
    return Fix([remove_statement(source, statement)])


@fixer("proxy-buffering-sync-worker", kind="unsafe")
def fix_buffering_off(fx: FixContext, finding) -> Fix:
    """Unsafe: a streaming endpoint (server-sent events, a long download) gets buffered again."""
    directive = fx.at(finding, "proxy_buffering", "proxy_request_buffering")
    source, statement = fx.statement(directive)
    return Fix([remove_statement(source, statement)])


@fixer("forwarded-proto-spoofable", kind="unsafe")
def fix_forwarded_proto(fx: FixContext, finding) -> Fix:
    """Unsafe: behind a balancer that terminates TLS, $scheme is http where the header said https."""
    directive = fx.at(finding, "proxy_set_header")
    source, statement = fx.statement(directive)
    if len(statement.args) != 2 or statement.args[0].value.lower() != "x-forwarded-proto":
        raise Unfixable("the header value comes from elsewhere (a map): change it there by hand")
    return Fix([replace_token(source, statement.args[1], "$scheme")])


def shorten_upstream_idle(fx: FixContext, seconds: int) -> list[Edit]:
    """The app side of app-keepalive-race seen from nginx: every pooled upstream of the app keeps
    idle connections at most ``seconds`` (below the app's keep-alive)."""
    from confgen.lint.rules._proxy import app_upstreams, pool_size, upstream_child, upstream_idle_timeout

    edits = []
    for upstream, _ in app_upstreams(fx.lint):
        idle, directive = upstream_idle_timeout(upstream)
        if pool_size(fx.lint, upstream) <= 0 or idle is None or idle <= seconds:
            continue
        if directive is not None:
            source, statement = fx.statement(directive)
            edits.append(replace_args(source, statement, f"{seconds}s"))
        else:
            source, statement = fx.statement(upstream_child(upstream, "keepalive") or upstream)
            text = f"keepalive_timeout {seconds}s;"
            edits.append(insert_after(source, statement, text) if statement.name.value == "keepalive"
                         else insert_last(source, statement, text))
    return edits
