"""Access control that does not control (CG64x): allow lists without a deny, returns that run
before access checks, open status pages, ``if`` in locations, maps without a default, and
``auth_basic`` without a password file."""

from __future__ import annotations

import ipaddress
import re
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import (FAMILIES, access_restricted, accepted_families, access_scope, open_families,
                                      private_listeners)
from confgen.lint.rules.security_common import http_servers, in_http, is_redirect, is_refusal, refuses
from confgen.nginx.variables import references

_ACCESS = ("allow", "deny")


@rule(code="CG641", name="allow-without-deny", severity="error")
def allow_without_deny(ctx: LintContext) -> Iterator[Finding]:
    """``allow`` without a ``deny all`` lets everyone in.

    nginx's access module allows whatever no rule denies, and applies the first rule that
    matches: ``allow 10.0.0.0/8;`` on its own restricts nothing, nor does it with a ``deny``
    of some addresses only (``deny 192.168.1.1;``), and an ``allow all`` before ``deny all``
    lets everyone in first. End the list with ``deny all;``. Each address family the server
    accepts is judged on its own, as nginx keeps one list per family: ``deny 0.0.0.0/0``
    closes IPv4 only, so a server that also listens on IPv6 (or a list that names an IPv6
    network) needs ``deny ::/0`` or ``deny all`` (unix-socket clients are local and not judged).
    A ``deny`` written at an outer level does not help: a level with its own allow/deny inherits
    none from outside. Not reported beside an include of a file the deployment provides, which
    may end the list.

    Bad:
        server {
            location /admin/ {
                allow 10.0.0.0/8;
            }
        }

    Good:
        server {
            location /admin/ {
                allow 10.0.0.0/8;
                deny all;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_access_module.html
    """
    seen: set[int] = set()
    for directive in ctx.all("allow"):
        level = directive.parent
        if level is None or id(level) in seen or not in_http(directive):
            continue
        seen.add(id(level))
        own = level.find_any(*_ACCESS)
        if not any(d.name == "allow" and access_scope(d)[0] in FAMILIES and not access_scope(d)[1] for d in own):
            continue   # no allow of some addresses only (allow all, 0.0.0.0/0, unix:): nothing restricted
        if ctx.unresolved_include(level, inherited=False) is not None:
            continue   # a file the deployment provides may end the list
        opened = open_families(own, accepted_families(ctx, level, own))
        if not opened:
            continue
        family, first = opened[0]
        who = "address" if family == "IPv4" else f"{family} address"
        if first is not None:
            later = " and the deny lines after it never apply to them" \
                if any(d.name == "deny" for d in own[own.index(first) + 1:]) else ""
            yield ctx.finding(first, f"{first.name} {first.args[0]} matches every {who} and nginx applies the first "
                                     f"rule that matches: every {who} is allowed{later}; remove it and end the list "
                                     f"with `deny all;`")
            continue
        denies = [d for d in own if d.name == "deny"]
        if not denies:
            yield ctx.finding(own[0], f"this {level.name} allows some addresses but denies none, so every address "
                                      f"is allowed; add `deny all;` after the allow lines")
            continue
        named = ", ".join(" ".join(d.args) for d in denies)
        other = "other " if any(access_scope(d)[0] == family for d in denies) else ""
        yield ctx.finding(own[0], f"this {level.name} allows some addresses but denies only {named}, so every "
                                  f"{other}{who} is allowed; end the list with `deny all;`")


