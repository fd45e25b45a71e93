"""Proxy timeouts nginx does not honour as written."""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, Option, rule
from confgen.lint.rules._proxy import seconds

# nginx's documentation: the connect timeout "usually cannot exceed 75 seconds" (the kernel's
# own connect timeout ends the attempt first).
CONNECT_TIMEOUT_CEILING_S = 75.0
_CONNECT_TIMEOUTS = ("proxy_connect_timeout", "grpc_connect_timeout", "uwsgi_connect_timeout",
                     "fastcgi_connect_timeout", "scgi_connect_timeout")


@rule(code="CG108", name="proxy-connect-timeout-ineffective", severity="warning", options=[
    Option("max-seconds", float, CONNECT_TIMEOUT_CEILING_S, "the longest connect timeout not reported", 1, 3600)])
def proxy_connect_timeout_ineffective(ctx: LintContext) -> Iterator[Finding]:
    """A connect timeout above 75 seconds, which nginx cannot honour.

    The connect timeout "usually cannot exceed 75 seconds" (nginx's documentation): the
    operating system gives up on the connect first, so a larger value only misleads the
    reader. An app that is up accepts a connection within milliseconds; a long connect timeout
    mostly delays failing over to the next server. It is often set by confusion with
    ``proxy_read_timeout``, which is the one that bounds a slow response.

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
    """
    ceiling = ctx.option("max-seconds")
    for name in _CONNECT_TIMEOUTS:
        for directive in ctx.all(name):
            value = seconds(directive.args)
            if value is not None and value > ceiling:
                yield ctx.finding(directive,
                                  f"{name} {directive.args[0]} is above the {ceiling:g}s a "
                                  f"connect can take: the system gives up first; use a few seconds, and "
                                  f"proxy_read_timeout for slow responses")
