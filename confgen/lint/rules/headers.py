"""Headers nginx sends upstream and to clients: inheritance traps and spoofable forwarding."""

from __future__ import annotations

import re
from typing import Iterator

from confgen.lint.containers import unreached_container
from confgen.lint.context import LintContext
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.nginx_edits import insert_before, replace_arg
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import (app_is_django, app_routes, by_cause, maps, more_locations, only_trusted_peers,
                                       passthrough_map, private_listeners, route_location, routes, uvicorn_worker,
                                       websocket_only)
from confgen.lint.rules.security_common import SECURITY_HEADERS, is_auth_endpoint, is_tls_server, variable_model
from confgen.lint.rules.security_headers import drops_security_headers, only_nginx_own_headers
from confgen.nginx.variables import VARIABLE_RE

_CLIENT_PROTO_RE = re.compile(r"\$(\{http_x_forwarded_proto\}|http_x_forwarded_proto\b)", re.IGNORECASE)


def _lost_headers(ctx: LintContext, directive_name: str, only_levels: set[int] | None,
                  skip: frozenset[str] = frozenset(), fixable: bool = False,
                  reported_elsewhere=lambda level: False, deliberate=lambda level, lost: False,
                  unsent=lambda level, directive: False) -> Iterator[Finding]:
    """nginx's rule for array directives: a level that has any ``directive_name`` inherits none
    from outside. Report each such level that drops headers set further out, naming them."""
    seen: set[int] = set()
    for directive in ctx.all(directive_name):
        level = directive.parent
        if level is None or id(level) in seen or level.parent is None:
            continue
        seen.add(id(level))
        if only_levels is not None and id(level) not in only_levels:
            continue
        if ctx.unresolved_include(level, inherited=False) is not None:
            continue  # a file the deployment provides may repeat the headers here
        if reported_elsewhere(level):
            continue  # one finding per cause: another rule names this level's dropped headers
        outer = ctx.nginx.effective(directive_name, level.parent)
        if not outer:
            continue
        own = [d for d in level.block or () if d.name == directive_name and d.args]
        # What is really in force here (the model knows add_header_inherit merge, 1.29.3+).
        kept = {d.args[0].lower() for d in ctx.nginx.effective(directive_name, level) if d.args}
        lost = list(dict.fromkeys(d.args[0] for d in outer if d.args and d.args[0].lower() not in kept
                                  and d.args[0].lower() not in skip and not unsent(level, d)))
        if not lost or deliberate(level, lost):
            continue
        outer_level = outer[0].parent
        where = f"{outer_level.name} at {outer_level.file}:{outer_level.line}" if outer_level.line else outer_level.name
        anchor = own[0] if own else directive
        yield ctx.finding(anchor,
                          f"this {level.name} sets its own {directive_name}, so none set in the enclosing "
                          f"{where} apply here: {', '.join(lost)} "
                          f"{'is' if len(lost) == 1 else 'are'} dropped; repeat "
                          f"{'it' if len(lost) == 1 else 'them'} here or move the shared ones into an include",
                          fix=Fix(lambda fx, own=anchor: fx.same_everywhere(own, lambda d: _repeat_lost(fx, d)))
                          if fixable else None)


def _repeat_lost(fx, own) -> list:
    """The headers set further out and lost at ``own``'s level, written again (as they are
    written there) before the level's first own proxy_set_header."""
    level = own.parent
    kept = {d.args[0].lower() for d in fx.nginx.effective("proxy_set_header", level) if d.args}
    lost, seen = [], set()
    for d in fx.nginx.effective("proxy_set_header", level.parent):
        if d.args and d.args[0].lower() not in kept and d.args[0].lower() not in seen:
            seen.add(d.args[0].lower())
            lost.append(d)
    texts = []
    for d in lost:
        text, span = fx.span(d)
        texts.append(text.text[span.start:span.stop])
    first = next(d for d in level.block or () if d.name == "proxy_set_header" and d.file == own.file)
    return [insert_before(fx, first, *texts)] if texts else []


