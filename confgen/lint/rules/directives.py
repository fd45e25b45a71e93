"""Directives nginx reads otherwise than they are written (CG41x): a comma that becomes part of a
server name, a variable two tables define, proxy settings beside another module's pass, and a
directive written twice where nginx refuses to start."""

from __future__ import annotations

import functools
import re
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.nginx_edits import rename, replace_arg, replace_args
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import binds_of, uwsgi_passes
from confgen.lint.rules.security_common import (REDIRECT_CODES, TABLE_BLOCKS, UPSTREAM_PASS, http_servers, in_http,
                                                listen_socket, served_path, servers_by_socket, variable_model)
from confgen.lint.rules.security_tls import WEAK_PROTOCOLS
from confgen.nginx.model import BITMASK_DIRECTIVES, CONTENT_HANDLERS, LocationMatch, location_match, overriding_handler
from confgen.nginx.parse import SNIPPET_INCLUDER
from confgen.nginx.variables import references, rewrite_redirects

# Weak TLS protocols as directive-values-add-up compares values (lower-cased).
_WEAK_PROTOCOLS = frozenset(protocol.lower() for protocol in WEAK_PROTOCOLS)
# Directives nginx refuses to read twice in one block ('"try_files" directive is duplicate'):
# those it stores in one slot (flags, sizes, times, strings) or checks by hand. Each was
# checked with nginx 1.22.1 (`nginx -t` on the directive written twice); the ones nginx accepts
# twice (add_header, index, gzip_types, ssl_protocols, error_page, allow ...) are not listed.
REFUSED_TWICE = frozenset({
    # core and locations
    "try_files", "root", "alias", "client_max_body_size", "client_body_buffer_size", "client_body_timeout",
    "client_header_buffer_size", "large_client_header_buffers", "sendfile", "tcp_nopush", "tcp_nodelay",
    "keepalive_timeout", "keepalive_requests", "send_timeout", "server_tokens", "default_type", "internal",
    "satisfy", "log_not_found", "etag", "if_modified_since", "types_hash_max_size", "limit_rate",
    "lingering_close", "open_file_cache", "max_ranges", "server_name_in_redirect", "port_in_redirect",
    "absolute_redirect", "chunked_transfer_encoding", "resolver", "resolver_timeout", "autoindex", "charset",
    "expires", "ssi", "sub_filter_once", "real_ip_header", "limit_req_status", "limit_conn_status",
    "auth_basic", "auth_basic_user_file", "server_names_hash_bucket_size", "map_hash_bucket_size",
    "variables_hash_max_size",
    # gzip
    "gzip", "gzip_comp_level", "gzip_min_length", "gzip_vary",
    # upstream modules
    "proxy_pass", "fastcgi_pass", "uwsgi_pass", "proxy_read_timeout", "proxy_connect_timeout",
    "proxy_send_timeout", "proxy_buffering", "proxy_http_version", "proxy_buffer_size", "proxy_buffers",
    "proxy_max_temp_file_size", "proxy_request_buffering", "proxy_ignore_client_abort",
    "proxy_intercept_errors", "proxy_cache", "proxy_cookie_path", "fastcgi_index", "fastcgi_read_timeout",
    "uwsgi_read_timeout",
    # TLS
    "ssl_ciphers", "ssl_prefer_server_ciphers", "ssl_session_timeout", "ssl_session_tickets", "ssl_stapling",
    "ssl_stapling_verify", "ssl_dhparam", "ssl_ecdh_curve", "ssl_buffer_size", "ssl_trusted_certificate",
    # main and events
    "worker_processes", "pid", "worker_rlimit_nofile", "daemon", "pcre_jit", "worker_shutdown_timeout",
    "worker_connections", "multi_accept", "use", "accept_mutex",
})
# In an upstream block the same names are the upstream module's own directives.
REFUSED_TWICE_IN_UPSTREAM = frozenset({"keepalive", "keepalive_timeout", "keepalive_requests"})
_TABLE_CHILDREN = frozenset({"map", "geo", "split_clients", "types", "charset_map", "match"})


@rule(code="CG411", name="server-name-comma", severity="warning")
def server_name_comma(ctx: LintContext) -> Iterator[Finding]:
    """``server_name`` names separated by commas: the comma becomes part of the name.

    nginx separates names with spaces; ``server_name example.com, www.example.com;`` defines
    the names ``example.com,`` and ``www.example.com``, so requests for ``example.com`` match
    no name and go to the default server (often another site, or a 444).

    Bad:
        server {
            listen 80;
            server_name example.com, www.example.com;
        }

    Good:
        server {
            listen 80;
            server_name example.com www.example.com;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#server_name
        https://nginx.org/en/docs/http/server_names.html
    """
    for directive in ctx.all("server_name"):
        broken = [name for name in directive.args if name.endswith(",") or ("," in name and not name.startswith("~"))]
        if broken and in_http(directive):
            yield ctx.finding(directive, f"server_name {broken[0]} contains a comma, which nginx keeps as part of "
                                         f"the name: that host never matches; separate names with spaces")


@rule(code="CG412", name="variable-defined-twice", severity="warning")
def variable_defined_twice(ctx: LintContext) -> Iterator[Finding]:
    """Two ``map`` / ``geo`` blocks define the same variable: the later one silently wins.

    nginx accepts the second definition and uses only it, for every request: the entries of the
    first (often in another included file) never apply, with no warning at start. A table in
    ``stream {}`` and one in ``http {}`` define two different variables (each module keeps its
    own) and are not reported, nor are two identical tables (the same source and entries: two
    site files that each carry the WebSocket map), where nginx behaves as with one.

    Bad:
        map $http_upgrade $connection_upgrade {
            default upgrade;
            '' close;
        }
        map $http_upgrade $connection_upgrade {
            default upgrade;
        }

    Good:
        map $http_upgrade $connection_upgrade {
            default upgrade;
            '' close;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_map_module.html#map
        https://nginx.org/en/docs/http/ngx_http_geo_module.html#geo
    """
    model = variable_model(ctx)
    seen: set[str] = set()
    for name in ("map", "geo", "split_clients"):
        for block in ctx.all(name):
            if not block.args or not block.is_block:
                continue
            variable = block.args[-1].lstrip("$").lower()
            if variable in seen:
                continue
            seen.add(variable)
            worlds: dict[str | None, list] = {}
            for table in model.tables(variable):     # in document order
                worlds.setdefault(_module_world(table), []).append(table)
            for tables in worlds.values():
                first = tables[0]
                for later in tables[1:]:
                    if _same_table(first, later):
                        continue    # the same entries twice (each of two site files carries it): nothing is lost
                    yield ctx.finding(later, f"${variable} is already defined by the {first.name} at "
                                             f"{first.file}:{first.line}: nginx uses only this later one and "
                                             f"ignores the first; keep one definition")


def _same_table(one, other) -> bool:
    """Whether two table blocks define the same variable from the same source with the same
    entries, in any order: keeping either is the same config."""
    def entries(block) -> list:
        return sorted((d.name, tuple(d.args)) for d in block.block or ())
    return one.name == other.name and one.args == other.args and entries(one) == entries(other)


def _module_world(directive) -> str | None:
    """``http`` or ``stream``: the module whose variables ``directive`` defines. The two keep
    separate variables, so a stream ``map $x`` and an http ``map $x`` are two variables."""
    level = directive.parent
    while level is not None:
        if level.name in ("http", "stream"):
            return level.name
        level = level.parent
    return None


_OTHER_PASSES = ("fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass")


@rule(code="CG413", name="proxy-setting-without-proxy-pass", severity="warning")
def proxy_setting_without_proxy_pass(ctx: LintContext) -> Iterator[Finding]:
    """``proxy_set_header`` (or another ``proxy_*`` setting) beside ``uwsgi_pass`` / ``fastcgi_pass``.

    ``proxy_*`` directives configure the proxy module only: in a block that hands requests to
    ``uwsgi_pass``, ``fastcgi_pass``, ``scgi_pass`` or ``grpc_pass`` and has no ``proxy_pass``,
    they have no effect (the app never sees the header). Use the module's own directive
    (``uwsgi_param``, ``fastcgi_param``, ``scgi_param``, ``grpc_set_header``,
    ``uwsgi_read_timeout`` ...). A setting read from a file outside the linted tree (nginx's
    ``proxy_params`` in /etc/nginx) is reported at the ``include`` that brought it in; one whose
    counterpart the block sets too (``proxy_buffering off`` beside ``uwsgi_buffering off``) is
    not reported.

    Bad:
        server {
            location / {
                include uwsgi_params;
                uwsgi_pass unix:/run/app.sock;
                proxy_set_header X-Forwarded-Proto $scheme;
            }
        }

    Good:
        server {
            location / {
                include uwsgi_params;
                uwsgi_pass unix:/run/app.sock;
                uwsgi_param HTTP_X_FORWARDED_PROTO $scheme;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header
        https://nginx.org/en/docs/http/ngx_http_uwsgi_module.html#uwsgi_param
        https://nginx.org/en/docs/http/ngx_http_fastcgi_module.html#fastcgi_param
        https://nginx.org/en/docs/http/ngx_http_grpc_module.html#grpc_set_header
    """
    for name in _OTHER_PASSES:
        for handler in ctx.all(name):
            block = handler.parent
            if block is None or not in_http(handler) or any(d.name == "proxy_pass" for d in block.walk()):
                continue
            module = name.split("_")[0]
            written = {d.name for d in block.block or ()}
            # `proxy_buffering off;` beside `uwsgi_buffering off;`: the module's own is set already,
            # so the advice changes nothing (a dead line, kept for a switch back to proxy_pass).
            settings = [d for d in block.block or () if d.name.startswith("proxy_")
                        and f"{module}_{d.name.removeprefix('proxy_')}" not in written]
            if settings:
                names = list(dict.fromkeys(d.name for d in settings))
                # grpc passes headers with grpc_set_header; the others send variables (*_param).
                headers = "grpc_set_header" if module == "grpc" else f"{module}_param"
                # A setting read from a file outside the tree (nginx's /etc/nginx/proxy_params):
                # reported at the include in the user's file, where the fix is.
                anchor = ctx.nginx.written_in_tree(settings[0])
                via = (f" (from {settings[0].file}:{settings[0].line}, included here)"
                       if anchor is not settings[0] else "")
                yield ctx.finding(anchor, f"{', '.join(names)} only configure{'s' if len(names) == 1 else ''} "
                                          f"proxy_pass{via}, but this {block.name} hands requests to {name} "
                                          f"({handler.file}:{handler.line}): no effect; use {headers} / "
                                          f"{module}_* instead")


