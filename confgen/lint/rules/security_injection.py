"""Request data flowing where it can do harm (CG61x): upstream addresses built from the request
(SSRF), CR/LF reaching headers (splitting), a spoofable Host, and captures that do not exist."""

from __future__ import annotations

import re
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules.security_common import (
    DECODED_VARIABLES,
    UPSTREAM_PASS,
    NginxRegex,
    can_match_char,
    capture_groups,
    client_controlled,
    in_http,
    regexes,
    split_path,
    variables,
)

_REDIRECT_CODES = {"301", "302", "303", "307", "308"}
_REWRITE_MODULE = {"rewrite", "set", "if", "return", "break"}
# Directives whose $1 is not a regex capture of the request (Lua code, log formats, tables).
_NOT_CAPTURES = {"log_format", "js_set", "perl_set", "map", "geo", "split_clients", "types"}


# ---------------------------------------------------------------------------------------------
# Where a directive's $1 comes from


def capture_source(ctx, directive) -> NginxRegex | None:
    """The regex whose captures ``$1``... mean inside ``directive``: its own (rewrite, a map
    entry), the enclosing ``if``, a rewrite of the same block that runs before it, the enclosing
    regex location, else a regex ``server_name``. None when no regex is in scope."""
    by_directive = ctx.cached("security:regex_by_directive", lambda: {id(r.directive): r for r in regexes(ctx)})
    own = by_directive.get(id(directive))
    if own is not None and (directive.name == "rewrite" or (directive.parent and directive.parent.name == "map")):
        return own
    level, child = directive.parent, directive
    while level is not None:
        siblings = level.block or []
        if directive.name in _REWRITE_MODULE:
            # The rewrite module runs in order: only rewrites written before this directive.
            earlier = siblings[:next((i for i, s in enumerate(siblings) if s is child), len(siblings))]
        else:
            earlier = siblings    # content handlers run after every rewrite of the block
        for sibling in reversed(earlier):
            if sibling.name == "rewrite" and id(sibling) in by_directive:
                return by_directive[id(sibling)]
        if id(level) in by_directive and level.name in ("if", "location"):
            return by_directive[id(level)]
        if level.name == "server":
            names = [by_directive[id(d)] for d in level.find("server_name") if id(d) in by_directive]
            return names[0] if names else None
        child, level = level, level.parent
    return None


def _capture_args(directive) -> list[tuple[int, str]]:
    """(index, arg) of the arguments whose ``$N`` refer to captures (a rewrite's and an if's
    regex is not a use of captures; a map entry's value is)."""
    if directive.name == "rewrite":
        return [(1, directive.args[1])] if len(directive.args) > 1 else []
    if directive.name == "if":
        return [(0, directive.args[0])] if directive.args else []
    if directive.name == "location" or directive.name == "server_name":
        return []
    return list(enumerate(directive.args))


@rule(code="CG614", name="invalid-capture-reference", severity="warning")
def invalid_capture_reference(ctx: LintContext) -> Iterator[Finding]:
    """``$N`` refers to a capture group the regex in scope does not have.

    nginx substitutes an empty string for a missing capture, silently: a redirect to
    ``https://$host/$2`` built on a one-group regex sends everyone to the front page, a
    ``proxy_pass`` loses its path. Named groups count too (PCRE numbers them with the others).

    Bad:
        server {
            location ~ ^/user/(\\d+)$ {
                return 301 /profile/$2;
            }
        }

    Good:
        server {
            location ~ ^/user/(\\d+)$ {
                return 301 /profile/$1;
            }
        }
    """
    for directive in ctx.nginx.walk():
        if directive.name in _NOT_CAPTURES or directive.name.endswith("_by_lua_block"):
            continue
        used = [(index, var) for index, arg in _capture_args(directive) if "$" in arg
                for var in variables(arg) if var.is_capture]
        if not used:
            continue
        in_map = directive.parent is not None and directive.parent.name == "map"
        if not (in_map or in_http(directive)):
            continue
        source = capture_source(ctx, directive)
        highest = max(int(var.name) for _, var in used)
        if source is None:
            yield ctx.finding(directive, f"${highest} is used but no regex in scope captures anything: it is "
                                         f"always empty here")
            continue
        groups = source.groups
        if groups is not None and highest > groups:
            where = f"{source.directive.name} at {source.directive.file}:{source.directive.line}"
            yield ctx.finding(directive, f"${highest} is used but the regex in scope ({source.pattern!r}, {where}) "
                                         f"has {groups} capture group{'s' if groups != 1 else ''}: ${highest} is "
                                         f"always empty")