@rule(code="CG103", name="proxy-header-inheritance", severity="warning")
def proxy_header_inheritance(ctx: LintContext) -> Iterator[Finding]:
    """A level's own ``proxy_set_header`` silently drops every one set further out.

    nginx inherits ``proxy_set_header`` only into levels that define none: one
    ``proxy_set_header`` in a location (or an ``if`` inside it) discards all of the server's
    and http's, so headers such as ``Host`` or ``X-Forwarded-For`` vanish for that location
    only, which is easy to miss in review. ``Content-Length`` and ``Transfer-Encoding`` are not
    counted (nginx frames the body it sends itself), nor is ``Connection`` (keepalive-connection-header
    reports it where a pool needs it; elsewhere nginx closes the connection anyway), nor a location
    that answers ``auth_request`` subrequests (the app reads what it is asked there, not the
    client's headers). Reported for levels that proxy, but
    not for a route that talks to another server than the enclosing headers were written for: one
    that fetches a URL an upstream's response named (``proxy_pass`` built from
    ``$upstream_http_*``, the X-Accel idiom for remote media) or that clears the client's
    ``Authorization`` or ``Cookie``; there the client's ``Host`` and address must not be repeated.
    A header whose value only ``auth_request_set`` fills is not lost where ``auth_request`` is
    off (a login location under an authenticated prefix): it would be empty there, and nginx
    sends no empty header.

    Bad:
        server {
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            location /ws/ {
                proxy_set_header Upgrade $http_upgrade;
                proxy_pass http://127.0.0.1:8000;
            }
        }

    Good:
        server {
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            location /ws/ {
                proxy_set_header Host $host;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                proxy_set_header Upgrade $http_upgrade;
                proxy_pass http://127.0.0.1:8000;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header

    Fix safety: Safe: the dropped headers are written again in the level, exactly as written
    further out, so the app receives what the enclosing level meant it to; the level's own
    headers stay. A file included where the lost headers differ is left alone.
    """
    proxying: set[int] = set()
    for route in routes(ctx):
        if _own_destination(ctx, route):
            continue
        level = route.block
        while level is not None and id(level) not in proxying:
            proxying.add(id(level))
            level = level.parent
    # Variables only an auth_request subrequest fills: empty, so not sent, where it is off.
    from_auth = {d.args[0].lstrip("$") for d in ctx.all("auth_request_set") if d.args}

    def unsent(level, header) -> bool:
        return _only_variables(header, lambda name: name in from_auth) \
            and (ctx.nginx.effective_args("auth_request", level) or ["off"])[0] == "off"

    yield from _lost_headers(ctx, "proxy_set_header", proxying, skip=NGINX_FRAMED, fixable=True, unsent=unsent,
                             reported_elsewhere=lambda level: is_auth_endpoint(ctx, level.enclosing("location")
                                                                                if level.name != "location" else level))


