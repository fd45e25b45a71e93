"""Response headers that protect browsers (CG62x): dropped by inheritance, missing on errors,
split over lines, fighting nginx's own Content-Type or Content-Length, or opening CORS to every
site with credentials."""

from __future__ import annotations

import functools
import re
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.edits import Unfixable
from confgen.lint.fixes.nginx_edits import append_arg, remove
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import effective_flag_off
from confgen.lint.rules.security_common import (
    SECURITY_HEADERS,
    UPSTREAM_PASS,
    describe,
    forward_proxy,
    header_values,
    in_http,
    refuses,
    variable_model,
)
from confgen.nginx.variables import VARIABLE_RE, literal_text, references

# nginx 1.29.3: add_header_inherit (on | off | merge).
ADD_HEADER_INHERIT_SINCE = (1, 29, 3)


def _inherit_mode(ctx, level) -> str:
    found = ctx.nginx.effective("add_header_inherit", level)
    return found[-1].args[0].lower() if found and found[-1].args else "on"


def effective_add_headers(ctx, level) -> list:
    """The add_header directives in force at ``level``: nginx's array rule (a level with its own
    inherits none), with ``add_header_inherit merge`` (own plus the outer ones) and ``off``
    (nothing from outside) from nginx 1.29.3 on."""
    if level is None:
        return []
    own = [d for d in level.find("add_header") if d.args]
    mode = _inherit_mode(ctx, level) if ctx.version >= ADD_HEADER_INHERIT_SINCE else "on"
    if mode == "off":
        return own
    if own and mode != "merge":
        return own
    return effective_add_headers(ctx, level.parent) + own


def _header_name(directive) -> str:
    return directive.args[0].lower() if directive.args else ""


# Headers nginx computes and sends itself: ``add_header`` of one sends a second copy.
NGINX_OWN_HEADERS = {"content-type": "Content-Type", "content-length": "Content-Length"}


def second_own_header(directive) -> str | None:
    """The header (``Content-Type``, ``Content-Length``) when ``add_header`` sends a second copy
    of one nginx sends itself, else None. Not beside ``return 204``: nginx sends neither with a
    204 (checked on nginx 1.22.1), so the added one is the only one."""
    name = NGINX_OWN_HEADERS.get(_header_name(directive)) if directive.name == "add_header" else None
    if name is None or not in_http(directive):
        return None
    block = directive.parent
    if block is not None and any(r.args[:1] == ["204"] for r in block.find("return")):
        return None
    return name


def _second_content_type(directive) -> bool:
    """``add_header Content-Type`` where nginx sends its own (not beside ``return 204``)."""
    return second_own_header(directive) == "Content-Type"


def only_nginx_own_headers(level) -> bool:
    """Whether the level's own add_headers are all second copies of headers nginx sends itself
    (Content-Type, Content-Length): those lines are the cause of what the level drops, and
    add-header-content-type / add-header-content-length report it with what it drops."""
    own = [d for d in level.find("add_header") if d.args]
    return bool(own) and all(second_own_header(d) for d in own)


def _drops_named_here(ctx, directive) -> str:
    """What the message about a second Content-Type / Content-Length adds when its level's own
    add_headers are all such lines: the headers set further out they drop, named once, on the
    level's first add_header."""
    level = directive.parent
    if level is None or not only_nginx_own_headers(level):
        return ""
    own = [d for d in level.find("add_header") if d.args]
    dropped = dropped_add_headers(ctx, level)
    if not dropped or own[0] is not directive:
        return ""
    if len(own) == 1:
        return f"; and, as this {level.name}'s only add_header, it drops {', '.join(dropped)} set further out"
    return (f"; and, as this {level.name}'s add_headers are only of headers nginx sends itself, they drop "
            f"{', '.join(dropped)} set further out")


def dropped_add_headers(ctx, level) -> list[str]:
    """The add_header names set further out that the level's own add_header drops (none with
    ``add_header_inherit merge`` or ``off``, nginx 1.29.3+)."""
    own = [d for d in level.find("add_header") if d.args]
    if not own or level.parent is None:
        return []
    if ctx.version >= ADD_HEADER_INHERIT_SINCE and _inherit_mode(ctx, level) in ("merge", "off"):
        return []
    kept = {_header_name(d) for d in own}
    return list(dict.fromkeys(d.args[0] for d in effective_add_headers(ctx, level.parent)
                              if _header_name(d) not in kept))


