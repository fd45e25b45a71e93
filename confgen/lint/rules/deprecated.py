"""Directives and parameters nginx deprecated or removed, judged against the target version."""

from __future__ import annotations

from typing import Iterator, NamedTuple

from confgen.lint.context import LintContext
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.edits import Unfixable
from confgen.lint.fixes.nginx_edits import append_arg, insert_after, remove, remove_args
from confgen.lint.registry import Finding, rule
from confgen.nginx.versions import introductions_used, version_text


class Deprecation(NamedTuple):
    directive: str
    since: tuple[int, int, int]                 # from here nginx warns at start
    replacement: str
    parameter: str | None = None                # e.g. listen's "http2": the parameter, not the directive
    ignored: bool = False                       # "obsolete": nginx warns and ignores it
    removed: tuple[int, int, int] | None = None  # from here nginx refuses to start
    prefix: bool = False                        # every directive starting with `directive`


# From nginx's CHANGES: 1.25.1 (http2 directive, server push removed, ssl directive removed),
# 1.19.7 (HTTP/2 connection handling unified with HTTP/1.x), 1.15.0 (ssl deprecated),
# 1.9.5 (SPDY replaced by HTTP/2), 1.7.6 (limit_zone removed).
DEPRECATIONS = (
    Deprecation("ssl", (1, 15, 0), "the ssl parameter of listen (`listen 443 ssl;`)", removed=(1, 25, 1)),
    Deprecation("listen", (1, 25, 1), "`http2 on;` in the server block", parameter="http2"),
    Deprecation("http2_push", (1, 25, 1), "Link: rel=preload headers (server push is gone from "
                "browsers and nginx)", ignored=True),
    Deprecation("http2_push_preload", (1, 25, 1), "Link: rel=preload headers (server push is gone from "
                "browsers and nginx)", ignored=True),
    Deprecation("http2_max_concurrent_pushes", (1, 25, 1), "nothing: server push was removed", ignored=True),
    Deprecation("http2_idle_timeout", (1, 19, 7), "keepalive_timeout", ignored=True),
    Deprecation("http2_recv_timeout", (1, 19, 7), "client_header_timeout", ignored=True),
    Deprecation("http2_max_requests", (1, 19, 7), "keepalive_requests", ignored=True),
    Deprecation("http2_max_field_size", (1, 19, 7), "large_client_header_buffers", ignored=True),
    Deprecation("http2_max_header_size", (1, 19, 7), "large_client_header_buffers", ignored=True),
    Deprecation("listen", (1, 9, 5), "the http2 parameter", parameter="spdy", removed=(1, 9, 5)),
    Deprecation("spdy_", (1, 9, 5), "the matching http2_* directive", removed=(1, 9, 5), prefix=True),
    Deprecation("limit_zone", (1, 1, 8), "limit_conn_zone", removed=(1, 7, 6)),
)


def _matches(entry: Deprecation, directive) -> bool:
    if entry.prefix:
        if not directive.name.startswith(entry.directive):
            return False
    elif directive.name != entry.directive:
        return False
    return entry.parameter is None or entry.parameter in directive.args[1:]


@rule(code="CG501", name="deprecated-directive", severity="warning")
def deprecated_directive(ctx: LintContext) -> Iterator[Finding]:
    """A directive or parameter the target nginx version deprecated, ignores or removed.

    Deprecated ones still work but warn at every start and will go; obsolete ones are ignored
    (so the setting silently does nothing: ``http2_idle_timeout`` since 1.19.7 does not limit
    anything); removed ones stop nginx from starting (``ssl on`` from 1.25.1). The target
    version is ``--nginx-version``, else the oldest one the config's own syntax needs when that
    is newer than the installed nginx (else 1.22). Removed ones are errors; the message names
    the replacement, and, when the version came from the config's syntax, the directive that
    needs it: no nginx accepts both.

    Version: 1.25.1

    Bad:
        server {
            listen 443 ssl http2;
            http2_idle_timeout 30s;
        }

    Good:
        server {
            listen 443 ssl;
            http2 on;
            keepalive_timeout 30s;
        }

    Fix safety: Safe: ``listen ... http2`` becomes ``http2 on;`` in the server, ``ssl on``
    becomes the ``ssl`` parameter of the server's listens, and an obsolete directive nginx
    ignores goes; nginx then runs with the same settings. Others have no mechanical replacement.

    References:
        https://nginx.org/en/docs/http/ngx_http_v2_module.html#http2
        https://nginx.org/en/docs/http/ngx_http_core_module.html#listen
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl
    """
    for entry in DEPRECATIONS:
        if ctx.version < entry.since:
            continue
        candidates = ctx.all(entry.directive) if not entry.prefix else [
            d for name, found in ctx._index.items() if name.startswith(entry.directive) for d in found]
        for directive in candidates:
            if not _matches(entry, directive):
                continue
            shown = f"listen ... {entry.parameter}" if entry.parameter else directive.name
            fix = _replacement(entry, directive)
            if entry.removed is not None and ctx.version >= entry.removed:
                yield ctx.finding(directive, f"`{shown}` was removed in nginx {version_text(entry.removed)}: "
                                             f"nginx {version_text(ctx.version)} refuses to start{_contradiction(ctx)}; "
                                             f"use {entry.replacement}", severity="error", fix=fix)
            elif entry.ignored:
                yield ctx.finding(directive, f"`{shown}` is obsolete since nginx {version_text(entry.since)} and "
                                             f"ignored, so it does nothing; use {entry.replacement}", fix=fix)
            else:
                until = f", and removed in {version_text(entry.removed)}" if entry.removed else ""
                yield ctx.finding(directive, f"`{shown}` is deprecated since nginx {version_text(entry.since)}"
                                             f"{until}; use {entry.replacement}", fix=fix)