@rule(code="CG642", name="return-bypasses-allow-deny", severity="error")
def return_bypasses_allow_deny(ctx: LintContext) -> Iterator[Finding]:
    """``return`` in a block guarded by allow/deny answers before the access check runs.

    ``return`` belongs to the rewrite phase, which nginx runs before the access phase: the
    response goes out to every client, denied or not. Put the check where the content is
    produced (a ``location`` without ``return``), or make the return conditional on
    ``$remote_addr`` with a ``geo`` map. A return that itself refuses (``deny all; return
    403;``, ``return 444``) is the denial, not a bypass of it, and is not reported; nor is a
    redirect to this nginx's own site (``https://$host$request_uri``, a ``server_name`` of the
    config): it exposes nothing, and the client it sends on meets the check there.

    Bad:
        server {
            location /internal-status {
                allow 127.0.0.1;
                deny all;
                return 200 "secret";
            }
        }

    Good:
        server {
            location /internal-status {
                allow 127.0.0.1;
                deny all;
                stub_status;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_access_module.html
        https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#return
        https://nginx.org/en/docs/dev/development_guide.html#http_phases
    """
    for directive in ctx.all("return"):
        block = directive.parent
        if block is None or block.name not in ("location", "server", "if") or not in_http(directive):
            continue
        if is_refusal(directive) or (directive.args and directive.args[0][:1] in ("4", "5")):
            continue
        if is_redirect(directive) and _to_this_site(ctx, directive):
            continue   # a denied client follows it here, to nginx's own servers, and is denied there
        rules = ctx.nginx.access_rules(block)
        denies = [d for d in rules if d.name == "deny"]
        if denies:
            guard = denies[-1]
            yield ctx.finding(directive, f"this return runs in the rewrite phase, before the allow/deny at "
                                         f"{guard.file}:{guard.line} is checked: every client gets the response")


def _to_this_site(ctx, directive) -> bool:
    """Whether a redirect's target is served by this config: its host is ``$host``,
    ``$http_host`` or ``$server_name``, or a name some ``server_name`` here lists."""
    target = directive.args[-1]
    if target.startswith("$scheme://"):
        target = "https://" + target[len("$scheme://"):]
    if not target.startswith(("http://", "https://")):
        return not target.startswith("$")   # a path: the same server
    rest = target.split("://", 1)[1]
    if re.match(r"\$(host|http_host|server_name)\b", rest):
        return True
    host = re.match(r"[^/:$?#]*", rest).group(0).lower()
    names = ctx.cached("security:server_names", lambda: {name.lower() for d in ctx.all("server_name") for name in d.args})
    return host in names


_STATUS_HANDLERS = ("stub_status", "status", "vhost_traffic_status_display", "api")


@rule(code="CG643", name="status-page-exposed", severity="warning")
def status_page_exposed(ctx: LintContext) -> Iterator[Finding]:
    """A status page (``stub_status`` and the like) anyone can read.

    Connection counts and request rates help an attacker time a flood and see its effect, and
    NGINX Plus ``api`` can even change upstreams. Restrict it with ``allow``/``deny all``,
    ``auth_basic`` (with ``auth_basic_user_file``), ``auth_request``, ``internal``, a refusal
    by the client's address (``if ($external) { return 404; }`` with ``$external`` from a
    ``geo`` of it), or serve it on a loopback-only listener. The allow/deny list is judged in order, as nginx applies the
    first rule that matches: ``allow all; deny all;`` (or ``allow 0.0.0.0/0`` first) lets
    everyone read it, and so does such an allow under ``satisfy any`` beside a password. Not
    reported beside an include of a file the deployment provides, which may restrict it, nor
    (a note instead) in a server of its own that serves only status on a port no site shares
    and that is not a web port (80, 443, 8080, 8443): a monitoring or health-probe listener,
    reachable from outside only if the deployment publishes that port.

    Bad:
        server {
            listen 80;
            location /nginx_status { stub_status; }
        }

    Good:
        server {
            listen 80;
            location /nginx_status {
                stub_status;
                allow 127.0.0.1;
                deny all;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_stub_status_module.html
    """
    for name in _STATUS_HANDLERS:
        for directive in ctx.all(name):
            block = directive.parent
            if block is None or block.name != "location" or not in_http(directive):
                continue
            server = block.enclosing("server")
            protected = access_restricted(ctx, block) or block.find("internal") or private_listeners(server) \
                or _address_gate(ctx, block) or _address_gate(ctx, server)
            if protected or ctx.unresolved_include(block) is not None:
                continue   # (a file the deployment provides may restrict it)
            port = _status_port(ctx, server)
            if port is not None:
                ctx.note(f"{directive.file}:{directive.line}: {name} has a server of its own on port {port}, a "
                         f"monitoring port that no site shares: not reported, as whether clients reach that port "
                         f"is the deployment's choice; restrict it (allow/deny all) if they do")
                continue
            yield ctx.finding(directive, f"{name} answers any client here: restrict it with allow/deny all, "
                                         f"auth_basic or a loopback-only listener")


