"""nginx in front of uWSGI (CG212, CG213): the protocol each side speaks, and the request size
uWSGI accepts. uWSGI's ``socket``/``uwsgi-socket`` speak the uwsgi protocol (nginx
``uwsgi_pass``); ``http-socket`` and ``http`` speak HTTP (nginx ``proxy_pass``)."""

from __future__ import annotations

import re
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import app_routes, binds_of, more_locations, size, uwsgi_passes
from confgen.nginx.variables import references

UWSGI_DOCS = "https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html"


def _uwsgi(ctx: LintContext):
    server = ctx.app_server
    return server if server is not None and server.server == "uwsgi" and not ctx.app_only else None


@rule(code="CG212", name="app-protocol-mismatch", severity="error", needs=("chain",))
def app_protocol_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """nginx speaks HTTP to a uWSGI socket that speaks the uwsgi protocol, or the reverse.

    uWSGI's ``socket`` (and ``uwsgi-socket``) expects nginx's ``uwsgi_pass`` and the uwsgi
    protocol; ``http-socket`` and ``http`` expect HTTP from ``proxy_pass``. Crossed, every
    request fails: HTTP sent to a uwsgi socket is read as a malformed packet ("invalid request
    block size", nginx 502), uwsgi packets sent to an HTTP socket are not HTTP. Match the
    directive to the socket, or switch the socket option. gunicorn, uvicorn, hypercorn, daphne
    and granian speak HTTP only, so ``uwsgi_pass`` to one of them fails the same way (checked
    with gunicorn 27 behind nginx 1.22.1: each request holds a sync worker until gunicorn's
    30 s timeout kills it, then a 500). The locations that cross one socket are one finding, at
    the first, naming how many more there are.

    App command:
        uwsgi --socket 127.0.0.1:3031 --buffer-size 32768 --module app

    Bad:
        server {
            location / { proxy_pass http://127.0.0.1:3031; }
        }

    Good:
        server {
            location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; }
        }

    References:
        https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html
        https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html
        https://nginx.org/en/docs/http/ngx_http_uwsgi_module.html#uwsgi_pass
    """
    server = _uwsgi(ctx)
    if server is None:
        yield from _uwsgi_pass_to_an_http_server(ctx)
        return
    binds = binds_of(ctx) or []
    # One socket spoken to the wrong way is one cause, however many locations do it: one finding,
    # at the first, naming how many more there are (one change on either side fixes them all).
    if server.protocol == "uwsgi":
        passes = list(dict.fromkeys(route.proxy_pass for route in app_routes(ctx)))
        if passes:
            yield ctx.finding(passes[0],
                              f"proxy_pass{more_locations(passes)} speaks HTTP to {server.label}'s uWSGI `socket` "
                              f"{', '.join(binds)}, which speaks the uwsgi protocol: every request fails (502, "
                              f"\"invalid request block size\"); use `include uwsgi_params; uwsgi_pass ...;` or give "
                              f"uWSGI an `http-socket`")
    elif server.protocol == "http":
        passes = list(dict.fromkeys(uwsgi_passes(ctx, binds)))
        if passes:
            yield ctx.finding(passes[0],
                              f"uwsgi_pass{more_locations(passes)} speaks the uwsgi protocol to {server.label}'s HTTP socket "
                              f"{', '.join(binds)}: every request fails; use proxy_pass, or give uWSGI a `socket`")



def _uwsgi_pass_to_an_http_server(ctx: LintContext) -> Iterator[Finding]:
    """uwsgi_pass to gunicorn, uvicorn, hypercorn, daphne or granian (every app server confgen
    reads but uWSGI, which the caller has ruled out), which speak HTTP only."""
    if ctx.app_only:
        return
    if ctx.gunicorn is not None:
        name, label = "gunicorn", ctx.gunicorn_label or ctx.gunicorn.path or "gunicorn"
    elif ctx.app_server is not None:
        name, label = ctx.app_server.server, ctx.app_server.label
    else:
        return
    binds = binds_of(ctx) or []
    passes = list(dict.fromkeys(uwsgi_passes(ctx, binds)))
    if passes:
        yield ctx.finding(passes[0],
                          f"uwsgi_pass{more_locations(passes)} speaks the uwsgi protocol to {name} ({label}), which "
                          f"speaks HTTP only on {', '.join(binds)}: every request fails; use proxy_pass with the "
                          f"headers proxy_params sets")


