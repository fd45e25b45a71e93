"""Regexes that let too much through or take too long (CG63x): Origin and Referer checks that
match attacker domains, ``valid_referers none``, unanchored locations, and ReDoS.

The analysis is Python's own parse of the pattern (``re._parser``), never a network service.
"""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules.security_common import (
    can_match_char,
    in_http,
    is_anchored_end,
    is_anchored_start,
    regexes,
    sre_constants,
)

_ORIGIN_SUBJECTS = {"http_origin": "Origin", "http_referer": "Referer"}


def _unescaped_dot(tree) -> bool:
    """A bare ``.`` between literal characters (``example.com``): it matches any character."""
    for op, av in tree:
        if op is sre_constants.ANY:
            return True
        for child in _subtrees(op, av):
            if _unescaped_dot(child):
                return True
    return False


def _subtrees(op, av):
    c = sre_constants
    if op is c.SUBPATTERN:
        return [av[-1]]
    if op is c.BRANCH:
        return list(av[1])
    # A repeated dot (".*", ".+") is a wildcard the author meant; only bare dots are typos.
    return []


def _host_end_open(pattern: str, tree) -> bool:
    """Whether the host part can be followed by more host (``example.com.evil.net``): the
    pattern neither ends with ``$`` nor puts a ``/`` or ``:`` after its last literal dot."""
    if is_anchored_end(tree):
        return False
    tail = pattern.rsplit(r"\.", 1)[-1]
    return "/" not in tail and ":" not in tail


@rule(code="CG631", name="origins-regex", severity="error")
def origins_regex(ctx: LintContext) -> Iterator[Finding]:
    """An ``$http_origin`` / ``$http_referer`` check whose regex also matches attacker domains.

    CORS and CSRF checks written as ``if ($http_origin ~ "example.com")`` accept
    ``https://example.com.evil.net`` (no end anchor), ``https://evilexample.com`` (no start
    anchor) and ``https://exampleXcom.net`` (an unescaped dot): the attacker's page then reads
    responses with the user's cookies. Anchor both ends and escape the dots.

    Bad:
        server {
            if ($http_origin ~* "https://.*example.com") {
                add_header Access-Control-Allow-Origin $http_origin always;
            }
        }

    Good:
        server {
            if ($http_origin ~* "^https://([a-z0-9-]+\\.)?example\\.com$") {
                add_header Access-Control-Allow-Origin $http_origin always;
            }
        }
    """
    for regex in regexes(ctx):
        header = _ORIGIN_SUBJECTS.get(regex.subject)
        tree = regex.tree
        if header is None or tree is None:
            continue
        if regex.directive.name == "if" and regex.directive.args[1].startswith("!"):
            continue   # a negative match that rejects; its looseness only rejects less
        problems = []
        if not is_anchored_start(tree):
            problems.append("no ^ anchor: https://evil.net/?https://trusted matches")
        if _unescaped_dot(tree):
            problems.append("an unescaped . matches any character")
        if _host_end_open(regex.pattern, tree):
            problems.append("the host is not closed by $ or /: trusted.com.evil.net matches")
        if problems:
            yield ctx.finding(regex.directive, f"the {header} check {regex.pattern!r} also accepts attacker "
                                               f"domains ({'; '.join(problems)}); anchor it and escape the dots")


@rule(code="CG632", name="valid-referers-none", severity="warning")
def valid_referers_none(ctx: LintContext) -> Iterator[Finding]:
    """``valid_referers none`` (or ``blocked``) lets requests without a real Referer through.

    A Referer check meant to stop hot-linking or cross-site requests passes every request
    whose Referer is absent or stripped, and an attacker's page can arrange exactly that
    (``Referrer-Policy: no-referrer``). Keep ``none`` only where direct visits must work.

    Bad:
        server {
            valid_referers none server_names;
        }

    Good:
        server {
            valid_referers server_names;
        }
    """
    for directive in ctx.all("valid_referers"):
        weak = [a for a in directive.args if a.lower() in ("none", "blocked")]
        if weak and in_http(directive):
            yield ctx.finding(directive, f"valid_referers {' and '.join(weak)} accepts requests whose Referer is "
                                         f"missing or stripped, which any attacker page can arrange")


@rule(code="CG633", name="unanchored-regex", severity="info")
def unanchored_regex(ctx: LintContext) -> Iterator[Finding]:
    """A regex location with neither ``^`` nor ``$``.

    ``location ~ \\.php`` also matches ``/uploads/x.php.png`` and ``/a.php/b``: requests reach a
    handler the author did not mean (the classic way uploaded files get executed), and the
    regex is tried at every position of every URI.

    Bad:
        server {
            location ~ \\.php { return 403; }
        }

    Good:
        server {
            location ~ \\.php$ { return 403; }
        }
    """
    for regex in regexes(ctx):
        if regex.directive.name != "location" or regex.tree is None:
            continue
        if not is_anchored_start(regex.tree) and not is_anchored_end(regex.tree):
            yield ctx.finding(regex.directive, f"location regex {regex.pattern!r} has no ^ or $ anchor: it matches "
                                               f"anywhere in the URI (also /x{regex.pattern.strip(chr(92))}.png); "
                                               f"anchor it")