_WEB_PORTS = {80, 443, 8080, 8443}
_CLIENT_ADDRESS = {"$remote_addr", "$binary_remote_addr", "$realip_remote_addr"}


def _address_gate(ctx, block) -> bool:
    """Whether ``block`` refuses requests by the client's address itself: ``if ($external) {
    return 404; }`` where ``$external`` comes from a ``geo`` of the client address (or a ``map``
    of ``$remote_addr``), the idiom hydroshare uses in place of allow/deny."""
    if block is None:
        return False
    for condition in block.find("if"):
        args = [a for a in condition.args if a not in ("(", ")")]
        if len(args) != 1 or not refuses(condition):
            continue
        written = args[0].strip("()")
        negated, variable = written.startswith("!"), written.lstrip("!")
        for table in (*ctx.all("geo"), *ctx.all("map")):
            defined = table.args[-1] if table.args else ""
            source = (table.args[0] if len(table.args) > 1 else "$remote_addr") if table.name == "geo" \
                else (table.args[0] if table.args else "")
            if defined != variable or source not in _CLIENT_ADDRESS:
                continue
            default = next((entry.args[0] for entry in table.block or () if entry.name == "default" and entry.args), "")
            # The refusal must cover every address the table does not name: a default that
            # makes the condition true (a list of who may in), not a list of who may not.
            if (default not in ("", "0")) != negated:
                return True
    return False


def _status_port(ctx, server) -> int | None:
    """The port of a server that serves nothing but a status page on a port of its own (no other
    server listens there, and it is not a web port): a monitoring or health-probe listener, the
    sidecar's ``listen 8081; location / { stub_status; }``. None for any other server."""
    if server is None:
        return None
    ports = {listen.port for listen in ctx.nginx.listens(server)}
    if len(ports) != 1 or ports & _WEB_PORTS or None in ports:
        return None
    others = {listen.port for other in http_servers(ctx) if other is not server for listen in ctx.nginx.listens(other)}
    locations = [d for d in server.walk() if d.name == "location"]
    serves_only_status = all(location.find_any(*_STATUS_HANDLERS, "return") for location in locations)
    return next(iter(ports)) if serves_only_status and not ports & others else None


_SAFE_IN_IF = {"return"}
# Beside a return, these only shape the response the return sends (the CORS preflight idiom:
# ``if ($request_method = OPTIONS) { add_header ...; return 204; }``).
_WITH_RETURN = {"add_header", "more_set_headers", "add_trailer", "expires", "set", "access_log", "default_type"}
_SAFE_REWRITE_FLAGS = {"last", "redirect", "permanent"}


