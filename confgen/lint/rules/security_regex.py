"""Regexes that let too much through or take too long (CG63x): Origin and Referer checks that
match attacker domains, ``valid_referers none``, unanchored locations, and ReDoS.

The analysis is Python's own parse of the pattern (``re._parser``), never a network service.
"""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, Option, rule
from confgen.lint.rules.security_common import in_http, is_refusal, regexes, refuses
from confgen.nginx.variables import (
    NginxRegex,
    references,
    can_match_char,
    compile_regex,
    has_end_anchor,
    is_anchored_end,
    is_anchored_start,
    is_negative_match,
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
    pattern neither ends with ``$`` nor puts a ``/`` or ``:`` after the host (after the scheme's
    ``://``, when it has one)."""
    if is_anchored_end(tree):
        return False
    host = pattern.replace("\\/", "/").split("://", 1)[-1]
    return "/" not in host and ":" not in host


def _host_takes_slash(tree) -> bool:
    """Whether something between ``://`` and the ``/`` that closes the host can match a ``/``
    (``https?://[^/]+metrika.*yandex\\.ru/``): the host then ends wherever the attacker wants,
    and the trusted name can sit in the path (``https://metrika.evil.net/yandex.ru/``)."""
    alternatives = [list(branch) for branch in tree[0][1][1]] \
        if len(tree) == 1 and tree[0][0] is sre_constants.BRANCH else [list(tree)]
    scheme_end = [(sre_constants.LITERAL, ord(c)) for c in "://"]
    for items in alternatives:
        start = next((i + 3 for i in range(len(items) - 2) if items[i:i + 3] == scheme_end), None)
        if start is None:
            continue
        for op, av in items[start:]:
            if op is sre_constants.AT or _opens_with_slash(op, av):
                break   # the host ends here: at "/", at "$", or where an optional "(/.*)?" starts
            if can_match_char([(op, av)], "/"):
                return True
    return False


def _opens_with_slash(op, av) -> bool:
    """Whether an item, whenever it matches something, starts with ``/``."""
    while op in (sre_constants.SUBPATTERN, *_REPEATS):
        body = av[-1] if op is sre_constants.SUBPATTERN else av[2]
        if not body:
            return False
        op, av = body[0]
    return op is sre_constants.LITERAL and av == ord("/")


def _accepts_plain_http(regex: NginxRegex) -> bool:
    compiled = compile_regex(regex.pattern, regex.case_insensitive)
    if compiled is None:
        return False
    sample = _sample(regex.tree)
    if sample is None or "://" not in sample:
        return False
    return compiled.search("http://" + sample.split("://", 1)[1]) is not None


def _problems(pattern: str, tree, *, referer_list: bool = False, origin: bool = False) -> list[str]:
    problems = []
    if not is_anchored_start(tree):
        problems.append("no ^ anchor: evil.net/trusted.com matches" if referer_list
                        else "no ^ anchor: https://evil.net/?https://trusted matches")
    if _unescaped_dot(tree):
        problems.append("an unescaped . matches any character")
    if _host_end_open(pattern, tree):
        problems.append("the host is not closed by $ or /: trusted.com.evil.net matches")
    elif _host_takes_slash(tree) and not origin:
        # An Origin is scheme://host[:port] (RFC 6454, 7): no path for the trusted name to hide in.
        problems.append("a wildcard in the host also takes /: the trusted name can follow evil.net/ in the path")
    return problems


def _condition_refuses(condition: list[str], value: str) -> bool:
    """Whether ``if (<condition>)`` holds when its map variable has ``value`` (the forms
    ``($v)``, ``($v = X)``, ``($v != X)``; anything else is taken to hold, i.e. to refuse)."""
    if len(condition) == 1:
        return value not in ("", "0")
    if len(condition) == 3 and condition[1] == "=":
        return value == condition[2]
    if len(condition) == 3 and condition[1] == "!=":
        return value != condition[2]
    return True


def _allowing_map_entries(ctx, block) -> list:
    """The regex entries of a map over Origin/Referer whose match lets a request through. The
    map's output gates requests where an ``if`` on it refuses (``if ($bad_referer) { return
    403; }``): the entries that make that ``if`` hold are a blocklist, not an allow-list. A map
    no refusing ``if`` reads allows with every non-empty value (a CORS origin echoed back)."""
    output = block.args[1].lstrip("$").lower() if len(block.args) >= 2 else ""
    if output not in _read_variables(ctx):
        return []   # nothing reads its value: it lets nothing through
    gates = [d for d in ctx.all("if") if d.args and d.args[0].lstrip("$").lower() == output and refuses(d)]
    allowing = []
    for entry in block.block or ():
        if not entry.name.startswith("~"):
            continue
        value = entry.args[0] if entry.args else ""
        if gates:
            if not any(_condition_refuses(g.args, value) for g in gates):
                allowing.append(entry)
        elif value not in ("", "0"):
            allowing.append(entry)
    return allowing


def _read_variables(ctx) -> set[str]:
    """The variables some directive reads (a map's own source and result do not count)."""
    def collect() -> set[str]:
        read: set[str] = set()
        for directive in ctx.nginx.root.walk():
            args = directive.args[2:] if directive.name == "map" else directive.args
            for arg in args:
                read.update(reference.name for reference in references(arg))
        return read
    return ctx.cached("security:read_variables", collect)


def allowing_origin_regexes(ctx) -> list[tuple[str, NginxRegex]]:
    """(header, regex) for every Origin / Referer regex whose match lets a request through: a
    positive ``if`` that does not refuse, every negative ``if ($http_origin !~ ...)``, the
    allowing entries of a ``map`` over the header, and ``valid_referers`` regex entries."""
    found: list[tuple[str, NginxRegex]] = []
    for regex in regexes(ctx):
        header = _ORIGIN_SUBJECTS.get(regex.subject_name)
        if header is None:
            continue
        directive = regex.directive
        if directive.name == "if":
            # A negative check names what is trusted, whatever its block does to the rest
            # (refuse, add X-Frame-Options, clear a CORS header); a positive one is an
            # allow-list unless its block refuses (then it is a blocklist).
            if is_negative_match(regex) or not refuses(directive):
                found.append((header, regex))
        elif directive.parent is not None and directive.parent.name == "map":
            if directive in _allowing_map_entries(ctx, directive.parent):
                found.append((header, regex))
    for directive in ctx.all("valid_referers"):
        for arg in directive.args:
            if arg.startswith("~") and len(arg) > 1:
                found.append(("Referer", NginxRegex(directive, arg[1:], True, "$http_referer")))
    return found


@rule(code="CG631", name="origins-regex", severity="error", options=[
    Option("https-only", bool, False, "also report checks that accept an http:// origin (a site served over https only)")])
def origins_regex(ctx: LintContext) -> Iterator[Finding]:
    """An ``$http_origin`` / ``$http_referer`` check whose regex also matches attacker domains.

    CORS and CSRF checks written as ``if ($http_origin ~ "example.com")`` accept
    ``https://example.com.evil.net`` (no end anchor), ``https://evilexample.com`` (no start
    anchor) and ``https://exampleXcom.net`` (an unescaped dot): the attacker's page then reads
    responses with the user's cookies. Only regexes whose match *lets a request through* are
    judged: a positive ``if`` that does not refuse, every negative check (the usual rejection
    ``if ($http_origin !~ "...") { return 403; }``, and ``if ($http_referer !~ "...") {
    add_header X-Frame-Options SAMEORIGIN; }``, where a match lets the page be framed), a
    ``map`` over the header whose value is used as an allowed origin, and ``valid_referers``
    regex entries; a Referer blocklist is not an allow-list, nor is a map whose result nothing
    reads. The entries of one map are one finding. Anchor both ends and escape the
    dots. With ``https-only = true`` (a site served over https only), a check that also accepts
    ``http://`` (``^https?://``) is reported: a page on plain http, which anyone on the network
    can write, passes it. A wildcard in the host that could also take ``/`` matters for a
    Referer (``https://evil.net/trusted.com/``) but not for an Origin, which browsers send as
    ``scheme://host[:port]`` with no path.

    Bad:
        server {
            if ($http_origin !~* "^https://app.example.com") {
                return 403;
            }
        }

    Good:
        server {
            if ($http_origin !~* "^https://app\\.example\\.com$") {
                return 403;
            }
        }

    References:
        https://github.com/yandex/gixy/blob/master/docs/en/plugins/origins.md
        https://nginx.org/en/docs/http/ngx_http_core_module.html#var_http_
        https://www.rfc-editor.org/rfc/rfc6454#section-7
    """
    # One finding per map: its entries are one allow-list, fixed in one place.
    by_map: dict[int, list] = {}
    for header, regex in allowing_origin_regexes(ctx):
        tree = regex.tree
        if tree is None:
            continue
        problems = _problems(regex.pattern, tree, referer_list=regex.directive.name == "valid_referers",
                             origin=header == "Origin")
        if ctx.option("https-only") and _accepts_plain_http(regex):
            problems.append("it accepts http://, which anyone on the network can serve")
        if problems:
            parent = regex.directive.parent
            key = id(parent) if parent is not None and parent.name == "map" else id(regex.directive)
            by_map.setdefault(key, []).append((header, regex, problems))
    for found in by_map.values():
        header, regex, problems = found[0]
        more = f" (and {len(found) - 1} more entr{'ies' if len(found) > 2 else 'y'} of this map)" if len(found) > 1 else ""
        yield ctx.finding(regex.directive, f"the {header} check {regex.pattern!r}{more} also accepts attacker "
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

    References:
        https://nginx.org/en/docs/http/ngx_http_referer_module.html#valid_referers
        https://github.com/yandex/gixy/blob/master/docs/en/plugins/validreferers.md
    """
    for directive in ctx.all("valid_referers"):
        weak = [a for a in directive.args if a.lower() in ("none", "blocked")]
        if weak and in_http(directive):
            yield ctx.finding(directive, f"valid_referers {' and '.join(weak)} accepts requests whose Referer is "
                                         f"missing or stripped, which any attacker page can arrange")


_HANDLERS = ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "root", "alias", "try_files",
             "autoindex", "index", "return", "rewrite")


def _refusal_only(location) -> bool:
    """A location that only refuses (``location ~ /\\.ht { deny all; }``): it must match anywhere
    in the URI, so anchoring it would open what it closes."""
    children = location.block or []
    if not refuses(location):
        return False
    return not any(d.name in _HANDLERS and not is_refusal(d) for d in children)


def example_uri(regex: NginxRegex) -> str | None:
    """A URI the regex matches although the author hardly meant it (the match followed by more
    path, or preceded by a directory), checked with the compiled pattern; None when no such
    example is found."""
    compiled = compile_regex(regex.pattern, regex.case_insensitive)
    if compiled is None:
        return None
    core = _sample(regex.tree)
    if core is None:
        return None
    for candidate in (f"/x{core}.png", f"/uploads/x{core}/a", f"/a{core}"):
        candidate = candidate.replace("//", "/")
        if compiled.search(candidate):
            return candidate
    return None


def _sample(tree, depth: int = 0) -> str | None:
    """One short string the (sub)pattern matches, or None for what is not sampled simply."""
    c = sre_constants
    out = []
    for op, av in tree:
        if op is c.LITERAL:
            out.append(chr(av))
        elif op is c.NOT_LITERAL:
            out.append("a" if av != ord("a") else "b")
        elif op is c.ANY:
            out.append("a")
        elif op is c.IN:
            char = next((ch for ch in "a0-_./" if _in_class(av, ch)), None)
            if char is None:
                return None
            out.append(char)
        elif op in _REPEATS:
            low = av[0]
            inner = _sample(av[2], depth + 1)
            if inner is None:
                return None
            out.append(inner * low)
        elif op is c.SUBPATTERN:
            inner = _sample(av[-1], depth + 1)
            if inner is None:
                return None
            out.append(inner)
        elif op is c.BRANCH:
            inner = _sample(av[1][0], depth + 1)
            if inner is None:
                return None
            out.append(inner)
        elif op is c.AT:
            continue
        else:
            return None
    return "".join(out)


def _in_class(items, char: str) -> bool:
    return can_match_char([(sre_constants.IN, items)], char)


@rule(group="hardening", code="CG633", name="unanchored-regex", severity="info")
def unanchored_regex(ctx: LintContext) -> Iterator[Finding]:
    """A regex location with neither ``^`` nor ``$`` that serves content.

    ``location ~ \\.php`` also matches ``/uploads/x.php.png`` and ``/a.php/b``: requests reach a
    handler the author did not mean (the classic way uploaded files get executed), and the
    regex is tried at every position of every URI. A location that only refuses
    (``location ~ /\\.ht { deny all; }``) is meant to match anywhere and is not reported; nor is
    a regex with a ``$`` anywhere.

    Bad:
        server {
            location ~ \\.php {
                fastcgi_pass unix:/run/php/php-fpm.sock;
            }
        }

    Good:
        server {
            location ~ \\.php$ {
                fastcgi_pass unix:/run/php/php-fpm.sock;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#location
    """
    for regex in regexes(ctx):
        if regex.directive.name != "location" or regex.tree is None:
            continue
        if is_anchored_start(regex.tree) or has_end_anchor(regex.tree) or _refusal_only(regex.directive):
            continue
        example = example_uri(regex)
        also = f" (also {example})" if example else ""
        yield ctx.finding(regex.directive, f"location regex {regex.pattern!r} has no ^ or $ anchor: it matches "
                                           f"anywhere in the URI{also}; anchor it")


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
    alternation whose branches can split the same text several ways (``(a|aa)*``) makes one
    long URI run PCRE into its match limit (about a quarter of a second of a worker per request
    with nginx 1.22.1 and PCRE2, which then logs ``pcre2_match() failed: -47`` and answers 500),
    so a few requests a second keep a worker busy; nginx's PCRE JIT does not prevent it.
    Branches that only share a prefix (``(a|ab)*``: each ``b`` fixes the split) backtrack
    linearly and are not reported. Found by parsing the pattern in Python: no external service
    is asked.

    Bad:
        server {
            location ~ ^/(\\w+\\s?)*$ { return 404; }
        }

    Good:
        server {
            location ~ ^/[\\w\\s]*$ { return 404; }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#location
        https://owasp.org/www-community/attacks/Regular_expression_Denial_of_Service_-_ReDoS
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
