"""nginx's own DNS resolution (CG65x): resolvers across the internet, and run-time names with
no resolver at all."""

from __future__ import annotations

import ipaddress
import re
from typing import Iterator

from confgen.lint.rules._proxy import is_ip
from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import upstreams
from confgen.lint.rules.security_common import UPSTREAM_PASS, client_controlled, in_http, split_path, variables


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

    Bad:
        server {
            resolver 8.8.8.8 1.1.1.1;
        }

    Good:
        server {
            resolver 127.0.0.53 valid=30s;
        }
    """
    for directive in ctx.all("resolver"):
        public = [a for a in resolver_addresses(directive) if _is_public(a)]
        if public:
            yield ctx.finding(directive, f"resolver {' '.join(public)} is a public DNS server reached over plain "
                                         f"UDP: its answers can be spoofed; use a local or private-network resolver")


def _resolver_for(ctx, block):
    """The resolver directives in force for a location or upstream (an upstream's own, from
    nginx 1.27.3, else the http block's)."""
    if block.name == "upstream":
        return block.find("resolver") or (ctx.nginx.effective("resolver", block.parent) if block.parent else [])
    return ctx.nginx.effective("resolver", block)


def _needs_dns(ctx, value: str) -> bool:
    """Whether a run-time upstream address may be a host name nginx must resolve. Values a
    ``map`` or ``set`` gives are checked (an upstream block's name or an IP needs no DNS);
    request variables ($host, $arg_x) can be any name; a variable set by code (Lua, njs, perl)
    is unknowable and not reported."""
    literal = re.sub(r"\$\{?\w+\}?", "", value)
    if literal == value:
        return value.lower() not in {n.lower() for n in upstreams(ctx)} and not is_ip(value)
    if literal.strip(".:-") and not is_ip(literal):
        return True
    return any(_may_be_hostname(ctx, var.name, set()) for var in variables(value))


def _may_be_hostname(ctx, name: str, seen: set) -> bool:
    if name.isdigit() or client_controlled(name):
        return True
    if name in seen:
        return False
    seen.add(name)
    values = [m_entry.args[0] for m in ctx.all("map") if len(m.args) >= 2 and m.args[1].lstrip("$").lower() == name
              for m_entry in m.block or () if m_entry.args]
    values += [d.args[1] for d in ctx.all("set") if len(d.args) >= 2 and d.args[0].lstrip("$").lower() == name]
    names = {n.lower() for n in upstreams(ctx)}
    for text in values:
        host = text.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0] if text.count(":") <= 1 else text
        if "$" in host:
            if any(_may_be_hostname(ctx, v.name, seen) for v in variables(host)):
                return True
        elif host and host.lower() not in names and not is_ip(host):
            return True
    return False


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
    """
    for name in UPSTREAM_PASS:
        for directive in ctx.all(name):
            if not directive.args or not in_http(directive) or directive.parent is None:
                continue
            url = directive.args[0]
            address = split_path(url.split("://", 1)[-1])[0]
            if "$" not in url or address.lower().startswith("unix:"):
                continue    # without variables nginx resolves names once, at start
            host = address.rsplit(":", 1)[0] if not address.startswith("[") else address
            if _needs_dns(ctx, host) and not _resolver_for(ctx, directive.parent):
                yield ctx.finding(directive, f"{name} resolves {host} while running, but no resolver is configured "
                                             f"here: requests fail with 502; add `resolver` (e.g. 127.0.0.53)")
    for upstream in upstreams(ctx).values():
        dynamic = [s for s in upstream.find("server") if "resolve" in s.args[1:]]
        if dynamic and not _resolver_for(ctx, upstream):
            yield ctx.finding(dynamic[0], f"server {dynamic[0].args[0]} has `resolve` but no resolver is configured "
                                          f"for upstream {upstream.args[0]}: it is never re-resolved; add `resolver`")