@rule(group="hardening", code="CG644", name="if-is-evil", severity="warning")
def if_is_evil(ctx: LintContext) -> Iterator[Finding]:
    """An ``if`` inside a location does more than ``return`` or ``rewrite ... last``.

    ``if`` in a location creates a hidden nested location that takes over the request when
    the condition holds: ``proxy_pass``, ``add_header``, ``try_files`` and handlers inside it
    (or outside it) behave in surprising ways, from lost headers to crashes. Only ``return``
    and ``rewrite ... last|redirect|permanent`` are safe there; move the rest into a ``map`` or
    a separate location. An ``if`` that ends in ``return`` is safe with headers beside it (the
    CORS preflight: ``add_header ...; return 204;``): the return answers before anything else
    runs.

    Bad:
        server {
            location / {
                if ($http_x_debug) {
                    add_header X-Debug on;
                }
            }
        }

    Good:
        server {
            location / {
                if ($http_x_debug) {
                    return 403;
                }
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#if
        https://www.nginx.com/resources/wiki/start/topics/depth/ifisevil/
    """
    for block in ctx.all("if"):
        if block.parent is None or block.parent.name != "location" or not in_http(block):
            continue
        returns = any(d.name == "return" for d in block.block or ())
        unsafe = next((d for d in block.block or () if not _safe_in_if(d)
                       and not (returns and d.name in _WITH_RETURN)), None)
        if unsafe is not None:
            yield ctx.finding(block, f"this if inside a location runs {unsafe.name} ({unsafe.file}:{unsafe.line}); "
                                     f"only return and rewrite ... last are safe here: use a map or a "
                                     f"separate location")


def _safe_in_if(directive) -> bool:
    if directive.name in _SAFE_IN_IF:
        return True
    if directive.name == "rewrite":
        args = directive.args
        return (len(args) > 2 and args[2] in _SAFE_REWRITE_FLAGS) or (
            len(args) > 1 and args[1].startswith(("http://", "https://", "$scheme")))
    return False


# Where an empty value changes what nginx does with the request (not just omits a header).
_GATES = ("if", "return", "root", "alias", "proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass",
          "limit_req_zone", "limit_conn_zone", "auth_request", "try_files", "rewrite")


def _gating_variables(ctx) -> set[str]:
    """Variables read by directives where an empty value decides access or routing."""
    def compute():
        found: set[str] = set()
        for name in _GATES:
            for directive in ctx.all(name):
                found.update(ref.name for arg in directive.args if "$" in arg for ref in references(arg))
        return found
    return ctx.cached("access:gating-variables", compute)


@rule(group="hardening", code="CG645", name="map-without-default", severity="info")
def map_without_default(ctx: LintContext) -> Iterator[Finding]:
    """A ``map`` or ``geo`` that gates requests has no ``default`` entry.

    A value no entry matches becomes an empty string. A map that gates access or routing
    (read by an ``if``, a ``*_pass``, ``return``, ``root`` or a ``limit_req_zone`` key) then
    quietly lets unknown values through, sends them nowhere, or leaves them unlimited: say what
    unknown values get. A map whose empty value only leaves a header out (``add_header X
    $x_frame_options``, the h5bp idiom) is deliberate and not reported. In a ``geo``, nginx's
    ``default`` is the same entry as ``0.0.0.0/0`` and ``::/0`` together: both written count as
    a default; one alone counts for its address family when the servers accept no other (IPv6
    counts too when the address may come from a header: a source other than ``$remote_addr``,
    geo's ``proxy``, realip). Not reported when the table includes a file the deployment
    provides, which may hold the default.

    Bad:
        map $http_x_role $is_admin {
            admin 1;
        }
        server {
            location /admin/ {
                if ($is_admin = "") { return 403; }
            }
        }

    Good:
        map $http_x_role $is_admin {
            default 0;
            admin 1;
        }
        server {
            location /admin/ {
                if ($is_admin = 0) { return 403; }
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_map_module.html#map
        https://nginx.org/en/docs/http/ngx_http_geo_module.html#geo
    """
    gating = _gating_variables(ctx)
    for name in ("map", "geo"):
        for block in ctx.all(name):
            if not block.is_block or any(d.name == "default" for d in block.block or ()):
                continue
            if ctx.unresolved_include(block, inherited=False) is not None:
                continue   # the default may be in a table file the deployment provides
            variable = block.args[-1] if block.args else name
            if variable.lstrip("$").lower() not in gating:
                continue
            if name == "geo":
                uncovered = _geo_uncovered_families(ctx, block)
                if not uncovered:
                    continue
                if len(uncovered) == 1:
                    entry, other = ("0.0.0.0/0", "IPv4") if uncovered == ["IPv6"] else ("::/0", "IPv6")
                    yield ctx.finding(block, f"geo {variable} has no default for {uncovered[0]} clients (its {entry} "
                                             f"entry covers {other} only): their value becomes \"\"; add a `default` "
                                             f"entry (nginx's default is 0.0.0.0/0 and ::/0 both)")
                    continue
            yield ctx.finding(block, f"{name} {variable} has no default: unmatched values become \"\"; "
                                     f"add a `default` entry that says what they get")