@rule(code="CG414", name="directive-duplicate", severity="error")
def directive_duplicate(ctx: LintContext) -> Iterator[Finding]:
    """A directive nginx accepts once per block is written twice: nginx refuses to start.

    ``try_files``, ``root``, ``proxy_pass``, ``client_max_body_size``, ``sendfile``,
    ``keepalive_timeout`` and the other single-value directives may appear once in a block
    (an included file counts as part of the block): ``nginx -t`` fails with
    ``"try_files" directive is duplicate``, and a reload keeps the old config. ``alias``
    beside ``root`` is refused the same way. Directives that collect values (``add_header``,
    ``index``, ``error_page``, ``allow``) are not reported.

    Bad:
        server {
            location / {
                try_files $uri $uri/ =404;
                try_files $uri /index.html;
            }
        }

    Good:
        server {
            location / {
                try_files $uri $uri/ /index.html;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#try_files
    """
    for block in [ctx.nginx.root, *(d for d in ctx.nginx.walk() if d.is_block)]:
        if block.name in _TABLE_CHILDREN:
            continue
        refused = REFUSED_TWICE_IN_UPSTREAM if block.name == "upstream" else REFUSED_TWICE
        first: dict[str, object] = {}
        for directive in block.block or ():
            name = "root" if directive.name == "alias" else directive.name
            if directive.name not in refused:
                continue
            if name in first:
                earlier = first[name]
                shown = directive.name if earlier.name == directive.name else f"{directive.name} beside {earlier.name}"
                yield ctx.finding(directive, f"{shown} is already set in this {block.name or 'file'} at "
                                             f"{earlier.file}:{earlier.line}: nginx refuses to start "
                                             f"(\"{directive.name}\" directive is duplicate); keep one")
            else:
                first[name] = directive


@rule(code="CG435", name="directive-values-add-up", severity="warning")
def directive_values_add_up(ctx: LintContext) -> Iterator[Finding]:
    """A directive whose values nginx adds up is written twice in one block: the second line does not replace the first.

    ``ssl_protocols``, ``gzip_proxied``, ``proxy_next_upstream``, ``proxy_cache_use_stale``,
    ``proxy_ignore_headers`` (and their uwsgi, fastcgi, scgi and grpc twins) keep one set of
    flags per block: a second line in the same block (an included file counts as part of it)
    adds its values to the first. ``include options-ssl-nginx.conf;`` (``ssl_protocols TLSv1.2
    TLSv1.3``) followed by ``ssl_protocols TLSv1.3;`` still accepts TLSv1.2 (checked on nginx
    1.22.1), and ``gzip_proxied any;`` then ``gzip_proxied expired no-cache;`` still compresses
    a proxied response that may be cached (``expires 1h``), which the second line alone leaves
    uncompressed (checked). Reported at the later line when an earlier one brings values it
    does not have; not with ``off`` or ``none`` among them, whose meaning differs per directive,
    nor for ``ssl_protocols`` that only brings weak protocols back (ssl-weak-protocols reports
    those).

    Bad:
        server {
            listen 443 ssl;
            ssl_protocols TLSv1.2 TLSv1.3;   # from an included file
            ssl_protocols TLSv1.3;
        }

    Good:
        server {
            listen 443 ssl;
            ssl_protocols TLSv1.3;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_protocols
        https://nginx.org/en/docs/http/ngx_http_gzip_module.html#gzip_proxied
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_next_upstream
    """
    for block in [ctx.nginx.root, *(d for d in ctx.nginx.walk() if d.is_block)]:
        written: dict[str, list] = {}
        for directive in block.block or ():
            if directive.name in BITMASK_DIRECTIVES and directive.args:
                written.setdefault(directive.name, []).append(directive)
        for name, lines in written.items():
            if len(lines) < 2 or not in_http(lines[-1]):
                continue
            values = [[arg.lower() for arg in line.args] for line in lines]
            if any(value in ("off", "none") for line_values in values for value in line_values):
                continue
            last = values[-1]
            extra = list(dict.fromkeys(v for line_values in values[:-1] for v in line_values if v not in last))
            if not extra or name == "ssl_protocols" and all(v in _WEAK_PROTOCOLS for v in extra):
                continue
            in_force = ctx.nginx.effective_args(name, block) or []
            earlier, level = lines[-2], f"{block.name} block" if block.name else "file"
            shown = dict.fromkeys(arg for line in lines[:-1] for arg in line.args if arg.lower() in extra)
            yield ctx.finding(lines[-1], f"{name} is also written at {earlier.file}:{earlier.line} in this {level}: "
                                         f"nginx adds the values up instead of replacing them, so "
                                         f"`{name} {' '.join(in_force)}` is in force ({' '.join(shown)} from the "
                                         f"earlier line too); keep one line")


# Values nginx stores in a 64-bit signed integer (sizes and offsets in bytes, times in
# milliseconds): a larger number is "invalid value" and nginx refuses to start. Checked on real
# nginx 1.22.1: client_max_body_size 8796093022207m is accepted and 8796093022208m refused;
# send_timeout 9223372036854775s accepted, 9223372036854776s refused.
INT64_MAX = 2**63 - 1
_BUFFER_MODULES = ("proxy", "fastcgi", "uwsgi", "scgi", "grpc")
SIZE_ARGUMENTS: dict[str, tuple[int, ...]] = {
    "client_max_body_size": (0,), "client_body_buffer_size": (0,), "client_header_buffer_size": (0,),
    "large_client_header_buffers": (1,), "gzip_min_length": (0,), "gzip_buffers": (1,), "output_buffers": (1,),
    "limit_rate": (0,), "limit_rate_after": (0,), "sendfile_max_chunk": (0,), "postpone_output": (0,),
    **{f"{m}_{name}": args for m in _BUFFER_MODULES
       for name, args in (("buffer_size", (0,)), ("buffers", (1,)), ("busy_buffers_size", (0,)),
                          ("max_temp_file_size", (0,)), ("temp_file_write_size", (0,)))},
}
TIME_ARGUMENTS: dict[str, tuple[int, ...]] = {
    "send_timeout": (0,), "client_header_timeout": (0,), "client_body_timeout": (0,), "keepalive_timeout": (0,),
    "keepalive_time": (0,), "lingering_time": (0,), "lingering_timeout": (0,), "resolver_timeout": (0,),
    **{f"{m}_{name}_timeout": (0,) for m in _BUFFER_MODULES for name in ("read", "send", "connect")},
}
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_NUMBER_RE = re.compile(r"^(\d+)([kKmMgG]?)$")
_TIME_PART_RE = re.compile(r"(\d+)(ms|y|M|w|d|h|m|s)?")
_TIME_MS = {"ms": 1, None: 1000, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
            "M": 2_592_000_000, "y": 31_536_000_000}


def _too_large(directive, index: int, kind: str) -> str | None:
    """The argument as written when nginx cannot hold it, else None."""
    if index >= len(directive.args):
        return None
    value = directive.args[index]
    if kind == "size":
        match = _NUMBER_RE.match(value)
        if match is None:
            return None
        return value if int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()] > INT64_MAX else None
    parts = [_TIME_PART_RE.fullmatch(part) for part in re.findall(r"\d+[a-zA-Z]*", value)]
    if not parts or any(p is None for p in parts) or "".join(value.split()) != "".join(p.group(0) for p in parts):
        return None
    total = sum(int(p.group(1)) * _TIME_MS[p.group(2)] for p in parts)
    return value if total > INT64_MAX else None


def _listen_port(directive) -> tuple[str, int] | None:
    """(the address as written, its port) when ``listen`` names a TCP port."""
    if not directive.args:
        return None
    address = directive.args[0]
    if address.startswith("unix:"):
        return None
    port = address.rsplit(":", 1)[1] if ":" in address and not address.endswith("]") else address
    if address.startswith("[") and "]:" not in address:
        return None
    return (address, int(port)) if port.isdigit() else None