# ---------------------------------------------------------------------------------------------
# SSRF


def _host_part(directive) -> str | None:
    """The part of an upstream address that picks the server: a proxy_pass URL's scheme and
    host, or the whole address of fastcgi_pass and friends."""
    if not directive.args:
        return None
    address = directive.args[0]
    if directive.name in ("proxy_pass", "grpc_pass"):
        scheme, sep, rest = address.partition("://")
        if not sep:
            return address     # "proxy_pass $target;": the whole URL is the variable
        return scheme + "://" + split_path(rest)[0]
    return address


def _tainted(ctx, name: str, seen: frozenset = frozenset()) -> str | None:
    """Why variable ``name`` carries request data (the request variable it comes from), or None.
    Follows ``set`` and ``map`` one definition at a time."""
    if client_controlled(name):
        return f"${name}"
    if name in seen:
        return None
    seen = seen | {name}
    for directive in ctx.all("set"):
        if len(directive.args) >= 2 and directive.args[0].lstrip("$").lower() == name:
            for var in variables(directive.args[1]):
                why = _tainted(ctx, var.name, seen) if not var.is_capture else None
                if why:
                    return why
    for block in ctx.all("map"):
        if len(block.args) >= 2 and block.args[1].lstrip("$").lower() == name:
            source = block.args[0]
            for entry in block.block or ():
                for value in entry.args[:1]:
                    for var in variables(value):
                        if var.is_capture and any(client_controlled(v.name) for v in variables(source)):
                            return f"a capture of {source}"
                        if not var.is_capture and (why := _tainted(ctx, var.name, seen)):
                            return why
    return None


def _capture_is_free(ctx, directive, number: int) -> bool:
    """Whether capture ``$number`` can hold any host name (not just a fixed list of words)."""
    source = capture_source(ctx, directive)
    if source is None or source.tree is None:
        return False
    group = capture_groups(source.tree).get(number)
    return group is not None and (can_match_char(group, ".") or can_match_char(group, ":"))


@rule(code="CG611", name="ssrf", severity="error")
def ssrf(ctx: LintContext) -> Iterator[Finding]:
    """The upstream address is built from request data (server-side request forgery).

    When the host of ``proxy_pass`` (or ``fastcgi_pass``, ``uwsgi_pass``, ``scgi_pass``,
    ``grpc_pass``) comes from ``$arg_*``, ``$http_*``, ``$cookie_*``, ``$host``, the URI or a
    regex capture of it, any client can make nginx connect to internal services, cloud metadata
    endpoints or the app's admin port, with nginx's network position. Map request values to a
    fixed list of upstreams instead. ``internal`` locations, reachable only through the app's
    ``X-Accel-Redirect``, are not reported.

    Bad:
        server {
            location ~ ^/fetch/([^/]+)/(.*)$ {
                proxy_pass http://$1/$2;
            }
        }

    Good:
        map $arg_region $region_backend {
            default eu.internal;
            us us.internal;
        }
        server {
            location /fetch/ {
                resolver 10.0.0.2;
                proxy_pass http://$region_backend;
            }
        }
    """
    for name in UPSTREAM_PASS:
        for directive in ctx.all(name):
            host = _host_part(directive)
            if not host or "$" not in host or not in_http(directive):
                continue
            block = directive.parent
            if block is not None and any(level.find("internal") for level in [block, *block.ancestors()]
                                         if level.name == "location"):
                continue
            for var in variables(host):
                why = (f"capture ${var.name} of the request URI" if var.is_capture and _capture_is_free(ctx, directive, int(var.name))
                       else None if var.is_capture else _tainted(ctx, var.name))
                if why:
                    yield ctx.finding(directive, f"{name} picks its server from request data ({why}): any client "
                                                 f"can make nginx connect to internal addresses; map the request "
                                                 f"value to a fixed set of upstreams")
                    break


# ---------------------------------------------------------------------------------------------
# HTTP splitting