def _contradiction(ctx) -> str:
    """When the version was taken from the config's own syntax, the removed directive and that
    syntax together are what no nginx accepts: name both."""
    adopted = getattr(ctx.nginx, "version_from_syntax", None)
    if adopted is None:
        return ""
    version, needing = adopted
    return (f", and `{needing.name}` at {needing.file}:{needing.line} needs {version_text(version)} or newer: "
            f"no nginx version accepts both")


def _replacement(entry: Deprecation, directive) -> Fix | None:
    if directive.name == "listen" and entry.parameter == "http2":
        return Fix(lambda fx: fx.same_everywhere(directive, lambda d: _listen_http2(fx, d)))
    if directive.name == "ssl":
        return Fix(lambda fx: fx.same_everywhere(directive, lambda d: _ssl_on(fx, d)))
    if entry.ignored:
        # nginx ignores it already: removing it changes nothing but the warning.
        return Fix(lambda fx: fx.same_everywhere(directive, lambda d: [remove(fx, d)]))
    return None


def _listen_http2(fx, listen) -> list:
    server = listen.parent
    if server is None or server.name != "server":
        raise Unfixable("`listen` outside a server block")
    edits = remove_args(fx, listen, [i for i, arg in enumerate(listen.args) if i > 0 and arg == "http2"])
    if not any(d.args[:1] == ["on"] for d in server.find("http2")):
        edits.append(insert_after(fx, listen, "http2 on;"))
    return edits


def _ssl_on(fx, directive) -> list:
    server = directive.parent
    if server is None or server.name != "server":
        raise Unfixable("`ssl` outside a server block: add `ssl` to the listen of each TLS server by hand")
    edits = [remove(fx, directive)]
    if directive.args[:1] == ["on"]:
        listens = [d for d in server.block or () if d.name == "listen"]
        if not listens:
            raise Unfixable("`ssl on` in a server without listen: write `listen 443 ssl;` by hand")
        edits += [append_arg(fx, listen, "ssl") for listen in listens if "ssl" not in listen.args[1:]]
    return edits


@rule(code="CG502", name="directive-too-new", severity="error")
def directive_too_new(ctx: LintContext) -> Iterator[Finding]:
    """A directive or parameter the target nginx version does not know: nginx refuses to start.

    ``http2 on`` exists from nginx 1.25.1, ``server ... resolve`` and ``resolver`` inside an
    ``upstream`` block from 1.27.3, ``listen ... quic`` and ``http3`` from 1.25.0: an older
    nginx stops with "unknown directive" (or "invalid parameter"), and a reload keeps the old
    config. It is reported against a version the user named (``--nginx-version``, the
    project's ``nginx-version``): with none named, confgen lints for the oldest version the
    config's own syntax needs when that is newer than the installed nginx (else 1.22), and a
    note says so, since the machine that lints is not the one that serves. Upgrade nginx or use
    the older form the message names.

    Version: 1.22.1

    Bad:
        server {
            listen 443 ssl;
            http2 on;
        }

    Good:
        server {
            listen 443 ssl http2;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_v2_module.html#http2
        https://nginx.org/en/docs/http/ngx_http_upstream_module.html#server
        https://nginx.org/en/CHANGES
    """
    target = version_text(ctx.version)
    for entry, directive in introductions_used(ctx.nginx, ctx.all):
        if ctx.version >= entry.since:
            continue
        shown = entry.shown() + (f"` in an `{entry.context}` block" if entry.context else "`")
        older = _OLDER_FORMS.get(entry.directive, "")
        yield ctx.finding(directive, f"`{shown} exists from nginx {version_text(entry.since)}; nginx {target} "
                                     f"refuses to start with it{older}")


_OLDER_FORMS = {
    "http2": " (before 1.25.1, write `listen ... http2`)",
    "server": " (before 1.27.3, a variable in proxy_pass with `resolver` re-resolves a name)",
}