@rule(code="CG415", name="value-out-of-range", severity="error")
def value_out_of_range(ctx: LintContext) -> Iterator[Finding]:
    """A number nginx cannot hold: a port outside 1-65535, a size or time past 64 bits.

    nginx keeps sizes and offsets in bytes and times in milliseconds in a signed 64-bit integer,
    and ports in 16 bits: ``listen 70000`` is "invalid port", ``client_max_body_size 9999999999g``
    and ``proxy_read_timeout 99999999999999999999s`` are "invalid value", and nginx refuses to
    start (a reload keeps the old config). Usually a typo, or "unlimited" written as a huge
    number: ``client_max_body_size 0`` disables the check.

    Bad:
        server {
            listen 80800;
            client_max_body_size 999999999999g;
        }

    Good:
        server {
            listen 8080;
            client_max_body_size 0;
        }

    References:
        https://nginx.org/en/docs/syntax.html
        https://nginx.org/en/docs/http/ngx_http_core_module.html#listen
        https://nginx.org/en/docs/http/ngx_http_core_module.html#client_max_body_size
    """
    for directive in ctx.all("listen"):
        found = _listen_port(directive)
        if found is not None and not 0 < found[1] <= 65535:
            yield ctx.finding(directive, f"listen {found[0]}: port {found[1]} is outside 1-65535; nginx refuses "
                                         f"to start (invalid port)")
    for table, kind in ((SIZE_ARGUMENTS, "size"), (TIME_ARGUMENTS, "time")):
        for name, indexes in table.items():
            for directive in ctx.all(name):
                for index in indexes:
                    value = _too_large(directive, index, kind)
                    if value is not None:
                        unit = "bytes" if kind == "size" else "milliseconds"
                        yield ctx.finding(directive, f"{name} {value}: more {unit} than nginx can hold (2^63 - 1); "
                                                     f"nginx refuses to start (\"{name}\" directive invalid value)")


@rule(code="CG416", name="content-handler-conflict", severity="warning")
def content_handler_conflict(ctx: LintContext) -> Iterator[Finding]:
    """Two content handlers in one location (``uwsgi_pass`` and ``proxy_pass``): one is dead.

    Each of ``proxy_pass``, ``uwsgi_pass``, ``fastcgi_pass``, ``grpc_pass``, ``stub_status``...
    sets the location's single content handler, and none checks for another module's: nginx
    starts, and every request goes to the handler written last. The other one, with its
    timeouts, headers and params, is silently dead (often a leftover of a move from uWSGI to
    gunicorn). Keep the one meant.

    Bad:
        server {
            location / {
                include uwsgi_params;
                uwsgi_pass 127.0.0.1:8001;
                proxy_pass http://127.0.0.1:8000;
            }
        }

    Good:
        server {
            location / {
                proxy_pass http://127.0.0.1:8000;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
        https://nginx.org/en/docs/http/ngx_http_uwsgi_module.html#uwsgi_pass
        https://nginx.org/en/docs/dev/development_guide.html#http_phases
    """
    seen: set[int] = set()
    for name in sorted(CONTENT_HANDLERS):
        for directive in ctx.all(name):
            block = directive.parent
            if block is None or id(block) in seen or block.name not in ("location", "if", "limit_except") \
                    or not in_http(directive):
                continue
            seen.add(id(block))
            handlers = [d for d in block.block or () if d.name in CONTENT_HANDLERS]
            if len({d.name for d in handlers}) < 2:
                continue
            winner = handlers[-1]
            dead = [d for d in handlers if d.name != winner.name]
            shown = ", ".join(f"{d.name} ({d.file}:{d.line})" for d in dead)
            yield ctx.finding(dead[0], f"this {block.name} has {len(handlers)} content handlers: nginx hands every "
                                       f"request to the last one, {winner.name} ({winner.file}:{winner.line}), so "
                                       f"{shown} and the settings meant for it never run; keep the one meant")


def _log_format_namespace(ctx, directive) -> str | None:
    """Which table of formats a ``log_format`` adds to: the http module's or the stream module's
    (each has its own; checked on nginx 1.22.1, where the same name in both starts), or None
    where nginx does not read it (a log_format inside a server is refused for its context)."""
    parent = directive.parent
    if parent is None:
        return None
    if parent.name == "stream":
        return "stream"
    if parent.name == "http" or (parent is ctx.nginx.root and ctx.nginx.context == "http"):
        return "http"
    return None


@rule(code="CG417", name="log-format-redefined", severity="error")
def log_format_redefined(ctx: LintContext) -> Iterator[Finding]:
    """A ``log_format`` name defined twice, or ``log_format combined``: nginx refuses to start.

    nginx keeps one table of log formats for the whole ``http`` block, included files and all,
    and refuses a name that is already in it: ``[emerg] duplicate "log_format" name "main"``,
    so ``nginx -t`` fails and a reload keeps the old config. ``combined`` is predefined, so
    ``log_format combined ...`` is refused the same way, even as the only one (often a copy of
    the default meant to document it). Names are compared as written (``Main`` and ``main`` are
    two formats). The ``stream`` module keeps a table of its own with nothing predefined: a name
    used in both ``http`` and ``stream``, or ``combined`` in ``stream``, is accepted (checked on
    nginx 1.22.1 with the stream module loaded). No fix is offered: which definition to keep, and
    which one each ``access_log`` means, is the config owner's choice.

    Bad:
        http {
            log_format combined '$remote_addr "$request" $status rt=$request_time';
            access_log /var/log/nginx/access.log combined;
        }

    Good:
        http {
            log_format timed '$remote_addr "$request" $status rt=$request_time';
            access_log /var/log/nginx/access.log timed;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format
        https://nginx.org/en/docs/stream/ngx_stream_log_module.html#log_format
    """
    seen: dict[tuple[str, str], object] = {}
    for directive in ctx.all("log_format"):
        namespace = _log_format_namespace(ctx, directive) if directive.args else None
        if namespace is None:
            continue
        name = directive.args[0]
        if namespace == "http" and name == "combined":
            yield ctx.finding(directive, "log_format combined: nginx predefines the combined format, so this is a "
                                         "second definition and nginx refuses to start (duplicate \"log_format\" name "
                                         "\"combined\"); give this format another name and use that in access_log")
            continue
        first = seen.setdefault((namespace, name), directive)
        if first is not directive:
            yield ctx.finding(directive, f"log_format {name} is already defined at {first.file}:{first.line}: nginx "
                                         f"refuses to start (duplicate \"log_format\" name \"{name}\"); keep one, or "
                                         f"give this one another name")


_PASSES = (*UPSTREAM_PASS, "memcached_pass")
# What gives a location content of its own, or sends its requests elsewhere, instead of the
# static file module: the content handlers, the rewrite module's answers and redirects,
# try_files (its fallback), and a path of its own (root, alias).
_OWN_CONTENT = CONTENT_HANDLERS | {"return", "rewrite", "try_files", "root", "alias", "echo", "echo_exec"}


def _has_own_content(location) -> bool:
    """Whether the location, or an ``if`` / ``limit_except`` in it, answers by itself: a
    content handler, return/rewrite/try_files, root/alias, or a refusal (``deny all``)."""
    for block in [location, *(d for d in location.block or () if d.name in ("if", "limit_except"))]:
        for directive in block.block or ():
            if directive.name in _OWN_CONTENT or (directive.name == "deny" and directive.args[:1] == ["all"]):
                return True
    return False


def _named_fallback(ctx, location) -> bool:
    """An ``error_page 404 ... @name`` in force: what is not on disk goes to a named location
    (the app, usually), so the disk lookup is the intended first try."""
    for directive in ctx.nginx.effective("error_page", location):
        if "404" in directive.args and directive.args and directive.args[-1].startswith("@"):
            return True
    return False


def _passing_parents(ctx) -> dict[int, tuple | None]:
    """Per location (by id): (the enclosing location, its pass directive) when the nearest
    enclosing location that answers by itself passes requests to an upstream, else None. One
    pass in document order (a parent comes before its children), so deep nesting stays linear."""
    found: dict[int, tuple | None] = {}
    for location in ctx.all("location"):
        parent = location.parent
        if parent is None or parent.name != "location":
            found[id(location)] = None
            continue
        passes = [d for d in parent.block or () if d.name in _PASSES]
        if passes:
            found[id(location)] = (parent, passes[-1])
        elif _has_own_content(parent):
            found[id(location)] = None
        else:
            found[id(location)] = found.get(id(parent))
    return found


def _with_files(ctx) -> set[int]:
    """The locations (by id) with a ``root`` or ``alias`` of their own or from an enclosing level
    (one pass in document order: linear however deep the nesting)."""
    marked: set[int] = set()
    for location in ctx.all("location"):
        parent = location.parent
        if location.find_any("root", "alias") or (parent is not None and id(parent) in marked) \
                or (parent is None or parent.name != "location") and ctx.nginx.effective("root", location):
            marked.add(id(location))
    return marked