@rule(code="CG220", name="app-sees-upstream-host", severity="warning", needs=("chain",))
def app_sees_upstream_host(ctx: LintContext) -> Iterator[Finding]:
    """``proxy_pass`` to a Django or ASGI app with no ``Host`` header set: it sees nginx's upstream name.

    Without ``proxy_set_header Host``, nginx sends ``Host: $proxy_host``, the name and port the
    ``proxy_pass`` is written with (``web:8000``, ``django_server``, ``127.0.0.1:8000``;
    ``localhost`` for a unix socket), not the name the client asked for (checked on nginx
    1.22.1). Django checks that name against ``ALLOWED_HOSTS`` (400 for a name it does not list,
    and for a name with ``_`` whatever it lists) and, from Django 4.0, compares a POST's
    ``Origin`` with it (403 "Origin checking failed" unless ``CSRF_TRUSTED_ORIGINS`` lists the
    site); Starlette and FastAPI build their slash redirects from it (``Location:
    http://web:8000/items/``, which clients cannot reach). Reported once per upstream for the
    routes that reach a paired Django app (by its entry point or settings module) or an ASGI
    server (uvicorn, hypercorn, daphne, granian, gunicorn's uvicorn worker); for other apps a
    note. Not where a level around the location sets ``Host`` (one dropped by a level's own
    headers is proxy-header-inheritance's), where ``X-Forwarded-Host`` is sent (the app may read
    it instead), for an ``auth_request`` endpoint, nor for a WebSocket-only location.

    App command:
        gunicorn -k gthread --threads 4 -b 127.0.0.1:8000 shop.wsgi

    Bad:
        server {
            location / {
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
        https://docs.djangoproject.com/en/stable/ref/settings/#allowed-hosts
        https://docs.djangoproject.com/en/stable/ref/settings/#csrf-trusted-origins
        https://github.com/encode/starlette/blob/master/starlette/routing.py (redirect_slashes)
    """
    if getattr(ctx.app_server, "protocol", None) == "uwsgi":
        return  # proxy_pass to a uwsgi-protocol socket fails whatever it sends: app-protocol-mismatch's
    pairs = []
    for route in app_routes(ctx):
        if ctx.nginx.proxy_headers(route.block).get("x-forwarded-host", ("", None))[0]:
            continue
        levels = (route.block, *route.block.ancestors())
        if any(d.args and d.args[0].lower() == "host" for level in levels for d in level.find("proxy_set_header")):
            continue    # in force, or set around it and dropped here: proxy-header-inheritance's
        location = route_location(route)
        if location is not None and is_auth_endpoint(ctx, location) or websocket_only(ctx, [route]):
            continue    # a WebSocket upgrade builds no URL or form from it
        pairs.append((route.upstream.args[0] if route.upstream is not None else route.target, route))
    effect = _what_the_host_decides(ctx)
    for target, grouped in by_cause(pairs).items():
        first = grouped[0]
        sent = "localhost" if first.target.startswith("unix:") else first.target
        message = (f"proxy_pass to {target}{more_locations(grouped)} sets no Host header, so the app gets "
                   f"`Host: {sent}` (nginx's $proxy_host), not the name the client asked for")
        if effect is None:
            ctx.note(f"{first.proxy_pass.file}:{first.proxy_pass.line}: {message}; not reported, as what the app "
                     f"does with it is not known")
            continue
        yield ctx.finding(first.proxy_pass, f"{message}: {effect}; add `proxy_set_header Host $host;` beside this "
                                            f"location's other proxy_set_header lines (or at the server level when "
                                            f"it has none)")


# ASGI servers, whose apps (Starlette, FastAPI) build absolute redirects from the Host header.
_ASGI_SERVERS = frozenset({"uvicorn", "hypercorn", "daphne", "granian"})


def _what_the_host_decides(ctx: LintContext) -> str | None:
    """What the paired app does with the Host header it gets, when confgen knows it; else None."""
    if app_is_django(ctx):
        return ("Django refuses it with 400 unless ALLOWED_HOSTS lists it (and always when it holds `_`), and from "
                "Django 4.0 answers a POST whose Origin names the site with 403 (\"Origin checking failed\") unless "
                "CSRF_TRUSTED_ORIGINS lists it")
    if getattr(ctx.app_server, "server", None) in _ASGI_SERVERS or uvicorn_worker(ctx):
        return ("an ASGI app builds absolute URLs from it, as Starlette's and FastAPI's slash redirects do "
                "(Location: http://<that name>/items/), which clients cannot reach")
    return None


# Headers nginx writes itself when a level sets none: Content-Length and Transfer-Encoding frame the
# body it sends (its defaults $proxy_internal_body_length, $proxy_internal_chunked), and Connection
# is keepalive-connection-header's (a pooled upstream) or moot (nginx closes the connection anyway).
NGINX_FRAMED = frozenset({"content-length", "transfer-encoding", "connection"})


def _own_destination(ctx: LintContext, route) -> bool:
    """A route whose headers are deliberately its own: it fetches a URL an upstream's response
    named (``proxy_pass`` built from ``$upstream_http_*``: the X-Accel idiom for remote media), or
    it clears the client's credentials (``Authorization ""``, ``Cookie ""``). Such a route talks to
    another server than the one the enclosing headers were written for."""
    target = route.proxy_pass.args[0] if route.proxy_pass.args else ""
    if "$" in target and any(source.name.startswith("$upstream_http_")
                             for source in variable_model(ctx).sources(target, route.proxy_pass)):
        return True
    return any(d.args[0].lower() in ("authorization", "cookie") and d.args[1] == ""
               for d in route.block.find("proxy_set_header") if len(d.args) == 2)