# Headers that set a policy for the whole host, not for the response that carries them: a
# browser keeps Strict-Transport-Security from any HTTPS response of the host (RFC 6797, 8.1).
HOST_WIDE_HEADERS = frozenset({"strict-transport-security"})


def lost_security_headers(ctx, level) -> list[str]:
    """The security headers set further out that the level's own add_header drops, where that
    loss matters: a host-wide header (HSTS) only when the server's pages do not send it either,
    since the browser takes the policy from whichever response of the host carries it."""
    lost = [h for h in dropped_add_headers(ctx, level) if h.lower() in SECURITY_HEADERS]
    if all(h.lower() in HOST_WIDE_HEADERS for h in lost) and _pages_send(ctx, level, lost):
        return []
    return lost


def _pages_send(ctx, level, names: list[str]) -> bool:
    """Whether the server's pages carry every header of ``names`` while ``level`` is not where
    they come from: its ``location /`` (or ``= /``), or the server itself when it has neither."""
    server = level.enclosing("server")
    if server is None:
        return False
    pages = [location for location in server.find("location") if location.args in (["/"], ["=", "/"])] or [server]
    wanted = {name.lower() for name in names}
    return all(page is not level for page in pages) and any(
        wanted <= {_header_name(d) for d in effective_add_headers(ctx, page)} for page in pages)


def drops_security_headers(ctx, level) -> bool:
    """Whether add-header-redefinition reports this level (it then names every header dropped)."""
    return not only_nginx_own_headers(level) and bool(lost_security_headers(ctx, level))


@rule(code="CG621", name="add-header-redefinition", severity="warning")
def add_header_redefinition(ctx: LintContext) -> Iterator[Finding]:
    """A level's own ``add_header`` drops security headers set further out.

    A location that adds ``Cache-Control`` inherits none of the server's ``add_header``:
    ``Strict-Transport-Security``, ``Content-Security-Policy`` or ``X-Frame-Options`` vanish
    for exactly those responses. Repeat them (an ``include`` of a shared snippet counts), or from
    nginx 1.29.3 write ``add_header_inherit merge;``. A level that drops security headers is
    reported here only, naming the other headers it drops too (``add-header-inheritance`` covers
    levels that drop only others); a level whose only ``add_header`` lines are a second
    ``Content-Type`` or ``Content-Length`` is reported by ``add-header-content-type`` /
    ``add-header-content-length``: one finding per cause.

    ``Strict-Transport-Security`` is a policy for the whole host: a browser keeps it from any
    HTTPS response of the host, so a location that drops only HSTS while the server's pages
    (its ``location /``) still send it changes nothing (its files are fetched by those pages)
    and is not reported; ``location /`` itself dropping it is.

    Bad:
        server {
            add_header X-Content-Type-Options nosniff always;
            location /media/ {
                add_header Cache-Control "public, max-age=86400";
            }
        }

    Good:
        server {
            add_header X-Content-Type-Options nosniff always;
            location /media/ {
                add_header X-Content-Type-Options nosniff always;
                add_header Cache-Control "public, max-age=86400";
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
        https://github.com/yandex/gixy/blob/master/docs/en/plugins/addheaderredefinition.md
        https://www.rfc-editor.org/rfc/rfc6797#section-8.1
    """
    seen: set[int] = set()
    for directive in ctx.all("add_header"):
        level = directive.parent
        if level is None or level.parent is None or id(level) in seen or not in_http(directive):
            continue
        seen.add(id(level))
        if only_nginx_own_headers(level):
            continue  # add-header-content-type / -content-length report that line, with what it drops
        own = [d for d in level.find("add_header") if d.args]
        if not own:
            continue
        mode = _inherit_mode(ctx, level)
        supported = ctx.version >= ADD_HEADER_INHERIT_SINCE
        if supported and mode in ("merge", "off"):
            continue
        dropped = dropped_add_headers(ctx, level)
        lost = lost_security_headers(ctx, level)
        if not lost:
            continue
        others = [h for h in dropped if h.lower() not in SECURITY_HEADERS]
        also = f" (nor {', '.join(others)})" if others else ""
        fix = ("add `add_header_inherit merge;` here, or repeat them" if supported
               else "repeat them here (or an include of a shared snippet); `add_header_inherit merge` needs nginx 1.29.3")
        if mode == "merge" and not supported:
            fix = (f"`add_header_inherit merge` only exists from nginx 1.29.3 (target "
                   f"{'.'.join(map(str, ctx.version))}); repeat them here")
        yield ctx.finding(own[0], f"this {level.name} sets its own add_header, so {', '.join(lost)} from outside "
                                  f"{'is' if len(lost) == 1 else 'are'} not sent for its responses{also}; {fix}")


