"""Which files and paths a request can reach (CG60x): alias traversal, the filesystem root as a
document root, directory listings, and the path nginx sends upstream; and, with the app side
read, a root that is the app's own directory (CG219)."""

from __future__ import annotations

import re
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import access_restricted
from confgen.lint.rules.security_common import (UPSTREAM_PASS, drops_request_body, in_http, internal_block,
                                               internal_only, served_path, subrequest_targets)
from confgen.nginx.model import location_match, split_proxy_url


def _public_elsewhere(ctx: LintContext, location, directory: str) -> bool:
    """Whether another prefix location of the same server already serves ``directory`` (and all
    below it) to every client: its alias, or its root followed by its prefix, contains it, and it
    is neither ``internal`` nor behind an access check."""
    server = location.enclosing("server")
    wanted = directory.rstrip("/") + "/"
    for other in (server.block or ()) if server is not None else ():
        prefix = _prefix_location(other) if other is not location and other.name == "location" else None
        if prefix is None or internal_block(other):
            continue
        served = served_path(ctx, other, prefix, prefix)       # the directory its prefix maps to
        if served is None:
            continue
        alias = next((d for d in other.block or () if d.name == "alias"), None)
        if wanted.startswith(served.rstrip("/") + "/") and _serves_files(other, alias) \
                and not access_restricted(ctx, other) and ctx.unresolved_include(other, inherited=False) is None:
            return True
    return False