def _geo_uncovered_families(ctx, block) -> list[str]:
    """The address families a ``geo`` gives no value for when nothing else matches: nginx's
    ``default`` is ``0.0.0.0/0`` and ``::/0`` at once (ngx_http_geo_module: one radix tree per
    family, each with its own catch-all), so ``0.0.0.0/0`` alone leaves IPv6 clients ``""``.
    A family counts when a server listens on it, and IPv6 also when the address may come from a
    header (a source other than ``$remote_addr``, geo's ``proxy``, realip): any family then."""
    whole = set()
    for entry in block.block or ():
        try:
            network = ipaddress.ip_network(entry.name, strict=False)
        except ValueError:
            continue
        if network.prefixlen == 0:
            whole.add("IPv4" if network.version == 4 else "IPv6")
    if not whole:
        return ["IPv4", "IPv6"]
    http = block.enclosing("http") or block.parent
    families = set(accepted_families(ctx, http)) if http is not None else {"IPv4"}
    source = block.args[0] if len(block.args) > 1 else "$remote_addr"
    if source != "$remote_addr" or ctx.all("set_real_ip_from") or any(e.name == "proxy" for e in block.block or ()):
        families.add("IPv6")
    return [family for family in ("IPv4", "IPv6") if family in families and family not in whole]


def _everyone(network: str) -> bool:
    """``0.0.0.0/0``, ``::/0`` and their spellings: a network of every address."""
    try:
        return ipaddress.ip_network(network, strict=False).prefixlen == 0
    except ValueError:
        return False


def _loopback_only(server) -> bool:
    """Whether every ``listen`` of ``server`` is a loopback address or a unix socket: only a
    process on this machine (the balancer in front) connects."""
    listens = [d for d in server.find("listen") if d.args] if server is not None else []

    def local(address: str) -> bool:
        if address.startswith("unix:"):
            return True
        host = address[1:address.index("]")] if address.startswith("[") and "]" in address \
            else address.rsplit(":", 1)[0] if ":" in address else ""
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"
    return bool(listens) and all(local(d.args[0]) for d in listens)


@rule(code="CG646", name="real-ip-from-everyone", severity="warning")
def real_ip_from_everyone(ctx: LintContext) -> Iterator[Finding]:
    """``set_real_ip_from 0.0.0.0/0`` (or ``::/0``): every client sets its own address.

    The realip module replaces the client address with the one in ``real_ip_header``
    (``X-Forwarded-For``, ``X-Real-IP``) when the connection comes from a trusted address;
    trusting every address means any client can write the header and be whoever it claims.
    ``$remote_addr`` feeds ``allow``/``deny`` (realip runs in the post-read phase, before the
    access phase), rate and
    connection limits keyed on it, the access log, and the address the app is told: all of them
    then trust the client. Name the balancer's own addresses. Not reported with
    ``real_ip_header proxy_protocol`` (the address comes from the PROXY protocol header of the
    connection), nor in a server that listens only on loopback or a unix socket.

    Bad:
        server {
            set_real_ip_from 0.0.0.0/0;
            real_ip_header X-Forwarded-For;
        }

    Good:
        server {
            set_real_ip_from 10.0.0.0/8;
            real_ip_header X-Forwarded-For;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_realip_module.html
        https://nginx.org/en/docs/http/ngx_http_access_module.html
        https://nginx.org/en/docs/dev/development_guide.html#http_phases
    """
    for directive in ctx.all("set_real_ip_from"):
        if not directive.args or not _everyone(directive.args[0]) or not in_http(directive):
            continue
        level = directive.parent
        header = ctx.nginx.effective_args("real_ip_header", level) or ["X-Real-IP"]
        if header[0].lower() == "proxy_protocol":
            continue
        server = level if level.name == "server" else level.enclosing("server")
        servers = [server] if server is not None else [s for s in level.walk() if s.name == "server" and s.is_block]
        if servers and all(_loopback_only(s) for s in servers):
            continue
        yield ctx.finding(directive, f"set_real_ip_from {directive.args[0]} trusts every peer: any client "
                                     f"writes {header[0]} and becomes the address it names, for allow/deny, "
                                     f"limit_req/limit_conn, the access log and the app; name the balancer's "
                                     f"addresses instead")


