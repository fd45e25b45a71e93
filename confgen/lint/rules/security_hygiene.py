"""Hygiene with security weight (CG80x): version disclosure, logs switched off, ambiguous
default servers, short client keep-alive, and config patterns that trigger published nginx CVEs
on the target version."""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator, NamedTuple

from confgen.lint.context import LintContext
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.nginx_edits import insert_first, replace_args
from confgen.lint.registry import Finding, rule
from confgen.lint.rules.security_common import http_servers, in_http, is_tls_server, listen_socket
from confgen.nginx.variables import capture_groups, parse_regex, references

Version = tuple[int, int, int]


@rule(group="hardening", code="CG801", name="version-disclosure", severity="warning")
def version_disclosure(ctx: LintContext) -> Iterator[Finding]:
    """nginx announces its version (``server_tokens on`` or ``build``, or nginx's default).

    The version in every ``Server`` header and error page tells a scanner exactly which
    published CVEs apply, for free. ``server_tokens off;`` in the http block hides it. A
    ``server_tokens on`` written at any level (http, server, location, also in a snippet) is
    reported where it is written; the default (on) is reported in a whole config only, where
    an http block that never says ``off`` is really absent.

    Bad:
        events {}
        http {
            server { listen 80; }
        }

    Good:
        events {}
        http {
            server_tokens off;
            server { listen 80; }
        }

    Fix safety: Safe: ``server_tokens off`` where ``on`` is written, or first in the http block;
    responses lose only the version number.

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#server_tokens
    """
    for directive in ctx.all("server_tokens"):
        value = (directive.args[0] if directive.args else "").lower()
        if value in ("on", "build") and in_http(directive):
            yield ctx.finding(directive, f"server_tokens {value}: every response from here names the nginx "
                                         f"version; write `server_tokens off;`",
                              fix=Fix(lambda fx, tokens=directive: fx.same_everywhere(
                                  tokens, lambda d: [replace_args(fx, d, "off")])))
    if not ctx.nginx.is_full:
        return
    for http in ctx.all("http"):
        # Only servers and locations answer requests: an http-level default every server
        # overrides discloses nothing.
        levels = [d for d in http.walk() if d.name in ("server", "location") and d.is_block]
        if any(not ctx.nginx.effective("server_tokens", level) and not ctx.unresolved_include(level)
               for level in levels):
            yield ctx.finding(http, "server_tokens is on by default: every response names the nginx version; "
                                    "write `server_tokens off;` in the http block",
                              fix=Fix(lambda fx, block=http: [insert_first(fx, block, "server_tokens off;")]))


@rule(code="CG802", name="error-log-off", severity="warning")
def error_log_off(ctx: LintContext) -> Iterator[Finding]:
    """``error_log off`` does not switch logging off: it logs to a file named ``off``.

    ``off`` is not a keyword for ``error_log``: nginx writes errors to ``<prefix>/off``, where
    nobody looks and which grows unrotated. Send errors somewhere real
    (``error_log /var/log/nginx/error.log warn;``, ``stderr``) or to ``/dev/null`` on purpose.

    Bad:
        error_log off;

    Good:
        error_log /var/log/nginx/error.log warn;

    References:
        https://nginx.org/en/docs/ngx_core_module.html#error_log
    """
    for directive in ctx.all("error_log"):
        if directive.args[:1] == ["off"]:
            yield ctx.finding(directive, "error_log off writes errors to a file named \"off\"; give a real log "
                                         "path (or /dev/null deliberately)")


@rule(code="CG806", name="access-log-on", severity="warning")
def access_log_on(ctx: LintContext) -> Iterator[Finding]:
    """``access_log on`` does not switch logging on: it logs to a file named ``on``.

    ``off`` is the only keyword ``access_log`` knows; any other first argument is a path, so
    ``on`` writes the access log to ``<prefix>/on`` (``nginx -t`` creates it), in the combined
    format, unrotated, where nobody looks. Name the log file, or leave the line out to keep the
    inherited one.

    Bad:
        server {
            access_log on;
        }

    Good:
        server {
            access_log /var/log/nginx/access.log combined;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_log_module.html#access_log
    """
    for directive in ctx.all("access_log"):
        if directive.args[:1] and directive.args[0].lower() in ("on", "yes", "true", "enable", "enabled"):
            yield ctx.finding(directive, f"access_log {directive.args[0]} writes the access log to a file named "
                                         f"\"{directive.args[0]}\"; give the log's path (only `off` is a keyword)")