@rule(group="hardening", code="CG622", name="add-header-not-always", severity="info")
def add_header_not_always(ctx: LintContext) -> Iterator[Finding]:
    """A security header is added without ``always``, so error responses lack it.

    Without ``always`` nginx adds the header only to 2xx and 3xx responses: a 404 or 500 page is
    served without ``Content-Security-Policy`` or ``X-Frame-Options``, and error pages are a
    classic place for reflected content.

    Bad:
        server {
            add_header X-Frame-Options DENY;
        }

    Good:
        server {
            add_header X-Frame-Options DENY always;
        }

    Fix safety: Safe: ``always`` is appended; the header is then also on error responses, and
    nothing else changes.

    References:
        https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
    """
    for directive in ctx.all("add_header"):
        if len(directive.args) >= 2 and _header_name(directive) in SECURITY_HEADERS and in_http(directive) \
                and directive.args[-1].lower() != "always":
            yield ctx.finding(directive, f"{directive.args[0]} is only added to 2xx/3xx responses; add `always` so "
                                         f"error pages carry it too",
                              fix=Fix(lambda fx, header=directive: fx.same_everywhere(
                                  header, lambda d: [append_arg(fx, d, "always")])))


@rule(code="CG623", name="add-header-multiline", severity="warning")
def add_header_multiline(ctx: LintContext) -> Iterator[Finding]:
    """A header value written over several lines.

    nginx sends the line breaks as they are: obsolete header folding that browsers and proxies
    reject or read differently (a long ``Content-Security-Policy`` split for readability is
    the usual case). Keep the value on one line, or build it with ``map``/``set``.

    Bad:
        server {
            add_header Content-Security-Policy "default-src 'self';
                script-src 'self'" always;
        }

    Good:
        server {
            add_header Content-Security-Policy "default-src 'self'; script-src 'self'" always;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
        https://github.com/yandex/gixy/blob/master/docs/en/plugins/addheadermultiline.md
    """
    for name in ("add_header", "more_set_headers", "add_trailer"):
        for directive in ctx.all(name):
            if not in_http(directive):
                continue
            values = header_values(directive) if name == "more_set_headers" else directive.args[1:2]
            folded = next((v for v in values if "\n" in v), None)
            if folded is not None:
                header = folded.split(":", 1)[0] if name == "more_set_headers" else directive.args[0]
                yield ctx.finding(directive, f"the value of {header} spans several lines: clients reject or "
                                             f"misread folded headers; write it on one line")


@rule(code="CG624", name="add-header-content-type", severity="warning")
def add_header_content_type(ctx: LintContext) -> Iterator[Finding]:
    """``add_header Content-Type`` adds a second Content-Type next to nginx's own.

    nginx already sends a Content-Type (from ``types``/``default_type`` or the upstream);
    ``add_header`` adds another, and browsers pick either, so ``nosniff`` protections and
    download handling become unpredictable. Use ``default_type`` or ``types { }``. A block
    that answers ``return 204`` (the CORS preflight idiom) is not reported: nginx sends no
    Content-Type of its own with a 204. When it is the level's only ``add_header``, the message
    also names the headers set further out that it drops (that line is their one cause).

    Bad:
        server {
            location /feed { add_header Content-Type application/json; }
        }

    Good:
        server {
            location /feed { default_type application/json; }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
        https://nginx.org/en/docs/http/ngx_http_core_module.html#default_type
    """
    for directive in ctx.all("add_header"):
        if not _second_content_type(directive):
            continue
        yield ctx.finding(directive, "add_header Content-Type sends a second Content-Type beside nginx's own; "
                                     f"use default_type (or types {{ }}) instead{_drops_named_here(ctx, directive)}")