@rule(code="CG418", name="nested-location-serves-files", severity="warning")
def nested_location_serves_files(ctx: LintContext) -> Iterator[Finding]:
    """A location nested in a proxying location has no content handler: nginx serves it from disk.

    Content handlers (``proxy_pass``, ``uwsgi_pass``, ``fastcgi_pass``, ...) are not inherited:
    a location nested inside ``location / { proxy_pass ...; }`` to set ``expires`` for
    ``.js`` or ``.xml`` URLs, with no handler of its own, hands those requests to the static
    file module. With no ``root`` anywhere above it, that is nginx's compiled-in default
    ``root html`` (``/usr/share/nginx/html`` on Debian): the app's ``/sitemap.xml`` or any
    ``.js`` route answers 404 (checked on nginx 1.22.1: ``open() ".../html/x.xml" failed``).
    Only reported where no ``root`` or ``alias`` is set in the chain: where one is, serving
    files there may be meant. A location that answers by itself (``return``, ``try_files``,
    ``rewrite``, ``deny all``, a handler) or has ``error_page 404 = @app`` in force is not
    reported. Repeat the pass in the nested location, or move it out. No fix is offered: whether
    those URLs are the app's or files on disk is the site's to say.

    Bad:
        server {
            location / {
                proxy_pass http://127.0.0.1:8000;
                location ~* \\.(?:js|xml)$ {
                    expires 30d;
                }
            }
        }

    Good:
        server {
            location / {
                proxy_pass http://127.0.0.1:8000;
                location ~* \\.(?:js|xml)$ {
                    expires 30d;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#location
        https://nginx.org/en/docs/http/ngx_http_core_module.html#root
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
    """
    passing, with_files = _passing_parents(ctx), _with_files(ctx)
    for location in ctx.all("location"):
        if not location.is_block or not in_http(location) or location.parent is None \
                or location.parent.name != "location" or _has_own_content(location):
            continue
        found = passing.get(id(location))
        if found is None:
            continue
        parent, handler = found
        if id(location) in with_files:
            continue    # a root or alias is set: serving files there may be meant
        if ctx.unresolved_include(location) is not None or _named_fallback(ctx, location):
            continue    # a file the deployment provides may set root; or a 404 goes to a named location
        yield ctx.finding(location, f"this location is nested in the location at {parent.file}:{parent.line}, which "
                                    f"passes requests to {handler.name}, but has no content handler of its own: "
                                    f"handlers are not inherited, so nginx serves these URLs from disk, from its "
                                    f"compiled-in default root html (no root is set), not from the app; add "
                                    f"{handler.name} here too, or move the location out")


# Every directive nginx (and its modules) defines is named with letters, digits and "_".
_DIRECTIVE_NAME = re.compile(r"[A-Za-z0-9_]+")
# Blocks whose entries are data (map keys, geo networks, MIME types), not directives.
_DATA_BLOCKS = frozenset(TABLE_BLOCKS - {"upstream"})


@rule(code="CG419", name="directive-name-malformed", severity="error")
def directive_name_malformed(ctx: LintContext) -> Iterator[Finding]:
    """A directive name with a character no directive has: nginx refuses to start.

    Directive names are letters, digits and underscores. A colon after the name (a habit from
    YAML: ``server_names_hash_bucket_size: 128;``), an ``=`` or a stray quote makes a name no
    module defines, and ``nginx -t`` fails with ``[emerg] unknown directive
    "server_names_hash_bucket_size:"``. Entries of ``map``, ``geo``, ``types``,
    ``split_clients`` and ``charset_map`` blocks are data, not directives, and are not checked.
    Names that are well formed but unknown are not reported: modules add their own.

    Bad:
        http {
            server_names_hash_bucket_size: 128;
        }

    Good:
        http {
            server_names_hash_bucket_size 128;
        }

    Fix safety: Safe: a trailing ``:`` is removed, which is the one change that makes nginx
    start (with the name as written, it refuses the whole config). Other characters are not
    fixed: what was meant is not certain.

    References:
        https://nginx.org/en/docs/beginners_guide.html#conf_structure
        https://nginx.org/en/docs/dirindex.html
    """
    malformed = [name for name in ctx.names() if name and name[0] != "#" and not _DIRECTIVE_NAME.fullmatch(name)]
    for directive in (d for name in malformed for d in ctx.all(name)):
        name, parent = directive.name, directive.parent
        if parent is not None and parent.name in _DATA_BLOCKS:
            continue
        fixable = name.endswith(":") and _DIRECTIVE_NAME.fullmatch(name[:-1]) is not None
        yield ctx.finding(directive, f"\"{name}\" is not a directive name (names are letters, digits and _): nginx "
                                     f"refuses to start (unknown directive \"{name}\")"
                                     + (f"; write {name[:-1]} without the colon" if fixable else ""),
                          fix=Fix(lambda fx, d=directive: fx.same_everywhere(d, lambda e: [rename(fx, e, e.name[:-1])]))
                          if fixable else None)


@rule(code="CG420", name="location-never-matches", severity="warning")
def location_never_matches(ctx: LintContext) -> Iterator[Finding]:
    """A prefix or exact ``location`` whose path does not start with ``/``: it never matches.

    nginx compares prefix (and ``=``) locations with the request's URI, which always starts with
    ``/``: ``location ^/psf/conduct/?$`` (a regex written without ``~``) or ``location *.php``
    is accepted at start and never chosen; its requests go to another location (checked on
    nginx 1.22.1: ``/psf/conduct/`` answered by ``location /``). Named locations (``@name``)
    and regex locations (``~``, ``~*``) are not affected.

    Bad:
        server {
            location ^/psf/conduct/?$ {
                return 301 https://policies.example.org/conduct/;
            }
        }

    Good:
        server {
            location ~ ^/psf/conduct/?$ {
                return 301 https://policies.example.org/conduct/;
            }
        }

    Fix safety: Unsafe: written as a regex location (``~ ``) when the path reads as one
    (starts with ``^``), it starts taking the requests it matches from the locations that
    answer them today. No fix otherwise.

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#location
    """
    for location in ctx.all("location"):
        match = location_match(location)
        if match is None or match.modifier not in ("", "=", "^~") or not match.path or match.path.startswith("/"):
            continue
        if not in_http(location):
            continue
        regex = match.path.startswith("^") and match.modifier == ""
        yield ctx.finding(location, f"location {' '.join(location.args)} never matches: nginx compares "
                                    f"{'exact' if match.modifier == '=' else 'prefix'} locations with the request "
                                    f"URI, which always starts with /"
                                    + ("; for a regex write `location ~ " + match.path + "`" if regex else ""),
                          fix=Fix(lambda fx, d=location: [replace_args(fx, d, "~ " + location_match(d).path)],
                                  safe=False) if regex and len(location.args) == 1 else None)


_PARAM_DIRECTIVES = ("uwsgi_param", "fastcgi_param", "scgi_param")


def _header_spelling(name: str) -> bool:
    """A parameter named as an HTTP header is written (``X-Forwarded-For``, ``Host``), not as
    the variable the app reads (``HTTP_X_FORWARDED_FOR``): CGI names never hold a ``-``."""
    return "-" in name or name.lower() == "host"


@rule(code="CG421", name="param-named-like-a-header", severity="warning")
def param_named_like_a_header(ctx: LintContext) -> Iterator[Finding]:
    """``uwsgi_param X-Forwarded-For ...`` sets a variable named ``X-Forwarded-For``, not the header.

    uWSGI, FastCGI and SCGI hand the app variables, not headers: a request header reaches a WSGI
    app (or PHP) as ``HTTP_X_FORWARDED_FOR``, from the client's own header, which nginx passes
    on. A parameter spelled as a header (``X-Forwarded-For``, ``X-Real-IP``, ``Host``) becomes an
    environ key of that exact name that no framework reads, so the app still trusts whatever the
    client wrote. Checked on nginx 1.22.1 with uWSGI 2.0: with ``uwsgi_param X-Forwarded-For
    $remote_addr`` and a client sending ``X-Forwarded-For: 6.6.6.6``, the app's
    ``HTTP_X_FORWARDED_FOR`` is ``6.6.6.6``; with ``uwsgi_param HTTP_X_FORWARDED_FOR
    $remote_addr`` it is nginx's value (nginx then leaves the client's header out).

    Bad:
        location / {
            include uwsgi_params;
            uwsgi_param X-Forwarded-For $proxy_add_x_forwarded_for;
            uwsgi_pass 127.0.0.1:3031;
        }

    Good:
        location / {
            include uwsgi_params;
            uwsgi_param HTTP_X_FORWARDED_FOR $proxy_add_x_forwarded_for;
            uwsgi_pass 127.0.0.1:3031;
        }

    Fix safety: Unsafe: written as ``HTTP_...``, nginx's value replaces the header the client
    sent, so what the app sees changes (that is the point, but an app that relied on the client's
    value, or on the odd key, behaves differently).

    References:
        https://nginx.org/en/docs/http/ngx_http_uwsgi_module.html#uwsgi_param
        https://nginx.org/en/docs/http/ngx_http_fastcgi_module.html#fastcgi_param
        https://peps.python.org/pep-3333/#environ-variables
        https://www.rfc-editor.org/rfc/rfc3875#section-4.1.18
    """
    by_block: dict[int, list] = {}   # one cause per block: its params were written as headers
    for name in _PARAM_DIRECTIVES:
        for directive in ctx.all(name):
            if directive.args and _header_spelling(directive.args[0]) and in_http(directive):
                by_block.setdefault(id(directive.parent), []).append(directive)
    for params in by_block.values():
        params.sort(key=lambda d: (d.file, d.line, d.column))
        first, name, header = params[0], params[0].name, params[0].args[0]
        variable = _as_variable(header)
        others = ", ".join(d.args[0] for d in params[1:])
        more = f" (and {others} in this {first.parent.name})" if others else ""
        yield ctx.finding(first, f"{name} {header} sets a variable named {header!r}{more}, not the header: the app "
                                 f"reads headers as {variable}, which still holds what the client sent; write "
                                 f"`{name} {variable} ...` to replace it",
                          fix=Fix(lambda fx, ps=params: [edit for d in ps for edit in fx.same_everywhere(
                              d, lambda e: [replace_arg(fx, e, 0, _as_variable(e.args[0]))])], safe=False))