@rule(code="CG213", name="uwsgi-buffer-size", severity="warning", needs=("chain",))
def uwsgi_buffer_size(ctx: LintContext) -> Iterator[Finding]:
    """uWSGI's ``buffer-size`` is smaller than a request nginx lets through.

    uWSGI reads a request's variables (its headers, the URL) into one buffer of ``buffer-size``
    bytes, 4096 by default; a larger packet is refused ("invalid request block size") and nginx
    answers 502. nginx accepts a request line up to one ``large_client_header_buffers`` buffer
    (8k by default), and its stock ``uwsgi_params`` sends the URL twice (``REQUEST_URI``, and
    ``QUERY_STRING`` or ``PATH_INFO``), so a long query string that passes nginx makes a packet
    about twice as long: measured with nginx 1.22 and uWSGI 2.0, ``buffer-size = 8192`` answers a
    3 KB query and gives 502 for a 5 KB one. Reported when ``buffer-size`` is below the request
    line nginx accepts times the number of uwsgi_param values that carry the URL (at least one:
    the headers). Raise ``buffer-size`` (e.g. 32768; uWSGI reads at most 65535).

    App command:
        uwsgi --socket 127.0.0.1:3031 --module app

    Bad:
        server {
            location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; }
        }

    Good app command:
        uwsgi --socket 127.0.0.1:3031 --buffer-size 32768 --module app

    Good:
        server {
            location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; }
        }

    References:
        https://uwsgi-docs.readthedocs.io/en/latest/Options.html#buffer-size
        https://nginx.org/en/docs/http/ngx_http_core_module.html#large_client_header_buffers
        https://github.com/searxng/searxng/pull/1595
    """
    server = _uwsgi(ctx)
    if server is None or server.protocol != "uwsgi":
        return
    setting = server.settings.get("buffer-size")
    limit = setting.value if setting is not None else None
    if not isinstance(limit, (int, float)):
        return
    short = []  # the places whose largest request does not fit: one cause, the app's buffer-size
    for directive in uwsgi_passes(ctx, binds_of(ctx) or []):
        buffers = ctx.nginx.effective_args("large_client_header_buffers", directive.parent)
        if not buffers and ctx.unresolved_include(directive.parent) is not None:
            continue  # a file the deployment provides may set it
        buffers = buffers or list(DEFAULT_LARGE_CLIENT_HEADER_BUFFERS)
        line = size(buffers[1]) if len(buffers) > 1 else None
        copies = _url_copies(ctx, directive)
        if line is not None and copies is not None and line * copies > limit:
            short.append((directive, buffers, line, copies))
    if not short:
        return
    directive = short[0][0]
    _, buffers, line, copies = max(short, key=lambda place: place[2] * place[3])
    where = setting.source if setting.source != "uWSGI's default" else "uWSGI's default"
    twice = (f" and uwsgi_params sends its URL {'twice' if copies == 2 else f'{copies} times'} "
             f"(REQUEST_URI, QUERY_STRING or PATH_INFO), so a request packet reaches about {line * copies} bytes"
             if copies > 1 else "")
    more = f" (and {len(short) - 1} more uwsgi_pass to it)" if len(short) > 1 else ""
    yield ctx.finding(directive,
                      f"nginx accepts a request line or header line up to {line} bytes (large_client_header_buffers "
                      f"{' '.join(buffers)}){twice}, but {server.label} reads a request into buffer-size "
                      f"{limit:g} bytes ({where}){more}: a longer URL or header gets 502 (\"invalid request block "
                      f"size\"); raise buffer-size to {min(max(line * 4, 32768), 65535):g}")


# nginx's default (ngx_http_core_module).
DEFAULT_LARGE_CLIENT_HEADER_BUFFERS = ("4", "8k")
_WHOLE_URL = ("request_uri",)
_URL_QUERY = ("query_string", "args")
_URL_PATH = ("document_uri", "uri")