def _remove_content_length(fx, directive) -> list:
    """The ``add_header Content-Length`` line removed, where its level keeps another add_header
    of its own (so what the level inherits does not change)."""
    level = directive.parent
    own = [d for d in level.find("add_header") if d.args] if level is not None else []
    if len(own) < 2:
        raise Unfixable("it is this level's only add_header: removing it would let the add_headers set further "
                        "out apply here; remove it by hand if they should")
    return [remove(fx, directive)]


@rule(code="CG625", name="add-header-content-length", severity="warning")
def add_header_content_length(ctx: LintContext) -> Iterator[Finding]:
    """``add_header Content-Length`` adds a second Content-Length next to nginx's own.

    nginx sends a Content-Length of its own with its answers (the file's size, the ``return``
    text's, the upstream's), or frames the body as chunked; ``add_header`` adds another line
    beside it. Checked on nginx 1.22.1: ``return 200`` answers with ``Content-Length: 0``
    twice, and a 6-byte static file with ``Content-Length: 6`` and the added
    ``Content-Length: 3`` (curl takes the last one and cuts the body). Two different values
    leave the response with no valid length (RFC 9112 makes that an unrecoverable error;
    Chrome fails the request), and RFC 9110 lets a recipient reject even equal ones. Remove the
    line. A block that answers ``return 204`` is not reported: nginx sends no Content-Length
    with a 204; nor (a note) an ``if ($request_method = HEAD)`` in a location that passes the
    request to an upstream: nginx adds none to a proxied HEAD answer (checked on nginx 1.22.1).
    When the level's only ``add_header`` lines are headers nginx sends itself, the
    message also names the headers set further out that they drop (one finding per cause).

    Bad:
        server {
            location = /health {
                add_header Cache-Control no-store;
                add_header Content-Length 2;
                return 200 "ok";
            }
        }

    Good:
        server {
            location = /health {
                add_header Cache-Control no-store;
                return 200 "ok";
            }
        }

    Fix safety: Safe: the line is removed where its level keeps another ``add_header`` of its own,
    so which headers the level inherits does not change; nginx then sends its own, correct
    Content-Length. Where it is the level's only ``add_header``, removing it would let the
    headers set further out apply there, and no fix is offered.

    References:
        https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
        https://www.rfc-editor.org/rfc/rfc9112#section-6.3
    """
    for directive in ctx.all("add_header"):
        if second_own_header(directive) != "Content-Length":
            continue
        if _head_answer_from_upstream(directive):
            ctx.note(f"{directive.file}:{directive.line}: add_header Content-Length for HEAD requests passed to the "
                     f"app: nginx sends no Content-Length of its own with a proxied HEAD answer, so this one is the "
                     f"only one unless the app sends one (then the two may disagree): not reported")
            continue
        yield ctx.finding(directive, "add_header Content-Length sends a second Content-Length beside the one nginx "
                                     "computes, so the answer carries two (conflicting when they differ) and clients "
                                     f"may reject it or cut the body; remove it{_drops_named_here(ctx, directive)}",
                          fix=Fix(lambda fx, line=directive: fx.same_everywhere(
                              line, lambda d: _remove_content_length(fx, d))))


_HEAD_ONLY = re.compile(r'^(=\s*"?HEAD"?|~\*?\s*"?\^HEAD\$"?)$')


