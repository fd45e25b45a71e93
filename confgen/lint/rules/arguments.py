"""Directives nginx refuses for their arguments: a one-value directive written with several (a
cipher list with a space in it), an on/off switch given another word (CG427), a server name
(CG436) or a listen address (CG438) nginx cannot read, a misspelled ``server`` block (CG439)."""

from __future__ import annotations

import functools
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules.security_common import TABLE_BLOCKS, in_http
from confgen.nginx.versions import INTRODUCED_NAMES

# Blocks whose lines are table entries, not directives (an upstream's lines are directives).
_DATA_BLOCKS = frozenset(TABLE_BLOCKS - {"upstream"})
# The parser follows includes itself and reports a bad one (include-not-found, syntax-error).
_HANDLED_ELSEWHERE = frozenset({"include"})


@functools.lru_cache(maxsize=1)
def _arities() -> tuple[frozenset[str], frozenset[str]]:
    """(directives that take exactly one value, on/off switches), from crossplane's copy of
    nginx's module tables: only directives that take one value in every context they exist in."""
    import crossplane.analyzer as analyzer

    counts = (analyzer.NGX_CONF_NOARGS | analyzer.NGX_CONF_TAKE1 | analyzer.NGX_CONF_TAKE2
              | analyzer.NGX_CONF_TAKE3 | analyzer.NGX_CONF_TAKE4 | analyzer.NGX_CONF_TAKE5
              | analyzer.NGX_CONF_TAKE6 | analyzer.NGX_CONF_TAKE7 | analyzer.NGX_CONF_BLOCK
              | analyzer.NGX_CONF_FLAG | analyzer.NGX_CONF_ANY | analyzer.NGX_CONF_1MORE | analyzer.NGX_CONF_2MORE)

    def every(flag: int) -> frozenset[str]:
        return frozenset(name for name, masks in analyzer.DIRECTIVES.items()
                         if masks and all(mask & counts == flag for mask in masks)) - _HANDLED_ELSEWHERE
    return every(analyzer.NGX_CONF_TAKE1), every(analyzer.NGX_CONF_FLAG)


@functools.lru_cache(maxsize=1)
def _directive_names() -> frozenset[str]:
    """Every directive name in crossplane's copy of nginx's module tables."""
    import crossplane.analyzer as analyzer

    return frozenset(analyzer.DIRECTIVES)


@rule(code="CG427", name="directive-arguments", severity="error")
def directive_arguments(ctx: LintContext) -> Iterator[Finding]:
    """A directive written with a number of values, or an on/off value, nginx refuses.

    A directive that takes one value (``ssl_ciphers``, ``root``, ``proxy_pass``,
    ``client_max_body_size``) written with two (``ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:
    ECDHE:!aNULL;``, a space after a colon) stops nginx: ``invalid number of arguments in
    "ssl_ciphers" directive``; so does a switch (``gzip``, ``sendfile``, ``proxy_buffering``)
    given a word other than ``on`` or ``off`` (``gzip yes;``: ``invalid value "yes"``). Judged
    only for directives that take one value wherever they exist (crossplane's copy of nginx's
    module tables; a directive nginx or a module added later is left alone), outside table
    blocks such as ``map`` and ``types``; a switch whose value holds a ``$`` (an envsubst
    placeholder not yet filled in) is left alone.

    Bad:
        server {
            listen 443 ssl;
            ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256: ECDHE-RSA-AES128-GCM-SHA256;
        }

    Good:
        server {
            listen 443 ssl;
            ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;
        }

    References:
        https://nginx.org/en/docs/dev/development_guide.html#config_directives
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_ciphers
        https://github.com/nginxinc/crossplane/blob/master/crossplane/analyzer.py
    """
    one_value, switches = _arities()
    for name in (one_value | switches) & set(ctx.names()):
        for directive in ctx.all(name):
            parent = directive.parent
            if directive.is_block or (parent is not None and parent.name in _DATA_BLOCKS):
                continue
            if len(directive.args) != 1:
                hint = "; quote the value if it holds a space" if len(directive.args) > 1 else ""
                runs_on = _runs_on(ctx, directive)
                if runs_on is not None:
                    hint = f"; a `;` is missing before `{runs_on[0]}` on line {runs_on[1]}"
                yield ctx.finding(directive, f"{name} takes one value but has {len(directive.args)} here: nginx "
                                             f"refuses to start (invalid number of arguments in \"{name}\" "
                                             f"directive){hint}")
            elif name in switches and "$" not in directive.args[0] \
                    and directive.args[0].lower() not in ("on", "off"):
                yield ctx.finding(directive, f"{name} {directive.args[0]}: nginx refuses to start (invalid value "
                                             f"\"{directive.args[0]}\" in \"{name}\" directive, it must be "
                                             f"\"on\" or \"off\")")