@rule(group="hardening", code="CG803", name="default-server-missing", severity="warning", needs=("full",))
def default_server_missing(ctx: LintContext) -> Iterator[Finding]:
    """Several servers share a listen socket and none is ``default_server``.

    Requests for unknown host names (scanners, IP-address access, DNS-rebinding attacks) then
    go to whichever server nginx read first, which depends on include order: adding a file to
    ``conf.d`` can silently hand them to another site. Mark one server ``default_server``,
    usually a catch-all that returns 444. Not reported where a file the deployment provides is
    included in one of those servers or around them: it may hold the default server.

    Bad:
        events {}
        http {
            server { listen 80; server_name a.example; }
            server { listen 80; server_name b.example; }
        }

    Good:
        events {}
        http {
            server { listen 80 default_server; server_name _; return 444; }
            server { listen 80; server_name a.example; }
            server { listen 80; server_name b.example; }
        }

    References:
        https://nginx.org/en/docs/http/request_processing.html
        https://nginx.org/en/docs/http/ngx_http_core_module.html#listen
    """
    groups: dict[tuple, list] = {}
    for server in http_servers(ctx):
        listens = ctx.nginx.listens(server)
        if not listens:
            groups.setdefault(("*", 80), []).append((server, None, False))
        for listen in listens:
            groups.setdefault(listen_socket(listen), []).append((server, listen.directive, listen.default_server))
    for (address, port), entries in groups.items():
        if len({id(s) for s, _, _ in entries}) < 2 or any(default for _, _, default in entries):
            continue
        if any(ctx.unresolved_include(s) is not None for s, _, _ in entries):
            continue   # a file the deployment provides (in a server, or above them) may hold the default
        server, directive, _ = entries[0]
        where = address if port is None else f"{address}:{port}"
        yield ctx.finding(directive or ctx.block_anchor(server),
                          f"{len(entries)} servers listen on {where} and none is default_server: unknown host "
                          f"names go to whichever is read first ({server.file}:{server.line}); mark one "
                          f"`default_server`")


@rule(group="hardening", code="CG804", name="low-keepalive-requests", severity="info")
def low_keepalive_requests(ctx: LintContext) -> Iterator[Finding]:
    """Client ``keepalive_requests`` below 1000.

    Browsers multiplex many requests over one HTTP/2 connection; a low limit closes it every
    few hundred requests, which costs a new TLS handshake and, with HTTP/2, can abort requests
    in flight. nginx raised the default to 1000 in 1.19.10. (The upstream-block directive of
    the same name is a different setting and not checked here.)

    Bad:
        server { keepalive_requests 100; }

    Good:
        server { keepalive_requests 1000; }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#keepalive_requests
    """
    for directive in ctx.all("keepalive_requests"):
        if directive.parent is None or directive.parent.name == "upstream" or not in_http(directive):
            continue
        try:
            value = int(directive.args[0])
        except (IndexError, ValueError):
            continue
        if 0 < value < 1000:
            yield ctx.finding(directive, f"keepalive_requests {value} closes client connections every {value} "
                                         f"requests (nginx's default is 1000 since 1.19.10)")


# ---------------------------------------------------------------------------------------------
# Known CVEs whose trigger is in the config


class KnownCve(NamedTuple):
    cve: str
    what: str
    introduced: Version
    fixed: tuple[Version, ...]   # the mainline fix, then stable-branch fixes
    severity: str
    triggers: Callable[[LintContext], Iterable[tuple[object, str]]]   # (anchor, what matched)

    def affects(self, version: Version) -> bool:
        """nginx's advisory reading: vulnerable from ``introduced`` unless at or past the mainline
        fix, or at or past the fix of the version's own stable branch."""
        if version < self.introduced or version >= max(self.fixed):
            return False
        return not any(version[:2] == fix[:2] and version >= fix for fix in self.fixed)

    @property
    def fixed_text(self) -> str:
        return ", ".join(".".join(map(str, f)) + "+" for f in self.fixed)


_NUMBERED = re.compile(r"\$[1-9]")
_TERMINATING = {"last", "break", "redirect", "permanent"}
_REDIRECT_PREFIX = ("http://", "https://", "$scheme")


def _args_mode(replacement: str) -> bool:
    """A ``?`` in a rewrite replacement other than a sole trailing one (which only drops the
    original arguments) switches nginx's script engine to argument escaping."""
    return "?" in replacement.rstrip("?") or replacement.count("?") > 1


def _rewrite_rift(ctx) -> Iterator[tuple[object, str]]:
    for rewrite in ctx.all("rewrite"):
        args = rewrite.args
        if len(args) < 2 or not _args_mode(args[1]) or not in_http(rewrite) or rewrite.parent is None:
            continue
        if (len(args) > 2 and args[2] in _TERMINATING) or args[1].startswith(_REDIRECT_PREFIX):
            continue
        siblings = rewrite.parent.block or []
        after = siblings[siblings.index(rewrite) + 1:]
        for later in (d for s in after for d in s.walk()):
            used = later.args[1:2] if later.name in ("set", "rewrite") else later.args if later.name == "if" else []
            if later.name in ("set", "if", "rewrite") and any(_NUMBERED.search(a) for a in used):
                yield rewrite, (f"rewrite with `?` in its replacement, followed by {later.name} using an unnamed "
                                f"capture at {later.file}:{later.line}")
                break