def _as_variable(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


@rule(code="CG428", name="uwsgi-params-missing", severity="error")
def uwsgi_params_missing(ctx: LintContext) -> Iterator[Finding]:
    """``uwsgi_pass`` with no ``uwsgi_param`` in force: the app gets no method, path or query.

    Over the uwsgi protocol nginx sends the app the request's headers (as ``HTTP_*``) and only
    the parameters ``uwsgi_param`` names: ``REQUEST_METHOD``, ``PATH_INFO``, ``QUERY_STRING``,
    ``CONTENT_LENGTH`` come from ``include uwsgi_params`` (the file nginx ships). Without any,
    the app's environ has none of them (checked on nginx 1.22.1 with uWSGI 2.0: ``GET
    /search?q=1`` arrives with neither method, path nor query), and a WSGI framework routes
    every request as ``GET /``. Not
    reported where a file the deployment provides is included (it may hold the params), nor
    where ``uwsgi_param`` lines are inherited from an outer level, nor where the paired app
    speaks HTTP there (app-protocol-mismatch: no params would help), nor where another
    module's handler written after it (a ``proxy_pass``) takes every request
    (content-handler-conflict).

    Bad:
        server {
            listen 80;
            location / {
                uwsgi_pass 127.0.0.1:3031;
            }
        }

    Good:
        server {
            listen 80;
            location / {
                include uwsgi_params;
                uwsgi_pass 127.0.0.1:3031;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_uwsgi_module.html#uwsgi_param
        https://uwsgi-docs.readthedocs.io/en/latest/Nginx.html
    """
    stock = {id(include.parent) for include in ctx.nginx.stock_includes
             if include.args and include.args[0].rsplit("/", 1)[-1] == "uwsgi_params"}
    # uwsgi_pass to a paired app that speaks HTTP fails whatever the params: app-protocol-mismatch.
    server = ctx.app_server
    speaks_http = ctx.gunicorn is not None or (server is not None and getattr(server, "protocol", "http") != "uwsgi")
    crossed = {id(d) for d in uwsgi_passes(ctx, binds_of(ctx) or [])} if speaks_http else set()
    for directive in ctx.all("uwsgi_pass"):
        if id(directive) in crossed or overriding_handler(directive) is not None:
            continue    # app-protocol-mismatch's, or a handler nginx never runs (content-handler-conflict's)
        block = directive.parent
        if block is None or not in_http(directive) or ctx.nginx.effective("uwsgi_param", block):
            continue
        if any(id(level) in stock for level in (block, *block.ancestors())):
            continue    # nginx's own uwsgi_params, which this machine does not have
        if ctx.unresolved_include(block) is not None:
            continue    # a file the deployment provides may hold the params
        yield ctx.finding(directive, "uwsgi_pass with no uwsgi_param in force here: nginx sends the app the "
                                     "headers only, without REQUEST_METHOD, PATH_INFO or QUERY_STRING, so a WSGI "
                                     "framework routes every request as GET /; add `include uwsgi_params;`")


_REWRITE_FLAGS = frozenset({"last", "break", "redirect", "permanent"})


@rule(code="CG422", name="rewrite-missing-regex", severity="warning")
def rewrite_missing_regex(ctx: LintContext) -> Iterator[Finding]:
    """``rewrite https://example.org permanent;``: two arguments, the second a flag.

    ``rewrite`` takes a regex, then the replacement, then the flag. With the regex left out,
    nginx reads the URL as the regex and the flag as the replacement: the regex is matched against
    the request URI, which starts with ``/`` (and has its slashes merged), so the redirect never
    happens; were it to match, the URI would become the word ``permanent``. Checked on nginx
    1.22.1: ``rewrite https://example.org permanent;`` lets every request through (200), while
    ``rewrite ^ https://example.org permanent;`` answers 301.

    Bad:
        server {
            listen 80;
            server_name www.example.org;
            rewrite https://example.org permanent;
        }

    Good:
        server {
            listen 80;
            server_name www.example.org;
            rewrite ^ https://example.org permanent;
        }

    Fix safety: Unsafe: with ``^`` as its regex the rewrite applies to every request, as was
    evidently meant, but requests it let through until now start getting the redirect.

    References:
        https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#rewrite
    """
    for directive in ctx.all("rewrite"):
        if len(directive.args) != 2 or directive.args[1] not in _REWRITE_FLAGS or not in_http(directive):
            continue
        target, flag = directive.args
        yield ctx.finding(directive, f"rewrite {target} {flag} has no regex: nginx matches {target!r} against the "
                                     f"request URI (it never matches) and would rewrite to {flag!r}; write "
                                     f"`rewrite ^ {target} {flag};`",
                          fix=Fix(lambda fx, d=directive: [replace_args(fx, d, "^ " + " ".join(d.args))], safe=False))


# Directives nginx allows at one level only (their modules' context flags, as crossplane's
# analyzer tables hold them): shared tables and zones in the http (or stream) block itself, the
# process settings at the top of nginx.conf, the connection settings in events.
TOP_LEVEL_TABLES = frozenset({
    "charset_map", "fastcgi_cache_path", "geo", "limit_conn_zone", "limit_req_zone", "log_format", "map",
    "map_hash_bucket_size", "map_hash_max_size", "proxy_cache_path", "scgi_cache_path",
    "server_names_hash_bucket_size", "server_names_hash_max_size", "split_clients", "upstream",
    "uwsgi_cache_path", "variables_hash_bucket_size", "variables_hash_max_size"})
MAIN_ONLY = frozenset({
    "daemon", "env", "events", "http", "load_module", "lock_file", "mail", "master_process", "pcre_jit", "pid",
    "stream", "thread_pool", "timer_resolution", "user", "worker_cpu_affinity", "worker_priority",
    "worker_processes", "worker_rlimit_core", "worker_rlimit_nofile", "worker_shutdown_timeout",
    "working_directory"})
EVENTS_ONLY = frozenset({"accept_mutex", "accept_mutex_delay", "debug_connection", "multi_accept", "use",
                         "worker_aio_requests", "worker_connections"})


@rule(code="CG423", name="directive-not-allowed-here", severity="error")
def directive_not_allowed_here(ctx: LintContext) -> Iterator[Finding]:
    """A directive in a block nginx does not accept it in: nginx refuses to start.

    Shared tables and zones (``limit_req_zone``, ``proxy_cache_path``, ``map``, ``upstream``,
    ``log_format``, the hash sizes) live in the http (or stream) block itself; process settings
    (``worker_processes``, ``worker_rlimit_nofile``, ``pid``, ``user``) at the top of
    nginx.conf; connection settings (``worker_connections``, ``use``, ``multi_accept``) in
    ``events``. Written in a server, location or another block (often through an include placed
    inside a server), ``nginx -t`` fails with ``"limit_req_zone" directive is not allowed here``.
    Judged only where the block is known: a snippet no file includes is placed nowhere yet.

    Bad:
        events {}
        http {
            server {
                listen 80;
                limit_req_zone $binary_remote_addr zone=one:10m rate=1r/s;
            }
        }

    Good:
        events {}
        http {
            limit_req_zone $binary_remote_addr zone=one:10m rate=1r/s;
            server {
                listen 80;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_limit_req_module.html#limit_req_zone
        https://nginx.org/en/docs/ngx_core_module.html
        https://github.com/nginxinc/crossplane/blob/master/crossplane/analyzer.py
    """
    for name in (TOP_LEVEL_TABLES | MAIN_ONLY | EVENTS_ONLY) & set(ctx.names()):
        for directive in ctx.all(name):
            parent = directive.parent
            if parent is None or parent.name in _DATA_BLOCKS or (parent.parent is None and not ctx.nginx.is_full):
                continue    # table data, or the top of a snippet whose place is not known
            if name in TOP_LEVEL_TABLES:
                allowed, ok = "http (or stream) block itself", parent.name in ("http", "stream", "mail")
            elif name in MAIN_ONLY:
                allowed, ok = "top level of nginx.conf", parent.parent is None
            else:
                allowed, ok = "events block", parent.name == "events"
            if not ok:
                where = "the top level" if parent.parent is None else f"a {parent.name} block"
                yield ctx.finding(directive, f"{name} is not allowed in {where}: nginx refuses to start "
                                             f"(\"{name}\" directive is not allowed here); move it to the {allowed}")


# Directives that use a shared zone, how each names it, and the directives that define one.
_ZONE_USERS = {"limit_req": "limit_req_zone", "limit_conn": "limit_conn_zone", "proxy_cache": "proxy_cache_path",
               "fastcgi_cache": "fastcgi_cache_path", "uwsgi_cache": "uwsgi_cache_path",
               "scgi_cache": "scgi_cache_path"}
_ZONE_ARG_RE = re.compile(r"^(?:keys_)?zone=([^:]+)(?::|$)")


@rule(code="CG425", name="zone-not-defined", severity="error", needs=("full",))
def zone_not_defined(ctx: LintContext) -> Iterator[Finding]:
    """``limit_req``, ``limit_conn`` or ``proxy_cache`` names a zone nothing defines: nginx refuses to start.

    Each of them uses a shared memory zone that ``limit_req_zone``, ``limit_conn_zone`` or
    ``proxy_cache_path ... keys_zone=`` (``fastcgi_``, ``uwsgi_``, ``scgi_cache_path``) defines
    in the http block. Used but not defined, ``nginx -t`` fails: ``zero size shared memory zone
    "login"`` for a limit, ``"proxy_cache" zone "api" is unknown`` for a cache, and ``the shared
    memory zone "api" is already declared for a different use`` when another of those
    directives defines the name (``uwsgi_cache`` of a ``proxy_cache_path`` zone; checked on
    nginx 1.22.1). Judged only on a whole nginx.conf that includes no file the deployment provides
    (such a file may define the zone); a name made of variables, and ``proxy_cache off``, are
    left alone.

    Bad:
        events {}
        http {
            server {
                listen 80;
                location /login { limit_req zone=login burst=5; proxy_pass http://127.0.0.1:8000; }
            }
        }

    Good:
        events {}
        http {
            limit_req_zone $binary_remote_addr zone=login:10m rate=5r/m;
            server {
                listen 80;
                location /login { limit_req zone=login burst=5; proxy_pass http://127.0.0.1:8000; }
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_limit_req_module.html#limit_req
        https://nginx.org/en/docs/http/ngx_http_limit_conn_module.html#limit_conn
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_cache
    """
    if getattr(ctx.nginx, "unresolved_includes", None):
        return      # a file the deployment provides may define the zone
    defined: dict[str, set[str]] = {}
    for definer in set(_ZONE_USERS.values()):
        for directive in ctx.all(definer):
            if in_http(directive):
                defined.setdefault(definer, set()).update(
                    m.group(1) for a in directive.args[1:] if (m := _ZONE_ARG_RE.match(a)))
    for user, definer in _ZONE_USERS.items():
        for directive in ctx.all(user):
            if not directive.args or not in_http(directive):
                continue
            if user == "limit_req":
                name = next((m.group(1) for a in directive.args if (m := _ZONE_ARG_RE.match(a))), None)
            else:
                name = directive.args[0]
            if name is None or "$" in name or (user != "limit_conn" and name == "off"):
                continue
            if name not in defined.get(definer, set()):
                other = next((d for d, names in sorted(defined.items()) if name in names), None)
                if other is not None:
                    # Another module's zone of that name: nginx refuses it for its use instead.
                    refusal = f'the shared memory zone "{name}" is already declared for a different use'
                    whose = f" ({other} defines it, for its own use)"
                else:
                    refusal = (f'"{user}" zone "{name}" is unknown' if definer.endswith("_path")
                               else f'zero size shared memory zone "{name}"')
                    whose = ""
                yield ctx.finding(directive, f"{user} uses the zone {name}, which no {definer} defines{whose}: nginx "
                                             f"refuses to start ({refusal}); define it in the http block, or use the "
                                             f"name of one that is")


# From nginx 1.25.1 a plain-TCP port with HTTP/2 also answers HTTP/1.x (the http2 directive's
# release); before, it speaks HTTP/2 with prior knowledge only.
HTTP2_PLAINTEXT_SNIFFS = (1, 25, 1)


@rule(code="CG426", name="http2-plaintext-listen", severity="warning")
def http2_plaintext_listen(ctx: LintContext) -> Iterator[Finding]:
    """``listen 80 http2`` without ``ssl``: before nginx 1.25.1 that port speaks only HTTP/2.

    On a socket without TLS there is no ALPN to agree on a protocol, so nginx before 1.25.1
    takes every connection there as HTTP/2 "with prior knowledge": a browser or any HTTP/1.1
    client (a health check, curl, a mail client fetching autoconfig) gets HTTP/2 frames it
    cannot read (checked on nginx 1.22.1: ``curl --http1.1`` fails with "Received HTTP/0.9",
    ``--http2-prior-knowledge`` gets the page). Browsers use HTTP/2 only over TLS, so ``http2``
    on a plain port helps none of them. Not reported where the socket is TLS (an ``ssl`` listen
    of any server on it, ``ssl on``), for ``proxy_protocol`` (a balancer in front that may speak
    h2c) or a server that passes to ``grpc_pass`` (gRPC clients speak HTTP/2 with prior
    knowledge), nor from nginx 1.25.1, where such a port answers HTTP/1.x too.

    Version: 1.22.1

    Bad:
        server {
            listen 80 http2;
            server_name autoconfig.example.com;
        }

    Good:
        server {
            listen 80;
            server_name autoconfig.example.com;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#listen
        https://nginx.org/en/docs/http/ngx_http_v2_module.html
        https://nginx.org/en/CHANGES
    """
    if ctx.version >= HTTP2_PLAINTEXT_SNIFFS or not any("http2" in d.args for d in ctx.all("listen")):
        return
    tls_sockets = set(servers_by_socket(ctx, tls_only=True))
    for server in http_servers(ctx):
        candidates = [listen for listen in ctx.nginx.listens(server) if listen.http2 and not (
            listen.ssl or listen.quic or listen.proxy_protocol or listen.is_unix)]
        if not candidates or (ctx.nginx.effective_args("ssl", server) or ["off"])[0] == "on" \
                or any(d.name == "grpc_pass" for d in server.walk()):
            continue
        for listen in candidates:
            if listen_socket(listen) not in tls_sockets:
                yield ctx.finding(listen.directive, f"listen {' '.join(listen.directive.args)} has http2 but no ssl: "
                                                    f"before nginx 1.25.1 this port speaks only HTTP/2 with prior "
                                                    f"knowledge, so browsers and HTTP/1.1 clients cannot read its "
                                                    f"answers; drop http2 here (or add ssl)")
                break


# What a location may hold and still be a plain "serve files from here" location: these change
# headers, logging or caching of the file, not which file or handler answers.
_PASSIVE_FILE_DIRECTIVES = frozenset({
    "expires", "add_header", "more_set_headers", "access_log", "log_not_found", "etag", "if_modified_since",
    "gzip", "gzip_static", "gzip_vary", "gzip_types", "gzip_comp_level", "gzip_min_length", "brotli",
    "brotli_static", "brotli_types", "open_file_cache", "open_file_cache_valid", "open_file_cache_errors",
    "sendfile", "tcp_nopush", "tcp_nodelay", "charset", "charset_types", "default_type", "types",
    "autoindex", "index", "add_trailer", "aio", "directio", "output_buffers", "limit_rate"})
# Names a static-file regex is written for; a regex that matches one of them under a prefix
# location takes those files from it.
_SAMPLE_FILES = ("a.css", "a.js", "a.mjs", "a.map", "a.png", "a.jpg", "a.jpeg", "a.gif", "a.ico", "a.svg",
                 "a.webp", "a.avif", "a.woff", "a.woff2", "a.ttf", "a.otf", "a.eot", "a.json", "a.xml", "a.txt",
                 "a.html", "a.htm", "a.pdf", "a.mp4", "a.webm", "a.mp3", "a.ogg", "a.zip", "a.gz", "a.csv",
                 "A.CSS", "A.JS", "A.PNG", "A.JPG")


@rule(code="CG424", name="regex-location-takes-prefix-files", severity="warning")
def regex_location_takes_prefix_files(ctx: LintContext) -> Iterator[Finding]:
    """A regex location (``~* \\.(css|js)$``) answers requests meant for a prefix location's files.

    nginx picks the longest matching prefix location, then tries the server's regex locations in
    order and uses the first that matches; the prefix location is kept only when none does or
    it is written ``^~``. A ``location /static/ { alias /srv/app/static/; }`` beside
    ``location ~* \\.(css|js|png)$ { expires 30d; }`` therefore serves ``/static/app.css`` from
    the regex location's root (the server's ``root``, or nginx's ``html`` directory when none is
    set), not from the alias: the files 404 (checked on nginx 1.22.1). Reported when both
    locations only serve files (no handler, ``return``, rewrite or access rule), the regex
    matches a usual static file name under the prefix, and the two map that file to different
    paths; only for the site's root (``location /``) or a prefix that names a directory of web
    assets (``/static``, ``/assets``, ``/media``, ``/dist``, ...: a ``/data`` of parquet dumps may
    hold no file the regex takes); not when the prefix has nested locations or either side
    includes a file the deployment provides.

    Bad:
        server {
            root /var/www/html;
            location /static/ { alias /srv/app/static/; }
            location ~* \\.(css|js|png)$ { expires 30d; }
        }

    Good:
        server {
            root /var/www/html;
            location ^~ /static/ { alias /srv/app/static/; expires 30d; }
            location ~* \\.(css|js|png)$ { expires 30d; }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#location
        https://nginx.org/en/docs/http/request_processing.html
    """
    # A server's locations, or those of a snippet written for one (locations at its top level).
    for server in [*ctx.all("server"), ctx.nginx.root]:
        if not server.is_block or not in_http(server):
            continue
        # A file the deployment provides beside these locations may hold a regex that matches
        # first; the file a snippet is written for is no such unknown (it is the server itself).
        provided = ctx.unresolved_include(server, inherited=False)
        if provided is not None and provided.args != [SNIPPET_INCLUDER]:
            continue
        locations = [d for d in server.block or () if d.name == "location" and d.is_block]
        regexes = [(d, m) for d in locations if (m := location_match(d)) is not None and m.modifier in ("~", "~*")
                   and _only_serves_files(ctx, d)]
        if not regexes:
            continue
        for prefix in locations:
            match = location_match(prefix)
            if match is None or match.modifier != "" or not match.path.startswith("/") \
                    or not _names_web_assets(match.path) or not _only_serves_files(ctx, prefix, may_alias=True):
                continue
            for regex, regex_match in regexes:
                taken = _files_taken(regex_match, match.path)
                if taken is None:
                    continue
                ours, theirs = served_path(ctx, prefix, match.path, taken), served_path(ctx, regex, None, taken)
                if ours is None or theirs is None or ours == theirs:
                    continue
                if not theirs.startswith("/"):
                    theirs += " in nginx's prefix (no root is set there)"
                yield ctx.finding(prefix, f"location {' '.join(regex.args)} (line {regex.line}) takes {taken} from "
                                          f"this location: nginx tries regex locations after the longest prefix and "
                                          f"keeps the prefix only when it is written `^~`, so the file is looked up "
                                          f"as {theirs}, not {ours}; write `location ^~ {match.path}` (with what "
                                          f"the regex location adds, such as expires, repeated inside)")
                break


# Path segments that name a directory of web assets (the css, js and images a static-file regex
# is written for); a prefix for data dumps or downloads may hold none of them.
_ASSET_SEGMENTS = frozenset({"static", "staticfiles", "assets", "public", "dist", "build", "bundles", "media",
                             "css", "js", "img", "images", "fonts", "frontend", "_next", "vendor"})


def _names_web_assets(prefix: str) -> bool:
    """Whether a prefix location is the site's root or names a directory of web assets."""
    segments = [segment.lower() for segment in prefix.split("/") if segment]
    return not segments or any(segment in _ASSET_SEGMENTS for segment in segments)


def _only_serves_files(ctx: LintContext, location, may_alias: bool = False) -> bool:
    """Whether ``location`` answers only from files (its own root, or alias when ``may_alias``),
    with nothing that picks another handler, redirects, or refuses."""
    if ctx.unresolved_include(location, inherited=False) is not None:
        return False
    for child in location.block or ():
        if child.name in _PASSIVE_FILE_DIRECTIVES:
            continue
        if child.name == "root" and child.args and "$" not in child.args[0]:
            continue
        if child.name == "alias" and may_alias and child.args and "$" not in child.args[0]:
            continue
        if child.name == "try_files" and child.args and child.args[-1] == "=404" \
                and all(a in ("$uri", "$uri/") for a in child.args[:-1]):
            continue
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _files_taken(regex: LocationMatch, prefix: str) -> str | None:
    """A URI under ``prefix`` that ``regex`` matches, from the usual static file names (the same
    pair recurs across a large config's servers: computed once)."""
    try:
        compiled = re.compile(regex.path, re.IGNORECASE if regex.modifier == "~*" else 0)
    except re.error:
        return None     # a PCRE form Python cannot read: say nothing
    base = prefix if prefix.endswith("/") else prefix + "/"
    return next((base + "x/" + name for name in _SAMPLE_FILES if compiled.search(base + "x/" + name)), None)


@rule(code="CG429", name="alias-drops-slash", severity="warning")
def alias_drops_slash(ctx: LintContext) -> Iterator[Finding]:
    """A prefix location ending in ``/`` with an ``alias`` that does not: every path loses its slash.

    nginx replaces the location prefix with the alias, character for character: with
    ``location /static/ { alias /app/static; }`` a request for ``/static/css/a.css`` is served
    from ``/app/staticcss/a.css`` (checked on nginx 1.22.1), so every file under the location
    answers 404 (or, worse, a sibling directory's file). End the alias with ``/`` as well. An
    alias naming a single file, one made of variables, and regex or exact locations are left
    alone.

    Bad:
        server {
            location /static/ {
                alias /app/static;
            }
        }

    Good:
        server {
            location /static/ {
                alias /app/static/;
            }
        }

    Fix safety: Unsafe: a ``/`` is appended to the alias, so the files the location was written
    to serve are found where the location says; a request that a sibling path answered before
    (``/app/staticcss/a.css``) then gets what the location names instead.

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#alias
    """
    for alias in ctx.all("alias"):
        location = alias.parent
        if location is None or location.name != "location" or len(alias.args) != 1 or not in_http(alias):
            continue
        match = location_match(location)
        target = alias.args[0]
        if match is None or match.modifier not in ("", "^~") or not match.path.endswith("/") or match.path == "/":
            continue
        if target.endswith("/") or "$" in target or "." in target.rsplit("/", 1)[-1]:
            continue
        yield ctx.finding(alias, f"location {match.path} ends with / but its alias {target} does not: "
                                 f"{match.path}x is served from {target}x; write `alias {target}/`",
                          fix=Fix(lambda fx, a=alias: [replace_arg(fx, a, 0, a.args[0] + "/")], safe=False))


@rule(code="CG430", name="try-files-filesystem-path", severity="warning")
def try_files_filesystem_path(ctx: LintContext) -> Iterator[Finding]:
    """A ``try_files`` file written as a filesystem path (``$document_root/x``, or the root itself).

    ``try_files`` joins ``root`` to each file argument, as to a request's URI: with ``root
    /srv/www``, ``try_files /srv/www/maintenance.html $uri @app`` looks for
    ``/srv/www/srv/www/maintenance.html`` and ``$document_root/maintenance.html`` for the same
    doubled path (both checked on nginx 1.22.1), so the file is never found and the check is dead:
    a maintenance page that never shows. Write the file as a path under root
    (``/maintenance.html``). Only file arguments (not the last, the fallback) are read, in
    locations served from a ``root`` (not an ``alias``) that holds no variable.

    Bad:
        server {
            root /srv/www;
            location / {
                try_files /srv/www/maintenance.html $uri @app;
            }
            location @app { proxy_pass http://127.0.0.1:8000; }
        }

    Good:
        server {
            root /srv/www;
            location / {
                try_files /maintenance.html $uri @app;
            }
            location @app { proxy_pass http://127.0.0.1:8000; }
        }

    Fix safety: Unsafe: the file is then found when it exists, and a request the next argument
    answered before gets that file instead (which is what the line was written for).

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#try_files
        https://nginx.org/en/docs/http/ngx_http_core_module.html#root
    """
    for directive in ctx.all("try_files"):
        at = directive.parent
        if at is None or not in_http(directive) or len(directive.args) < 2 or ctx.nginx.effective("alias", at):
            continue
        found = ctx.nginx.effective("root", at)
        root = found[-1].args[0].rstrip("/") if found and found[-1].args else ""
        if "$" in root:
            continue
        for index, name in enumerate(directive.args[:-1]):
            written = _root_written_in(name, root)
            if written is None:
                continue
            under = name[len(written):]
            doubled = f"{root}{root}{under}" if root else f"html/html{under} (nginx's default root, twice)"
            yield ctx.finding(directive, f"try_files joins root to each file it checks, so {name} is looked for "
                                         f"at {doubled} and never found; write {under}",
                              fix=Fix(lambda fx, d=directive, i=index, u=under: [replace_arg(fx, d, i, u)],
                                      safe=False))


_ROOT_VARIABLES = ("$document_root", "$realpath_root")


def _root_written_in(name: str, root: str) -> str | None:
    """The prefix of a try_files argument that spells out the root again, or None."""
    for prefix in (*_ROOT_VARIABLES, root):
        if prefix and name.startswith(prefix) and name[len(prefix):len(prefix) + 1] in ("/", "$"):
            return prefix
    return None


@rule(code="CG432", name="root-names-the-file", severity="warning")
def root_names_the_file(ctx: LintContext) -> Iterator[Finding]:
    """A location for one file (``location /favicon.ico``) whose ``root`` is that file's own path.

    ``root`` is a directory that nginx joins the whole URI to: with ``location /favicon.ico {
    root /srv/app/static/favicon.ico; }`` nginx opens ``/srv/app/static/favicon.ico/favicon.ico``,
    which does not exist, and answers 404 (checked on nginx 1.22.1). Name the directory that holds
    the file (``root /srv/app/static;``), or the file itself with ``alias``. Reported for prefix
    and exact locations whose path ends in a file name (a dot in its last part) and whose own
    ``root`` ends with that path.

    Bad:
        server {
            location = /favicon.ico {
                root /srv/app/static/favicon.ico;
            }
        }

    Good:
        server {
            location = /favicon.ico {
                root /srv/app/static;
            }
        }

    Fix safety: Unsafe: root becomes the directory the file is in, so the file is served; other
    URIs the location matches (``/favicon.ico.bak`` under a prefix location) are then looked for
    there too.

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#root
        https://nginx.org/en/docs/http/ngx_http_core_module.html#alias
    """
    for root in ctx.all("root"):
        location = root.parent
        if location is None or location.name != "location" or len(root.args) != 1 or "$" in root.args[0]:
            continue
        match = location_match(location)
        if match is None or match.modifier not in ("", "=", "^~") or "." not in match.path.rsplit("/", 1)[-1]:
            continue
        written = root.args[0].rstrip("/")
        if not written.endswith(match.path) or written == match.path:
            continue
        directory = written[:-len(match.path)] or "/"
        yield ctx.finding(root, f"root {root.args[0]} ends with the location's own path: nginx joins the URI to it "
                                f"and opens {written}{match.path}, which is not there (404); write `root {directory}` "
                                f"(or `alias {written}`)",
                          fix=Fix(lambda fx, r=root, d=directory: [replace_arg(fx, r, 0, d)], safe=False))


@rule(code="CG434", name="double-slash-in-url", severity="warning")
def double_slash_in_url(ctx: LintContext) -> Iterator[Finding]:
    """A URL that writes ``/`` before a value that starts with ``/`` (``https://$host/$request_uri``).

    ``$request_uri``, ``$uri`` and ``$document_uri`` always start with ``/`` (even for an
    absolute-URI request line), and so does a capture that starts where they do (``$1`` of
    ``rewrite ^(.*)$``): ``return 301 https://$host/$request_uri`` sends ``/a?b`` to
    ``https://host//a?b`` (checked on nginx 1.22.1). nginx merges the two slashes only to choose a
    location: ``proxy_pass`` without a URI passes the path as the client sent it, so the app gets
    ``//a``, which FastAPI answers with 404 (checked). In a ``proxy_pass`` or an internal
    ``rewrite`` the app gets ``//a`` directly. Checked in ``return``, ``rewrite`` and ``proxy_pass``.

    Bad:
        server {
            listen 80;
            return 301 https://$host/$request_uri;
        }

    Good:
        server {
            listen 80;
            return 301 https://$host$request_uri;
        }

    Fix safety: Safe: the ``/`` before the value is removed, so the URL has the path the request had.

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#var_request_uri
        https://nginx.org/en/docs/http/ngx_http_core_module.html#merge_slashes
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
    """
    model = variable_model(ctx)
    for directive in (*ctx.all("return"), *ctx.all("rewrite"), *ctx.all("proxy_pass")):
        index = _url_argument(directive)
        if index is None or not in_http(directive):
            continue
        url = directive.args[index]
        for ref in references(url):
            if url[ref.start - 1:ref.start] != "/" or url[max(0, ref.start - 3):ref.start] == "://" \
                    or not _always_starts_with_slash(model.expand(url[ref.start:ref.end], directive)):
                continue
            written = url[ref.start:ref.end]
            doubled = f"{url[:ref.start]}/a"
            if directive.name == "proxy_pass":
                effect = "the app is asked for //a when the client asks for /a"
            elif directive.name == "return" or rewrite_redirects(directive):
                effect = (f"/a is sent to {doubled}; nginx merges the slashes only to choose a location, and passes "
                          f"the path as sent to an app behind proxy_pass without a URI (FastAPI answers //a with 404)")
            else:
                effect = f"the URI becomes {doubled} for /a"
            yield ctx.finding(directive, f"{written} always starts with /, so the / written before it doubles it: "
                                         f"{effect}; write {url[:ref.start - 1]}{url[ref.start:]}",
                              fix=Fix(lambda fx, d=directive, i=index, w=written: [_drop_slash_before(fx, d, i, w)],
                                      safe=True))
            break


# A redirect to this site's own name with nothing after it: every path lands on the home page.
_SAME_SITE_ONLY = re.compile(r"https?://\$(?:host|http_host|server_name)/?")


@rule(code="CG437", name="redirect-drops-path", severity="warning")
def redirect_drops_path(ctx: LintContext) -> Iterator[Finding]:
    """A redirect to ``https://$host`` with no ``$request_uri``: every page lands on the home page.

    ``return 301 https://$host;`` (or ``$server_name``, ``$http_host``) in a location that takes
    more than one URI sends ``/orders/42?tab=2`` to ``https://example.com`` alone: links, bookmarks
    and form posts made over http lose their path and query. The usual http to https redirect is
    ``https://$host$request_uri`` (a template whose ``$request_uri`` was emptied by ``envsubst``
    writes the first). An exact location (``location = /``) answers one URI and is not reported,
    nor is a redirect to another site's fixed name (moving a domain to a new home page).

    Bad:
        server {
            listen 80;
            return 301 https://$host;
        }

    Good:
        server {
            listen 80;
            return 301 https://$host$request_uri;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#return
        https://nginx.org/en/docs/http/ngx_http_core_module.html#var_request_uri
    """
    for directive in ctx.all("return"):
        index = _url_argument(directive)
        if index is None or not in_http(directive) or not _SAME_SITE_ONLY.fullmatch(directive.args[index]):
            continue
        location = directive.enclosing("location")
        match = location_match(location) if location is not None else None
        if match is not None and match.modifier == "=":
            continue
        url = directive.args[index]
        yield ctx.finding(directive, f"return {' '.join(directive.args)} sends every URI here to {url} alone: "
                                     f"/orders/42?tab=2 lands on the home page, its path and query lost; write "
                                     f"{url.rstrip('/')}$request_uri")


def _url_argument(directive) -> int | None:
    """Which argument of a return / rewrite / proxy_pass is a URL or URI, or None."""
    args = directive.args
    if directive.name == "return":
        if len(args) == 1:
            return 0 if "/" in args[0] or args[0].startswith("$") else None
        return 1 if len(args) == 2 and args[0] in REDIRECT_CODES else None
    if directive.name == "rewrite":
        return 1 if len(args) >= 2 else None
    return 0 if args and not args[0].startswith("$") else None


def _always_starts_with_slash(alternatives) -> bool:
    """Whether every alternative of a value starts with "/", written or a source that always does."""
    heads = [alternative[0] if alternative else "" for alternative in alternatives]
    return bool(heads) and all(head.startswith("/") if isinstance(head, str) else head.leading_slash for head in heads)


def _drop_slash_before(fx, directive, index: int, written: str):
    """The URL argument with the ``/`` before ``written`` taken out, quoting kept."""
    raw = fx.span(directive)[1].args[index].raw
    return replace_arg(fx, directive, index, raw.replace("/" + written, written, 1))


@rule(code="CG433", name="regex-location-shadowed", severity="warning")
def regex_location_shadowed(ctx: LintContext) -> Iterator[Finding]:
    """A regex location that an earlier one at the same level answers every request of.

    nginx tries a level's regex locations in the order written and uses the first that matches:
    after ``location ~ ^/api/`` (every URI that starts with ``/api/``), ``location ~
    /api/ws/[0-9a-z-]+`` is never chosen for ``/api/ws/...``, and its settings (the WebSocket
    upgrade, a longer timeout) never apply (eda-server's websocket location, checked on nginx
    1.22.1). Move the narrower location before the wider one. Reported when the earlier regex is
    a plain prefix (``^/api/``, optionally followed by ``.*``), the later one starts with that
    same text (anchored or not), and the earlier one is at least as case-insensitive.

    Bad:
        server {
            location ~ ^/api/ { proxy_pass http://127.0.0.1:8000; }
            location ~ ^/api/ws/ { proxy_pass http://127.0.0.1:8001; }
        }

    Good:
        server {
            location ~ ^/api/ws/ { proxy_pass http://127.0.0.1:8001; }
            location ~ ^/api/ { proxy_pass http://127.0.0.1:8000; }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#location
    """
    by_level: dict[int, list] = {}
    for location in ctx.all("location"):
        match = location_match(location)
        if match is not None and match.modifier in ("~", "~*") and location.parent is not None and in_http(location):
            by_level.setdefault(id(location.parent), []).append((location, match))
    for regexes in by_level.values():
        for index, (later, later_match) in enumerate(regexes):
            later_text = _literal_start(later_match.path.removeprefix("^"))
            for earlier, earlier_match in regexes[:index]:
                prefix = _plain_prefix(earlier_match.path)
                if prefix is None or not later_text or (earlier_match.modifier == "~" and later_match.modifier == "~*"):
                    continue
                folded = earlier_match.modifier == "~*"
                if (later_text.lower() if folded else later_text).startswith(prefix.lower() if folded else prefix):
                    yield ctx.finding(later, f"location {' '.join(later.args)} is never chosen for URIs that start "
                                             f"with {later_text}: location {' '.join(earlier.args)} ({earlier.file}:"
                                             f"{earlier.line}) comes first and matches them all (nginx uses the "
                                             f"first regex location that matches); move this one before it")
                    break


_REGEX_SPECIAL = set(".^$*+?()[]{}|\\")


def _literal_start(pattern: str) -> str:
    """The text every match of ``pattern`` starts with (escapes read): ``/api/ws/`` of
    ``/api/ws/[0-9a-z-]+``; empty when it starts with a regex construct."""
    return _literal_run(pattern)[0]


def _literal_run(pattern: str) -> tuple[str, int]:
    """(the fixed text ``pattern`` starts with, how many of its characters spell it)."""
    text, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and not pattern[index + 1].isalnum():
            text.append(pattern[index + 1])
            index += 2
            continue
        if char in _REGEX_SPECIAL:
            if char in "*?{" and text:
                text.pop()          # a quantifier makes the character before it optional or repeated
                index = -1          # (what was read no longer spells the text alone)
            break
        text.append(char)
        index += 1
    return "".join(text), index


def _plain_prefix(pattern: str) -> str | None:
    """``/api/`` for ``^/api/`` (or ``^/api/.*``, ``^/api/(.*)$``): a regex that matches exactly the
    URIs starting with some text; None for any other regex."""
    if not pattern.startswith("^"):
        return None
    body = pattern[1:]
    for tail in ("(.*)$", ".*$", "(.*)", ".*"):
        if body.endswith(tail):
            body = body[:-len(tail)]
            break
    text, consumed = _literal_run(body)
    return text if text and consumed == len(body) else None
