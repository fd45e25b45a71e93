"""gzip settings that cost CPU or carry dead weight."""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.nginx_edits import remove, remove_args, replace_args
from confgen.lint.registry import Finding, Option, rule

# Above this, zlib spends several times the CPU for output a percent or two smaller.
MAX_USEFUL_GZIP_LEVEL = 7
# CPU time against level 6 on an API's JSON list, where the higher levels cost the most
# (python bench/gzip_levels.py, zlib 1.2.13): level 7 1.16x, 8 2.81x, 9 5.84x, for output 3.7 %,
# 6.6 % and 6.6 % smaller; on code and prose 8 and 9 cost 1.1-1.2x for 0.1 % smaller.
JSON_CPU_VS_LEVEL_6 = {7: 1.16, 8: 2.81, 9: 5.84}


@rule(code="CG403", name="gzip-obsolete-msie6", severity="info", group="hardening")
def gzip_obsolete_msie6(ctx: LintContext) -> Iterator[Finding]:
    """``gzip_disable "msie6"``: a workaround for Internet Explorer 6.

    The special ``msie6`` mask excludes Internet Explorer 4-6, whose gzip handling was broken
    before Windows XP SP2. Those browsers have been gone for over a decade; the line is copied
    from old tutorials, costs a User-Agent check per response, and tells the reader nothing.

    Bad:
        gzip on;
        gzip_disable "msie6";

    Good:
        gzip on;

    References:
        https://nginx.org/en/docs/http/ngx_http_gzip_module.html#gzip_disable

    Fix safety: Safe: the ``msie6`` mask goes (the whole line when it is the only one); only
    those long-gone browsers get compressed responses.
    """
    for directive in ctx.all("gzip_disable"):
        if any(arg.lower() == "msie6" for arg in directive.args):
            yield ctx.finding(directive, 'gzip_disable "msie6" works around Internet Explorer 6, gone for '
                                         'over a decade; remove it',
                              fix=Fix(lambda fx, line=directive: fx.same_everywhere(line, lambda d: _drop_msie6(fx, d))))


def _drop_msie6(fx, directive) -> list:
    msie6 = [i for i, arg in enumerate(directive.args) if arg.lower() == "msie6"]
    if len(msie6) == len(directive.args):
        return [remove(fx, directive)]
    return remove_args(fx, directive, msie6)


@rule(code="CG404", name="gzip-level-high", severity="warning", options=[
    Option("max-level", int, MAX_USEFUL_GZIP_LEVEL, "the highest gzip_comp_level not reported", 1, 9)])
def gzip_level_high(ctx: LintContext) -> Iterator[Finding]:
    """``gzip_comp_level`` 8 or 9: several times the CPU per response for little smaller output.

    zlib's levels 8 and 9 search much harder for matches: on an API's JSON responses they cost
    2.8 and 5.8 times the CPU of level 6 for output 6.6 % smaller, and on code and prose 1.1-1.2
    times for 0.1 % smaller (``python bench/gzip_levels.py``, zlib 1.2.13); level 7 costs 1.1-1.2
    times and is not reported. nginx compresses every response on the fly, in the request path:
    under load that CPU is taken from serving.

    Bad:
        gzip on;
        gzip_comp_level 9;

    Good:
        gzip on;
        gzip_comp_level 5;

    References:
        https://nginx.org/en/docs/http/ngx_http_gzip_module.html#gzip_comp_level
        https://www.zlib.net/manual.html#Advanced

    Fix safety: Safe: the level is lowered to the project's ``max-level``; responses are
    compressed a little less, and every request is served as before.
    """
    highest = ctx.option("max-level")
    for directive in ctx.all("gzip_comp_level"):
        value = directive.args[0] if directive.args else ""
        if value.isdigit() and int(value) > highest:
            yield ctx.finding(directive, f"gzip_comp_level {value} costs up to {JSON_CPU_VS_LEVEL_6[int(value)]:g} "
                                         f"times the CPU of level 6 (on an API's JSON; zlib, bench/gzip_levels.py) "
                                         f"for responses at most 7 % smaller; use 5 to 6"
                                         if highest >= MAX_USEFUL_GZIP_LEVEL and int(value) in JSON_CPU_VS_LEVEL_6 else
                                         f"gzip_comp_level {value} is above the project's limit {highest} "
                                         f"([tool.confgen.rules.gzip-level-high] max-level); use {highest}",
                              fix=Fix(lambda fx, level=directive: fx.same_everywhere(
                                  level, lambda d: [replace_args(fx, d, str(highest))])))