def _nested_groups(tree) -> set[tuple[int, int]]:
    """(outer, inner) numbers of capturing groups nested in one another."""
    pairs = set()
    for number, body in capture_groups(tree).items():
        for inner in capture_groups(body):
            pairs.add((number, inner))
    return pairs


def _rewrite_poolslip(ctx) -> Iterator[tuple[object, str]]:
    for rewrite in ctx.all("rewrite"):
        args = rewrite.args
        if len(args) < 2 or not in_http(rewrite):
            continue
        redirect = (len(args) > 2 and args[2] in ("redirect", "permanent")) or args[1].startswith(("http://", "https://"))
        if not (redirect or _args_mode(args[1])):
            continue
        tree = parse_regex(args[0])
        used = {int(v.name) for v in references(args[1]) if v.is_capture}
        overlapping = [(a, b) for a, b in _nested_groups(tree) if a in used and b in used] if tree is not None else []
        if overlapping:
            outer, inner = overlapping[0]
            yield rewrite, (f"rewrite regex with overlapping captures (${inner} inside ${outer}), both used in a "
                            f"{'redirect' if redirect else 'query string'}")


def _proxy_http2(ctx, block) -> bool:
    args = ctx.nginx.effective_args("proxy_http_version", block)
    return bool(args) and args[0] == "2"


def _h2_request_injection(ctx) -> Iterator[tuple[object, str]]:
    for body in ctx.all("proxy_set_body"):
        if body.parent is not None and in_http(body) and _proxy_http2(ctx, body.parent):
            yield body, "proxy_set_body with `proxy_http_version 2`"


def _h2_backend_overflow(ctx) -> Iterator[tuple[object, str]]:
    for directive in ctx.all("proxy_pass") + ctx.all("grpc_pass"):
        block = directive.parent
        if block is None or not in_http(directive):
            continue
        h2 = directive.name == "grpc_pass" or _proxy_http2(ctx, block)
        ignore = ctx.nginx.effective("ignore_invalid_headers", block)
        if h2 and ignore and ignore[-1].args[:1] == ["off"]:
            yield directive, "`ignore_invalid_headers off` while proxying to an HTTP/2 or gRPC backend"


def _shared_tls_sockets(ctx) -> dict[tuple, list]:
    groups: dict[tuple, list] = {}
    for server in http_servers(ctx):
        if not is_tls_server(ctx, server):
            continue
        for listen in ctx.nginx.listens(server):
            if listen.ssl:
                groups.setdefault(listen_socket(listen), []).append(server)
    return groups


def _sni_session_reuse(ctx) -> Iterator[tuple[object, str]]:
    for servers in _shared_tls_sockets(ctx).values():
        if len({id(s) for s in servers}) < 2:
            continue
        for server in servers:
            verify = ctx.nginx.effective("ssl_verify_client", server)
            if verify and verify[-1].args[:1] in (["on"], ["optional"]):
                yield verify[-1], "ssl_verify_client in a server that shares its TLS socket with other servers"


def _directive_present(name: str, what: str, accept: Callable[[object], bool] = lambda d: True):
    def triggers(ctx) -> Iterator[tuple[object, str]]:
        for directive in ctx.all(name):
            if accept(directive):
                yield directive, what
    return triggers


def _quic_listeners(ctx) -> Iterator[tuple[object, str]]:
    for server in http_servers(ctx):
        for listen in ctx.nginx.listens(server):
            if listen.quic:
                yield listen.directive, "HTTP/3 (listen ... quic)"


def _http2_enabled(ctx) -> Iterator[tuple[object, str]]:
    for server in http_servers(ctx):
        for listen in ctx.nginx.listens(server):
            if listen.http2:
                yield listen.directive, "HTTP/2 (listen ... http2)"
    for directive in ctx.all("http2"):
        if directive.args[:1] == ["on"]:
            yield directive, "HTTP/2 (http2 on)"


