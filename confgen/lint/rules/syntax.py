"""Findings about the inputs themselves (CG0xx): parse problems and suppression comments.

The engine produces these (the parser and the suppression scanner find them); the functions
here register the codes, names and documentation. Parse problems cannot be deselected or
suppressed: a file that did not parse was not linted, and must never pass as "no problems".
"""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, Option, rule


@rule(code="CG001", name="syntax-error", severity="error", always=True)
def syntax_error(ctx: LintContext) -> Iterator[Finding]:
    """An nginx file does not parse: nginx would refuse to start.

    An unbalanced brace, a missing ``;`` or an unterminated quote. The file is reported at the
    line nginx would name; the other files are still linted, but nothing in the broken one can
    be trusted, so the run always fails.

    Bad:
        server {
            listen 80
        }

    Good:
        server {
            listen 80;
        }

    References:
        https://nginx.org/en/docs/beginners_guide.html#conf_structure
    """
    return iter(())


@rule(code="CG002", name="include-not-found", severity="error", always=True, options=[
    Option("strict", bool, False, "report every include of a file the linted tree does not hold, not only "
                                  "those in a directory it ships")])
def include_not_found(ctx: LintContext) -> Iterator[Finding]:
    """An ``include`` names a file that should be in the linted tree and is not: nginx would refuse to start.

    Paths are resolved as nginx does, relative to the main config's directory (its prefix),
    not to the including file. A glob that matches nothing is fine for nginx and not reported,
    nor are nginx's stock files (``mime.types``, ``uwsgi_params``...). A file the repository
    does not ship (a server-local ``snippets/ssl-site.conf``, ``/etc/letsencrypt/options-ssl-nginx.conf``)
    is a fact about the machine the config will run on, not about the config: relative or
    absolute, it gets the same note, and the rules that depend on what it would set stay
    silent where it is included. It is an error where the tree shows the file should be there:
    its directory is one the tree ships below the main file's (``conf.d/`` is there, this file
    in it is not), or the main file's own directory when the config includes other files from
    it, or the input is an ``nginx -T`` dump, which holds every file nginx read.
    With ``strict = true`` under ``[tool.confgen.rules.include-not-found]`` every missing file
    is an error (for a tree that is the whole deployment). (The examples are ``nginx -T``
    output.)

    Bad:
        # configuration file /etc/nginx/nginx.conf:
        events {}
        http {
            include /etc/nginx/conf.d/proxy-params.conf;
        }

    Good:
        # configuration file /etc/nginx/nginx.conf:
        events {}
        http {
            include /etc/nginx/conf.d/proxy-params.conf;
        }

        # configuration file /etc/nginx/conf.d/proxy-params.conf:
        proxy_set_header Host $host;

    References:
        https://nginx.org/en/docs/ngx_core_module.html#include
    """
    if not ctx.option("strict"):
        return
    reported = {(p.file, p.line) for p in ctx.nginx.problems}
    for include in getattr(ctx.nginx, "unresolved_includes", ()):
        written = include.args[0] if include.args else ""
        if written.startswith("<") or (include.file, include.line) in reported:
            continue  # the unknown includer of a bare snippet; or already an error
        yield ctx.finding(include, f'include "{written}": no such file in the linted tree or on this machine '
                                   f'(strict: every included file must be in the tree)')


@rule(code="CG003", name="include-cycle", severity="error", always=True)
def include_cycle(ctx: LintContext) -> Iterator[Finding]:
    """Files include each other in a loop: nginx would recurse until it fails.

    Reading stops at the repeated file so linting terminates; the include that closes the
    loop is reported. (The Bad example is saved as nginx.conf: it includes itself.)

    Bad:
        include nginx.conf;

    Good:
        server {
            listen 80;
        }

    References:
        https://nginx.org/en/docs/ngx_core_module.html#include
    """
    return iter(())


@rule(code="CG004", name="gunicorn-config-error", severity="error", always=True)
def gunicorn_config_error(ctx: LintContext) -> Iterator[Finding]:
    """The paired gunicorn config cannot be read: not valid Python, or a setting gunicorn rejects.

    gunicorn would fail to start with it; the app rules only check what could be read.

    Gunicorn:
        workers = (

    Bad:
        location / { proxy_pass http://127.0.0.1:8000; }

    Good:
        location / { proxy_pass http://127.0.0.1:8000; }

    Good gunicorn:
        workers = 2

    References:
        https://docs.gunicorn.org/en/stable/configure.html
        https://docs.gunicorn.org/en/stable/settings.html
    """
    return iter(())


@rule(code="CG005", name="suppression-without-reason", severity="warning")
def suppression_without_reason(ctx: LintContext) -> Iterator[Finding]:
    """A ``# confgen: disable=...`` comment that does not say why.

    A suppression is a decision that a rule does not apply here; without the reason the next
    reader cannot tell a considered exception from a silenced warning. Write it after ``--``.

    Bad:
        # confgen: disable=gzip-level-high
        gzip_comp_level 9;

    Good:
        # confgen: disable=gzip-level-high -- static assets, compressed once and cached
        gzip_comp_level 9;

    References:
        https://docs.astral.sh/ruff/linter/#error-suppression
    """
    return iter(())


@rule(code="CG006", name="suppression-unknown-rule", severity="warning")
def suppression_unknown_rule(ctx: LintContext) -> Iterator[Finding]:
    """A ``# confgen: disable=...`` comment names no existing rule, so it suppresses nothing.

    Usually a typo, or a rule renamed; the finding it meant to silence is still reported.

    Bad:
        # confgen: disable=gzip-too-high -- static assets, compressed once and cached
        gzip_comp_level 9;

    Good:
        # confgen: disable=gzip-level-high -- static assets, compressed once and cached
        gzip_comp_level 9;

    References:
        https://docs.astral.sh/ruff/linter/#error-suppression
    """
    return iter(())
