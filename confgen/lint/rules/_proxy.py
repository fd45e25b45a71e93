"""What several rule families derive from the nginx model: where each ``proxy_pass`` goes, which
upstreams pool connections, which routes lead to the paired gunicorn app, and the value a
``map``-defined variable takes on an ordinary request. Computed once per lint (``ctx.cached``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import NamedTuple

from confgen.nginx.model import overriding_handler, split_proxy_url
from confgen.units import parse_size, parse_time

# nginx 1.29.7: upstream blocks keep 32 idle connections ("keepalive 32 local") by default,
# proxy_http_version defaults to 1.1 and no "Connection: close" is sent.
KEEPALIVE_BY_DEFAULT = (1, 29, 7)
# The upstream-context timers; they are separate directives from the client-side
# keepalive_timeout/keepalive_requests of the same name and never inherit from http.
UPSTREAM_KEEPALIVE_TIMEOUT_S = 60.0

_PORT_RE = re.compile(r"^(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>\d+))?$")
_WILDCARD_HOSTS = {"", "*", "0.0.0.0", "[::]", "::"}


class Route(NamedTuple):
    """One ``proxy_pass``: the block it serves and where it sends requests."""

    proxy_pass: object          # the Directive
    block: object               # its enclosing location / if / limit_except
    target: str                 # host[:port] or unix:/path, as written
    upstream: object | None     # the upstream block it names, if any
    servers: tuple[str, ...]    # the addresses requests reach
    is_variable: bool           # the target is computed at run time ($var): unknowable statically
    scheme: str = "http"        # http, https, or another (grpc_pass and friends are not routes)


def route_location(route: Route):
    """The location a route is in (its own block, or the one around its ``if``), or None."""
    return route.block if route.block.name == "location" else route.block.enclosing("location")


def routes(ctx) -> list[Route]:
    """Each ``proxy_pass`` that handles requests (not one another module's handler written after
    it overrides: content-handler-conflict's), with where it sends them."""
    return ctx.cached("routes", lambda: [r for d in ctx.all("proxy_pass")
                                         if overriding_handler(d) is None and (r := route_of(ctx, d))])


def route_of(ctx, directive) -> Route | None:
    """Where a pass directive (proxy_pass, uwsgi_pass, ...) sends requests."""
    if not directive.args:
        return None
    parts = split_proxy_url(directive.args[0])
    target, scheme = parts.address, parts.scheme or "http"
    if "$" in target:
        return Route(directive, directive.parent, target, None, (), True, scheme)
    upstream = upstreams(ctx).get(_host(target))
    return Route(directive, directive.parent, target, upstream, servers_of(ctx, target), False, scheme)


def upstreams(ctx) -> dict:
    return ctx.cached("upstreams", ctx.nginx.upstreams)


def _host(target: str) -> str:
    if target.startswith("unix:"):
        return target
    match = _PORT_RE.match(target)
    return match.group("host") if match else target


def used_upstreams(ctx) -> list[tuple[object, list[Route]]]:
    """Each upstream block some proxy_pass uses, with those routes, in document order."""
    def compute():
        grouped: dict[int, tuple[object, list[Route]]] = {}
        for route in routes(ctx):
            if route.upstream is not None:
                grouped.setdefault(id(route.upstream), (route.upstream, []))[1].append(route)
        return sorted(grouped.values(), key=lambda item: (item[0].file, item[0].line))
    return ctx.cached("used_upstreams", compute)


def external_tls(route: Route) -> bool:
    """``proxy_pass https://name`` to a host no upstream block defines: another site (an API,
    a CDN, object storage), not an app of this deployment; its keep-alive is not ours to size."""
    if route.scheme != "https" or route.upstream is not None or route.is_variable:
        return False
    host = _host(route.target).strip("[]")
    return not (route.target.startswith("unix:") or is_ip(host) or host == "localhost")


def well_known_only(upstream_routes: list[Route]) -> bool:
    """Whether every route serves ``/.well-known/`` (RFC 8615: ACME challenges for certbot, and
    the like): a handful of requests per renewal, nothing a connection pool would gain from."""
    def well_known(route: Route) -> bool:
        location = route_location(route)
        return location is not None and bool(location.args) and "/.well-known" in location.args[-1]
    return bool(upstream_routes) and all(well_known(r) for r in upstream_routes)


def not_pool_candidates(ctx, upstream_routes: list[Route]) -> bool:
    """Routes whose upstream no pool should be advised for here: only WebSocket upgrades, only
    event streams or long polls, only ``/.well-known/`` endpoints, only this nginx itself, or
    only another app side of the tree (a second compose service), whose own context advises with
    what is known of that app."""
    return websocket_only(ctx, upstream_routes) or stream_only(ctx, upstream_routes) \
        or long_poll_only(ctx, upstream_routes) or well_known_only(upstream_routes) \
        or other_apps_only(ctx, upstream_routes) or self_proxied_only(ctx, upstream_routes)


# Path segments that name a long-polling endpoint (Odoo's /longpolling, /longpoll).
LONG_POLL_SEGMENTS = {"longpolling", "long-polling", "long_polling", "longpoll"}


def long_poll_only(ctx, upstream_routes: list[Route]) -> bool:
    """Whether only long-polling requests go to these routes: each waits up to a minute for an
    event, so one client makes about one request a minute there, and a connect per request
    costs nothing a pool would save."""
    return bool(upstream_routes) and all(named_by_paths(ctx, r, LONG_POLL_SEGMENTS) for r in upstream_routes)


def self_proxied_only(ctx, upstream_routes: list[Route]) -> bool:
    """Whether these routes only send requests back to this nginx (a health-check relay,
    ``proxy_pass http://127.0.0.1/$2`` with a server listening on port 80): no app is behind."""
    return bool(upstream_routes) and all(self_proxied(ctx, r) for r in upstream_routes)


LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


def self_proxied(ctx, route: Route) -> bool:
    """Whether every address ``route`` reaches is one of this config's own http listen sockets
    on the loopback (or every) address."""
    def own_sockets() -> set[tuple[str, int]]:
        found = set()
        for server in ctx.all("server"):
            if not server.is_block or server.parent is None or server.parent.name != "http":
                continue
            for listen in ctx.nginx.listens(server):
                if listen.port is not None and (listen.address is None or listen.address.strip("[]") in
                                                 {"127.0.0.1", "::1", "0.0.0.0", "::", "*", "localhost"}):
                    found.add(listen.port)
        return found

    ports = ctx.cached("own_listen_ports", own_sockets)
    if not route.servers or route.is_variable and not route.servers:
        return False
    for address in route.servers:
        kind, host, port = parse_address(address)
        default = 443 if route.scheme == "https" else 80
        if kind != "tcp" or host not in LOOPBACK_NAMES or (port or default) not in ports:
            return False
    return True


def other_apps_only(ctx, upstream_routes: list[Route]) -> bool:
    """Whether every server of these routes is another app side's: reached by its host name (a
    compose service) or by its bind (another program of a supervisor config), not by this one's."""
    hosts, binds = ctx.other_app_hosts, ctx.other_app_binds
    if not (hosts or binds) or not upstream_routes or reaches_app(ctx, upstream_routes):
        return False

    def elsewhere(address: str) -> bool:
        return parse_address(address)[1] in hosts or any(serves(b, address) for b in binds)
    return all(r.servers and all(elsewhere(s) for s in r.servers) for r in upstream_routes)


# Path segments that name a Server-Sent Events endpoint (/stream/, /api/events, /sse).
STREAM_SEGMENTS = {"stream", "streams", "events", "event-stream", "eventstream", "sse", "eventsource"}


def stream_only(ctx, upstream_routes: list[Route]) -> bool:
    """Whether only event streams go to these routes: each location turns response buffering off
    (``proxy_buffering off``, as Server-Sent Events need) and its path names a stream endpoint.
    A stream lasts until the client leaves, and nginx then closes the upstream connection
    mid-response: it never returns to a pool."""
    def streams(route: Route) -> bool:
        return effective_flag_off(ctx, "proxy_buffering", route.block) is not None \
            and named_by_paths(ctx, route, STREAM_SEGMENTS)
    return bool(upstream_routes) and all(streams(r) for r in upstream_routes)


# Path segments that name a WebSocket endpoint (a location /ws/, /api/websocket, /socket.io/,
# Rails' /cable, SockJS's /sockjs).
WEBSOCKET_SEGMENTS = {"ws", "wss", "websocket", "socket.io", "cable", "sockjs"}


def websocket_only(ctx, upstream_routes: list[Route]) -> bool:
    """Whether only WebSocket upgrades go to these routes, and an upgraded connection never
    returns to a pool: each sends ``Connection: upgrade`` as a constant, or ``Connection $var``
    from a ``map`` of ``$http_upgrade`` (the ``$connection_upgrade`` idiom) in a location whose
    path names a WebSocket endpoint (``/ws``, ``/websocket``, ``/socket.io``, ``/cable``, ``/wss``,
    ``/sockjs`` as a path segment). The map alone says nothing: it is as often on ``location /``,
    where ordinary requests go too."""
    def upgrades(route: Route) -> bool:
        value, _ = ctx.nginx.proxy_headers(route.block).get("connection", ("", None))
        if value.strip().lower() == "upgrade":
            return True
        block = maps(ctx).get(value.strip())
        return block is not None and bool(block.args) and block.args[0].lower() == "$http_upgrade" \
            and websocket_path(ctx, route)
    return bool(upstream_routes) and all(upgrades(r) for r in upstream_routes)


def websocket_path(ctx, route: Route) -> bool:
    """Whether the location of ``route`` names a WebSocket endpoint in a segment of its path
    (``location /ws/``, ``location ~ ^/api/websocket$``, ``location ^~ /socket.io``), or is a
    named location only such locations hand requests to."""
    return named_by_paths(ctx, route, WEBSOCKET_SEGMENTS)


def named_by_paths(ctx, route: Route, segments: set[str]) -> bool:
    """Whether every path that reaches the location of ``route`` has a segment in ``segments``."""
    paths = location_paths(ctx, route)
    return bool(paths) and all(path_segments(path) & segments for path in paths)


def location_paths(ctx, route: Route) -> list[str]:
    """The paths requests reach the location of ``route`` by: its own, or for a named location
    (``@ws``) those of the locations whose ``try_files`` or ``error_page`` hands requests to it.
    Empty when unknown (a handoff outside any location, or none found)."""
    location = route_location(route)
    if location is None or not location.args:
        return []
    if not location.args[-1].startswith("@"):
        return [location.args[-1]]
    paths = []
    for name in ("try_files", "error_page"):
        for handoff in ctx.all(name):
            if not handoff.args or handoff.args[-1] != location.args[-1]:
                continue
            source = handoff.enclosing("location")
            if source is None or not source.args or source.args[-1].startswith("@") \
                    or source.enclosing("server") is not location.enclosing("server"):
                return []   # handed over server-wide, from another named location, or from elsewhere
            paths.append(source.args[-1])
    return paths


def path_segments(path: str) -> set[str]:
    """The lower-cased segments of a location's path, regex anchors and quantifiers stripped."""
    path = path.replace("\\", "")
    return {segment.strip("^$?*+").lower() for segment in path.split("/")}


def by_cause(pairs) -> dict:
    """``(cause, route)`` pairs grouped as {cause: [routes]} in document order. A value in force
    for many locations (one directive, or nginx's default) is one problem: one finding for it,
    not one per location."""
    grouped: dict = {}
    for cause, route in pairs:
        grouped.setdefault(cause, []).append(route)
    return grouped


def more_locations(grouped_routes) -> str:
    """`` (and 3 more locations)`` for a finding that stands for several, else ``""``."""
    others = len(grouped_routes) - 1
    return f" (and {others} more location{'s' if others > 1 else ''})" if others > 0 else ""


# ---------------------------------------------------------------------------------------------
# Upstream connection pools


def upstream_child(upstream, name: str):
    """The last ``name`` directive written directly in an upstream block, or None."""
    found = upstream.find(name)
    return found[-1] if found else None


def pool_size(ctx, upstream) -> int:
    """Idle connections each worker keeps for this upstream: ``keepalive N``, 32 by default from
    nginx 1.29.7, none before (then every request opens and closes a connection)."""
    return ctx.nginx.upstream_keepalive(upstream) or 0


def upstream_idle_timeout(upstream) -> tuple[float | None, object | None]:
    """(seconds, directive) of the upstream's own keepalive_timeout; 60 s and None by default."""
    directive = upstream_child(upstream, "keepalive_timeout")
    if directive is None:
        return UPSTREAM_KEEPALIVE_TIMEOUT_S, None
    return seconds(directive.args), directive


def pool_anchor(upstream):
    """Where a finding about an upstream's pool points: its keepalive line, else the block."""
    return upstream_child(upstream, "keepalive") or upstream


# ---------------------------------------------------------------------------------------------
# Values


def seconds(args) -> float | None:
    if not args:
        return None
    try:
        return parse_time(args[0])
    except ValueError:
        return None


def size(text) -> int | None:
    try:
        return parse_size(text)
    except ValueError:
        return None


def effective_directive(ctx, name: str, at):
    """The directive whose value is in force for ``name`` inside ``at``, or None (default)."""
    found = ctx.nginx.effective(name, at)
    return found[-1] if found else None


def governs_only(ctx, name: str, directive, chosen) -> bool:
    """Whether every proxied route that takes ``name`` from ``directive`` is one of ``chosen``:
    then a fix may rewrite the directive itself without changing a route it is not about."""
    mine = {id(route.proxy_pass) for route in chosen}
    return all(id(route.proxy_pass) in mine for route in routes(ctx)
               if effective_directive(ctx, name, route.block) is directive)


def effective_flag_off(ctx, name: str, at):
    """The directive that switches ``name`` off at ``at`` (``proxy_buffering off``), or None."""
    directive = effective_directive(ctx, name, at)
    if directive is not None and directive.args and directive.args[0].lower() == "off":
        return directive
    return None


def maps(ctx) -> dict:
    """``$variable`` -> the ``map`` block defining it."""
    def compute():
        defined = {}
        for block in ctx.all("map"):
            if len(block.args) >= 2:
                defined[block.args[1]] = block
        return defined
    return ctx.cached("maps", compute)


_MAP_PARAMETERS = {"hostnames", "volatile", "include"}


def passthrough_map(ctx, value: str):
    """The ``map`` block when ``value`` is a variable that passes a forwarded header on from the
    client and falls back to nginx's own value when there is none (``map $http_x_forwarded_proto
    $p { default $http_x_forwarded_proto; '' $scheme; }``), or takes nginx's own value unless
    the header holds one of a few constants (``default $scheme; https https;``): a config written
    to sit behind another proxy that sets the header. None otherwise."""
    block = maps(ctx).get(value.strip())
    if block is None or not block.args or not block.args[0].lower().startswith("$http_x_forwarded_"):
        return None
    source = block.args[0].lower()
    entries = dict((d.name, d.args[0]) for d in block.block or () if len(d.args) == 1)
    default, empty = entries.get("default", ""), entries.get("")
    if len(entries) == 2 and default.lower() == source and empty is not None and not empty.lower().startswith("$http_"):
        return block
    # Or nginx's own value by default and constants for the values taken from the proxy
    # (`default $scheme; https https;`).
    constants = [value for key, value in entries.items() if key != "default"]
    if default and not default.lower().startswith("$http_") and constants and not any("$" in v for v in constants):
        return block
    return None


def value_without_header(ctx, value: str) -> str | None:
    """What a header value becomes on an ordinary request (no Upgrade header, say): the value
    itself, or for a ``map`` variable keyed on a request header the ``''`` entry, else its
    default. None when that cannot be known statically (a map on anything else)."""
    block = maps(ctx).get(value.strip())
    if block is None:
        return None if "$" in value else value
    source = block.args[0]
    entries = {d.name: (d.args[0] if d.args else "") for d in block.block or () if d.name not in _MAP_PARAMETERS}
    if re.fullmatch(r"\$http_[a-z0-9_]+", source, re.IGNORECASE):
        if "" in entries:
            return entries[""]
        return entries.get("default", "")
    values = set(entries.values()) or {""}
    return values.pop() if len(values) == 1 else None


def map_values(ctx, variable: str) -> set[str] | None:
    """Every value a ``map`` can give ``variable`` (its entries and its default, "" when it has
    none), when only that map defines it and none of its values holds a variable; else None."""
    block = maps(ctx).get(variable)
    if block is None or any(d.args[:1] == [variable] for d in ctx.all("set")):
        return None
    entries = {d.name: (d.args[0] if d.args else "") for d in block.block or () if d.name not in _MAP_PARAMETERS}
    values = set(entries.values()) | ({""} if "default" not in entries else set())
    return None if any("$" in value for value in values) else values


def servers_of(ctx, target: str) -> tuple[str, ...]:
    """The servers a pass target without variables reaches: its upstream block's, or itself."""
    upstream = upstreams(ctx).get(_host(target))
    return (target,) if upstream is None else upstream_servers(upstream)


def upstream_servers(upstream) -> tuple[str, ...]:
    """The addresses an ``upstream`` block's ``server`` lines name."""
    return tuple(s.args[0] for s in upstream.block or () if s.name == "server" and s.args)


def reuses_connections(ctx, upstream_routes: list[Route]) -> bool:
    """Whether any of these routes can leave a connection in the upstream's pool: it speaks
    HTTP/1.1 and does not send ``Connection: close`` on an ordinary request. A value that cannot
    be known statically counts as reuse."""
    for route in upstream_routes:
        version = ctx.nginx.effective_args("proxy_http_version", route.block)
        if version and version[0] == "1.0":
            continue
        value, _ = ctx.nginx.proxy_headers(route.block).get("connection", ("", None))
        resolved = value_without_header(ctx, value)
        if resolved is None or not says_close(resolved):
            return True
    return False


def says_close(connection: str) -> bool:
    """Whether a Connection header value holds the ``close`` option."""
    return "close" in {token.strip().lower() for token in connection.split(",")}


# ---------------------------------------------------------------------------------------------
# Pairing nginx with the gunicorn app


def parse_address(address: str) -> tuple[str, str, int | None]:
    """("unix", path, None) or ("tcp", host, port) for an nginx server or a gunicorn bind."""
    text = address.strip()
    if text.lower().startswith("unix:"):
        # gunicorn reads what follows the last `unix:` (`unix:unix:/run/app.sock` is /run/app.sock).
        return "unix", _socket_path(re.sub(r"^(?:unix:)+", "", text, flags=re.IGNORECASE)), None
    text = text.removeprefix("tcp://")
    if text.startswith("/"):
        return "unix", _socket_path(text), None
    match = _PORT_RE.match(text)
    if not match:
        return "tcp", text.lower(), None
    host, port = match.group("host").lower(), match.group("port")
    if host.isdigit() and port is None:     # gunicorn's bind "8000"
        return "tcp", "", int(host)
    return "tcp", host, int(port) if port else None


def _socket_path(path: str) -> str:
    """A socket path as the kernel reads it: ``//var/run/app.sock`` (from ``http://unix://var/...``)
    is ``/var/run/app.sock`` on Linux, which normpath keeps as two slashes (POSIX leaves a
    leading ``//`` to the system)."""
    normal = os.path.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def same_server(server: str) -> tuple:
    """What makes two written addresses one server: the socket path, or the port with every
    loopback spelling of the host as one (``127.0.0.1:8000``, ``localhost:8000``)."""
    kind, _, port = parse_address(server)
    return (*_host_identity(server), port if kind == "tcp" else None)


def _host_identity(server: str) -> tuple:
    """What makes two upstream servers the same machine's: the socket path, or the host with
    every loopback spelling as one."""
    kind, host, _ = parse_address(server)
    return (kind, "loopback" if kind == "tcp" and is_loopback(host) else host)


def is_wildcard(host: str) -> bool:
    """A bind host meaning every interface (``0.0.0.0``, ``[::]``, ``*``, none)."""
    return host in _WILDCARD_HOSTS


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serves(bind: str, server: str) -> bool:
    """Whether requests nginx sends to ``server`` reach a gunicorn bound to ``bind``."""
    bind_kind, bind_host, bind_port = parse_address(bind)
    kind, host, port = parse_address(server)
    if kind != bind_kind:
        return False
    if kind == "unix":
        return bind_host == host
    if (port or 80) != (bind_port or 8000):
        return False
    return is_wildcard(bind_host) or bind_host == host or (is_loopback(bind_host) and is_loopback(host))


def uwsgi_passes(ctx, binds: list[str]) -> list:
    """The ``uwsgi_pass`` directives that reach one of ``binds`` (an address, ``uwsgi://``-prefixed
    or not, or an upstream's servers; ``unix:///run/app.sock`` is a unix address, not a URL, so
    route_of's URL reading does not fit it)."""
    return [directive for directive, _, servers in uwsgi_targets(ctx)
            if any(serves(bind, server) for bind in binds for server in servers)]


def uwsgi_targets(ctx) -> list[tuple[object, object, tuple[str, ...]]]:
    """Each ``uwsgi_pass`` with the upstream block it names (or None) and the servers it reaches."""
    found = []
    for directive in ctx.all("uwsgi_pass"):
        target = (directive.args[0] if directive.args else "").removeprefix("uwsgi://")
        if not target or "$" in target or overriding_handler(directive) is not None:
            continue
        upstream = upstreams(ctx).get(target)
        found.append((directive, upstream, upstream_servers(upstream) if upstream else (target,)))
    return found


def app_routes(ctx) -> list[Route]:
    """The routes that reach the paired gunicorn app: those whose servers match one of its
    binds (socket path or port). A gunicorn config describes one app: other upstreams (a Go
    service, a second app) are not judged by it. When the match cannot be made (the bind is
    computed, the upstream is defined in a file not linted) no route is assumed, and a note
    says so."""
    return ctx.cached("app_routes", lambda: _match_app_routes(ctx))


def _match_app_routes(ctx) -> list[Route]:
    static = [r for r in routes(ctx) if not r.is_variable and not external_tls(r)]
    if ctx.app_hosts:
        # The app is a compose service: only routes to its service name reach it, whatever the port.
        static = [r for r in static if any(parse_address(s)[1] in ctx.app_hosts for s in r.servers)]
    if (ctx.gunicorn is None and ctx.app_server is None) or not static:
        return []
    binds = binds_of(ctx)
    label = ctx.gunicorn_label or getattr(ctx.gunicorn, "path", None) or "the app server's config"

    def targets(chosen):
        return ", ".join(dict.fromkeys(r.upstream.args[0] if r.upstream is not None else r.target for r in chosen))

    if binds is None:
        ctx.note(f"{label}: its bind cannot be read without running it, so which of nginx's upstreams "
                 f"reaches the app is unknown; app rules checked none of {targets(static)} (write bind "
                 f"as a constant, or pass --gunicorn-cmd)")
        return []
    matched = [r for r in static if any(serves(b, s) for b in binds for s in r.servers)]
    others = [r for r in static if r not in matched]
    # A wildcard bind (0.0.0.0:8000) says the port, not the host: upstreams on different hosts
    # that use that port may be different apps, and which one this is cannot be told.
    hosts_by_target: dict[str, frozenset] = {}
    for r in matched:
        key = r.upstream.args[0] if r.upstream is not None else r.target
        hosts_by_target[key] = frozenset(_host_identity(s) for s in r.servers if any(serves(b, s) for b in binds))
    if len(set(hosts_by_target.values())) > 1:
        ctx.note(f"{label} binds {', '.join(binds)}, a port that upstreams on different hosts use "
                 f"({targets(matched)}): which of them is this app cannot be told; app rules checked none "
                 f"(bind the app's own address, or pair each app with its nginx file)")
        return []
    through_uwsgi = ", ".join(dict.fromkeys(f"uwsgi_pass {d.args[0]}" for d in uwsgi_passes(ctx, binds)))
    if not matched and not through_uwsgi:
        ctx.note(f"{label} binds {', '.join(binds)}, which no upstream or proxy_pass here reaches; "
                 f"app rules checked none of {targets(static)}")
    elif others:
        one = "," not in targets(others)
        ctx.note(f"{label} (bind {', '.join(binds)}) is reached through {targets(matched) or through_uwsgi}; "
                 f"{targets(others)} {'leads' if one else 'lead'} elsewhere and {'is' if one else 'are'} "
                 f"not judged by its rules")
    return matched


def binds_of(ctx) -> list[str] | None:
    """The app's binds as strings, or None when unknown."""
    from confgen.gunicorn.reader import UNKNOWN

    if ctx.gunicorn is None and ctx.app_server is not None:
        return list(ctx.app_server.binds) or None
    binds = ctx.gunicorn.binds if ctx.gunicorn is not None else UNKNOWN
    if binds is UNKNOWN or binds is None:
        return None
    if isinstance(binds, str):
        binds = [binds]
    if any(b is UNKNOWN or not isinstance(b, str) for b in binds):
        return None
    return list(binds)


def reaches_app(ctx, some_routes: list[Route]) -> bool:
    """Whether any of these routes reaches the paired app (none does without one)."""
    app = ctx.cached("app_route_ids", lambda: {id(r.proxy_pass) for r in app_routes(ctx)})
    return any(id(r.proxy_pass) in app for r in some_routes)


_DJANGO_APP_RE = re.compile(r"^[\w.]+\.[aw]sgi(:application)?$")


def app_is_django(ctx) -> bool:
    """Whether the paired app is a Django project, by its entry point: ``project.wsgi``
    (``:application``, Django's name; gunicorn's default callable) or ``.asgi``, or a
    ``DJANGO_SETTINGS_MODULE`` in its settings or environment."""
    def compute() -> bool:
        if ctx.gunicorn is not None:
            raw_env = ctx.gunicorn.get("raw_env")
            if isinstance(raw_env, (list, tuple)) and any("DJANGO_SETTINGS_MODULE" in str(e) for e in raw_env):
                return True
        server = ctx.app_server
        if server is not None and any("DJANGO_SETTINGS_MODULE" in str(v.value) for v in server.settings.values()):
            return True
        return django_entry(ctx) is not None
    return ctx.cached("app_is_django", compute)


def django_entry(ctx) -> str | None:
    """The app's entry point when it names a Django project's wsgi or asgi module (startproject
    writes project/wsgi.py with ``application``), else None."""
    entries: list[str] = []
    if ctx.gunicorn is not None:
        entries += [e for e in (ctx.gunicorn.app, ctx.gunicorn.get("wsgi_app")) if isinstance(e, str)]
    server = ctx.app_server
    if server is not None:
        for key in ("module", "wsgi", "wsgi-file", "app"):
            value = server.settings.get(key)
            if value is not None and isinstance(value.value, str):
                entries.append(value.value)
    return next((entry.strip() for entry in entries
                 if _DJANGO_APP_RE.match(entry.strip()) and "." in entry.split(":")[0]), None)


def app_upstreams(ctx) -> list[tuple[object, list[Route]]]:
    """Upstream blocks on the app's routes, with those routes."""
    result = []
    for upstream, upstream_routes in used_upstreams(ctx):
        mine = [r for r in upstream_routes if reaches_app(ctx, [r])]
        if mine:
            result.append((upstream, mine))
    return result


def app_setting(ctx, name: str):
    """(value, Setting) of a gunicorn setting; value None when it cannot be known statically."""
    from confgen.gunicorn.reader import UNKNOWN

    setting = ctx.gunicorn.setting(name)
    value = setting.value
    return (None if value is UNKNOWN else value), setting


def app_number(ctx, name: str) -> tuple[float | None, object]:
    value, setting = app_setting(ctx, name)
    if isinstance(value, bool) or value is None:
        return None, setting
    try:
        return float(value), setting
    except (TypeError, ValueError):
        return None, setting


def describe_setting(ctx, setting, value=None) -> str:
    """``keepalive = 2 (gunicorn's default)`` / ``timeout = 60 (app/gunicorn.conf.py:7)``."""
    shown = setting.value if value is None else value
    if isinstance(shown, float) and shown.is_integer():
        shown = int(shown)
    if setting.source == "default":
        where = "gunicorn's default"
    elif setting.source == "cli":
        # The command line of a unit, Procfile or compose file it was read from, else --gunicorn-cmd.
        command = getattr(ctx.gunicorn, "command", None)
        where = command.label if command is not None else "--gunicorn-cmd"
    else:
        where = f"{setting.file or ctx.gunicorn_label}:{setting.line}" if setting.line else (setting.file or "gunicorn config")
    note = f"; {setting.note}" if getattr(setting, "note", None) else ""
    return f"{setting.name} = {shown!r} ({where}{note})"


def worker_class(ctx) -> str | None:
    from confgen.gunicorn.reader import UNKNOWN

    value = ctx.gunicorn.worker_class
    return None if value is UNKNOWN else value


def uvicorn_worker(ctx) -> bool:
    """Whether the paired gunicorn runs uvicorn's worker (``uvicorn_worker.UvicornWorker``, the
    older ``uvicorn.workers.UvicornWorker``)."""
    return ctx.gunicorn is not None and "uvicorn" in (worker_class(ctx) or "").lower()


def app_anchor(ctx, setting, fallback):
    """Point at the gunicorn line that set ``setting`` when there is one, else at ``fallback``
    (an nginx directive), so the finding lands where the fix is."""
    if setting is not None and setting.source == "file" and setting.line:
        return (setting.file or ctx.gunicorn.path, setting.line)
    return fallback


def is_ip(text: str) -> bool:
    """An IPv4 or IPv6 literal (brackets allowed), as opposed to a host name."""
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


def only_trusted_peers(ctx, block) -> bool:
    """Whether the allow/deny list in force at ``block`` lets only the peers it names in: judged
    in order (nginx applies the first rule that matches), every address family the server
    accepts reaches a ``deny`` of the whole family (``deny all``) before any allow of it."""
    rules = ctx.nginx.access_rules(block)
    return bool(rules) and not open_families(rules, accepted_families(ctx, block, rules))


# nginx's access module keeps one list per address family (IPv4, IPv6, unix sockets); ``all``
# goes in each. A client is judged by its family's list, first match wins, and an address no
# rule matches is allowed (ngx_http_access_module.c). An IPv4-mapped IPv6 client is judged as IPv4.
FAMILIES = ("IPv4", "IPv6", "unix")


def access_scope(directive) -> tuple[str | None, bool]:
    """(family, whole): the address family an ``allow``/``deny`` applies to (None for ``all``:
    every family) and whether it matches every address of it (``all``, ``0.0.0.0/0``, ``::/0``,
    ``unix:``). ("?", False) for what is not an address."""
    arg = directive.args[0] if directive.args else ""
    if arg == "all":
        return None, True
    if arg == "unix:":
        return "unix", True
    try:
        network = ipaddress.ip_network(arg, strict=False)
    except ValueError:
        return "?", False
    return ("IPv4" if network.version == 4 else "IPv6"), network.prefixlen == 0


def family_verdict(rules, family: str):
    """The rule that decides for every address of ``family`` no earlier rule matched: the first
    ``all`` or whole-family rule in order, or None (nginx then allows them)."""
    for rule_ in rules:
        scope, whole = access_scope(rule_)
        if whole and scope in (None, family):
            return rule_
    return None


def open_families(rules, families) -> list[tuple[str, object]]:
    """(family, the allow that opens it or None) for each of ``families`` whose every address
    the list lets in but the ones it denies by name."""
    found = []
    for family in families:
        verdict = family_verdict(rules, family)
        if verdict is None or verdict.name == "allow":
            found.append((family, verdict))
    return found


def accepted_families(ctx, block, rules=()) -> list[str]:
    """The IP address families of the clients ``block`` can see: those of its server's listens
    (no listen: *:80, IPv4; ``[...]`` is IPv6, and IPv4 too with ``ipv6only=off``), of every
    server below it when it is outside one, and IPv6 when its allow/deny list names an IPv6
    network. Unix-socket clients are local processes (as private_listeners counts them) and not
    judged."""
    server = block if block.name == "server" else block.enclosing("server")
    servers = [server] if server is not None else [s for s in block.walk() if s.name == "server" and s.is_block]
    found: set[str] = set() if servers else {"IPv4"}
    for each in servers:
        listens = [listen for listen in ctx.nginx.listens(each) if not listen.is_unix]
        if not ctx.nginx.listens(each):
            found.add("IPv4")
        for listen in listens:
            if listen.address and listen.address.startswith("["):
                found.add("IPv6")
                if "ipv6only=off" in listen.parameters:
                    found.add("IPv4")
            else:
                found.add("IPv4")
    if any(scope == "IPv6" for scope, _ in map(access_scope, rules)):
        found.add("IPv6")   # the list expects IPv6 clients (through realip, or another listener)
    return [family for family in FAMILIES if family in found]


def access_restricted(ctx, block) -> bool:
    """Whether a request in ``block`` must pass a check before nginx answers it: an allow/deny
    list that closes every family (only_trusted_peers), ``auth_basic`` with a user file
    (without ``auth_basic_user_file`` nginx asks for nothing), or ``auth_request``. With
    ``satisfy any`` one check passing is enough: an allow of every address of a family then lets
    everyone in, whatever else is set (an address the list does not name goes on to the other
    checks). Checked on nginx 1.22.1 in tests/test_rules_edges_security.py."""
    rules = ctx.nginx.access_rules(block)
    families = accepted_families(ctx, block, rules)
    acl_closed = bool(rules) and not open_families(rules, families)
    basic = ctx.nginx.effective("auth_basic", block)
    login = bool(basic) and basic[-1].args[:1] != ["off"] and bool(ctx.nginx.effective("auth_basic_user_file", block))
    subrequest = ctx.nginx.effective("auth_request", block)
    login = login or (bool(subrequest) and subrequest[-1].args[:1] != ["off"])
    if (ctx.nginx.effective_args("satisfy", block) or ["all"])[:1] == ["any"]:
        if any(family_verdict(rules, family) is not None and family_verdict(rules, family).name == "allow"
               for family in families):
            return False
    return acl_closed or login


def private_listeners(server) -> bool:
    """Whether every ``listen`` of ``server`` is on a loopback or private address (or a unix
    socket): nobody on the internet reaches it directly."""
    listens = [d for d in server.find("listen") if d.args] if server is not None else []
    return bool(listens) and all(_private_address(d.args[0]) for d in listens)


def _private_address(address: str) -> bool:
    if address.startswith("unix:"):
        return True
    host = address.rsplit(":", 1)[0] if not address.isdigit() else ""
    if address.startswith("[") and "]" in address:
        host = address[1:address.index("]")]
    if host in ("", "*"):
        return False
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not ip.is_unspecified and (ip.is_loopback or ip.is_private)
