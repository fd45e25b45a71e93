"""Access control that does not control (CG64x): allow lists without a deny, returns that run
before access checks, open status pages, ``if`` in locations, and maps without a default."""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import only_trusted_peers, private_listeners
from confgen.lint.rules.security_common import in_http

_ACCESS = ("allow", "deny")


@rule(code="CG641", name="allow-without-deny", severity="error")
def allow_without_deny(ctx: LintContext) -> Iterator[Finding]:
    """``allow`` without a ``deny`` lets everyone in.

    nginx's access module allows whatever no rule denies: ``allow 10.0.0.0/8;`` on its own
    restricts nothing. End the list with ``deny all;``. (A ``deny`` written at an outer level
    does not help: a level with its own allow/deny inherits none from outside.)

    Bad:
        server {
            location /admin/ {
                allow 10.0.0.0/8;
            }
        }

    Good:
        server {
            location /admin/ {
                allow 10.0.0.0/8;
                deny all;
            }
        }
    """
    seen: set[int] = set()
    for directive in ctx.all("allow"):
        level = directive.parent
        if level is None or id(level) in seen or not in_http(directive):
            continue
        seen.add(id(level))
        own = level.find_any(*_ACCESS)
        if any(d.name == "deny" for d in own) or all(d.args[:1] == ["all"] for d in own):
            continue
        yield ctx.finding(own[0], f"this {level.name} allows some addresses but denies none, so every address "
                                  f"is allowed; add `deny all;` after the allow lines")


@rule(code="CG642", name="return-bypasses-allow-deny", severity="error")
def return_bypasses_allow_deny(ctx: LintContext) -> Iterator[Finding]:
    """``return`` in a block guarded by allow/deny answers before the access check runs.

    ``return`` belongs to the rewrite phase, which nginx runs before the access phase: the
    response goes out to every client, denied or not. Put the check where the content is
    produced (a ``location`` without ``return``), or make the return conditional on
    ``$remote_addr`` with a ``geo`` map.

    Bad:
        server {
            location /internal-status {
                allow 127.0.0.1;
                deny all;
                return 200 "secret";
            }
        }

    Good:
        server {
            location /internal-status {
                allow 127.0.0.1;
                deny all;
                stub_status;
            }
        }
    """
    for directive in ctx.all("return"):
        block = directive.parent
        if block is None or block.name not in ("location", "server", "if") or not in_http(directive):
            continue
        rules = ctx.nginx.access_rules(block)
        denies = [d for d in rules if d.name == "deny"]
        if denies:
            guard = denies[-1]
            yield ctx.finding(directive, f"this return runs in the rewrite phase, before the allow/deny at "
                                         f"{guard.file}:{guard.line} is checked: every client gets the response")


_STATUS_HANDLERS = ("stub_status", "status", "vhost_traffic_status_display", "api")


@rule(code="CG643", name="status-page-exposed", severity="warning")
def status_page_exposed(ctx: LintContext) -> Iterator[Finding]:
    """A status page (``stub_status`` and the like) anyone can read.

    Connection counts and request rates help an attacker time a flood and see its effect, and
    NGINX Plus ``api`` can even change upstreams. Restrict it with ``allow``/``deny all``,
    ``auth_basic``, ``internal``, or serve it on a loopback-only listener.

    Bad:
        server {
            listen 80;
            location /nginx_status { stub_status; }
        }

    Good:
        server {
            listen 80;
            location /nginx_status {
                stub_status;
                allow 127.0.0.1;
                deny all;
            }
        }
    """
    for name in _STATUS_HANDLERS:
        for directive in ctx.all(name):
            block = directive.parent
            if block is None or block.name != "location" or not in_http(directive):
                continue
            server = block.enclosing("server")
            protected = (only_trusted_peers(ctx, block) or block.find("internal")
                         or any(d.args[:1] != ["off"] for d in ctx.nginx.effective("auth_basic", block))
                         or ctx.nginx.effective("auth_request", block)
                         or private_listeners(server))
            if not protected:
                yield ctx.finding(directive, f"{name} answers any client here: restrict it with allow/deny all, "
                                             f"auth_basic or a loopback-only listener")


_SAFE_IN_IF = {"return"}
_SAFE_REWRITE_FLAGS = {"last", "redirect", "permanent"}


@rule(code="CG644", name="if-is-evil", severity="warning")
def if_is_evil(ctx: LintContext) -> Iterator[Finding]:
    """An ``if`` inside a location does more than ``return`` or ``rewrite ... last``.

    ``if`` in a location creates a hidden nested location that takes over the request when
    the condition holds: ``proxy_pass``, ``add_header``, ``try_files`` and handlers inside it
    (or outside it) behave in surprising ways, from lost headers to crashes. Only ``return``
    and ``rewrite ... last|redirect|permanent`` are safe there; move the rest into a ``map`` or
    a separate location.

    Bad:
        server {
            location / {
                if ($http_x_debug) {
                    add_header X-Debug on;
                }
            }
        }

    Good:
        server {
            location / {
                if ($http_x_debug) {
                    return 403;
                }
            }
        }
    """
    for block in ctx.all("if"):
        if block.parent is None or block.parent.name != "location" or not in_http(block):
            continue
        unsafe = next((d for d in block.block or () if not _safe_in_if(d)), None)
        if unsafe is not None:
            yield ctx.finding(block, f"this if inside a location runs {unsafe.name} ({unsafe.file}:{unsafe.line}); "
                                     f"only return and rewrite ... last are safe here: use a map or a "
                                     f"separate location")


def _safe_in_if(directive) -> bool:
    if directive.name in _SAFE_IN_IF:
        return True
    if directive.name == "rewrite":
        args = directive.args
        return (len(args) > 2 and args[2] in _SAFE_REWRITE_FLAGS) or (
            len(args) > 1 and args[1].startswith(("http://", "https://", "$scheme")))
    return False


@rule(code="CG645", name="map-without-default", severity="info")
def map_without_default(ctx: LintContext) -> Iterator[Finding]:
    """A ``map`` or ``geo`` without a ``default`` entry.

    A value no entry matches becomes an empty string. That is harmless for many maps, but a
    map that gates access (``$is_allowed``, ``$backend``) then quietly lets unknown values
    through or sends them nowhere. Say what unknown values get.

    Bad:
        map $http_x_role $is_admin {
            admin 1;
        }

    Good:
        map $http_x_role $is_admin {
            default 0;
            admin 1;
        }
    """
    for name in ("map", "geo"):
        for block in ctx.all(name):
            if not block.is_block or any(d.name == "default" for d in block.block or ()):
                continue
            if any(d.name == "include" for d in block.block or ()):
                continue   # the default may be in a table file the model does not read as entries
            variable = block.args[-1] if block.args else name
            yield ctx.finding(block, f"{name} {variable} has no default: unmatched values become \"\"; "
                                     f"add a `default` entry that says what they get")
