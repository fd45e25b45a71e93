"""nginx's own DNS resolution (CG65x): resolvers across the internet, and run-time names with
no resolver at all."""

from __future__ import annotations

import ipaddress
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import is_ip, routes, upstreams
from confgen.lint.rules.security_common import UPSTREAM_PASS, http_servers, in_http, is_tls_server, variable_model
from confgen.lint.rules.security_tls import letsencrypt_certificates
from confgen.nginx.variables import Source, literal_text


def resolver_addresses(directive) -> list[str]:
    """The name server addresses of a ``resolver`` (parameters such as ``valid=`` left out)."""
    return [a for a in directive.args if "=" not in a]


def _host(address: str) -> str:
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address


def _is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(_host(address)).is_global
    except ValueError:
        return False


@rule(code="CG651", name="resolver-external", severity="warning")
def resolver_external(ctx: LintContext) -> Iterator[Finding]:
    """``resolver`` names a public DNS server.

    nginx's resolver speaks plain UDP DNS: answers from a server across the internet can be
    spoofed by anyone on the path (and nginx's resolver had a memory-corruption bug reachable
    that way, CVE-2021-23017), redirecting proxied traffic. Use a resolver on the host or in
    the private network (``127.0.0.53``, the VPC resolver).

    Only a resolver something asks is reported: a ``*_pass`` with a variable, an upstream
    ``server ... resolve``, OCSP (``ssl_stapling on`` in force for a TLS server, written there or
    above it, without ``ssl_stapling_file``, whose certificate is not Let's Encrypt's, which names
    no OCSP responder since 2025; ``ssl_ocsp``) or code (Lua, njs) in its scope. nginx resolves the names of
    ``proxy_pass http://name`` and upstream servers once, at start, with the system's resolver,
    so a ``resolver`` line nothing uses sends no query (checked on nginx 1.22.1 against a
    logging listener) and is not reported. In mail and stream blocks it is always reported.

    Bad:
        server {
            resolver 8.8.8.8 1.1.1.1;
            location / {
                set $backend app.internal;
                proxy_pass http://$backend:8000;
            }
        }

    Good:
        server {
            resolver 127.0.0.53 valid=30s;
            location / {
                set $backend app.internal;
                proxy_pass http://$backend:8000;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#resolver
    """
    for directive in ctx.all("resolver"):
        public = [a for a in resolver_addresses(directive) if _is_public(a)]
        if public and _asked(ctx, directive):
            yield ctx.finding(directive, f"resolver {' '.join(public)} is a public DNS server reached over plain "
                                         f"UDP: its answers can be spoofed; use a local or private-network resolver")


def _staples_with(ctx, server, uses) -> bool:
    """Whether ``server`` fetches OCSP responses with the resolver ``uses`` tests for: a TLS server, stapling on
    in force there (written in the server or above it), no ``ssl_stapling_file``, and a
    certificate that is not Let's Encrypt's (which names no OCSP responder since 2025: nothing to
    look up). Judged per server, where the certificate is: stapling is often set at the http level
    for servers whose certificates are in other files."""
    if not is_tls_server(ctx, server):
        return False
    stapling = ctx.nginx.effective("ssl_stapling", server)
    return bool(stapling) and stapling[-1].args[:1] == ["on"] and uses(server) \
        and not ctx.nginx.effective("ssl_stapling_file", server) and not letsencrypt_certificates(ctx, server)


def _asked(ctx, resolver) -> bool:
    """Whether anything looks a name up with ``resolver`` while nginx runs (see resolver-external);
    True where that cannot be told (a mail or stream block, an include the deployment provides)."""
    if not in_http(resolver) or resolver.parent is None or ctx.unresolved_include(resolver.parent) is not None:
        return True

    def uses(block) -> bool:
        return block is not None and any(d is resolver for d in _resolver_for(ctx, block))

    for name in UPSTREAM_PASS:
        if any(d.args and "$" in d.args[0] and uses(d.parent) for d in ctx.all(name)):
            return True
    if any(uses(u) and any("resolve" in s.args[1:] for s in u.find("server")) for u in upstreams(ctx).values()):
        return True
    if any(_staples_with(ctx, server, uses) for server in http_servers(ctx)):
        return True
    if any(d.args[:1] != ["off"] and uses(d.parent) for d in ctx.all("ssl_ocsp")):
        return True
    code = [name for name in ctx.names() if "_by_lua" in name or name.startswith("js_")]
    return any(uses(d.parent) for name in code for d in ctx.all(name))