# Blocks whose requests nginx checks with their own merged configuration: a location (and a
# nested one), a limit_except inside it, or a server that has no location at all.
_AUTH_LEVELS = ("location", "limit_except")


@rule(code="CG647", name="auth-basic-without-user-file", severity="error")
def auth_basic_without_user_file(ctx: LintContext) -> Iterator[Finding]:
    """``auth_basic`` where no ``auth_basic_user_file`` is in force: nginx asks for no password.

    nginx's basic-auth check runs only when both a realm (``auth_basic``) and a password file
    (``auth_basic_user_file``) are in force for the location; with the realm alone it declines,
    and the page meant to be protected answers every client without credentials (checked with
    nginx 1.22.1: 200 without credentials, 401 once the file is set). Each of the two is
    inherited from outer levels on its own, so a file set in the server or http block counts,
    and ``auth_basic off`` turns the check off on purpose (not reported). An ``auth_basic`` in a
    server or http block is judged in the locations (and ``limit_except`` blocks) it is in force
    in, or in a server without locations. Not reported where an include of a file the deployment
    provides may set the file.

    Bad:
        server {
            listen 80;
            location /admin/ {
                auth_basic "Restricted";
                root /srv/admin;
            }
        }

    Good:
        server {
            listen 80;
            location /admin/ {
                auth_basic "Restricted";
                auth_basic_user_file /etc/nginx/htpasswd;
                root /srv/admin;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_auth_basic_module.html
        https://github.com/nginx/nginx/blob/master/src/http/modules/ngx_http_auth_basic_module.c
    """
    for directive in ctx.all("auth_basic"):
        if not directive.args or directive.args[0] == "off" or not in_http(directive):
            continue
        level = directive.parent
        if level is None:
            continue
        covered = [block for block in level.walk() if block.is_block and (
            block.name in _AUTH_LEVELS or block.name == "server" and not any(
                b.name == "location" for b in block.walk() if b is not block))]
        covered = [block for block in covered
                   if (ctx.nginx.effective("auth_basic", block) or [None])[-1] is directive]
        unprotected = [block for block in covered if not ctx.nginx.effective("auth_basic_user_file", block)
                       and ctx.unresolved_include(block) is None]
        if not unprotected:
            continue
        realm = directive.args[0]
        if unprotected[0] is level:
            yield ctx.finding(directive, f"auth_basic \"{realm}\" has no auth_basic_user_file in force here: nginx "
                                         f"checks no password and answers every client without credentials; add "
                                         f"auth_basic_user_file with the password file")
            continue
        where = ", ".join(f"{b.name} {' '.join(b.args)} ({b.file}:{b.line})" for b in unprotected[:3])
        more = f" and {len(unprotected) - 3} more" if len(unprotected) > 3 else ""
        yield ctx.finding(directive, f"auth_basic \"{realm}\" is in force without an auth_basic_user_file in "
                                     f"{where}{more}: nginx checks no password there and answers every client "
                                     f"without credentials; add auth_basic_user_file (here, to cover them all)")


