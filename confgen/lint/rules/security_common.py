"""What the security rule families share: nginx regexes read with Python's own regex parser,
the variables an argument uses, which of them a client controls, and the http servers.

nginx compiles regexes with PCRE; Python's ``re`` parser reads the same syntax for everything
nginx configs use in practice (groups, classes, quantifiers, anchors, ``(?<name>...)`` after a
small rewrite). A regex Python cannot read is skipped by every rule, never guessed at.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

try:  # Python 3.11+
    import re._parser as sre_parse
    import re._constants as sre_constants
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

# $name, ${name} and $1..$9 (nginx reads one digit: "$10" is $1 then "0").
VARIABLE_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|([1-9]))")
# Variables whose whole value comes from the request, as the client sent it.
CLIENT_PREFIXES = ("arg_", "http_", "cookie_")
CLIENT_VARIABLES = {"args", "query_string", "request_uri", "uri", "document_uri", "request", "request_body",
                    "host", "http_host", "request_filename", "is_args"}
# Variables nginx decodes from %XX, so they can hold CR and LF (header and request splitting).
DECODED_VARIABLES = {"uri", "document_uri", "request_filename", "fastcgi_path_info"}
# Response headers that protect browsers; losing one silently is the security-relevant case.
SECURITY_HEADERS = {"strict-transport-security", "content-security-policy", "content-security-policy-report-only",
                    "x-frame-options", "x-content-type-options", "referrer-policy", "permissions-policy",
                    "cross-origin-opener-policy", "cross-origin-embedder-policy", "cross-origin-resource-policy",
                    "x-xss-protection"}
UPSTREAM_PASS = ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass")
# Directives whose block is a map-like table, not nginx's location chain.
TABLE_BLOCKS = {"map", "geo", "split_clients", "types", "upstream", "charset_map", "match"}


@dataclass(frozen=True)
class Variable:
    name: str          # "arg_next", "uri", or "1" for a capture
    start: int         # offset in the argument

    @property
    def is_capture(self) -> bool:
        return self.name.isdigit()


def variables(text: str) -> list[Variable]:
    return [Variable((m.group(1) or m.group(2) or m.group(3)).lower(), m.start()) for m in VARIABLE_RE.finditer(text)]


def client_controlled(name: str) -> bool:
    return name in CLIENT_VARIABLES or name.startswith(CLIENT_PREFIXES)


_PATH_VARIABLE_RE = re.compile(r"\$\{?(request_uri|uri|document_uri)\b")


def split_path(rest: str) -> tuple[str, str]:
    """(authority, path) of a URL after its scheme: the path starts at the first ``/`` or at a
    variable that always starts with one (``http://backend$request_uri``)."""
    slash = rest.find("/")
    variable = _PATH_VARIABLE_RE.search(rest)
    cut = min([i for i in (slash, variable.start() if variable else -1) if i >= 0], default=len(rest))
    return rest[:cut], rest[cut:]


# ---------------------------------------------------------------------------------------------
# Regexes


@dataclass(frozen=True)
class NginxRegex:
    """One regex written in a config: where, the pattern, and Python's parse of it (or None)."""

    directive: object
    pattern: str
    case_insensitive: bool
    subject: str           # what it is matched against: "uri", "host", a variable name, ...

    @property
    def tree(self):
        return parse_regex(self.pattern)

    @property
    def groups(self) -> int | None:
        """How many numbered captures nginx gives ($1...): PCRE numbers named groups too."""
        tree = self.tree
        return None if tree is None else tree.state.groups - 1


_PCRE_NAMED = re.compile(r"\(\?(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')")


@lru_cache(maxsize=4096)
def parse_regex(pattern: str):
    """Python's parse tree of a PCRE pattern, or None when Python cannot read it."""
    python_pattern = _PCRE_NAMED.sub(lambda m: f"(?P<{m.group(1) or m.group(2)}>", pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sre_parse.parse(python_pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None


def regexes(ctx) -> list[NginxRegex]:
    """Every regex in the http part of the config, in document order (computed once)."""
    def compute():
        found = []
        for directive in ctx.nginx.walk():
            found.extend(_regexes_of(directive))
        return found
    return ctx.cached("security:regexes", compute)


def _regexes_of(directive) -> list[NginxRegex]:
    args, name = directive.args, directive.name
    if name == "location" and len(args) >= 2 and args[0] in ("~", "~*"):
        return [NginxRegex(directive, args[1], args[0] == "~*", "uri")]
    if name == "if" and len(args) >= 3 and args[1] in ("~", "~*", "!~", "!~*"):
        return [NginxRegex(directive, args[2], "*" in args[1], args[0].lstrip("$").lower())]
    if name == "rewrite" and args:
        return [NginxRegex(directive, args[0], False, "uri")]
    if name == "server_name":
        return [NginxRegex(directive, a[1:], False, "host") for a in args if a.startswith("~") and len(a) > 1]
    parent = directive.parent
    if parent is not None and parent.name == "map" and name.startswith("~") and len(parent.args) >= 2:
        insensitive = name.startswith("~*")
        return [NginxRegex(directive, name[2:] if insensitive else name[1:], insensitive,
                           parent.args[0].lstrip("$").lower())]
    return []


def _category_matches(category, char: str) -> bool:
    c = sre_constants
    table = {
        c.CATEGORY_DIGIT: char.isdigit(), c.CATEGORY_NOT_DIGIT: not char.isdigit(),
        c.CATEGORY_SPACE: char.isspace(), c.CATEGORY_NOT_SPACE: not char.isspace(),
        c.CATEGORY_WORD: char.isalnum() or char == "_", c.CATEGORY_NOT_WORD: not (char.isalnum() or char == "_"),
    }
    return table.get(category, True)


def _in_matches(items, char: str) -> bool:
    negate, hit = False, False
    for op, av in items:
        if op is sre_constants.NEGATE:
            negate = True
        elif op is sre_constants.LITERAL and av == ord(char):
            hit = True
        elif op is sre_constants.RANGE and av[0] <= ord(char) <= av[1]:
            hit = True
        elif op is sre_constants.CATEGORY and _category_matches(av, char):
            hit = True
    return hit != negate


def can_match_char(tree, char: str, *, dotall: bool = False) -> bool:
    """Whether any single-character position of the (sub)pattern accepts ``char``."""
    for op, av in tree:
        if op is sre_constants.LITERAL and av == ord(char):
            return True
        if op is sre_constants.NOT_LITERAL and av != ord(char):
            return True
        if op is sre_constants.ANY and (char != "\n" or dotall):
            return True
        if op is sre_constants.IN and _in_matches(av, char):
            return True
        for child in _children(op, av):
            if can_match_char(child, char, dotall=dotall):
                return True
    return False


def _children(op, av) -> list:
    c = sre_constants
    if op is c.SUBPATTERN:
        return [av[-1]]
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        return [av[2]]
    if op is c.BRANCH:
        return list(av[1])
    if op in (c.ASSERT, c.ASSERT_NOT):
        return []
    if op is getattr(c, "ATOMIC_GROUP", None):
        return [av]
    if op is c.GROUPREF_EXISTS:
        return [b for b in av[1:] if b is not None]
    return []


def capture_groups(tree) -> dict[int, object]:
    """Group number -> its parsed body, for every capturing group of the pattern."""
    found: dict[int, object] = {}

    def visit(node):
        for op, av in node:
            if op is sre_constants.SUBPATTERN and av[0] is not None:
                found[av[0]] = av[-1]
            for child in _children(op, av):
                visit(child)
    if tree is not None:
        visit(tree)
    return found


def is_anchored_start(tree) -> bool:
    return bool(tree) and tree[0][0] is sre_constants.AT and tree[0][1] in (
        sre_constants.AT_BEGINNING, sre_constants.AT_BEGINNING_STRING)


def is_anchored_end(tree) -> bool:
    return bool(tree) and tree[-1][0] is sre_constants.AT and tree[-1][1] in (
        sre_constants.AT_END, sre_constants.AT_END_STRING)


# ---------------------------------------------------------------------------------------------
# Blocks


def http_servers(ctx) -> list:
    """``server`` blocks of the http module (stream and mail servers are other worlds)."""
    return ctx.cached("security:http_servers", lambda: [s for s in ctx.all("server")
                                                          if s.is_block and not _under(s, ("stream", "mail", "upstream"))])


_NOT_HTTP = frozenset(("stream", "mail", *TABLE_BLOCKS))


def in_http(directive) -> bool:
    """Whether a directive belongs to the http module: not inside stream, mail or a table block."""
    return not _under(directive, _NOT_HTTP)


def _under(directive, names) -> bool:
    return directive.inside_any(frozenset(names))


def flag(ctx, name: str, at) -> str:
    """The effective on/off value of a flag directive at ``at`` (lower-cased), default included."""
    args = ctx.nginx.effective_args(name, at)
    return (args[0] if args else "").lower()


def is_tls_server(ctx, server) -> bool:
    return any(listen.ssl or listen.quic for listen in ctx.nginx.listens(server)) or flag(ctx, "ssl", server) == "on"


def rejects_tls_handshake(ctx, server) -> bool:
    """``ssl_reject_handshake on``: the server answers no TLS client (a catch-all for unknown names)."""
    return flag(ctx, "ssl_reject_handshake", server) == "on"


def describe(directive) -> str:
    return f"{directive.file}:{directive.line}"