@rule(code="CG401", name="add-header-inheritance", severity="warning")
def add_header_inheritance(ctx: LintContext) -> Iterator[Finding]:
    """A level's own ``add_header`` silently drops every one set further out.

    Like ``proxy_set_header``, ``add_header`` is inherited only into levels that define none
    (unless ``add_header_inherit merge``, nginx 1.29.3+): a location adding ``Cache-Control``
    loses the server's other headers for exactly those responses. A level that also drops
    security headers (HSTS, CSP, X-Content-Type-Options, ...) is reported by
    add-header-redefinition instead, and one whose only ``add_header`` lines are a second
    ``Content-Type`` or ``Content-Length`` by add-header-content-type / add-header-content-length:
    one finding per cause. A level that sets its own caching (``expires`` or its own
    ``Cache-Control``) and drops only caching headers (a server-wide ``Pragma: no-cache``,
    ``Expires 0``) leaves them out on purpose, and is not reported; nor is a header made only
    of ``$upstream_*`` variables (``X-Cache-Status $upstream_cache_status``) in a level that
    answers with ``return``: no upstream is involved there, so its value is empty and nginx
    would not send it anyway; nor is ``Access-Control-Allow-Credentials`` where the level answers
    ``Access-Control-Allow-Origin *`` (browsers never send credentials to a wildcard origin, so
    the header does nothing there); nor is a CORS preflight ``if ($request_method = OPTIONS)`` that
    returns and drops only caching headers (caches never store an OPTIONS response).

    Bad:
        server {
            add_header X-Served-By edge-1;
            location /static/ {
                add_header Cache-Control "public, max-age=86400";
            }
        }

    Good:
        server {
            add_header X-Served-By edge-1;
            location /static/ {
                add_header X-Served-By edge-1;
                add_header Cache-Control "public, max-age=86400";
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
    """
    yield from _lost_headers(ctx, "add_header", None, skip=frozenset(SECURITY_HEADERS), reported_elsewhere=lambda level:
                             only_nginx_own_headers(level) or drops_security_headers(ctx, level),
                             deliberate=lambda level, lost: _recaches(level, lost) or _preflight(level, lost),
                             unsent=lambda level, header: _empty_without_upstream(level, header)
                             or _credentials_with_any_origin(ctx, level, header))


def _preflight(level, lost: list[str]) -> bool:
    """A CORS preflight answer (``if ($request_method = OPTIONS) { add_header Access-Control-...;
    return 204; }``) that drops only caching headers: caches never store an OPTIONS response
    (RFC 9110, 9.3.7), so they do nothing there."""
    condition = " ".join(level.args) if level.name == "if" else ""
    return "$request_method" in condition and "OPTIONS" in condition.upper() \
        and any(d.name == "return" for d in level.block or ()) \
        and all(name.lower() in CACHE_HEADERS for name in lost)


def _empty_without_upstream(level, header) -> bool:
    """Whether ``header`` (an add_header from outside) would be empty, so not sent, at ``level``
    anyway: its value is made only of ``$upstream_*`` variables (``X-Cache-Status
    $upstream_cache_status``) and ``level`` answers with ``return`` (a CORS preflight ``if``),
    so no upstream is involved and nginx leaves out a header whose value is empty."""
    return any(d.name == "return" for d in level.block or ()) \
        and _only_variables(header, lambda name: name.startswith("upstream_"))


def _credentials_with_any_origin(ctx, level, header) -> bool:
    """``Access-Control-Allow-Credentials`` where the level answers ``Access-Control-Allow-Origin
    *``: a browser never sends credentials to a wildcard origin (Fetch: the CORS check fails for a
    credentialed request when the origin is ``*``) and ignores the header without them, so it
    does nothing there and its loss is none (sapl's OPTIONS preflight)."""
    if header.args[:1] == [] or header.args[0].lower() != "access-control-allow-credentials":
        return False
    origins = [d.args[1].strip("'\"") for d in ctx.nginx.effective("add_header", level)
               if len(d.args) > 1 and d.args[0].lower() == "access-control-allow-origin"]
    return origins == ["*"]


def _only_variables(header, allowed) -> bool:
    """Whether a header directive's value is nothing but variables whose names ``allowed`` accepts."""
    value = header.args[1] if len(header.args) > 1 else ""
    names = [next(group for group in match.groups() if group) for match in VARIABLE_RE.finditer(value)]
    return bool(names) and all(allowed(name) for name in names) and not VARIABLE_RE.sub("", value).strip(' "\'')

# Headers that only say how long a response may be cached.
CACHE_HEADERS = frozenset({"cache-control", "pragma", "expires", "last-modified", "etag", "surrogate-control",
                           "cdn-cache-control"})


