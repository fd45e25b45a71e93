"""nginx edits that more than one rule's fix needs: HTTP/1.1 and ``Connection ""`` for a pooled
route, a longer ``proxy_read_timeout``, a shorter upstream idle time. Each edits the file where
the directive lives (an include, not the file including it), with the layout of its neighbours;
the rules pass in what they found (routes, upstreams), so nothing here decides a rule's question
again."""

from __future__ import annotations

import math

from confgen.lint.fixes.base import FixContext, enclosing_level
from confgen.lint.fixes.edits import Edit, Unfixable
from confgen.lint.fixes.nginx_edits import insert_after, insert_first, insert_last, replace_arg, replace_args

PROXY_LEVELS = ("location", "server", "http")
CONNECTION_KEEP = 'proxy_set_header Connection "";'


def set_at_route(fx: FixContext, route_block, proxy_pass, name: str, value: str, *, shared: bool = True) -> list[Edit]:
    """``name value`` in force at ``route_block``. ``shared``: the directive in force there may
    be rewritten where it is written (it governs nothing the fix is not about); otherwise the
    value is written at the route's own level, leaving other routes as they are."""
    found = fx.nginx.effective(name, route_block)
    level = enclosing_level(route_block, PROXY_LEVELS)
    if found and (shared or found[-1].parent is level):
        return [replace_args(fx, found[-1], value)]
    if level is route_block:
        return [insert_after(fx, proxy_pass, f"{name} {value};")]
    return [insert_first(fx, level, f"{name} {value};")]


def ensure_http11(fx: FixContext, route_block, proxy_pass, *, shared: bool = True) -> list[Edit]:
    """Edits that make nginx speak HTTP/1.1 at ``route_block`` (none when it already does)."""
    version = fx.nginx.effective_args("proxy_http_version", route_block)
    if version and version[0] == "1.1":
        return []
    return set_at_route(fx, route_block, proxy_pass, "proxy_http_version", "1.1", shared=shared)


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
            return [insert_after(fx, proxy_pass, CONNECTION_KEEP)]
        return [insert_first(fx, level, CONNECTION_KEEP)]
    # Beside the headers in force (all written at one level), in the file they are written in.
    return [insert_after(fx, in_force[-1], CONNECTION_KEEP)]


def map_keeps_connection(fx: FixContext, map_block) -> list[Edit]:
    """The WebSocket map idiom: requests without the header map to ``''``, not ``close``."""
    entries = [d for d in map_block.block or () if d.file == map_block.file and d.column > 0]
    empty = [d for d in entries if d.name == ""]
    if empty:
        entry = empty[-1]
        if not entry.args:
            raise Unfixable(f"{entry.file}:{entry.line}: the map's '' entry has no value")
        text, span = fx.span(entry)
        return [replace_arg(fx, entry, 0, span.name.raw if span.name.raw in ("''", '""') else "''")]
    default = [d for d in entries if d.name == "default"]
    if default:
        return [insert_after(fx, default[-1], "'' '';")]
    return [insert_first(fx, map_block, "'' '';")]


def raise_proxy_read_timeout(fx: FixContext, routes, seconds: float, *, shared: bool = True) -> list[Edit]:
    """``proxy_read_timeout`` of every route in ``routes`` at least ``seconds``."""
    text = f"{math.ceil(seconds)}s"
    edits: list[Edit] = []
    for route in routes:
        edits += set_at_route(fx, route.block, route.proxy_pass, "proxy_read_timeout", text, shared=shared)
    return edits


def shorten_upstream_idle(fx: FixContext, upstream, idle_directive, seconds: int) -> list[Edit]:
    """The upstream's pool keeps idle connections at most ``seconds``: its keepalive_timeout
    rewritten, or written after its ``keepalive``."""
    if idle_directive is not None:
        return [replace_args(fx, idle_directive, f"{seconds}s")]
    statement = f"keepalive_timeout {seconds}s;"
    pool = next((d for d in upstream.block or () if d.name == "keepalive" and d.file == upstream.file), None)
    return [insert_after(fx, pool, statement) if pool is not None else insert_last(fx, upstream, statement)]