def _head_answer_from_upstream(directive) -> bool:
    """Whether ``directive`` stands in an ``if ($request_method = HEAD)`` whose location passes
    the request to an upstream (acme2certifier's uWSGI): the answer has no body, and nginx adds
    no Content-Length to a proxied one (checked on nginx 1.22.1)."""
    level = directive.parent
    if level is None or level.name != "if" or len(level.args) < 3 or level.args[0] != "$request_method":
        return False
    if not _HEAD_ONLY.match(" ".join(level.args[1:])):
        return False
    location = level.parent
    return location is not None and any(d.name in UPSTREAM_PASS for d in location.block or ()) \
        and not any(d.name == "return" for d in (*(location.block or ()), *(level.block or ())))


# ---------------------------------------------------------------------------------------------
# CORS: the request's Origin sent back, with credentials

_ACAO = "access-control-allow-origin"
_ACAC = "access-control-allow-credentials"
_MAX_DEPTH = 8


def _single_variable(text: str) -> str | None:
    """The variable's name when ``text`` is one variable and nothing else (``$cors``), else None."""
    match = VARIABLE_RE.fullmatch(text.strip())
    if match is None or match.group(3):
        return None
    return (match.group(1) or match.group(2)).lower()


def _origin_dependent(ctx, text: str, at, depth: int = 0) -> bool:
    """Whether ``text`` (written at ``at``) is computed from the request's Origin: ``$http_origin``
    itself, a map keyed by it, a ``set`` of such a value."""
    if depth > _MAX_DEPTH:
        return False
    model = variable_model(ctx)
    for ref in references(text):
        if ref.name == "http_origin":
            return True
        if ref.is_capture:
            continue
        if any(_origin_dependent(ctx, table.args[0], table, depth + 1) for table in model.tables(ref.name)
               if table.args):
            return True
        if any(len(s.args) > 1 and _origin_dependent(ctx, s.args[1], s, depth + 1)
               for s in model.sets_in_scope(ref.name, at)):
            return True
    return False


def _guards_origin(ctx, block) -> bool:
    """An ``if`` that lets only chosen origins in: a match or comparison on the Origin
    (``~``, ``~*``, ``=``), or the value of a map keyed by it (``if ($cors_ok)``)."""
    args = block.args
    if block.name != "if" or not args or not _origin_dependent(ctx, args[0], block):
        return False
    if len(args) >= 3:
        return args[1] in ("~", "~*", "=")
    return _single_variable(args[0]) != "http_origin"    # `if ($http_origin)`: any origin at all


def _refuses_other_origins(ctx, level) -> bool:
    """A refusing ``if`` on the Origin in force for requests at ``level``: ``if ($http_origin !~
    ...) { return 403; }`` (or ``!=``, or a map of it) in the level or a block enclosing it. A
    positive match that refuses is a blocklist, which lets every other origin through."""
    for block in [level, *level.ancestors()]:
        for check in block.find("if"):
            args = check.args
            if not args or not refuses(check) or not _origin_dependent(ctx, args[0], check):
                continue
            if len(args) >= 3 and args[1] in ("~", "~*", "="):
                continue
            return True
    return False


def _echo(ctx, value: str, at, depth: int = 0) -> str | None:
    """How ``value`` (written at ``at``) is the request's Origin whatever it is, or None: the
    variable itself, a ``set`` of it outside an Origin check, or a map whose ``default`` (or,
    for a map keyed by something else, any entry) is it. A map keyed by the Origin lists the
    origins it lets through in its other entries (origins-regex judges those)."""
    name = _single_variable(value)
    if name is None or depth > _MAX_DEPTH:
        return None
    if name == "http_origin":
        return "$http_origin"
    model = variable_model(ctx)
    for directive in model.sets_in_scope(name, at):
        if len(directive.args) < 2 or (directive.parent is not None and _guards_origin(ctx, directive.parent)):
            continue
        if _echo(ctx, directive.args[1], directive, depth + 1):
            return f"${name}, set to $http_origin at {describe(directive)}"
    for table in model.tables(name):
        if table.name != "map" or len(table.args) < 2 or table.find("hostnames"):
            continue
        keyed_by_origin = _origin_dependent(ctx, table.args[0], table)
        for entry in table.block or ():
            if entry.name in ("hostnames", "volatile", "include") or (keyed_by_origin and entry.name != "default"):
                continue
            if entry.args and _echo(ctx, entry.args[0], entry, depth + 1):
                which = "default" if entry.name == "default" else f"entry {entry.name}"
                return f"${name}, whose map at {describe(table)} has $http_origin as its {which}"
    return None