def _recaches(level, lost: list[str]) -> bool:
    """A level that sets its own caching (``expires``, or its own Cache-Control) and drops only
    caching headers from outside: the server's no-cache headers are left out on purpose there."""
    own = level.block or ()
    sets_caching = any(d.name == "expires" or (d.name == "add_header" and d.args and d.args[0].lower() ==
                                                "cache-control") for d in own)
    return sets_caching and all(name.lower() in CACHE_HEADERS for name in lost)


@rule(code="CG402", name="forwarded-proto-spoofable", severity="warning")
def forwarded_proto_spoofable(ctx: LintContext) -> Iterator[Finding]:
    """``X-Forwarded-Proto`` is copied from the client while any client can connect.

    ``$http_x_forwarded_proto`` is whatever the client sent: passing it on lets anyone claim
    ``https``, and the app then builds https URLs, marks cookies secure and skips its redirect
    on plain http. ``set_real_ip_from`` does not help: it only rewrites ``$remote_addr`` for
    trusted peers and vets no header. Passing the header is safe only when just trusted peers
    can connect (``allow``/``deny all``, or ``listen`` on loopback, private addresses or a
    socket); otherwise use ``$scheme``, or a ``map`` that takes the header only from the
    trusted balancer (as ``confgen render`` does with ``$realip_remote_addr``). Not reported
    when the balancer declared in front (``--behind``, or the Ingress of a Kubernetes chain)
    sets the header itself, replacing the client's: an AWS ALB or Classic ELB, Google's load
    balancer, Heroku's router, ingress-nginx (``use-forwarded-headers`` false by default). A
    ``map`` that passes the header on and falls back to ``$scheme`` when there is none (``map
    $http_x_forwarded_proto $p { default $http_x_forwarded_proto; '' $scheme; }``) is a config
    written to sit behind such a proxy: a note says where it is spoofable instead of a finding;
    so is a server that redirects on the header it receives (``if ($http_x_forwarded_proto =
    "http") { return 301 https://$host$request_uri; }``), which only works behind a proxy that
    sets it; and so is a plain-HTTP server of an nginx kept as a container's file (a Dockerfile
    or compose file around it, a ``docker/`` or ``k8s/`` folder) whose port no compose service
    of it publishes on an address clients reach: only the proxy in front (an ingress, traefik)
    reaches such a container. One finding per server, naming how many more places copy the header.

    Bad:
        server {
            listen 80;
            set_real_ip_from 10.0.0.0/8;
            location / {
                proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;
                proxy_pass http://127.0.0.1:8000;
            }
        }

    Good:
        server {
            listen 80;
            location / {
                proxy_set_header X-Forwarded-Proto $scheme;
                proxy_pass http://127.0.0.1:8000;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_realip_module.html#set_real_ip_from
        https://nginx.org/en/docs/http/ngx_http_core_module.html#var_scheme
        https://docs.gunicorn.org/en/stable/settings.html#forwarded-allow-ips
        https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html
        https://github.com/kubernetes/ingress-nginx/blob/main/docs/user-guide/nginx-configuration/configmap.md#use-forwarded-headers
        https://docs.docker.com/reference/compose-file/services/#ports

    Fix safety: Unsafe: ``$scheme`` replaces the client's header; behind a balancer that
    terminates TLS it is ``http`` where the header said ``https``, so the app's redirects and
    secure cookies change. A value taken from a map is left alone.
    """
    if _front_sets_forwarded_proto(ctx):
        return      # the balancer in front replaces the client's header: what nginx reads is its own
    causes = []
    noted: set[int] = set()
    for route in routes(ctx):
        value, directive = ctx.nginx.proxy_headers(route.block).get("x-forwarded-proto", ("", None))
        if not _client_controlled(ctx, value):
            continue
        if only_trusted_peers(ctx, route.block) or private_listeners(route.block.enclosing("server")):
            continue
        server = route.block.enclosing("server")
        behind = _written_behind_a_proxy(ctx, server, directive or route.proxy_pass)
        if behind is not None:
            if id(server) not in noted:
                noted.add(id(server))
                ctx.note(f"{behind}, so it is written to sit behind a proxy that sets the header; passing it on "
                         f"is not reported, and is spoofable wherever clients reach this nginx directly "
                         f"(then use $scheme)")
            continue
        passthrough = passthrough_map(ctx, value)
        if passthrough is not None:
            ctx.note(f"{passthrough.file}:{passthrough.line}: map {passthrough.args[1]} takes X-Forwarded-Proto "
                     f"from the client's header, else nginx's own value: a config written to sit behind a proxy "
                     f"that sets it, so not reported; it is spoofable wherever clients reach this nginx directly "
                     f"(then use $scheme)")
            continue
        if ctx.unresolved_include(route.block) is not None:
            continue  # a file the deployment provides may hold the allow/deny list
        # One map that copies the header, used in many locations, is one problem; so is one server
        # that copies it in each of its locations.
        causes.append((maps(ctx).get(value.strip()) or server or directive or route.proxy_pass,
                       (route, value, directive)))
    for uses in by_cause(causes).values():
        route, value, directive = uses[0]
        others = len({id(d or r.proxy_pass) for r, _, d in uses}) - 1
        more = f" (and {others} more place{'s' if others > 1 else ''} using it)" if others else ""
        realip = " (set_real_ip_from only rewrites $remote_addr; it vets no header)" \
            if ctx.nginx.effective("set_real_ip_from", route.block) else ""
        yield ctx.finding(directive or route.proxy_pass,
                          f"X-Forwarded-Proto is taken from the client ({value}){more} and any client can connect"
                          f"{realip}: anyone can claim https to the app; use $scheme, or take the header "
                          f"only from the trusted balancer (a map on $realip_remote_addr)",
                          fix=_scheme_fix(directive, value))


