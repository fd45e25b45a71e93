"""Request data flowing where it can do harm (CG61x): upstream addresses built from the request
(SSRF), CR/LF reaching headers (splitting), a spoofable Host, and captures that do not exist."""

from __future__ import annotations

import re
from typing import Iterator

from confgen.lint.containers import unreached_container
from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import (app_is_django, reaches_app, route_of, routes, self_proxied, uvicorn_worker,
                                      websocket_only)
from confgen.lint.rules.security_common import (
    REDIRECT_CODES,
    UPSTREAM_PASS,
    defaults_of,
    forward_proxy,
    header_values,
    http_servers,
    in_http,
    internal_only,
    variable_model,
)
from confgen.nginx.variables import Source, host_segments, references

_CAPTURE_MARK = re.compile(r"\$[1-9]")
# Directives whose $1 is not a regex capture of the request (Lua code, log formats, tables).
_NOT_CAPTURES = {"log_format", "js_set", "perl_set", "map", "geo", "split_clients", "types"}


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
    In a named location (``location @app``) the captures are those of the location the request
    came from (``try_files``, ``error_page``), so only a regex inside it is checked there.

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

    References:
        https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#rewrite
        https://nginx.org/en/docs/http/ngx_http_core_module.html#location
    """
    # One cause, one finding: the same line written in several locations of a server (two
    # `return 301 /packages$1;` with no regex) is reported at the first, naming the others.
    alike: dict[tuple, list] = {}
    for directive in ctx.nginx.walk():
        if not any(_CAPTURE_MARK.search(arg) for arg in directive.args):
            continue    # most directives: no $1..$9 anywhere
        if directive.name in _NOT_CAPTURES or directive.name.endswith("_by_lua_block"):
            continue
        used = [(index, ref) for index, arg in _capture_args(directive) if "$" in arg
                for ref in references(arg) if ref.is_capture]
        if not used:
            continue
        in_map = directive.parent is not None and directive.parent.name == "map"
        if not (in_map or in_http(directive)):
            continue
        source = variable_model(ctx).regex_in_scope(directive)
        if _captured_before_the_jump(directive, source):
            continue
        highest = max(int(ref.name) for _, ref in used)
        if source is None:
            key = (id(directive.enclosing("server")), directive.name, tuple(directive.args))
            alike.setdefault(key, []).append((directive, highest))
            continue
        groups = source.groups
        if groups is not None and highest > groups:
            where = f"{source.directive.name} at {source.directive.file}:{source.directive.line}"
            yield ctx.finding(directive, f"${highest} is used but the regex in scope ({source.pattern!r}, {where}) "
                                         f"has {groups} capture group{'s' if groups != 1 else ''}: ${highest} is "
                                         f"always empty")
    for places in alike.values():
        (directive, highest), more = places[0], len(places) - 1
        also = f" (and {more} more place{'s' if more > 1 else ''} in this server)" if more else ""
        yield ctx.finding(directive, f"${highest} is used but no regex in scope captures anything{also}: it is "
                                     f"always empty here")


def _captured_before_the_jump(directive, source) -> bool:
    """Whether ``$N`` in a named location (``location @app``) mean the captures of the location
    the request came from: ``try_files ... @app`` and ``error_page ... @app`` keep them (checked
    on nginx 1.22.1: ``$1`` of ``location ~ ^/~(.+?)/`` is set in ``@app``). Unless a regex
    inside the named location ran since, what they hold is not known here."""
    named = next((level for level in directive.ancestors()
                  if level.name == "location" and level.args[:1] and level.args[0].startswith("@")), None)
    if named is None:
        return False
    return source is None or not any(level is named for level in source.directive.ancestors())


# ---------------------------------------------------------------------------------------------
# SSRF


def _request_chosen_scheme(ctx, directive) -> Source | None:
    """A source the client controls in the scheme of a ``proxy_pass`` URL
    (``$http_x_scheme://backend``), or None."""
    if directive.name != "proxy_pass" or not directive.args or "://" not in directive.args[0]:
        return None
    scheme = directive.args[0].split("://", 1)[0]
    if "$" not in scheme:
        return None
    return next((s for s in variable_model(ctx).sources(scheme, directive) if s.controlled), None)


def _request_chosen_hosts(ctx, directive) -> list[Source]:
    """The sources a client controls that can spell any host in the server part of an upstream
    address (a proxy_pass URL's host, or fastcgi_pass's whole ``address:port``)."""
    if not directive.args or "$" not in directive.args[0]:
        return []
    model = variable_model(ctx)
    found: dict[Source, None] = {}
    for host in model.host_alternatives(directive.args[0], directive):
        for segment in host:
            if isinstance(segment, Source) and segment.controlled and segment.any_host:
                found.setdefault(segment)
    return list(found)


@rule(code="CG611", name="ssrf", severity="error")
def ssrf(ctx: LintContext) -> Iterator[Finding]:
    """The upstream address is built from request data (server-side request forgery).

    When the host of ``proxy_pass`` (or ``fastcgi_pass``, ``uwsgi_pass``, ``scgi_pass``,
    ``grpc_pass``) comes from ``$arg_*``, ``$http_*``, ``$cookie_*``, ``$host``, or a regex
    capture of the URI (numbered or named, through ``set`` chains and ``map`` outputs), any
    client can make nginx connect to internal services, cloud metadata endpoints or the app's
    admin port, with nginx's network position. Position counts: in
    ``http://backend$request_uri`` the host is the constant ``backend``. Map request values to
    a fixed list of upstreams instead. ``internal`` locations, reachable only through the
    app's ``X-Accel-Redirect``, are not reported, nor (a note instead) a location behind
    ``auth_request``, whose endpoint decides which requests go through (and so must check the
    address: confgen cannot see it). A scheme taken from request data
    (``proxy_pass $http_x_scheme://backend``) lets the client switch nginx between http and
    https to the upstream: a warning. A ``proxy_pass`` that takes the whole URL from the request
    (``$1$2$3`` with ``$1`` from ``(https?://)``) is a forward proxy, and is named so: if that is
    its purpose, only the clients that need it may connect; in a container whose port no compose
    service of it publishes (only the deployment's own containers reach it), a note instead.

    Bad:
        server {
            location ~ /proxy/(?P<target>.*)$ {
                resolver 127.0.0.53;
                proxy_pass $target;
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

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
        https://github.com/yandex/gixy/blob/master/docs/en/plugins/ssrf.md
    """
    for name in UPSTREAM_PASS:
        for directive in ctx.all(name):
            if not in_http(directive) or internal_only(directive):
                continue
            chosen = _request_chosen_hosts(ctx, directive)
            if chosen and _behind_auth_request(ctx, directive):
                ctx.note(f"{directive.file}:{directive.line}: {name} picks its server from request data "
                         f"({chosen[0].describe()}), but only for requests auth_request lets through: not reported; "
                         f"the auth endpoint must check the address (confgen cannot see what it checks)")
                continue
            if chosen and forward_proxy(ctx, directive):
                server = directive.enclosing("server")
                unreached = unreached_container(ctx, server) if server is not None else None
                if unreached is not None:
                    ctx.note(f"{directive.file}:{directive.line}: {name} takes the whole URL from the request, a "
                             f"forward proxy, in a container {unreached}: only the deployment's own containers "
                             f"reach it, so not reported; wherever clients reach it, it fetches any URL for them")
                    continue
                yield ctx.finding(directive, f"{name} takes the whole URL from the request ({chosen[0].describe()}): "
                                             f"an open forward proxy, through which any client makes nginx fetch any "
                                             f"URL, internal addresses included; if that is its purpose, let only "
                                             f"the clients that need it connect (allow ...; deny all;), else map the "
                                             f"request value to a fixed set of upstreams")
                continue
            if chosen:
                yield ctx.finding(directive, f"{name} picks its server from request data ({chosen[0].describe()}): "
                                             f"any client can make nginx connect to internal addresses; map the "
                                             f"request value to a fixed set of upstreams")
                continue
            scheme = _request_chosen_scheme(ctx, directive)
            if scheme is not None:
                yield ctx.finding(directive, f"{name} takes its scheme from request data ({scheme.describe()}): any "
                                             f"client chooses whether nginx speaks http or https to the upstream; "
                                             f"write the scheme, or map the value to a fixed one",
                                  severity="warning")


def _behind_auth_request(ctx, directive) -> bool:
    """Whether ``directive`` acts only on requests an ``auth_request`` subrequest allowed: one in
    force where it stands (not ``off``), with no ``satisfy any`` that lets another access check
    alone admit a request. auth_request runs in the access phase: after ``rewrite`` and
    ``return``, before the content handler (proxy_pass) builds the upstream request."""
    at = directive.parent
    gate = ctx.nginx.effective_args("auth_request", at)
    satisfy = ctx.nginx.effective_args("satisfy", at) or ["all"]
    return bool(gate) and gate[0] != "off" and satisfy[0] != "any"


def _gated_sink(directive) -> bool:
    """Sinks that act only after the access phase: the upstream request (proxy_pass and the
    headers it sends), and add_header without ``always`` (which a refusal's 401/403 does not
    carry). ``return`` and ``rewrite`` run before the access phase."""
    if directive.name in ("proxy_pass", "proxy_set_header", "grpc_set_header"):
        return True
    return directive.name in ("add_header", "add_trailer") and directive.args[-1:] != ["always"]


# ---------------------------------------------------------------------------------------------
# HTTP splitting


_SINKS = ("add_header", "add_trailer", "proxy_set_header", "grpc_set_header", "more_set_headers", "return",
          "rewrite", "proxy_pass")
# Sinks that end up in the request to the app, whose HTTP parser ends a line only at a line feed.
_UPSTREAM_SINKS = ("proxy_pass", "proxy_set_header")


def _splitting_sinks(directive) -> list[tuple[str, bool]]:
    """(argument, its numbered captures are escaped) for the arguments of ``directive`` that end
    up in a header or the upstream request line. nginx escapes the numbered captures of a
    redirecting ``rewrite`` when the request URI was percent-encoded (the only way a line break
    gets in), so there only other variables count; a named capture is a variable, copied as it
    is (nginx 1.22.1: ``rewrite ^/r/(?<p>\\W*)$ http://h/$p redirect`` answers ``/r/%0a%0a`` with
    ``Location: http://h/`` and two raw line feeds; ``$2`` there comes out as ``%0A``)."""
    name, args = directive.name, directive.args
    if name in ("add_header", "add_trailer", "proxy_set_header", "grpc_set_header") and len(args) >= 2:
        return [(args[1], False)]
    if name == "more_set_headers":
        return [(value, False) for value in header_values(directive)]
    if name == "return" and args:
        if len(args) >= 2 and args[0] in REDIRECT_CODES:
            return [(args[1], False)]
        if len(args) == 1 and not args[0].isdigit():
            return [(args[0], False)]
    if name == "rewrite" and len(args) >= 2:
        flag = args[2] if len(args) > 2 else ""
        if flag in ("redirect", "permanent") or re.match(r"^(https?://|\$scheme)", args[1]):
            return [(args[1], True)]
    if name == "proxy_pass" and args:
        # The host (it becomes the Host header, $proxy_host) and the path (the request line);
        # a URL held whole in a variable (``set $upstream "http://$1/$p"``) is both.
        _, sep, rest = args[0].partition("://")
        return [(rest if sep else args[0], False)]
    return []


@rule(code="CG612", name="http-splitting", severity="error")
def http_splitting(ctx: LintContext) -> Iterator[Finding]:
    """A value that can hold CR/LF from the request reaches a header or the upstream request line.

    ``$uri`` and ``$document_uri`` are *decoded*: ``%0d%0a`` in the request becomes a real line
    break, and so does a regex capture of the URI whose group can match one (``(.*)`` takes a
    CR, ``[^/]*`` and ``\\W*`` both; ``[a-z0-9-]+`` neither), also through ``set`` and ``map``.
    Put into ``add_header``, a ``return`` redirect's ``Location``, ``proxy_set_header`` or a
    ``proxy_pass`` path, it lets a client write headers of its own (cookies, redirects, cache
    poisoning). Use ``$request_uri`` (never decoded) or a capture that excludes line breaks.
    (A redirecting ``rewrite`` escapes its own numbered captures; named captures and other
    variables in it still count.) In ``proxy_pass`` (also through a URL held in a ``set``
    variable) and ``proxy_set_header``, whose values go to the app, only a capture that can hold
    a line feed counts: the app's HTTP parser ends no line at a bare CR (RFC 9112 has it
    rejected or read as a space; ``(.*)`` takes a CR, not a LF, checked on nginx 1.22.1), while
    a browser reading a response header may; and in ``proxy_pass`` only after the host: a line break in the host[:port] part makes nginx refuse the
    URL or fail to resolve it, before any request is sent. Inside ``location = /x`` with no ``rewrite``, ``$uri`` is /x itself: nginx selects that
    location only for exactly that decoded URI (checked on nginx 1.22.1: ``/x%0d%0a...`` falls
    through to another location), so it is not reported there; nor is ``$uri`` after a
    ``rewrite ^ $request_uri;`` that replaces it with the raw, still-encoded URI (real nginx
    passes ``%0d%0a`` on encoded). Behind ``auth_request`` the upstream request and
    ``add_header`` without ``always`` are made only for requests its endpoint allowed: a note
    there, not a finding (``return`` and ``rewrite`` run before the access check, and still count).

    Bad:
        server {
            location ~ ^/go/(.*)$ {
                return 302 https://example.com/$1;
            }
        }

    Good:
        server {
            location ~ ^/go/([a-z0-9-]+)$ {
                return 302 https://example.com/$1;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#return
        https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#rewrite
        https://www.rfc-editor.org/rfc/rfc9112#section-2.2
        https://github.com/yandex/gixy/blob/master/docs/en/plugins/httpsplitting.md
    """
    for directive in (d for name in _SINKS for d in ctx.all(name)):
        sinks = [(value, escaped) for value, escaped in _splitting_sinks(directive) if "$" in value]
        if not sinks or not in_http(directive):
            continue
        # Upstream, only a line feed ends a line; a client may also split on a bare CR.
        breaks = (lambda s: s.line_feed) if directive.name in _UPSTREAM_SINKS else (lambda s: s.line_breaks)
        for value, captures_escaped in sinks:
            text = re.sub(r"\$[1-9]", "", value) if captures_escaped else value
            if directive.name == "proxy_pass":
                # In the host part a line break is no header: nginx fails to parse or resolve it.
                sources = [s for alternative in variable_model(ctx).expand(text, directive)
                           for s in _after_host(alternative)]
            else:
                sources = variable_model(ctx).sources(text, directive)
            carrier = next((s for s in sources if breaks(s)), None)
            if carrier is not None and not internal_only(directive) and _gated_sink(directive) \
                    and _behind_auth_request(ctx, directive):
                ctx.note(f"{directive.file}:{directive.line}: {carrier.describe()} can hold a decoded CR/LF and "
                         f"reaches {directive.name}, but only for requests auth_request lets through: not "
                         f"reported; the auth endpoint must refuse such a URI")
                break
            if carrier is not None and not internal_only(directive):
                yield ctx.finding(directive, f"{carrier.describe()} can hold a decoded CR/LF and reaches "
                                             f"{directive.name} here: a client can inject its own header lines; "
                                             f"use $request_uri or a capture that excludes line breaks")
                break


def _after_host(alternative) -> list[Source]:
    """The sources of one alternative of a proxy_pass URL after its host[:port]."""
    host = {id(segment) for segment in host_segments(alternative)}
    return [s for s in alternative if isinstance(s, Source) and id(s) not in host]


# ---------------------------------------------------------------------------------------------
# Host spoofing


def _spoofable(source: Source) -> bool:
    """A Host value the client picks freely. ``$host`` is the name nginx matched (lower-cased,
    port removed, validated) and a capture of it is bounded by a ``server_name`` regex."""
    if not source.controlled or source.name == "$host":
        return False
    return not (source.kind == "capture" and source.origin and " from $host " in source.origin)


def _catch_all(ctx, directive) -> bool:
    """Whether ``directive`` is in a server that requests for any Host reach: the default server
    of one of its sockets. A server without ``listen`` listens on *:80, which counts only in a
    whole nginx.conf (in a snippet, servers elsewhere may share that socket)."""
    server = directive.enclosing("server")
    if server is None:
        # Written at http level, it is in force in every server: catch-all when each of them is.
        http = directive.enclosing("http")
        servers = [s for s in http_servers(ctx) if s.enclosing("http") is http] if http is not None else []
        return bool(servers) and all(_default_somewhere(ctx, s) for s in servers)
    return _default_somewhere(ctx, server)


def _why_quiet(ctx, header: str, spoofable, directive) -> str | None:
    """Why a client-chosen host header is not reported here: a note's text, "" to stay silent
    without one, or None to report it."""
    http_host = spoofable.name == "$http_host"
    if _sent_to_this_nginx(ctx, directive):
        return ""
    if header == "host" and http_host and _catch_all(ctx, directive):
        return ""   # there $host is the client's Host too: `use $host` would change nothing
    if header == "host" and http_host and _lone_site_server(ctx, directive):
        return ("Host $http_host in the only server of a site file, without `listen` and named only as a "
                "placeholder: written to be the default server on *:80, where $host is the client's value too; "
                "not reported (lint with --root MAIN.conf to judge it)")
    if header == "host" and http_host and _django_behind(ctx, directive):
        return ""   # a named server lets through only what follows a colon, which Django refuses
    if header == "host" and http_host and _websocket_behind(ctx, directive):
        return ""   # ... and a WebSocket handshake's answer (101) holds no link to build from it
    if http_host and not _catch_all(ctx, directive) and _another_app_behind(ctx, directive):
        # In a named server only the tail after a colon is the client's: whether that does harm
        # depends on the app building links from it, and this one is not read.
        return (f"{directive.args[0]} $http_host in a named server passes on what a client writes after the "
                f"name (`name:@evil.example`): not reported, as the app behind is not read; use $host if it "
                f"builds links from {directive.args[0]}")
    if header != "host" and _django_behind(ctx, directive):
        # Django reads X-Forwarded-Host only with USE_X_FORWARDED_HOST = True, and no other.
        return (f"{directive.args[0]} from request data goes to a Django app, which reads X-Forwarded-Host "
                f"only with USE_X_FORWARDED_HOST = True (its settings are not read here): not reported; use "
                f"$host if it is set")
    if header != "host" and _uvicorn_behind(ctx, directive):
        return (f"{directive.args[0]} from request data goes to uvicorn, whose proxy headers are X-Forwarded-For "
                f"and X-Forwarded-Proto only: not reported; use $host if the app reads {directive.args[0]} itself")
    return None


def _lone_site_server(ctx, directive) -> bool:
    """Whether ``directive`` is in the only server of a snippet, one without ``listen`` named
    only ``localhost`` or ``_``: on its own it listens on *:80 and answers no real name, so it
    is written to be the default server there (a site whose installer removes the
    distribution's default site)."""
    server = directive.enclosing("server")
    if server is None or ctx.nginx.is_full or server.find("listen") or http_servers(ctx) != [server]:
        return False
    # Named only by a placeholder: the real host is whatever reaches the default server.
    names = {name.lower() for d in server.find("server_name") for name in d.args}
    return bool(names) and names <= {"localhost", "_", '""', "", "127.0.0.1"}


def _default_somewhere(ctx, server) -> bool:
    if not (server.find("listen") or ctx.nginx.is_full):
        return False
    return any(default is server for default in defaults_of(ctx, server))


# Headers apps read as the Host the client asked for, behind a proxy (Django's
# USE_X_FORWARDED_HOST, werkzeug's ProxyFix x_host, Rails' X-Forwarded-Host handling).
FORWARDED_HOST_HEADERS = frozenset({"x-forwarded-host", "x-forwarded-server", "x-host", "x-original-host"})


def _sent_to_this_nginx(ctx, directive) -> bool:
    """Whether the block ``directive`` is written in proxies only back to this nginx (a
    health-check relay choosing the virtual host by path): the Host chosen there picks one of
    this config's own servers, which the client could name directly."""
    routes = [route_of(ctx, p) for p in (directive.parent.find("proxy_pass") if directive.parent else [])]
    return bool(routes) and all(r is not None and self_proxied(ctx, r) for r in routes)


@rule(code="CG613", name="host-spoofing", severity="warning")
def host_spoofing(ctx: LintContext) -> Iterator[Finding]:
    """``proxy_set_header Host`` (or ``X-Forwarded-Host``) passes a Host the client chose.

    ``$http_host`` (or ``$arg_*``, ``$http_x_forwarded_host``, a capture of the URI) is the raw
    client value, even one no ``server_name`` matched (the default server answers it), and in a
    named server whatever follows the name after a colon (nginx matches only the name:
    ``Host: app.example.com:@evil.example`` reaches the app whole, checked on nginx 1.22.1, and a
    URL built from it reads ``app.example.com:`` as user info before the host evil.example): the
    app then builds password-reset links and absolute URLs on an attacker's domain. ``$host`` is
    the name nginx actually matched, lower-cased and without a port. Reported on the directive
    itself, also in a snippet such as ``proxy_params`` that has no ``proxy_pass`` of its own
    (it is included where proxying happens); header names are case-insensitive. ``Host
    $http_host`` is not reported in the default (or only) server of any of its ``listen``
    sockets (a server without ``listen`` in a whole nginx.conf listens on *:80), where ``$host``
    is the client's value too (a note for the only server of a site file without ``listen``
    named only ``localhost`` or ``_``, written to be that default server); nothing is reported in an
    ``internal`` location, nor where the
    location proxies back to this nginx (``proxy_pass http://127.0.0.1/$2`` to one of its own
    listen ports: a health-check relay whose Host picks one of this config's servers, which a
    client can name directly), nor ``Host $http_host`` in a named server in front of a paired
    Django app (``project.wsgi:application``): Django's ``get_host()`` accepts only a port after
    the name and refuses ``name:@evil.example`` whatever ``ALLOWED_HOSTS`` says; nor there in a
    location that passes only WebSocket upgrades (``Connection upgrade``, or the
    ``$connection_upgrade`` map on a ``/ws`` path), whose answer is a 101 with no link in it;
    nor (a note instead) ``$http_host`` in a named server on routes that lead to a service
    other than the paired app (a webhook receiver): only the tail after a colon is the
    client's there, and whether it does harm depends on that service, which is not read.
    ``X-Forwarded-Host`` (and ``X-Forwarded-Server``, ``X-Host``, ``X-Original-Host``) from
    request data is the same spoofing for an app that trusts it (Django's
    ``USE_X_FORWARDED_HOST``, werkzeug's ``ProxyFix(x_host=1)``; in front of a paired Django
    app, whose settings are not read, a note instead: Django reads none of them unless
    ``USE_X_FORWARDED_HOST = True``, False by default; in front of a paired uvicorn, on its own
    or as gunicorn's worker, a note too: its proxy headers are X-Forwarded-For and
    X-Forwarded-Proto only), and is reported in the
    default server too: a server that answers any Host hands the app whatever Host the client
    wrote; name the real hosts in ``server_name`` and refuse the others in a default server.
    One cause is one finding: headers of one location that pass the same client value (``Host
    $http_host`` and ``X-Forwarded-Host $http_host``) are reported once, at the first, naming
    the others ("(and X-Forwarded-Host)"); in a server that answers any Host, the locations that
    send the same header the same value are reported once, at the first ("(and 2 more places in
    this server)").

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

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header
        https://nginx.org/en/docs/http/ngx_http_core_module.html#var_host
        https://nginx.org/en/docs/http/server_names.html
        https://docs.djangoproject.com/en/stable/ref/settings/#use-x-forwarded-host
        https://docs.djangoproject.com/en/stable/ref/request-response/#django.http.HttpRequest.get_host
        https://werkzeug.palletsprojects.com/en/stable/middleware/proxy_fix/
        https://github.com/encode/uvicorn/blob/master/uvicorn/middleware/proxy_headers.py
        https://github.com/yandex/gixy/blob/master/docs/en/plugins/hostspoofing.md
    """
    # One cause is one finding. In a location, the headers that pass the same client value are
    # one cause (Host and X-Forwarded-Host both $http_host): reported at the first, naming the
    # others. In a server that answers any Host, the locations that send it the same way are one
    # cause too (one server-level change fixes them all).
    in_location: dict[tuple, list] = {}   # (location, any Host?, cause) -> [(directive, spoofable)]
    noted: set[int] = set()
    for name in ("proxy_set_header", "grpc_set_header"):
        for directive in ctx.all(name):
            header = directive.args[0].lower() if directive.args else ""
            if len(directive.args) < 2 or header not in ("host", *FORWARDED_HOST_HEADERS) \
                    or "$" not in directive.args[1] or not in_http(directive) or internal_only(directive):
                continue
            sources = variable_model(ctx).sources(directive.args[1], directive)
            spoofable = next((s for s in sources if _spoofable(s)), None)
            if spoofable is None:
                continue
            if header == "host" and _names_the_upstream_host(ctx, directive):
                continue  # the Host of the server nginx connects to, as its default $proxy_host is: ssrf's
            why = _why_quiet(ctx, header, spoofable, directive)
            if why is not None:
                if why and id(directive.parent) not in noted:
                    noted.add(id(directive.parent))
                    ctx.note(f"{directive.file}:{directive.line}: {why}")
                continue
            any_host = header != "host" and _catch_all(ctx, directive)
            cause = directive.args[1] if any_host else spoofable.describe()
            in_location.setdefault((id(directive.parent), any_host, cause), []).append((directive, spoofable))
    across: dict[tuple, list] = {}        # (server, header, value) -> each location's places
    for (_, any_host, _), places in in_location.items():
        first = places[0][0]
        if not any_host:
            yield _host_finding(ctx, places)
            continue
        key = (id(first.enclosing("server")), first.args[0].lower(), first.args[1])
        across.setdefault(key, []).append(places)
    for locations in across.values():
        (directive, spoofable), others = locations[0][0], sum(len(places) for places in locations[1:])
        also = _also(locations[0])
        more = f" (and {others} more place{'s' if others > 1 else ''} in this server)" if others else ""
        # Naming the real hosts bounds the Host header only: a value from another header or the
        # query ($http_x_forwarded_host, $arg_host) stays the client's until $host replaces it.
        fix = "" if spoofable.name == "$http_host" else "use $host, and "
        yield ctx.finding(directive, f"{directive.args[0]} is sent as {spoofable.describe()}{also}{more} in a server "
                                     f"that answers any Host: the client chooses it, and an app that trusts "
                                     f"{directive.args[0]} builds links on any domain an attacker names; {fix}name "
                                     f"the real hosts in server_name and refuse the others in a default server")


def _names_the_upstream_host(ctx, directive) -> bool:
    """Whether a ``Host`` header's value is the host part of the proxy_pass beside it (``$3`` in
    ``$2://$3/$4``, ``$2`` in ``$1$2$3`` with ``$1`` from ``(https?://)``): the Host of the server
    nginx connects to, as its default ``$proxy_host`` is."""
    passes = [d for d in directive.parent.block or () if d.name == "proxy_pass" and d.args]
    if not passes:
        return False
    model = variable_model(ctx)
    hosts = model.host_alternatives(passes[0].args[0], passes[0])
    return bool(hosts) and hosts == list(dict.fromkeys(model.expand(directive.args[1], directive)))


def _also(places) -> str:
    """`` (and X-Forwarded-Host)``: the other headers one location sends the same value in."""
    first = places[0][0].args[0].lower()
    names = list(dict.fromkeys(d.args[0] for d, _ in places[1:] if d.args[0].lower() != first))
    return f" (and {', '.join(names)})" if names else ""


def _host_finding(ctx, places):
    """One location's headers that send one client-chosen value as the Host."""
    directive, spoofable = places[0]
    if any(d.args[0].lower() == "host" for d, _ in places):
        effect = "the app builds links on any domain an attacker names"
    else:
        effect = f"an app that trusts {directive.args[0]} builds links on any domain an attacker names"
    if spoofable.name == "$http_host":
        # In a named server nginx checks only the name before a colon; the rest reaches the app
        # (checked on nginx 1.22.1), and a URL reads `name:@other` as user info before host other.
        name = _plain_server_name(directive.enclosing("server")) or "example.com"
        effect += (f" (nginx matches only the name before a colon: `Host: {name}:@evil.example` reaches the app "
                   f"whole, and a link built from it leads to evil.example)")
    return ctx.finding(directive, f"{directive.args[0]} is sent as {spoofable.describe()}{_also(places)}, a value the "
                                  f"client chose: {effect}; use $host")


def _routes_under(ctx, level) -> list:
    """The routes a header set at ``level`` goes with: its own proxy_pass and those of the
    blocks inside it that inherit it."""
    return [r for r in routes(ctx) if r.block is level or any(a is level for a in r.block.ancestors())]


def _another_app_behind(ctx, directive) -> bool:
    """Whether the requests this header goes with lead to a service other than the paired app
    (a webhook receiver, a second backend): an app is paired, and these routes do not reach it."""
    if ctx.gunicorn is None and ctx.app_server is None:
        return False
    reached = _routes_under(ctx, directive.parent)
    return bool(reached) and not reaches_app(ctx, reached)


def _websocket_behind(ctx, directive) -> bool:
    """Whether the header goes only with WebSocket upgrades (``websocket_only``) from a named
    server: the colon's tail is all a client adds there, and an upgrade's answer is a 101 with
    no body, no redirect and nothing a cache keeps."""
    if _catch_all(ctx, directive):
        return False
    reached = _routes_under(ctx, directive.parent)
    return websocket_only(ctx, reached)


def _django_behind(ctx, directive) -> bool:
    """Whether the requests this header goes with reach a paired Django app: its get_host()
    accepts after the name only a port (its host validation refuses ``name:@evil.example``, with
    any ALLOWED_HOSTS), so a named server's ``$http_host`` carries nothing an attacker can use."""
    if not app_is_django(ctx):
        return False
    reached = _routes_under(ctx, directive.parent)
    return bool(reached) and reaches_app(ctx, reached)


def _uvicorn_behind(ctx, directive) -> bool:
    """Whether the requests this header goes with reach a paired uvicorn (on its own, or
    gunicorn's uvicorn worker), which takes the client's address and scheme from X-Forwarded-For
    and X-Forwarded-Proto and reads no other forwarded header (uvicorn 0.55's
    middleware/proxy_headers.py), so a Host header of another name reaches the app untouched."""
    if getattr(ctx.app_server, "server", None) != "uvicorn" and not uvicorn_worker(ctx):
        return False
    reached = _routes_under(ctx, directive.parent)
    return bool(reached) and reaches_app(ctx, reached)


def _plain_server_name(server) -> str | None:
    """The server's first literal name (not a wildcard, regex or the catch-all ``_``)."""
    for directive in (server.find("server_name") if server is not None else ()):
        for name in directive.args:
            if name and name not in ("_", '""') and not name.startswith(("~", "*", ".")) and "*" not in name:
                return name
    return None
