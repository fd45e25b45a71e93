"""Proxy timeouts nginx does not honour as written."""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, Option, rule
from confgen.lint.rules._proxy import map_values, route_of, seconds, servers_of
from confgen.nginx.model import overriding_handler

# nginx's documentation: the connect timeout "usually cannot exceed 75 seconds". What ends an
# unanswered connect first is the kernel: Linux retransmits the SYN net.ipv4.tcp_syn_retries
# times (default 6) with the timeout doubling from 1 s, and gives up at about 127 s
# (Documentation/networking/ip-sysctl: "the final timeout for an active TCP connection attempt
# will happen at 127seconds"); a refused connect fails at once whatever the timeout.
CONNECT_TIMEOUT_CEILING_S = 75.0
LINUX_SYN_GIVE_UP_S = 127
_CONNECT_TIMEOUTS = ("proxy_connect_timeout", "grpc_connect_timeout", "uwsgi_connect_timeout",
                     "fastcgi_connect_timeout", "scgi_connect_timeout")


@rule(code="CG108", name="proxy-connect-timeout-ineffective", severity="warning", options=[
    Option("max-seconds", float, CONNECT_TIMEOUT_CEILING_S, "the longest connect timeout not reported", 1, 3600)])
def proxy_connect_timeout_ineffective(ctx: LintContext) -> Iterator[Finding]:
    """A connect timeout above the 75 seconds nginx documents as the usual limit of a connect.

    nginx documents that the connect timeout "usually cannot exceed 75 seconds". What limits it
    is the kernel: Linux retries an unanswered connect (SYN) ``net.ipv4.tcp_syn_retries``
    times, 6 by default, and gives up after about 127 seconds, so a value past that is never
    reached; a refused connect (nothing listens) fails at once whatever the value. An app that
    is up accepts a connection within milliseconds: a timeout this long only makes nginx wait
    on a host that does not answer (down, or a firewall dropping packets) before it tries the
    next server or answers 504. It is often set by confusion with ``proxy_read_timeout``, which
    is the one that bounds a slow response. The threshold is the ``max-seconds`` option. Not
    reported where the setting governs no connect over the network: no ``*_pass`` of its module
    in its block or below (a ``fastcgi_connect_timeout`` in a config that passes nothing to
    FastCGI), or only unix sockets, written or chosen by a ``map`` among upstreams (nginx
    connects without blocking, and a unix socket accepts at once or fails at once: a full
    backlog is EAGAIN, which nginx treats as a failed connect).

    Bad:
        location / {
            proxy_pass http://127.0.0.1:8000;
            proxy_connect_timeout 120s;
        }

    Good:
        location / {
            proxy_pass http://127.0.0.1:8000;
            proxy_connect_timeout 5s;
            proxy_read_timeout 120s;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_connect_timeout
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout
        https://docs.kernel.org/networking/ip-sysctl.html (tcp_syn_retries)
    """
    ceiling = ctx.option("max-seconds")
    for name in _CONNECT_TIMEOUTS:
        for directive in ctx.all(name):
            value = seconds(directive.args)
            if value is not None and value > ceiling and _connects_over_the_network(ctx, directive):
                kernel = (f"Linux gives up on an unanswered connect after about {LINUX_SYN_GIVE_UP_S}s "
                          f"(default net.ipv4.tcp_syn_retries 6), so this value is never reached"
                          if value > LINUX_SYN_GIVE_UP_S else
                          f"on Linux it holds only while the host does not answer at all (a refused "
                          f"connect fails at once, and the kernel gives up after about {LINUX_SYN_GIVE_UP_S}s)")
                yield ctx.finding(directive,
                                  f"{name} {directive.args[0]} is above the {ceiling:g}s nginx documents as the "
                                  f"usual limit of a connect; {kernel}: use a few seconds so nginx moves on to "
                                  f"the next server, and proxy_read_timeout for slow responses")


def _connects_over_the_network(ctx: LintContext, directive) -> bool:
    """Whether the connect timeout governs a connect that can hang: a pass of its own module in
    the block it is written in (or below), to a host rather than only to unix sockets."""
    block = directive.parent
    if block is None:
        return False
    pass_name = directive.name.replace("_connect_timeout", "_pass")
    passes = [d for d in block.walk() if d.name == pass_name and d.args and overriding_handler(d) is None]
    if not passes:
        # In a snippet, the pass may be where it is included; beside a file the deployment
        # provides, in that file.
        return ctx.unresolved_include(block) is not None or not ctx.nginx.is_full and block.parent is None
    for found in passes:
        route = route_of(ctx, found)
        servers = _servers_of_variable(ctx, route.target) if route.is_variable else route.servers
        if not servers or any(not s.startswith("unix:") for s in servers):
            return True
    return False


def _servers_of_variable(ctx: LintContext, target: str) -> tuple[str, ...]:
    """The servers a pass target that is one ``map`` variable reaches, over all the map's values
    (``proxy_pass http://$dispatcher`` choosing between two upstreams); () when unknown."""
    values = map_values(ctx, target) if target.startswith("$") and target[1:].isidentifier() else None
    if not values or "" in values:
        return ()
    return tuple(server for value in sorted(values) for server in servers_of(ctx, value))