def _written_behind_a_proxy(ctx: LintContext, server, anchor) -> str | None:
    """Where and how a server shows it sits behind a proxy that sets X-Forwarded-Proto: it
    redirects on the header it receives, or it is a plain-HTTP server in a container no
    published port reaches (containers.unreached_container); None otherwise."""
    branch = _branches_on_forwarded_proto(ctx, server)
    if branch is not None:
        return f"{branch.file}:{branch.line}: this server redirects on the X-Forwarded-Proto it receives"
    unreached = None if server is None or is_tls_server(ctx, server) else unreached_container(ctx, server)
    if unreached is not None:
        return (f"{anchor.file}:{anchor.line}: X-Forwarded-Proto is passed on from the client by a plain-HTTP "
                f"nginx in a container {unreached}, which only the proxy in front (an ingress, traefik) reaches")
    return None


def _branches_on_forwarded_proto(ctx: LintContext, server):
    """The ``if`` by which a server acts on the X-Forwarded-Proto it receives (``if
    ($http_x_forwarded_proto = "http") { return 301 https://...; }``, directly or through a map
    of it): such a server is written to sit behind a TLS-terminating proxy that sets the header."""
    if server is None:
        return None
    # Asked for each location that passes the header on: the server is walked once.
    return ctx.cached(f"headers:forwarded-proto-branch:{id(server)}", lambda: next(
        (d for d in server.walk() if d.name == "if" and any(_client_controlled(ctx, arg) for arg in d.args[:1])),
        None))


def _front_sets_forwarded_proto(ctx: LintContext) -> bool:
    """Whether the balancer declared in front of nginx (``--behind``, a profile, or the Ingress of
    the Kubernetes chain) sets X-Forwarded-Proto itself, whatever the client sent."""
    front = ctx.behind
    if front is None:
        return False
    from confgen.hops import PLATFORMS   # only with a balancer in front: a lone nginx file does not load it

    platform = PLATFORMS.get(front.kind)
    return platform is not None and platform.sets_forwarded_proto is not None


def _scheme_fix(directive, value: str) -> Fix | None:
    if directive is None or len(directive.args) != 2 or not _CLIENT_PROTO_RE.fullmatch(value.strip()):
        return None  # the header comes from elsewhere (a map): change it there by hand
    return Fix(lambda fx: fx.same_everywhere(directive, lambda d: [replace_arg(fx, d, 1, "$scheme")]), safe=False)


def _client_controlled(ctx, value: str) -> bool:
    if _CLIENT_PROTO_RE.search(value):
        return True
    block = maps(ctx).get(value.strip())
    return block is not None and _CLIENT_PROTO_RE.fullmatch(block.args[0].strip()) is not None