def _url_copies(ctx: LintContext, directive) -> int | None:
    """How many times the longest URL nginx accepts can appear in the packet: the uwsgi_param
    values in force that carry all of it, plus the most that carry one part (a URL may be all
    query or all path). None when the parameters come from a file the deployment provides."""
    params = ctx.nginx.effective("uwsgi_param", directive.parent)
    if not params:
        provided = ctx.unresolved_include(directive.parent)
        if provided is not None:
            # nginx's own uwsgi_params, which every package installs, sends the URL twice.
            return 2 if provided.args and provided.args[0].rsplit("/", 1)[-1] == "uwsgi_params" else None
    used = [reference.name for d in params if len(d.args) >= 2 for reference in references(d.args[1])]

    def count(names) -> int:
        return sum(name in names for name in used)
    return max(1, count(_WHOLE_URL) + max(count(_URL_QUERY), count(_URL_PATH)))


# uWSGI takes an unknown name as a placeholder in an ini file's key or in --set / -S on the command
# line ("start.sh:3 (--set process)"); other options there it refuses.
_SET_ON_COMMAND_LINE = re.compile(r"\((--set|-S) ")
# Keys people write for an option of another name: uWSGI has none of these.
_MISNOMERS = {"user": "uid", "group": "gid", "vaccum": "vacuum"}


@rule(code="CG216", name="uwsgi-option-misspelled", severity="warning", needs=("chain",))
def uwsgi_option_misspelled(ctx: LintContext) -> Iterator[Finding]:
    """A key of the uWSGI ini file that is no uWSGI option but almost one: it is silently ignored.

    uWSGI takes every key of its config (and every ``--set name=value``) that is not an option as a placeholder (a value other
    keys can use as ``%(name)``), without a word: ``process = 4`` leaves uWSGI in single-process
    mode (checked with uWSGI 2.0.31: "Operational MODE: single process"), ``thread = 4`` runs no
    threads, ``harikiri = 30`` kills nothing. Reported for a key close to an option ``uwsgi
    --help`` lists (a letter off, a missing plural ``s``) or a common misnomer (``user`` for
    ``uid``), and not used as a placeholder in the file; in an ini file or a ``--set`` (``-S``)
    of the command line. Other options given on the command line are not checked: uWSGI refuses
    an unknown one there, and takes a prefix of one (``--lazy-app`` for ``--lazy-apps``).

    App command:
        uwsgi --socket 127.0.0.1:3031 --module app --set process=4

    Bad:
        server {
            location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; }
        }

    Good app command:
        uwsgi --socket 127.0.0.1:3031 --module app --set processes=4

    Good:
        server {
            location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; }
        }

    References:
        https://uwsgi-docs.readthedocs.io/en/latest/Configuration.html#placeholders
        https://uwsgi-docs.readthedocs.io/en/latest/Options.html
    """
    server = _uwsgi(ctx)
    if server is None:
        return
    import difflib

    from confgen.appserver.uwsgi_options import OPTIONS

    values = " ".join(str(value.value) for value in server.settings.values())
    for key, value in server.settings.items():
        written = key.replace("_", "-")
        if written in OPTIONS or f"({key})" in values or not (value.written_at or _SET_ON_COMMAND_LINE.search(value.source)):
            continue  # (on the command line uWSGI refuses an unknown option, and takes a prefix of one)
        meant = _MISNOMERS.get(written)
        if meant is None:
            close = difflib.get_close_matches(written, OPTIONS, n=1, cutoff=0.85)
            # Not a longer option that starts or ends with the key (`exec-pre-app`, `cgroup`): a
            # build or a plugin may have the key itself; a missing plural `s` is a slip.
            meant = next((m for m in close if not (m.startswith(written) and m not in (written + "s", written + "es"))
                          and not m.endswith(written)), None)
        if meant is not None:
            anchor = value.written_at or _app_anchor(ctx, server)
            yield ctx.finding(anchor,
                              f"`{key}` is not a uWSGI option: uWSGI keeps it as a placeholder and ignores it, so "
                              f"`{meant}` keeps its default; did you mean `{meant}`?")


def _app_anchor(ctx: LintContext, server):
    """Where a finding about a command-line setting points: the command's file and line, else the
    first pass to the app."""
    if server.file:
        return (server.file, server.line)
    passes = uwsgi_passes(ctx, binds_of(ctx) or []) or [route.proxy_pass for route in app_routes(ctx)]
    return passes[0] if passes else ctx.block_anchor(ctx.nginx.root)