# Request headers that carry a client's address when a proxy in front writes them; any client
# that reaches nginx itself writes them too.
_ADDRESS_HEADERS = frozenset({"$http_x_forwarded_for", "$http_x_real_ip", "$http_cf_connecting_ip",
                              "$http_true_client_ip", "$http_x_client_ip", "$http_fastly_client_ip",
                              "$http_x_cluster_client_ip", "$http_forwarded"})


@rule(code="CG648", name="rate-limit-key-spoofable", severity="warning")
def rate_limit_key_spoofable(ctx: LintContext) -> Iterator[Finding]:
    """A ``limit_req_zone`` / ``limit_conn_zone`` keyed on an address header the client writes.

    A zone keyed on ``$http_cf_connecting_ip`` (or ``X-Forwarded-For``, ``X-Real-IP``,
    ``True-Client-IP``) limits whoever the header names, and any client that reaches nginx
    itself writes the header: with a new value on every request it is a new client each time,
    and without the header the key is empty, and nginx does not count the request at all
    ("Requests with an empty key value are not accounted"). Key the zone on
    ``$binary_remote_addr`` and let the realip module set it from the header, trusting only the
    proxy's addresses (``set_real_ip_from``). Reported when a location or server that anyone can
    reach (no allow/deny list that closes it, a listen on a public address) uses the zone.

    Bad:
        http {
            limit_req_zone $http_cf_connecting_ip zone=api:10m rate=10r/s;
            server {
                location /api/ { limit_req zone=api; proxy_pass http://127.0.0.1:8000; }
            }
        }

    Good:
        http {
            set_real_ip_from 173.245.48.0/20;
            real_ip_header CF-Connecting-IP;
            limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;
            server {
                location /api/ { limit_req zone=api; proxy_pass http://127.0.0.1:8000; }
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_limit_req_module.html#limit_req_zone
        https://nginx.org/en/docs/http/ngx_http_limit_conn_module.html#limit_conn_zone
        https://nginx.org/en/docs/http/ngx_http_realip_module.html
    """
    from confgen.lint.rules.security_common import variable_model

    for zone_name, use_name in (("limit_req_zone", "limit_req"), ("limit_conn_zone", "limit_conn")):
        users: dict[str, list] = {}
        for use in ctx.all(use_name):
            zone = next((a[5:] for a in use.args if a.startswith("zone=")), use.args[0] if use.args else "")
            users.setdefault(zone, []).append(use)
        by_key: dict[str, list] = {}      # one cause, one finding: the zones keyed the same way
        for zone in ctx.all(zone_name):
            if len(zone.args) < 2 or not in_http(zone):
                continue
            name = next((a[5:].split(":", 1)[0] for a in zone.args[1:] if a.startswith("zone=")), None)
            headers = [s.name for s in variable_model(ctx).sources(zone.args[0], zone) if s.name in _ADDRESS_HEADERS]
            if headers and any(_open_to_anyone(ctx, use) for use in users.get(name or "", [])):
                by_key.setdefault(zone.args[0], []).append((zone, headers[0]))
        for zones in by_key.values():
            (zone, header), more = zones[0], len(zones) - 1
            also = f" (and {more} more zone{'s' if more > 1 else ''} keyed so)" if more else ""
            yield ctx.finding(zone, f"{zone_name} keys on {header}{also}, a header any client that reaches nginx "
                                    f"writes: a new value each request is a new client, and without the header the "
                                    f"key is empty and nginx counts nothing; key on $binary_remote_addr and set it "
                                    f"from the header with set_real_ip_from the proxy's addresses")


def _open_to_anyone(ctx, use) -> bool:
    """Whether anyone can send requests to where ``use`` applies: no allow/deny list closes it and
    its server listens on a public address."""
    from confgen.lint.rules._proxy import only_trusted_peers

    block = use.parent
    server = block if block.name == "server" else block.enclosing("server")
    return not only_trusted_peers(ctx, block) and not (server is not None and private_listeners(server))
