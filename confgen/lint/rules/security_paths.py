"""Which files and paths a request can reach (CG60x): alias traversal, the filesystem root as a
document root, directory listings, and the path nginx sends upstream."""

from __future__ import annotations

import re
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules.security_common import in_http

_URL_RE = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<authority>[^/]*)(?P<path>/.*)?$", re.IGNORECASE)


def _prefix_location(location) -> str | None:
    """The prefix of a prefix location (``location /a``, ``location ^~ /a``), else None."""
    args = location.args
    if len(args) == 1 and not args[0].startswith("@"):
        return args[0]
    if len(args) == 2 and args[0] == "^~":
        return args[1]
    return None


@rule(code="CG601", name="alias-traversal", severity="error")
def alias_traversal(ctx: LintContext) -> Iterator[Finding]:
    """A prefix location without a trailing ``/`` uses an ``alias`` that ends in ``/``.

    nginx replaces the location prefix with the alias, so ``location /static`` with
    ``alias /srv/static/;`` maps ``/static../app/settings.py`` to ``/srv/static/../app/settings.py``:
    any file in the parent directory can be read. End the prefix with ``/`` too (or drop the
    ``/`` from both). An alias naming a single file, or an exact-match (``=``) location, cannot
    be walked out of and is not reported.

    Bad:
        server {
            location /static {
                alias /srv/app/static/;
            }
        }

    Good:
        server {
            location /static/ {
                alias /srv/app/static/;
            }
            location /favicon.ico {
                alias /srv/app/static/favicon.ico;
            }
        }
    """
    for alias in ctx.all("alias"):
        location = alias.parent
        if location is None or location.name != "location" or not alias.args or not in_http(alias):
            continue
        prefix = _prefix_location(location)
        target = alias.args[0]
        if prefix is None or prefix.endswith("/") or not target.endswith("/") or "$" in target:
            continue
        yield ctx.finding(alias, f"location {prefix} has no trailing slash but its alias {target} has one: "
                                 f"{prefix}../ reaches the parent of {target}; write `location {prefix}/`")


@rule(code="CG602", name="filesystem-root-exposure", severity="error")
def filesystem_root_exposure(ctx: LintContext) -> Iterator[Finding]:
    """``root /`` (or ``alias /``) serves the whole filesystem.

    Any location that falls through to static files then answers ``/etc/passwd``, private keys
    and the app's own configuration. Point ``root`` at the directory of public files.

    Bad:
        server {
            root /;
        }

    Good:
        server {
            root /srv/www/public;
        }
    """
    for name in ("root", "alias"):
        for directive in ctx.all(name):
            if directive.args and in_http(directive) and re.fullmatch(r"/+\.?/*", directive.args[0]):
                yield ctx.finding(directive, f"`{name} {directive.args[0]}` serves every file on the machine; "
                                             f"point it at the directory of public files")


@rule(code="CG603", name="autoindex-enabled", severity="warning")
def autoindex_enabled(ctx: LintContext) -> Iterator[Finding]:
    """``autoindex on`` lists directory contents to anyone.

    A listing shows backups, dotfiles and uploads nobody meant to link, and lets a scraper
    fetch all of them. Serve an index page, or keep listings behind authentication.

    Bad:
        server {
            location /files/ { autoindex on; }
        }

    Good:
        server {
            location /files/ { autoindex off; }
        }
    """
    for directive in ctx.all("autoindex"):
        if directive.args and directive.args[0].lower() == "on" and in_http(directive):
            yield ctx.finding(directive, "autoindex on lists every file in these directories to anyone; "
                                         "turn it off or require authentication here")


@rule(code="CG604", name="proxy-pass-normalized", severity="warning")
def proxy_pass_normalized(ctx: LintContext) -> Iterator[Finding]:
    """``proxy_pass`` with a URI part sends a decoded, normalized path; a slash mismatch mangles it.

    With a URI part (``proxy_pass http://app/;``) nginx replaces the location prefix in the
    *normalized* URI: ``%2F`` arrives as ``/``, ``/a/../b`` as ``/b``, so an app that routes on
    encoded slashes or checks paths itself sees something else than the client sent (reported
    as info). When the location and the URI part disagree about the trailing slash,
    ``location /api`` with ``proxy_pass http://app/v1/`` sends ``/apifoo`` as ``/v1/foo`` and
    ``/api/x`` as ``/v1//x``; ``location /api/`` with ``http://app/v1`` sends ``/v1x``: paths
    the app never expected reach it (a warning).

    Bad:
        server {
            location /api {
                proxy_pass http://127.0.0.1:8000/v1/;
            }
        }

    Good:
        server {
            location /api/ {
                proxy_pass http://127.0.0.1:8000;
            }
        }
    """
    for directive in ctx.all("proxy_pass"):
        location = directive.parent
        if location is None or location.name != "location" or not directive.args or not in_http(directive):
            continue
        match = _URL_RE.match(directive.args[0])
        if not match or not match.group("path") or "$" in directive.args[0]:
            continue
        path = match.group("path")
        prefix = _prefix_location(location)
        if prefix is None:
            continue
        if prefix.endswith("/") != path.endswith("/") and prefix != "/":
            yield ctx.finding(directive, f"location {prefix} and the proxy_pass path {path} disagree about the "
                                         f"trailing slash: nginx replaces {prefix!r} with {path!r}, so "
                                         f"{prefix.rstrip('/') + ('x' if prefix.endswith('/') else '/x')} "
                                         f"reaches the app as "
                                         f"{path + ('x' if prefix.endswith('/') else '/x')}; end both with / "
                                         f"or neither")
            continue
        yield ctx.finding(directive, f"proxy_pass with a URI part ({path}) sends the decoded, normalized path: "
                                     f"%2F arrives as / and /../ is resolved; drop the URI part to pass the path "
                                     f"as the client sent it", severity="info")