@rule(code="CG436", name="server-name-invalid", severity="error")
def server_name_invalid(ctx: LintContext) -> Iterator[Finding]:
    """A ``server_name`` nginx refuses: a wildcard ``*`` not followed by a dot, or a lone dot.

    nginx accepts a leading wildcard only as ``*.example.com`` and a leading dot only before a
    name (``.example.com``); ``server_name *;`` (meant as "any host"), ``*example.com``, ``*.``
    and ``.`` stop it: ``server name "*" is invalid`` (checked on nginx 1.22.1 with
    ``nginx -t``). A server that answers any host needs no name at all: it is the
    ``default_server`` of its port, or ``server_name _;`` beside it. Regex names (``~``) and
    names holding a ``$`` (a template placeholder not filled in) are left alone.

    Bad:
        server {
            listen 80;
            server_name *;
        }

    Good:
        server {
            listen 80 default_server;
            server_name _;
        }

    References:
        https://nginx.org/en/docs/http/server_names.html#wildcard_names
        https://github.com/nginx/nginx/blob/master/src/http/ngx_http_core_module.c (ngx_http_core_server_name)
    """
    for directive in ctx.all("server_name"):
        for name in directive.args:
            if name.startswith("~") or "$" in name:
                continue
            if (name.startswith("*") and (len(name) < 3 or name[1] != ".")) or name == ".":
                yield ctx.finding(directive, f"server_name {name}: nginx refuses to start (server name \"{name}\" "
                                             f"is invalid); a wildcard is written *.example.com, and a server for "
                                             f"any host is the default_server of its port (server_name _;)")


@rule(code="CG438", name="listen-address-invalid", severity="error")
def listen_address_invalid(ctx: LintContext) -> Iterator[Finding]:
    """A ``listen`` address nginx cannot read, so it refuses to start.

    A missing ``:`` before the port, a port that is not a number, an IPv6 address without its
    brackets. nginx reads ``listen`` as ``address:port``, ``[ipv6]:port``, a port, or ``unix:path``, and
    refuses to start with anything else (checked on nginx 1.22.1 with ``nginx -t``):
    ``[::]80`` is "invalid host" (the ``:`` is missing), ``::80`` and ``1.2.3.4:80:90`` are
    "invalid port" (the port is what follows the first colon, so an IPv6 address needs its
    brackets), ``*:http`` and ``127.0.0.1:`` are "invalid port", ``:80`` is "no host", and a
    zone index (``[fe80::1%eth0]``) is "invalid IPv6 address". A port outside 1-65535 is
    value-out-of-range's; an address holding a ``$`` (a placeholder not yet filled in) is left
    alone.

    Bad:
        server {
            listen [::]80;
        }

    Good:
        server {
            listen [::]:80;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#listen
        https://github.com/nginx/nginx/blob/master/src/core/ngx_inet.c (ngx_parse_inet_url, ngx_parse_inet6_url)
    """
    for directive in ctx.all("listen"):
        if not directive.args or not in_http(directive):
            continue
        address = directive.args[0]
        if "$" in address or address.startswith("unix:"):
            continue
        problem = _listen_problem(address)
        if problem is not None:
            error, advice = problem
            yield ctx.finding(directive, f"listen {address}: nginx refuses to start ({error} in \"{address}\" of the "
                                         f"\"listen\" directive); {advice}")


def _listen_problem(address: str) -> tuple[str, str] | None:
    """(nginx's error, the advice) for a ``listen`` address nginx refuses, else None."""
    if address.startswith("["):
        close = address.find("]")
        host, rest = address[1:close], address[close + 1:]
        if close < 0 or (rest and not rest.startswith(":")):
            written = f"[{host}]:{rest}" if close >= 0 and rest.isdigit() else "[ipv6]:port"
            return "invalid host", f"write {written}"
        if rest and not rest[1:].isdigit():
            return "invalid port", "the port after the ] is a number"
        if "%" in host or not _is_ipv6(host):
            return "invalid IPv6 address", "write an IPv6 address without a zone index"
        return None
    if address.count(":") > 1:
        return "invalid port", "an IPv6 address is written in brackets ([::1]:8000)"
    if address.startswith(":"):
        return "no host", f"write *{address} for every address, or the port alone"
    if ":" in address and not address.rpartition(":")[2].isdigit():
        return "invalid port", "the port after the : is a number"
    return None