def _answering_levels(ctx) -> list:
    """The levels whose add_headers go out with an answer: every location and ``if`` in one,
    and a server with no location (a server's own add_headers reach only the requests no
    location matches, answered by the server's static 404 when it has locations)."""
    levels = [d for d in ctx.all("location") if d.is_block and in_http(d)]
    levels += [d for d in ctx.all("if") if d.is_block and in_http(d) and d.parent is not None
               and d.parent.name == "location"]
    levels += [d for d in ctx.all("server") if d.is_block and in_http(d) and not d.find("location")]
    return levels


def _allows_credentials(ctx, directive) -> bool:
    """``add_header Access-Control-Allow-Credentials true`` (or a value that can be ``true``):
    browsers take only ``true``, exactly (the Fetch standard compares bytes)."""
    if len(directive.args) < 2:
        return False
    return any(literal_text(alternative) == "true"
               for alternative in variable_model(ctx).expand(directive.args[1], directive))


@rule(code="CG626", name="cors-origin-reflected-with-credentials", severity="error")
def cors_origin_reflected_with_credentials(ctx: LintContext) -> Iterator[Finding]:
    """``Access-Control-Allow-Origin $http_origin`` with ``Access-Control-Allow-Credentials true``.

    Sending the request's ``Origin`` back, whatever it is, with credentials allowed tells the
    browser that every site is trusted with the user's cookies: a page on any site the user
    visits can call these URLs with the user's session (``fetch(url, {credentials:
    "include"})``) and read the answers, the account data, CSRF tokens and all. Browsers refuse
    ``*`` with credentials exactly to prevent this; echoing the Origin defeats that check. It
    is reported as an error, like a loose origins regex (``origins-regex``), of which it is the
    worst case: it needs nothing but a logged-in user, whose browser sends cookies marked
    ``SameSite=None``, HTTP authentication and client certificates with such requests (and the
    other cookies too where unmarked cookies are not taken as ``SameSite=Lax``). The echo is followed through ``set`` and ``map`` (a map whose
    ``default`` is ``$http_origin``), and the headers in force are nginx's: a level with its
    own ``add_header`` drops the outer ones. Not reported when the echo is guarded: inside
    ``if ($http_origin ~ ...)``, after ``if ($http_origin !~ ...) { return 403; }``, or through
    a map keyed by the Origin whose default is empty or a fixed origin (``origins-regex`` judges
    its regexes). No fix is offered: which origins to trust is the site's to say.

    Bad:
        server {
            location /api/ {
                proxy_pass http://127.0.0.1:8000;
                add_header Access-Control-Allow-Origin $http_origin always;
                add_header Access-Control-Allow-Credentials true always;
            }
        }

    Good:
        map $http_origin $cors_origin {
            default "";
            "https://app.example.com" $http_origin;
        }
        server {
            location /api/ {
                proxy_pass http://127.0.0.1:8000;
                add_header Access-Control-Allow-Origin $cors_origin always;
                add_header Access-Control-Allow-Credentials true always;
            }
        }

    References:
        https://fetch.spec.whatwg.org/#http-cors-protocol
        https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Credentials
        https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
        https://nginx.org/en/docs/http/ngx_http_core_module.html#var_http_
    """
    if not any(_header_name(d) == _ACAC for d in ctx.all("add_header")):
        return
    reported: set[int] = set()
    for level in _answering_levels(ctx):
        headers = effective_add_headers(ctx, level)
        credentials = next((d for d in headers if _header_name(d) == _ACAC and _allows_credentials(ctx, d)), None)
        if credentials is None:
            continue
        for origin in headers:
            if _header_name(origin) != _ACAO or len(origin.args) < 2 or id(origin) in reported:
                continue
            if any(_guards_origin(ctx, block) for block in origin.ancestors()) \
                    or _refuses_other_origins(ctx, level):
                continue
            how = _echo(ctx, origin.args[1], level)
            if how is None:
                continue
            reported.add(id(origin))
            yield ctx.finding(origin, f"Access-Control-Allow-Origin sends back the request's Origin, whatever it is "
                                      f"({how}), with Access-Control-Allow-Credentials true ({describe(credentials)}): "
                                      f"any web site the user visits can make requests here with the user's cookies "
                                      f"and read the answers; send back only the origins you trust (a map of "
                                      f"$http_origin listing them, default \"\")")