def _splitting_sinks(directive) -> list[str]:
    """The arguments of ``directive`` that end up in a header or the request line."""
    name, args = directive.name, directive.args
    if name in ("add_header", "add_trailer", "proxy_set_header", "grpc_set_header") and len(args) >= 2:
        return [args[1]]
    if name == "more_set_headers":
        return list(args)
    if name == "return" and args:
        if len(args) >= 2 and args[0] in _REDIRECT_CODES:
            return [args[1]]
        if len(args) == 1 and not args[0].isdigit():
            return [args[0]]
    if name == "rewrite" and len(args) >= 2:
        flag = args[2] if len(args) > 2 else ""
        if flag in ("redirect", "permanent") or re.match(r"^(https?://|\$scheme)", args[1]):
            return [args[1]]
    if name == "proxy_pass" and args:
        # The host (it becomes the Host header, $proxy_host) and the path (the request line).
        _, sep, rest = args[0].partition("://")
        return [rest] if sep else []
    return []


@rule(code="CG612", name="http-splitting", severity="error")
def http_splitting(ctx: LintContext) -> Iterator[Finding]:
    """A value that can hold CR/LF from the request reaches a header or the upstream request line.

    ``$uri`` and ``$document_uri`` are *decoded*: ``%0d%0a`` in the request becomes a real line
    break, and so does a regex capture of the URI whose group can match a newline (``[^/]*``;
    ``.`` cannot). Put into ``add_header``, a redirect ``Location``, ``proxy_set_header`` or a
    ``proxy_pass`` path, it lets a client write headers of its own (cookies, redirects, cache
    poisoning). Use ``$request_uri`` (never decoded) or a capture that excludes line breaks.

    Bad:
        server {
            location ~ ^/go/([^/]+)$ {
                return 302 https://example.com/$1;
            }
        }

    Good:
        server {
            location ~ ^/go/(.+)$ {
                return 302 https://example.com/$1;
            }
        }
    """
    for directive in ctx.nginx.walk():
        sinks = _splitting_sinks(directive)
        if not sinks or not in_http(directive):
            continue
        for value in sinks:
            reason = _line_break_source(ctx, directive, value)
            if reason:
                yield ctx.finding(directive, f"{reason} can hold a decoded CR/LF and reaches {directive.name} here: "
                                             f"a client can inject its own header lines; use $request_uri or a "
                                             f"capture that excludes line breaks")
                break


def _line_break_source(ctx, directive, value: str) -> str | None:
    for var in variables(value):
        if not var.is_capture and var.name in DECODED_VARIABLES:
            return f"${var.name}"
        if var.is_capture:
            source = capture_source(ctx, directive)
            if source is None or source.subject not in ("uri", "document_uri") or source.tree is None:
                continue
            group = capture_groups(source.tree).get(int(var.name))
            if group is not None and can_match_char(group, "\n"):
                return f"${var.name} (captured by {source.pattern!r} from the decoded URI)"
    return None


# ---------------------------------------------------------------------------------------------
# Host spoofing


_SPOOFABLE_HOST_RE = re.compile(r"\$(\{)?(http_host|http_x_forwarded_host|arg_\w+)\b", re.IGNORECASE)


@rule(code="CG613", name="host-spoofing", severity="warning")
def host_spoofing(ctx: LintContext) -> Iterator[Finding]:
    """``proxy_set_header Host $http_host`` passes whatever Host the client sent.

    ``$http_host`` (or ``$arg_*``, ``$http_x_forwarded_host``) is the raw client value, even
    one no ``server_name`` matched (the default server answers it): the app then builds
    password-reset links and absolute URLs on an attacker's domain. ``$host`` is the name nginx
    actually matched, lower-cased and without a port.

    Bad:
        server {
            location / {
                proxy_set_header Host $http_host;
                proxy_pass http://127.0.0.1:8000;
            }
        }

    Good:
        server {
            location / {
                proxy_set_header Host $host;
                proxy_pass http://127.0.0.1:8000;
            }
        }
    """
    reported: set[int] = set()
    for directive in ctx.all("proxy_pass"):
        if directive.parent is None or not in_http(directive):
            continue
        value, setter = ctx.nginx.proxy_headers(directive.parent).get("host", ("", None))
        match = _SPOOFABLE_HOST_RE.search(value)
        if setter is None or not match or id(setter) in reported:
            continue
        reported.add(id(setter))
        yield ctx.finding(setter, f"Host is sent as ${match.group(2)}, the raw value the client chose: the app "
                                  f"builds links on any domain an attacker names; use $host")