# From nginx's security advisories (nginx.org/en/security_advisories.html) and CHANGES: only
# advisories whose trigger is something a config says, with their vulnerable and fixed versions.
KNOWN_CVES: tuple[KnownCve, ...] = (
    KnownCve("CVE-2026-42945", "heap overflow in the rewrite module (\"nginx rift\")", (0, 6, 27),
             ((1, 31, 0), (1, 30, 1)), "error", _rewrite_rift),
    KnownCve("CVE-2026-9256", "heap overflow in the rewrite module with overlapping captures", (0, 1, 17),
             ((1, 31, 1), (1, 30, 2)), "error", _rewrite_poolslip),
    KnownCve("CVE-2026-42926", "HTTP/2 request injection with proxy_set_body", (1, 29, 4),
             ((1, 31, 0), (1, 30, 1)), "warning", _h2_request_injection),
    KnownCve("CVE-2026-42055", "heap overflow proxying to HTTP/2 or gRPC backends", (1, 13, 10),
             ((1, 31, 2), (1, 30, 3)), "warning", _h2_backend_overflow),
    KnownCve("CVE-2026-40701", "use-after-free in OCSP requests to the resolver", (1, 19, 0),
             ((1, 31, 0), (1, 30, 1)), "warning",
             _directive_present("ssl_ocsp", "ssl_ocsp", lambda d: d.args[:1] != ["off"])),
    KnownCve("CVE-2026-48142", "buffer overread decoding from UTF-8 with charset_map", (0, 3, 50),
             ((1, 31, 2), (1, 30, 3)), "warning",
             _directive_present("charset_map", "charset_map from utf-8",
                                lambda d: bool(d.args) and d.args[0].lower() in ("utf-8", "utf8"))),
    KnownCve("CVE-2025-23419", "TLSv1.3 session reuse bypasses client certificate checks", (1, 11, 4),
             ((1, 27, 4), (1, 26, 3)), "warning", _sni_session_reuse),
    KnownCve("CVE-2024-7347", "mp4 module over-read on a crafted file", (1, 5, 13),
             ((1, 27, 1), (1, 26, 2)), "warning", _directive_present("mp4", "the mp4 module")),
    KnownCve("CVE-2022-41741", "mp4 module memory corruption on a crafted file", (1, 1, 3),
             ((1, 23, 2), (1, 22, 1)), "warning", _directive_present("mp4", "the mp4 module")),
    KnownCve("CVE-2024-31079", "HTTP/3 worker crash and memory disclosure", (1, 25, 0),
             ((1, 27, 0), (1, 26, 1)), "warning", _quic_listeners),
    KnownCve("CVE-2024-24989", "HTTP/3 null pointer dereference", (1, 25, 0), ((1, 25, 4),), "warning",
             _quic_listeners),
    KnownCve("CVE-2021-23017", "1-byte overwrite in the resolver from a spoofed DNS answer", (0, 6, 18),
             ((1, 21, 0), (1, 20, 1)), "error", _directive_present("resolver", "a resolver")),
    KnownCve("CVE-2019-9511", "HTTP/2 excessive CPU and memory (window updates, priority, HPACK)", (1, 9, 5),
             ((1, 17, 3), (1, 16, 1)), "warning", _http2_enabled),
)


@rule(code="CG805", name="known-cve-pattern", severity="error")
def known_cve_pattern(ctx: LintContext) -> Iterator[Finding]:
    """The config uses a feature that triggers a published nginx CVE on the target version.

    Some nginx vulnerabilities are reachable only through particular directives: a ``rewrite``
    with ``?`` followed by ``set $x $1`` (CVE-2026-42945), overlapping captures in a redirect
    (CVE-2026-9256), ``resolver`` (CVE-2021-23017), HTTP/3, ``mp4``, shared TLS sockets with
    client certificates. Reported only when ``--nginx-version`` (or the project configuration)
    names a version below the release that fixed it; upgrade nginx (a distribution may have
    backported the fix: check its changelog), or change the config as the message says. With
    no version named, the one linted for is a guess (this machine's nginx, or the oldest one
    the config's syntax needs, which later releases that fixed the CVE read too): a note says
    which pattern to check.

    Version: 1.30.0

    Bad:
        server {
            location /api/ {
                rewrite ^/api/(.*)$ /internal?migrated=true;
                set $endpoint $1;
            }
        }

    Good:
        server {
            location /api/ {
                rewrite ^/api/(?<rest>.*)$ /internal?migrated=true;
                set $endpoint $rest;
            }
        }

    References:
        https://nginx.org/en/security_advisories.html
    """
    version = ctx.version
    target = ".".join(map(str, version))
    for cve in KNOWN_CVES:
        if not cve.affects(version):
            continue
        for anchor, what in cve.triggers(ctx):
            if ctx.nginx.version_assumed:
                ctx.note(f"{anchor.file}:{anchor.line}: {cve.cve} ({cve.what}): {what} triggers it on nginx "
                         f"before {cve.fixed_text}; not reported, as no version is named (pass --nginx-version)")
                continue
            yield ctx.finding(anchor, f"{cve.cve} ({cve.what}): {what} triggers it on nginx {target}; fixed in "
                                      f"{cve.fixed_text}: upgrade, or avoid this pattern", severity=cve.severity)