_CACHING_MODULES = ("proxy", "uwsgi", "fastcgi", "scgi")


@rule(code="CG627", name="cache-replays-set-cookie", severity="error")
def cache_replays_set_cookie(ctx: LintContext) -> Iterator[Finding]:
    """A cache told to ignore ``Set-Cookie`` stores responses with their cookies and replays them.

    nginx does not cache a response that sets a cookie, unless ``proxy_ignore_headers
    Set-Cookie`` (or ``uwsgi_``, ``fastcgi_``, ``scgi_``) says to: then the response is stored
    whole, ``Set-Cookie`` included, and every client served from the cache receives the cookie
    the app set for the first one (a session, a CSRF token, a login). Checked on nginx 1.22.1:
    the cache hit carries the first client's cookie. Hide the header from cached responses
    (``proxy_hide_header Set-Cookie``, or headers-more's ``more_clear_headers Set-Cookie``), or
    keep responses that set cookies out of the cache. Not reported where ``proxy_no_cache``
    always holds, nor where the cache is off or ``proxy_buffering off`` (nginx stores only
    buffered responses; checked on nginx 1.22.1); for a cache in force over a forward proxy
    (a ``proxy_pass`` that takes the whole URL from the request), which stores other sites'
    responses rather than the app's sessions, a note.

    Bad:
        server {
            listen 80;
            location / {
                proxy_cache pages;
                proxy_ignore_headers Cache-Control Set-Cookie;
                proxy_pass http://127.0.0.1:8000;
            }
        }

    Good:
        server {
            listen 80;
            location / {
                proxy_cache pages;
                proxy_ignore_headers Cache-Control Set-Cookie;
                proxy_hide_header Set-Cookie;
                proxy_pass http://127.0.0.1:8000;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_ignore_headers
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_hide_header
        https://nginx.org/en/docs/http/ngx_http_uwsgi_module.html#uwsgi_ignore_headers
    """
    reported: set[int] = set()
    for module in _CACHING_MODULES:
        for passing in ctx.all(f"{module}_pass"):
            block = passing.parent
            if block is None or not in_http(passing):
                continue
            ignoring = [d for d in ctx.nginx.effective(f"{module}_ignore_headers", block)
                        if any(arg.lower() == "set-cookie" for arg in d.args)]
            if not ignoring or id(ignoring[0]) in reported or not _caches(ctx, module, block):
                continue
            if any(d.args and d.args[0].lower() == "set-cookie"
                   for d in ctx.nginx.effective(f"{module}_hide_header", block)) or _clears_set_cookie(ctx, block):
                continue
            reported.add(id(ignoring[0]))
            scope = ignoring[0].parent
            proxy = next((d for d in (scope.walk() if scope is not None else ()) if d.name == "proxy_pass"
                          and forward_proxy(ctx, d)), None)
            if proxy is not None:
                # A forward proxy's cache: the responses are other sites', fetched for its clients.
                ctx.note(f"{ignoring[0].file}:{ignoring[0].line}: {module}_ignore_headers Set-Cookie is in force for "
                         f"a forward proxy ({proxy.file}:{proxy.line} takes the whole URL from the request): its "
                         f"cache stores other sites' responses, not the app's sessions, so not reported; a cookie "
                         f"such a site sets is replayed to every client that fetches the same URL")
                continue
            yield ctx.finding(ignoring[0], f"{module}_ignore_headers Set-Cookie lets the cache store responses that "
                                           f"set a cookie, Set-Cookie included: every client served from the cache "
                                           f"gets the cookie the app set for the first (a session, a CSRF token); "
                                           f"add `{module}_hide_header Set-Cookie;` where the cache is used")