# ---------------------------------------------------------------------------------------------
# ReDoS


def _repeat_is_unbounded(av) -> bool:
    return av[1] == sre_constants.MAXREPEAT or av[1] > 100


def _first_chars(tree, probe: str) -> bool:
    return can_match_char(tree, probe, dotall=True)


def _overlap(a, b) -> str | None:
    """A character both subpatterns can match (a cheap probe over printable ASCII)."""
    for code in range(32, 127):
        char = chr(code)
        if _first_chars(a, char) and _first_chars(b, char):
            return char
    return None


def redos_problem(tree) -> str | None:
    """Why a parsed regex can backtrack exponentially, or None. Two shapes: an unbounded
    quantifier nested in another with nothing that separates the repetitions (``(\\w+\\s?)*``,
    not ``(/[a-z]+)*``), and a quantified alternation whose branches can match the same
    character (``(a|ab)*``)."""
    c = sre_constants

    def visit(node) -> str | None:
        for op, av in node:
            children = []
            if op in _REPEATS:
                if _repeat_is_unbounded(av):
                    found = _nested_repeat(av[2]) or _overlapping_branches(av[2])
                    if found:
                        return found
                children = [av[2]]
            elif op is c.SUBPATTERN:
                children = [av[-1]]
            elif op is c.BRANCH:
                children = list(av[1])
            for child in children:
                found = visit(child)
                if found:
                    return found
        return None

    return visit(tree)


_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)


def _flat(body) -> list:
    items = list(body)
    while len(items) == 1 and items[0][0] is sre_constants.SUBPATTERN:
        items = list(items[0][1][-1])
    return items


def _mandatory(item) -> bool:
    op, av = item
    if op in _REPEATS:
        return av[0] >= 1
    return op not in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT)


def _variable_length(item) -> bool:
    """Whether an item can match strings of different lengths: ``a+``, ``a{1,3}``, ``a?``, or an
    alternation with an empty or a longer branch (Python factors ``(a|aa)`` into ``a(|a)``)."""
    op, av = item
    if op in _REPEATS:
        return av[0] != av[1]
    if op is sre_constants.BRANCH:
        return len({len(branch) for branch in av[1]}) > 1 or any(not branch for branch in av[1])
    if op is sre_constants.SUBPATTERN:
        return any(_variable_length(child) for child in av[-1])
    return False


def _nested_repeat(body) -> str | None:
    """A repeated body made of a variable-length part and nothing that tells repetitions apart
    (every other mandatory part can match what the variable part matches): the input can be
    split between repetitions in exponentially many ways."""
    items = _flat(body)
    for item in items:
        if not _variable_length(item):
            continue
        inner = item[1][2] if item[0] in _REPEATS else [item]
        separators = [other for other in items if other is not item and _mandatory(other)
                      and _overlap([other], inner) is None]
        if not separators:
            return "a variable-length part repeated with nothing between the repetitions"
    return None


def _overlapping_branches(body) -> str | None:
    items = _flat(body)
    if len(items) != 1 or items[0][0] is not sre_constants.BRANCH:
        return None
    branches = items[0][1][1]
    for i, left in enumerate(branches):
        for right in branches[i + 1:]:
            char = _overlap(left, right)
            if char is not None:
                return f"alternatives under a quantifier that both match {char!r}"
    return None


@rule(code="CG634", name="regex-redos", severity="warning")
def regex_redos(ctx: LintContext) -> Iterator[Finding]:
    """A regex that can backtrack exponentially on a crafted request (ReDoS).

    nginx matches location, ``if``, ``rewrite``, ``map`` and ``server_name`` regexes on every
    request, with the client choosing the input. A nested quantifier (``(a+)+``) or a quantified
    alternation whose branches overlap (``(a|ab)*``) lets one long URI keep a worker busy for
    seconds; nginx's PCRE JIT does not prevent it. Found by parsing the pattern in Python: no
    external service is asked.

    Bad:
        server {
            location ~ ^/(\\w+\\s?)*$ { return 404; }
        }

    Good:
        server {
            location ~ ^/[\\w\\s]*$ { return 404; }
        }
    """
    for regex in regexes(ctx):
        tree = regex.tree
        if tree is None:
            continue
        problem = redos_problem(tree)
        if problem:
            yield ctx.finding(regex.directive, f"regex {regex.pattern!r} can backtrack exponentially ({problem}): "
                                               f"one crafted request keeps a worker busy; rewrite it without "
                                               f"nested or overlapping repetition")