def _resolver_for(ctx, block):
    """The resolver directives in force for a location or upstream (an upstream's own, from
    nginx 1.27.3, else the http block's)."""
    if block.name == "upstream":
        return block.find("resolver") or (ctx.nginx.effective("resolver", block.parent) if block.parent else [])
    return ctx.nginx.effective("resolver", block)


def _known_servers(ctx) -> tuple[set[str], set[str]]:
    """Host names nginx finds without DNS when a run-time URL names them, compared
    case-insensitively as nginx does: ``upstream`` block names, found only when the URL writes
    no port, and the implicit upstreams that proxy_pass URLs without variables create anywhere
    in http (``host:port`` as written; a URL with a variable in its path creates none)."""
    def compute():
        blocks = {name.lower() for name in upstreams(ctx)}
        implicit = {route.target.lower() for route in routes(ctx)
                    if "$" not in route.proxy_pass.args[0] and route.upstream is None}
        return blocks, implicit
    return ctx.cached("dns:known-servers", compute)


def _split_port(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _name_to_resolve(ctx, host: tuple) -> str | None:
    """The host name nginx must look up for one alternative of a run-time address, or None when
    it needs no DNS (an IP, a unix socket, an upstream name) or cannot be known (a value code
    computes, one of nginx's own variables)."""
    text = literal_text(host)
    if text is not None:
        name = text.strip()
        blocks, implicit = _known_servers(ctx)
        lowered = name.lower()
        # "app:8000" is not upstream app: nginx matches a block only when no port is written
        if (not name or lowered.startswith("unix:") or is_ip(_split_port(name))
                or lowered in blocks or lowered in implicit or _split_port(lowered) in implicit):
            return None
        return name
    if any(isinstance(s, Source) and s.controlled for s in host):
        return "".join(s if isinstance(s, str) else s.name for s in host)
    literal = "".join(s for s in host if isinstance(s, str))
    # "$region.internal": the literal part makes it a name, whatever the variable holds.
    if literal.strip(".:-") and "." in literal and not literal.lower().startswith("unix:"):
        return "".join(s if isinstance(s, str) else s.name for s in host)
    return None


@rule(code="CG652", name="missing-resolver", severity="warning")
def missing_resolver(ctx: LintContext) -> Iterator[Finding]:
    """A host name resolved at run time, but no ``resolver`` is configured.

    A ``proxy_pass`` whose host comes from a variable, and an upstream ``server ... resolve``,
    are looked up by nginx while it runs, with the ``resolver`` in force. Without one every such
    request fails with 502 ("no resolver defined to resolve"), and ``resolve`` servers are
    never re-resolved.

    Bad:
        server {
            location / {
                set $backend app.internal;
                proxy_pass http://$backend:8000;
            }
        }

    Good:
        server {
            resolver 127.0.0.53;
            location / {
                set $backend app.internal;
                proxy_pass http://$backend:8000;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#resolver
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
    """
    for name in UPSTREAM_PASS:
        for directive in ctx.all(name):
            if not directive.args or not in_http(directive) or directive.parent is None:
                continue
            if "$" not in directive.args[0] or _resolver_for(ctx, directive.parent):
                continue    # without variables nginx resolves names once, at start
            if ctx.unresolved_include(directive.parent):
                continue    # a file the deployment provides may set the resolver
            model = variable_model(ctx)
            names = [n for host in model.host_alternatives(directive.args[0], directive)
                     if (n := _name_to_resolve(ctx, host))]
            if names:
                yield ctx.finding(directive, f"{name} resolves {names[0]} while running, but no resolver is "
                                             f"configured here: those requests fail with 502; add `resolver` "
                                             f"(e.g. 127.0.0.53)")
    for upstream in upstreams(ctx).values():
        dynamic = [s for s in upstream.find("server") if "resolve" in s.args[1:]]
        if dynamic and not _resolver_for(ctx, upstream) and not ctx.unresolved_include(upstream):
            yield ctx.finding(dynamic[0], f"server {dynamic[0].args[0]} has `resolve` but no resolver is configured "
                                          f"for upstream {upstream.args[0]}: it is never re-resolved; add `resolver`")
