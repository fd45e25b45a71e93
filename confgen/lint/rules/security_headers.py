"""Response headers that protect browsers (CG62x): dropped by inheritance, missing on errors,
split over lines, or fighting nginx's own Content-Type."""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.nginx_edits import append_arg
from confgen.lint.registry import Finding, rule
from confgen.lint.rules.security_common import SECURITY_HEADERS, header_values, in_http

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


def _second_content_type(directive) -> bool:
    """``add_header Content-Type`` where nginx sends its own (not beside ``return 204``)."""
    block = directive.parent
    if block is not None and any(r.args[:1] == ["204"] for r in block.find("return")):
        return False
    return _header_name(directive) == "content-type" and in_http(directive)


def only_content_type(level) -> bool:
    """Whether the level's own add_headers are all a second Content-Type: that one line is the
    cause of what the level drops, and add-header-content-type reports it with what it drops."""
    own = [d for d in level.find("add_header") if d.args]
    return bool(own) and all(_second_content_type(d) for d in own)


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


def drops_security_headers(ctx, level) -> bool:
    """Whether add-header-redefinition reports this level (it then names every header dropped)."""
    return not only_content_type(level) and any(h.lower() in SECURITY_HEADERS for h in dropped_add_headers(ctx, level))


@rule(code="CG621", name="add-header-redefinition", severity="warning")
def add_header_redefinition(ctx: LintContext) -> Iterator[Finding]:
    """A level's own ``add_header`` drops security headers set further out.

    A location that adds ``Cache-Control`` inherits none of the server's ``add_header``:
    ``Strict-Transport-Security``, ``Content-Security-Policy`` or ``X-Frame-Options`` vanish
    for exactly those responses. Repeat them (an ``include`` of a shared snippet counts), or from
    nginx 1.29.3 write ``add_header_inherit merge;``. A level that drops security headers is
    reported here only, naming the other headers it drops too (``add-header-inheritance`` covers
    levels that drop only others); a level whose only ``add_header`` is a second
    ``Content-Type`` is reported by ``add-header-content-type``: one finding per cause.

    Bad:
        server {
            add_header Strict-Transport-Security "max-age=31536000" always;
            location /static/ {
                add_header Cache-Control "public, max-age=86400";
            }
        }

    Good:
        server {
            add_header Strict-Transport-Security "max-age=31536000" always;
            location /static/ {
                add_header Strict-Transport-Security "max-age=31536000" always;
                add_header Cache-Control "public, max-age=86400";
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
        https://github.com/yandex/gixy/blob/master/docs/en/plugins/addheaderredefinition.md
    """
    seen: set[int] = set()
    for directive in ctx.all("add_header"):
        level = directive.parent
        if level is None or level.parent is None or id(level) in seen or not in_http(directive):
            continue
        seen.add(id(level))
        if only_content_type(level):
            continue  # add-header-content-type reports that line, with what it drops
        own = [d for d in level.find("add_header") if d.args]
        if not own:
            continue
        mode = _inherit_mode(ctx, level)
        supported = ctx.version >= ADD_HEADER_INHERIT_SINCE
        if supported and mode in ("merge", "off"):
            continue
        dropped = dropped_add_headers(ctx, level)
        lost = [h for h in dropped if h.lower() in SECURITY_HEADERS]
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
        level = directive.parent
        dropped = dropped_add_headers(ctx, level) if only_content_type(level) else []
        drops = (f"; and, as this {level.name}'s only add_header, it drops {', '.join(dropped)} set further out"
                 if dropped else "")
        yield ctx.finding(directive, "add_header Content-Type sends a second Content-Type beside nginx's own; "
                                     f"use default_type (or types {{ }}) instead{drops}")