def _is_ipv6(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


@rule(code="CG439", name="server-block-misspelled", severity="error")
def server_block_misspelled(ctx: LintContext) -> Iterator[Finding]:
    """A block of a name nginx does not know that holds ``listen``: a misspelled ``server``.

    Only a ``server`` block takes ``listen``, so a block such as ``sever { listen 8080; ... }``
    (set 25's docker-revisit) is a ``server`` misspelled, and nginx refuses to start: ``unknown
    directive "sever"`` (checked on nginx 1.22.1 with ``nginx -t``). Until then confgen reads the
    file as a snippet of another context and its rules see no server. Names in crossplane's copy
    of nginx's module tables, and directives newer than it, are never reported.

    Bad:
        sever {
            listen 8080;
            location / { proxy_pass http://127.0.0.1:8000; }
        }

    Good:
        server {
            listen 8080;
            location / { proxy_pass http://127.0.0.1:8000; }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#listen
        https://nginx.org/en/docs/http/ngx_http_core_module.html#server
    """
    known = _directive_names()
    for name in ctx.names():
        if not name or name in known or name in INTRODUCED_NAMES or name[0] == "#":
            continue
        for directive in ctx.all(name):
            parent = directive.parent
            if directive.is_block and directive.find("listen") and (parent is None or parent.name not in _DATA_BLOCKS):
                yield ctx.finding(directive, f"\"{name}\" is not an nginx directive: nginx refuses to start (unknown "
                                             f"directive \"{name}\"); a block that holds `listen` is a `server` block")


@rule(code="CG431", name="missing-semicolon", severity="warning")
def missing_semicolon(ctx: LintContext) -> Iterator[Finding]:
    """A directive runs on into the next line, where another directive starts: its ``;`` is missing.

    nginx reads words until a ``;``, across lines: with ``gzip_types text/css application/json``
    missing its ``;``, the next line's ``gzip_min_length 1024;`` becomes two more MIME types of
    ``gzip_types``. Where the first directive takes any number of values (``gzip_types``,
    ``server_name``, ``index``, ``ssl_protocols``) nginx starts without a word of complaint
    (checked on nginx 1.22.1 with ``nginx -t``) and the second directive is silently not set.
    Reported when a value that begins a line of its own, unquoted, is the name of an nginx
    directive; outside table blocks (``map``, ``types``, ``geo``), whose lines are not
    directives. A directive that takes one value (``proxy_send_timeout 60s`` run on) makes
    nginx refuse to start instead: directive-arguments reports that, naming the missing ``;``.

    Bad:
        http {
            gzip_types text/css application/json
            gzip_min_length 1024;
        }

    Good:
        http {
            gzip_types text/css application/json;
            gzip_min_length 1024;
        }

    References:
        https://nginx.org/en/docs/beginners_guide.html#conf_structure
        https://github.com/nginxinc/crossplane/blob/master/crossplane/analyzer.py
    """
    one_value, switches = _arities()
    names = _directive_names()
    candidates = [d for d in ctx.nginx.walk() if len(d.args) >= 2 and not names.isdisjoint(d.args[1:])
                  and d.name not in one_value and d.name not in switches]
    # (nginx refuses a one-value directive run on: directive-arguments reports it, naming the `;`.)
    for directive in _multi_line(ctx, candidates):
        found = _runs_on(ctx, directive)
        if found is not None:
            name, line = found
            yield ctx.finding(directive, f"{directive.name} runs on into line {line}, where `{name}` starts: its "
                                         f"`;` is missing, so nginx reads {name} and what follows as more values "
                                         f"of {directive.name}, and {name} is not set; end the values before it "
                                         f"with `;`")


def _multi_line(ctx: LintContext, directives: list) -> list:
    """Those of ``directives`` whose statement may go on past its first line: not those whose
    line has their ``;`` (``listen 443 ssl http2;``, the usual case), told from the line alone
    without reading the file's statements."""
    lines = ctx.source_lines((d.file, d.line) for d in directives if d.column > 0)
    kept = []
    for directive in directives:
        rest = lines.get((directive.file, directive.line), "")[max(directive.column - 1, 0):]
        if not (";" in rest and not any(mark in rest for mark in "'\"#")):
            kept.append(directive)
    return kept


def _runs_on(ctx: LintContext, directive) -> tuple[str, int] | None:
    """(the directive name a value of ``directive`` is, the line it starts) when a value that
    begins a line of its own, unquoted, names an nginx directive: a ``;`` missing before it."""
    from confgen.nginx.positions import FileText, PositionError

    names = _directive_names()
    parent = directive.parent
    if directive.is_block or len(directive.args) < 2 or (parent is not None and parent.name in _DATA_BLOCKS) \
            or names.isdisjoint(directive.args[1:]):
        return None
    texts = ctx.cached("file texts", dict)
    try:
        if directive.file not in texts:
            whole = ctx.file_text(directive.file)
            texts[directive.file] = FileText(directive.file, whole) if whole is not None else None
        text = texts[directive.file]
        if text is None:
            return None
        span = text.span(directive)
    except (OSError, PositionError, ValueError):
        return None
    for token in span.args[1:]:
        if token.value in names and token.raw == token.value and text.starts_line(token.start):
            return token.value, text.line_of(token.start)
    return None
