"""What several rule families derive from the nginx model: where each ``proxy_pass`` goes, which
upstreams pool connections, which routes lead to the paired gunicorn app, and the value a
``map``-defined variable takes on an ordinary request. Computed once per lint (``ctx.cached``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass

from confgen.units import parse_size, parse_time

# nginx 1.29.7: upstream blocks keep 32 idle connections ("keepalive 32 local") by default,
# proxy_http_version defaults to 1.1 and no "Connection: close" is sent.
KEEPALIVE_BY_DEFAULT = (1, 29, 7)
# The upstream-context timers; they are separate directives from the client-side
# keepalive_timeout/keepalive_requests of the same name and never inherit from http.
UPSTREAM_KEEPALIVE_TIMEOUT_S = 60.0

_URL_RE = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<rest>.*)$", re.IGNORECASE)
_PORT_RE = re.compile(r"^(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>\d+))?$")
_WILDCARD_HOSTS = {"", "*", "0.0.0.0", "[::]", "::"}


@dataclass(frozen=True)
class Route:
    """One ``proxy_pass``: the block it serves and where it sends requests."""

    proxy_pass: object          # the Directive
    block: object               # its enclosing location / if / limit_except
    target: str                 # host[:port] or unix:/path, as written
    upstream: object | None     # the upstream block it names, if any
    servers: tuple[str, ...]    # the addresses requests reach
    is_variable: bool           # the target is computed at run time ($var): unknowable statically


def routes(ctx) -> list[Route]:
    return ctx.cached("routes", lambda: [r for d in ctx.all("proxy_pass") if (r := _route(ctx, d))])


def _route(ctx, directive) -> Route | None:
    if not directive.args:
        return None
    url = directive.args[0]
    match = _URL_RE.match(url)
    rest = match.group("rest") if match else url
    if rest.lower().startswith("unix:"):
        target = "unix:" + rest[5:].split(":", 1)[0]
    else:
        target = rest.split("/", 1)[0].split("?", 1)[0]
    if "$" in target:
        return Route(directive, directive.parent, target, None, (), True)
    upstream = upstreams(ctx).get(_host(target))
    if upstream is not None:
        servers = tuple(s.args[0] for s in upstream.block or () if s.name == "server" and s.args)
    else:
        servers = (target,)
    return Route(directive, directive.parent, target, upstream, servers, False)


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


# ---------------------------------------------------------------------------------------------
# Pairing nginx with the gunicorn app


def parse_address(address: str) -> tuple[str, str, int | None]:
    """("unix", path, None) or ("tcp", host, port) for an nginx server or a gunicorn bind."""
    text = address.strip()
    if text.lower().startswith("unix:"):
        return "unix", os.path.normpath(text[5:]), None
    if text.startswith("/"):
        return "unix", os.path.normpath(text), None
    match = _PORT_RE.match(text)
    if not match:
        return "tcp", text.lower(), None
    host, port = match.group("host").lower(), match.group("port")
    if host.isdigit() and port is None:     # gunicorn's bind "8000"
        return "tcp", "", int(host)
    return "tcp", host, int(port) if port else None


def _loopback(host: str) -> bool:
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
    return bind_host in _WILDCARD_HOSTS or bind_host == host or (_loopback(bind_host) and _loopback(host))


def app_routes(ctx) -> list[Route]:
    """The routes that reach the paired gunicorn app: those whose servers match one of its
    binds; when none does (binds unknown, or a name nginx resolves that we cannot), every
    static route, since the user paired this app with this nginx config."""
    def compute():
        static = [r for r in routes(ctx) if not r.is_variable]
        binds = binds_of(ctx)
        if binds:
            matched = [r for r in static if any(serves(b, s) for b in binds for s in r.servers)]
            if matched:
                return matched
        return static
    return ctx.cached("app_routes", compute)


def binds_of(ctx) -> list[str] | None:
    """The app's binds as strings, or None when unknown."""
    from confgen.gunicorn.reader import UNKNOWN

    binds = ctx.gunicorn.binds if ctx.gunicorn is not None else UNKNOWN
    if binds is UNKNOWN or binds is None:
        return None
    if isinstance(binds, str):
        binds = [binds]
    if any(b is UNKNOWN or not isinstance(b, str) for b in binds):
        return None
    return list(binds)


def app_upstreams(ctx) -> list[tuple[object, list[Route]]]:
    """Upstream blocks on the app's routes, with those routes."""
    app = {id(r.proxy_pass) for r in app_routes(ctx)}
    result = []
    for upstream, upstream_routes in used_upstreams(ctx):
        mine = [r for r in upstream_routes if id(r.proxy_pass) in app]
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
        where = "--gunicorn-cmd"
    else:
        where = f"{setting.file or ctx.gunicorn_label}:{setting.line}" if setting.line else (setting.file or "gunicorn config")
    note = f"; {setting.note}" if getattr(setting, "note", None) else ""
    return f"{setting.name} = {shown!r} ({where}{note})"


def worker_class(ctx) -> str | None:
    from confgen.gunicorn.reader import UNKNOWN

    value = ctx.gunicorn.worker_class
    return None if value is UNKNOWN else value


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
    """Whether the allow/deny list in force at ``block`` ends in ``deny all``: only the peers
    it allows can connect."""
    rules = ctx.nginx.access_rules(block)
    return bool(rules) and rules[-1].name == "deny" and rules[-1].args[:1] == ["all"]


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