def _clears_set_cookie(ctx, block) -> bool:
    """headers-more's ``more_clear_headers Set-Cookie`` in force: the header never leaves nginx."""
    return any(arg.strip("'\"").lower().startswith("set-cookie")
               for level in (block, *block.ancestors()) for d in level.find("more_clear_headers") for arg in d.args)


def _caches(ctx, module: str, block) -> bool:
    """Whether responses through ``block`` may be stored: a cache zone is in force (not ``off``)
    and ``*_no_cache`` does not always hold."""
    cache = ctx.nginx.effective(f"{module}_cache", block)
    if not cache or not cache[-1].args or cache[-1].args[0] == "off":
        return False
    if effective_flag_off(ctx, f"{module}_buffering", block):
        return False    # nginx stores only buffered responses
    always = [arg for d in ctx.nginx.effective(f"{module}_no_cache", block) for arg in d.args
              if "$" not in arg and arg not in ("", "0")]
    return not always


# The security headers, written as they usually are.
_SECURITY_HEADER_NAMES = {name: "-".join("XSS" if part == "xss" else part.capitalize() for part in name.split("-"))
                          for name in SECURITY_HEADERS}
# Other names browsers read that look like them: report-only variants and older names.
_OTHER_KNOWN_NAMES = frozenset({"permissions-policy-report-only", "cross-origin-embedder-policy-report-only",
                                "cross-origin-opener-policy-report-only", "x-content-security-policy", "x-webkit-csp",
                                "feature-policy", "x-permitted-cross-domain-policies", "x-download-options",
                                "expect-ct"})
# How alike two names must be (difflib's ratio) for one to be taken as a misspelling of the other.
_MISSPELLING_RATIO = 0.85


@rule(code="CG628", name="security-header-misspelled", severity="warning")
def security_header_misspelled(ctx: LintContext) -> Iterator[Finding]:
    """An ``add_header`` whose name is a misspelling of a security header: browsers ignore it.

    A browser acts on a response header only by its exact name: ``Referrer-Options`` (for
    ``Referrer-Policy``), ``X-Frame-Option`` or ``Strict-Transport-Policy`` is sent and never
    read, so the protection the line was written for is not there. Reported when the name is
    not a security header but starts with one's distinctive first word (``Referrer-``,
    ``Strict-Transport-``, ``X-Frame-``, ``X-Content-Type-``, ``Permissions-``,
    ``Content-Security-``) or is spelled nearly as one (a letter or two apart); report-only
    variants and older names browsers still read (``X-Content-Security-Policy``,
    ``Feature-Policy``) are left alone.

    Bad:
        server {
            add_header Referrer-Options "same-origin" always;
        }

    Good:
        server {
            add_header Referrer-Policy "same-origin" always;
        }

    References:
        https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Referrer-Policy
        https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Frame-Options
        https://owasp.org/www-project-secure-headers/
    """
    for directive in ctx.all("add_header"):
        name = _header_name(directive)
        if not name or name in SECURITY_HEADERS or name in _OTHER_KNOWN_NAMES or "$" in name:
            continue
        meant = _meant_security_header(name)
        if meant is not None:
            yield ctx.finding(directive, f"add_header {directive.args[0]}: no browser knows this header, so it is "
                                         f"sent and ignored; the security header is spelled "
                                         f"{_SECURITY_HEADER_NAMES[meant]}")


_DISTINCTIVE_STARTS = {"referrer-": "referrer-policy", "strict-transport-": "strict-transport-security",
                       "x-frame-": "x-frame-options", "x-content-type-": "x-content-type-options",
                       "permissions-": "permissions-policy", "content-security-": "content-security-policy"}


@functools.lru_cache(maxsize=256)
def _meant_security_header(name: str) -> str | None:
    """The security header ``name`` (lower-cased) misspells, or None. A config repeats its few
    header names on every server: each is compared once, with difflib's quick bounds first."""
    import difflib

    for start, meant in _DISTINCTIVE_STARTS.items():
        if name.startswith(start):
            return meant
    close = difflib.get_close_matches(name, sorted(SECURITY_HEADERS), n=1, cutoff=_MISSPELLING_RATIO)
    return close[0] if close else None