def _prefix_location(location) -> str | None:
    """The prefix of a prefix location (``location /a``, ``location ^~ /a``), else None."""
    match = location_match(location)
    return match.path if match is not None and match.modifier in ("", "^~") else None


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
    too, and keep the bare prefix answering with an exact location that redirects it (nginx
    answered it with a redirect to the directory before; after, no location would take it).
    An alias naming a single file, an exact-match (``=``) location, or an ``internal`` location
    (only the app's X-Accel-Redirect reaches it) is not reported.

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
            location = /static {
                return 301 /static/;
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
        if _public_elsewhere(ctx, location, target.rstrip("/").rsplit("/", 1)[0] or "/"):
            continue    # what it reaches is served to everyone by another location already
        bare = _keep_bare_prefix(location, prefix)
        if target.endswith("/"):
            yield ctx.finding(alias, f"location {prefix} has no trailing slash but its alias {target} has one: "
                                     f"{prefix}../ reaches the parent of {target}; write `location {prefix}/`{bare}")
        elif not _names_a_file(prefix) and not _names_a_file(target):
            name = target.rsplit("/", 1)[-1]
            yield ctx.finding(alias, f"location {prefix} and its alias {target} have no trailing slash: "
                                     f"{prefix}-other/x is served from {target}-other/x, so every sibling directory "
                                     f"whose name starts with {name} ({name}.bak, {name}-old) is served; write "
                                     f"`location {prefix}/` and `alias {target}/`{bare}", severity="warning")


def _keep_bare_prefix(location, prefix: str) -> str:
    """The advice that keeps the bare prefix answering once the location ends in ``/`` (today
    nginx answers ``/static`` with a redirect to the directory ``/static/``): an exact location
    redirecting it, unless the server has one."""
    server = location.enclosing("server")
    exact = [other for other in (server.find("location") if server is not None else ())
             if other.args[:2] == ["=", prefix]]
    if exact:
        return ""
    return f", with `location = {prefix} {{ return 301 {prefix}/; }}` so the bare {prefix} still answers"


# What makes a location answer from its own handler rather than from files under its root.
_CONTENT_HANDLERS = frozenset({*UPSTREAM_PASS, "memcached_pass", "return", "stub_status", "empty_gif",
                               "js_content", "perl", "content_by_lua", "content_by_lua_block",
                               "content_by_lua_file"})
# What serves files from the root even beside a content handler (try_files tests and serves
# them; an error_page to a URI re-dispatches to a location that may serve it).
_FILE_SERVERS = ("try_files", "alias")


def _serves_files(block, judged) -> bool:
    """Whether requests answered in ``block`` (a location, or a server's requests that match
    no location) can be answered with a file under the root in force (``judged``, the root or
    alias itself, does not count as serving)."""
    children = [d for d in (*(block.block or ()), *(block.parent.block or () if block.name == "if" else ()))
                if d is not judged]
    if any(d.name in _FILE_SERVERS for d in children):
        return True
    if any(d.name == "error_page" and d.args and d.args[-1].startswith("/") for d in children):
        return True
    return not any(d.name in _CONTENT_HANDLERS for d in children)


def _catches_every_uri(server) -> bool:
    """Whether a ``location /`` (prefix) takes every request no other location takes."""
    return any(d.name == "location" and d.args in (["/"], ["^~", "/"]) for d in server.block or ())


def _served_from(root) -> list:
    """The blocks whose requests are answered from files under ``root``: the level it is set
    in and every location inside that sets no root or alias of its own, where that block
    serves files (a server's own level only for URIs no location catches)."""
    served, pending = [], [root.parent]
    while pending:
        block = pending.pop()
        if block is None:
            continue
        if block is not root.parent and any(d.name in ("root", "alias") for d in block.block or ()):
            continue  # its own root: reported on its own
        if block.name in ("location", "if") and _serves_files(block, root):
            served.append(block)
        elif block.name == "server" and not _catches_every_uri(block) and _serves_files(block, root):
            served.append(block)
        for child in block.block or ():
            if child.is_block and child.name in ("server", "location", "if"):
                pending.append(child)
    return served


def _confined_by_try_files(block) -> bool:
    """Whether ``block`` serves only files under fixed directories: a ``try_files`` whose every
    file starts with a literal directory (``data/public/$path``; a capture of the normalised URI
    holds no ``..``) and ends in a status, a named location or a URI."""
    tries = [d for d in block.block or () if d.name == "try_files"]
    if not tries or len(tries[-1].args) < 2:
        return False
    for candidate in tries[-1].args[:-1]:
        literal = candidate.split("$", 1)[0].strip("/")
        if "/" not in candidate.split("$", 1)[0] or not literal or literal.startswith("."):
            return False
    return True


@rule(code="CG602", name="filesystem-root-exposure", severity="error")
def filesystem_root_exposure(ctx: LintContext) -> Iterator[Finding]:
    """``root /`` (or ``alias /``) serves the whole filesystem.

    Any location that falls through to static files then answers ``/etc/passwd``, private keys
    and the app's own configuration. Point ``root`` at the directory of public files. A root
    only matters where something serves files from it: a location whose content comes from
    ``proxy_pass``, ``uwsgi_pass``, ``fastcgi_pass`` or ``return`` serves no file from its root
    unless it also has ``try_files``, ``alias`` or an ``error_page`` to a URI, so
    ``root /`` there is not reported (nor at a server's level when ``location /`` takes every
    request and proxies it). Nor is an ``internal`` location (only the app's X-Accel-Redirect
    names its files: Galaxy's ``alias /`` for datasets), or one whose ``try_files`` tries only
    files under fixed directories (``try_files "data/public/$path" =404``).

    Bad:
        server {
            root /;
        }

    Good:
        server {
            root /srv/www/public;
            location /api/ {
                root /;
                include uwsgi_params;
                uwsgi_pass unix:/run/app.sock;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#root
        https://nginx.org/en/docs/http/ngx_http_core_module.html#try_files
        https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
    """
    for name in ("root", "alias"):
        for directive in ctx.all(name):
            if not (directive.args and in_http(directive) and re.fullmatch(r"/+\.?/*", directive.args[0])):
                continue
            if directive.parent is None or directive.parent.name not in ("http", "server", "location", "if"):
                continue
            # Blocks a client's URI reaches whose files may lie anywhere below the root.
            exposed = [block for block in _served_from(directive)
                       if not internal_block(block) and not _confined_by_try_files(block)]
            if not exposed:
                continue  # answered by a handler, reached only by X-Accel-Redirect, or confined by try_files
            yield ctx.finding(directive, f"`{name} {directive.args[0]}` serves every file on the machine; "
                                         f"point it at the directory of public files")


@rule(code="CG219", name="root-serves-app-code", severity="error", needs=("chain",))
def root_serves_app_code(ctx: LintContext) -> Iterator[Finding]:
    """``root`` is the directory the paired app runs in (or one above it), and requests fall through to files there.

    The app's directory holds its code and its settings (``config.py``, ``settings.py``, a
    ``.env``): with ``root /opt/mhn/server`` and ``try_files $uri @app``, ``GET /config.py`` is
    answered with the file, secrets and all, before the app is asked. The app's directory is
    where its process runs: systemd's ``WorkingDirectory=``, supervisor's ``directory=``,
    gunicorn's ``chdir`` or uWSGI's ``chdir``. Point ``root`` at the directory of public files
    only (``/opt/mhn/server/mhn/static``). Judged where files are served by the URI itself:
    at the server's level or in a prefix location (``location /static/ { root /app; }`` serves
    only ``/app/static/``), with no ``try_files`` or one that tries ``$uri``. Not reported where
    a regex location refuses ``.py`` files (``deny all`` or ``return 403/404``).

    Gunicorn:
        bind = "127.0.0.1:8000"
        chdir = "/opt/app"

    Bad:
        server {
            root /opt/app;
            location / { try_files $uri @app; }
            location @app { proxy_pass http://127.0.0.1:8000; }
        }

    Good:
        server {
            root /opt/app/static;
            location / { try_files $uri @app; }
            location @app { proxy_pass http://127.0.0.1:8000; }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#root
        https://nginx.org/en/docs/http/ngx_http_core_module.html#try_files
        https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#WorkingDirectory=
        https://supervisord.org/configuration.html#program-x-section-settings
    """
    found = _app_directory(ctx)
    if found is None:
        return
    directory, where = found
    for name in ("root", "alias"):
        for directive in ctx.all(name):
            if len(directive.args) != 1 or "$" in directive.args[0] or not in_http(directive):
                continue
            written = directive.args[0].rstrip("/") or "/"
            if written == "/":
                continue    # filesystem-root-exposure's
            server = directive.enclosing("server")
            exposed = [served for block in _served_from(directive)
                       if not internal_block(block) and (served := _uri_directory(block, name, written)) is not None
                       and (directory == served or directory.startswith(served + "/"))]
            if not exposed or (server is not None and _refuses_python_files(server)):
                continue
            below = "" if directory == exposed[0] else f" ({directory} is below {exposed[0]})"
            yield ctx.finding(directive, f"`{name} {directive.args[0]}` serves the directory the app runs in{below} "
                                         f"({where}): requests that fall through to files get its code and settings "
                                         f"(GET /config.py, /settings.py, /.env); point it at the public files only")


_URI_FILES = ("$uri", "/$uri", "$document_uri", "/$document_uri", "$request_uri", "/$request_uri")


def _uri_directory(block, name: str, written: str) -> str | None:
    """The directory whose every file a request's URI can name in ``block`` (the root joined to a
    prefix location's path, or the alias), or None: a regex or exact location, or a ``try_files``
    that tries no file named by the URI itself (``/$host/public/$uri`` stays in public folders)."""
    tries = [d for d in block.block or () if d.name == "try_files"]
    if tries and not any(arg.startswith(_URI_FILES) for arg in tries[-1].args[:-1]):
        return None
    if block.name == "server":
        return written
    match = location_match(block) if block.name == "location" else None
    if match is None or match.modifier not in ("", "^~"):
        return None
    if name == "alias":
        return written
    return (written + "/" + match.path.strip("/")).rstrip("/")


def _app_directory(ctx: LintContext) -> tuple[str, str] | None:
    """(the directory the paired app runs in, where that is written), when it is an absolute path."""
    setting = ctx.gunicorn.setting("chdir") if ctx.gunicorn is not None and not ctx.gunicorn.unreadable else None
    if setting is not None and setting.source != "default" and isinstance(setting.value, str):
        candidates = [(setting.value, "gunicorn's chdir")]
    else:
        candidates = []
    chdir = ctx.app_server.settings.get("chdir") if ctx.app_server is not None else None
    if chdir is not None and isinstance(chdir.value, str):
        candidates.append((chdir.value, f"uWSGI's chdir ({chdir.source})"))
    command = getattr(ctx.gunicorn, "command", None) or getattr(ctx.app_server, "command", None)
    if command is not None and command.working_directory:
        kind = "WorkingDirectory=" if command.kind == "systemd" else "directory="
        candidates.append((command.working_directory, f"{kind} in {command.label}"))
    for path, where in candidates:
        if path.startswith("/") and "$" not in path and "%" not in path:
            return path.rstrip("/") or "/", where
    return None


def _refuses_python_files(server) -> bool:
    """Whether a regex location of the server refuses ``/x.py`` (``deny all`` or ``return 4xx``)."""
    from confgen.nginx.variables import compile_regex

    for location in server.walk():
        match = location_match(location) if location.name == "location" else None
        if match is None or match.modifier not in ("~", "~*"):
            continue
        regex = compile_regex(match.path, match.modifier == "~*")
        if regex is None or not regex.search("/settings.py"):
            continue
        if any((d.name == "deny" and d.args == ["all"]) or (d.name == "return" and d.args[:1] and
                                                            d.args[0] in ("403", "404", "444"))
               for d in location.block or ()):
            return True
    return False


@rule(group="hardening", code="CG603", name="autoindex-enabled", severity="warning")
def autoindex_enabled(ctx: LintContext) -> Iterator[Finding]:
    """``autoindex on`` lists directory contents to anyone.

    A listing shows backups, dotfiles and uploads nobody meant to link, and lets a scraper
    fetch all of them. Serve an index page, or keep listings behind authentication. Not
    reported where a listing needs a login or an allowed address first: ``auth_basic`` with
    ``auth_basic_user_file`` (nginx answers 401), ``auth_request``, or an allow/deny list that
    ends in ``deny all`` (403), as ``satisfy`` combines them; nor beside an include of a file the
    deployment provides, which may hold them.

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
        https://nginx.org/en/docs/http/ngx_http_auth_basic_module.html
        https://nginx.org/en/docs/http/ngx_http_core_module.html#satisfy
    """
    for directive in ctx.all("autoindex"):
        if not (directive.args and directive.args[0].lower() == "on" and in_http(directive)):
            continue
        level = directive.parent
        if access_restricted(ctx, level) or ctx.unresolved_include(level) is not None:
            continue
        yield ctx.finding(directive, "autoindex on lists every file in these directories to anyone; "
                                     "turn it off or require authentication here")


def _rewrites_with_break(location) -> bool:
    """``rewrite ... break`` in the location itself (or an ``if`` in it): nginx then passes the
    changed URI as it is, whatever URI part ``proxy_pass`` names."""
    for child in location.block or ():
        if child.name == "rewrite" and child.args[2:3] == ["break"]:
            return True
        if child.name == "if" and _rewrites_with_break(child):
            return True
    return False


@rule(code="CG604", name="proxy-pass-normalized", severity="warning")
def proxy_pass_normalized(ctx: LintContext) -> Iterator[Finding]:
    """The location and the ``proxy_pass`` URI part disagree about the trailing slash.

    With a URI part (``proxy_pass http://app/v1/;``) nginx replaces the location prefix with
    it. When one ends in ``/`` and the other does not, ``location /api`` with
    ``proxy_pass http://app/v1/`` sends ``/apifoo`` as ``/v1/foo`` and ``/api/x`` as ``/v1//x``;
    ``location /api/`` with ``http://app/v1`` sends ``/v1x``: paths the app never expected reach
    it. A deliberate mapping (``location /ps/ { proxy_pass http://svc/; }``) is not reported,
    and ``http://unix:/run/app.sock`` has no URI part (a socket path ends at an optional ``:``;
    ``http://unix:/run/app.sock:/v1/`` has one). A location that rewrites with ``rewrite ...
    break`` is not reported: for a URI the rewrite changed, nginx ignores the URI part and
    passes the rewritten URI whole (nginx's proxy_pass documentation). Nor is an ``internal``
    location that nginx itself requests with exactly its prefix (``auth_request /auth``,
    ``error_page ... /auth``, ``mirror``): no other URI can reach it. Nor is a prefix without
    ``/`` mapped to the app's root (``location /ws { proxy_pass http://relay/; }``): the endpoint
    itself arrives as ``/``, and ``/ws/x`` as ``//x``, which frameworks such as werkzeug route as
    ``/x``; ``location /ws/`` would answer ``/ws`` with a 301 a WebSocket handshake does not
    follow, so neither change is better; nor, for the same reason, an auth endpoint (an
    ``auth_request`` target, or a location with ``proxy_pass_request_body off``) whose prefix
    without ``/`` is mapped to the app's endpoint of that name with a slash (``location
    /media-auth { proxy_pass http://app/api/media-auth/; }``, a Django URL): the endpoint
    arrives as the app routes it, and either change answers it with a redirect. A tree mapped
    that way (``location /media`` to ``.../media/``) is still reported.

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
        https://nginx.org/en/docs/http/ngx_http_core_module.html#internal
        https://nginx.org/en/docs/http/ngx_http_auth_request_module.html
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
        if _rewrites_with_break(location):
            continue  # the rewritten URI reaches the app as it is: the URI part is ignored
        if internal_only(directive) and prefix in subrequest_targets(ctx):
            continue  # only nginx's own subrequest reaches it, with exactly the prefix: mapped as meant
        if path == "/" and not prefix.endswith("/"):
            continue  # `location /ws { proxy_pass http://relay/; }`: the endpoint mapped to the app's root
        if _endpoint_alias(prefix, path) and (prefix in subrequest_targets(ctx) or drops_request_body(location)):
            continue  # `location /media-auth { proxy_pass http://app/api/media-auth/; }`: an auth endpoint, renamed
        if prefix.endswith("/") != path.endswith("/"):
            rest = "x" if prefix.endswith("/") else "/x"
            yield ctx.finding(directive, f"location {prefix} and the proxy_pass path {path} disagree about the "
                                         f"trailing slash: nginx replaces {prefix!r} with {path!r}, so "
                                         f"{prefix + rest} reaches the app as {path + rest}; end both with / "
                                         f"or neither")


def _endpoint_alias(prefix: str, path: str) -> bool:
    """Whether a prefix without ``/`` names one endpoint that the URI part maps to the app's
    endpoint of the same name with the slash the app routes it by (``/media-auth`` to
    ``/api/v1.0/documents/media-auth/``)."""
    name = prefix.rsplit("/", 1)[-1]
    return not prefix.endswith("/") and path.endswith("/") and bool(name) and path[:-1].rsplit("/", 1)[-1] == name


