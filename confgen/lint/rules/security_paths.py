"""Which files and paths a request can reach (CG60x): alias traversal, the filesystem root as a
document root, directory listings, and the path nginx sends upstream."""

from __future__ import annotations

import re
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules.security_common import in_http, internal_only
from confgen.nginx.model import split_proxy_url


def _prefix_location(location) -> str | None:
    """The prefix of a prefix location (``location /a``, ``location ^~ /a``), else None."""
    args = location.args
    if len(args) == 1 and not args[0].startswith("@"):
        return args[0]
    if len(args) == 2 and args[0] == "^~":
        return args[1]
    return None


def _names_a_file(path: str) -> bool:
    """Whether the last segment of a path looks like a file name (``favicon.ico``)."""
    return "." in path.rstrip("/").rsplit("/", 1)[-1]


@rule(code="CG601", name="alias-traversal", severity="error")
def alias_traversal(ctx: LintContext) -> Iterator[Finding]:
    """A prefix location without a trailing ``/`` uses an ``alias``: requests reach past it.

    nginx replaces the location prefix with the alias, so ``location /static`` with
    ``alias /srv/static/;`` maps ``/static../app/settings.py`` to ``/srv/static/../app/settings.py``:
    any file in the parent directory can be read (an error). When neither ends in ``/``
    (``location /files { alias /home; }``), ``/files-other/x`` is served from ``/home-other/x``:
    sibling directories are reachable (a warning). End the prefix with ``/`` and the alias
    too. An alias naming a single file, an exact-match (``=``) location, or an ``internal``
    location (only the app's X-Accel-Redirect reaches it) is not reported.

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

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#alias
        https://github.com/yandex/gixy/blob/master/docs/en/plugins/aliastraversal.md
    """
    for alias in ctx.all("alias"):
        location = alias.parent
        if location is None or location.name != "location" or not alias.args or not in_http(alias):
            continue
        prefix = _prefix_location(location)
        target = alias.args[0]
        if prefix is None or prefix.endswith("/") or "$" in target or internal_only(alias):
            continue
        if target.endswith("/"):
            yield ctx.finding(alias, f"location {prefix} has no trailing slash but its alias {target} has one: "
                                     f"{prefix}../ reaches the parent of {target}; write `location {prefix}/`")
        elif not _names_a_file(prefix) and not _names_a_file(target):
            yield ctx.finding(alias, f"location {prefix} and its alias {target} have no trailing slash: "
                                     f"{prefix}-other/x is served from {target}-other/x, a sibling directory; "
                                     f"write `location {prefix}/` and `alias {target}/`", severity="warning")


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

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#root
    """
    for name in ("root", "alias"):
        for directive in ctx.all(name):
            if directive.args and in_http(directive) and re.fullmatch(r"/+\.?/*", directive.args[0]):
                yield ctx.finding(directive, f"`{name} {directive.args[0]}` serves every file on the machine; "
                                             f"point it at the directory of public files")


@rule(group="hardening", code="CG603", name="autoindex-enabled", severity="warning")
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

    References:
        https://nginx.org/en/docs/http/ngx_http_autoindex_module.html#autoindex
    """
    for directive in ctx.all("autoindex"):
        if directive.args and directive.args[0].lower() == "on" and in_http(directive):
            yield ctx.finding(directive, "autoindex on lists every file in these directories to anyone; "
                                         "turn it off or require authentication here")


@rule(code="CG604", name="proxy-pass-normalized", severity="warning")
def proxy_pass_normalized(ctx: LintContext) -> Iterator[Finding]:
    """The location and the ``proxy_pass`` URI part disagree about the trailing slash.

    With a URI part (``proxy_pass http://app/v1/;``) nginx replaces the location prefix with
    it. When one ends in ``/`` and the other does not, ``location /api`` with
    ``proxy_pass http://app/v1/`` sends ``/apifoo`` as ``/v1/foo`` and ``/api/x`` as ``/v1//x``;
    ``location /api/`` with ``http://app/v1`` sends ``/v1x``: paths the app never expected reach
    it. A deliberate mapping (``location /ps/ { proxy_pass http://svc/; }``) is not reported,
    and ``http://unix:/run/app.sock`` has no URI part (a socket path ends at an optional ``:``;
    ``http://unix:/run/app.sock:/v1/`` has one).

    Bad:
        server {
            location /api {
                proxy_pass http://127.0.0.1:8000/v1/;
            }
        }

    Good:
        server {
            location /api/ {
                proxy_pass http://127.0.0.1:8000/v1/;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
    """
    for directive in ctx.all("proxy_pass"):
        location = directive.parent
        if location is None or location.name != "location" or not directive.args or not in_http(directive):
            continue
        url = directive.args[0]
        if "$" in url or "://" not in url:
            continue
        path = split_proxy_url(url).uri
        prefix = _prefix_location(location)
        if not path or not path.startswith("/") or prefix is None or prefix == "/":
            continue
        if prefix.endswith("/") != path.endswith("/"):
            rest = "x" if prefix.endswith("/") else "/x"
            yield ctx.finding(directive, f"location {prefix} and the proxy_pass path {path} disagree about the "
                                         f"trailing slash: nginx replaces {prefix!r} with {path!r}, so "
                                         f"{prefix + rest} reaches the app as {path + rest}; end both with / "
                                         f"or neither")
