"""The variable model: for any variable at any place in the tree, where its value can come from
and what it can contain.

A value written in a config (``http://$1/$2``, ``"http://backend$request_uri"``) is expanded into
its *alternatives*: each a sequence of segments, a literal string or a :class:`Source` (a leaf
nginx fills in at run time: request data, a regex capture, one of nginx's own variables, or a
value code computes). Variables defined in the config are followed to their definitions:
``set`` chains (concatenation included), ``map`` outputs (each entry, with the captures of its
regex), named captures of the regexes in scope (``(?P<n>..)``, ``(?<n>..)``, ``(?'n'..)``), so
position questions can be answered: in ``set $u "http://backend$request_uri"`` the host is the
constant ``backend``, because ``$request_uri`` always starts with ``/``.

nginx compiles regexes with PCRE; Python's ``re`` parser reads the same syntax for what nginx
configs use (groups, classes, quantifiers, anchors, PCRE's named groups after a small rewrite).
A regex Python cannot read is never guessed at: its captures carry nothing dangerous.

One :class:`Variables` per config (:func:`variables_of`) keeps what it derives, so that every
rule asking costs a lookup, and a lint stays linear in the size of the config.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Iterable, NamedTuple, Union

from confgen.nginx.model import Directive, NginxConfig, location_match

try:  # Python 3.11+
    import re._constants as sre_constants
    import re._parser as sre_parse
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

# $name, ${name} and $1..$9 (nginx reads one digit: "$10" is $1 then "0").
VARIABLE_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|([1-9]))")

# Request data, as nginx gives it: name -> (can hold CR/LF, always starts with "/").
# $uri, $document_uri, $request_filename and $fastcgi_path_info are *decoded* (%0d%0a becomes a
# line break); $request_uri, $args and headers are raw (nginx refuses CR/LF in them); the body is
# anything. $request_uri starts with "/" even for an absolute-URI request line (nginx keeps the
# path only). Header, argument and cookie variables are the prefixes below.
REQUEST_VARIABLES: dict[str, tuple[bool, bool]] = {
    "uri": (True, True), "document_uri": (True, True), "request_filename": (True, True),
    "fastcgi_path_info": (True, False), "request_uri": (False, True), "args": (False, False),
    "query_string": (False, False), "request": (False, False), "request_body": (True, False),
    "host": (False, False), "remote_user": (False, False), "content_type": (False, False),
}
REQUEST_PREFIXES = ("arg_", "http_", "cookie_")
# The variables that hold the URI nginx matched locations against.
_URI_VARIABLES = frozenset({"uri", "document_uri"})
# The request data that always starts with "/" and that regexes are matched against.
_SLASHED_SUBJECTS = frozenset({name for name, (_, slash) in REQUEST_VARIABLES.items() if slash})


# A rewrite regex every URI matches, and the request data a replacement may hold without a decoded
# CR/LF (raw, percent-encoded, or refused by nginx when they hold one).
_MATCHES_ALL = {"^", "^.*", "^.*$", "^(.*)", "^(.*)$", ".*", "(.*)", "^/?(.*)$"}
_RAW_REQUEST_DATA = {"request_uri", "args", "query_string", "is_args", "host", "scheme", "server_name"}
# The directives nginx runs in order with rewrite (its rewrite phase); the rest run after it.
_REWRITE_PHASE = {"rewrite", "return", "set", "if", "break"}


def raw_uri_rewrite(at: Directive) -> Directive | None:
    """The first ``rewrite`` that runs for requests reaching ``at`` (one written in its server,
    which runs before a location is chosen, then those of its location) when it replaces every
    URI with raw request data (``rewrite ^ $request_uri;``, hypothesis/via's and perma's way to
    proxy the URI undecoded) and no later rewrite brings a decoded or defined value back: from it
    on ``$uri``, and what a location regex captures of it, holds no decoded CR/LF (checked on
    nginx 1.22.1). None otherwise, or when ``at`` runs before it."""
    server = at if at.name == "server" else at.enclosing("server")
    location = at if at.name == "location" else at.enclosing("location")
    if server is None and location is None:
        return None
    in_server = [d for d in (server.block or ()) if d.name == "rewrite" and len(d.args) >= 2] if server else []
    in_location = [d for d in location.walk() if d.name == "rewrite" and len(d.args) >= 2] if location else []
    rewrites = in_server + in_location
    # Rewrites before it that redirect end the request there; any other one may stop the rest
    # of its level (break, last) or change the URI first: then it is not known to run.
    while rewrites and rewrite_redirects(rewrites[0]):
        rewrites = rewrites[1:]
    if not rewrites or rewrites[0].args[0] not in _MATCHES_ALL:
        return None
    first = rewrites[0]
    first_names = {ref.name for ref in references(first.args[1])}
    if not first_names or not first_names <= _RAW_REQUEST_DATA:
        return None
    # Later rewrites may build on the raw $uri, captures of it and other values; not on request
    # data nginx decodes (or the body).
    decoded = {name for name, (line_breaks, _) in REQUEST_VARIABLES.items() if line_breaks} - _URI_VARIABLES
    if any(ref.name in decoded for rewrite in rewrites[1:] for ref in references(rewrite.args[1])):
        return None
    if at.name in _REWRITE_PHASE:
        # What is written before the first rewrite in its block runs before it; a server's
        # rewrites all run before those of the location then chosen, wherever it is written.
        if any(d is first for d in in_location):
            if at.enclosing("location") is not location:
                return None     # a server-level directive: it runs before the location's rewrite
            order = {id(d): i for i, d in enumerate(location.walk())}
        elif at.parent is server:
            order = {id(d): i for i, d in enumerate(server.block or ())}
        else:
            order = {}
        if order and order.get(id(at), -1) <= order[id(first)]:
            return None
    return first


def rewrite_redirects(rewrite: Directive) -> bool:
    """Whether a rewrite answers with a redirect when it matches (the request ends there)."""
    flag = rewrite.args[2] if len(rewrite.args) > 2 else ""
    return flag in ("redirect", "permanent") or rewrite.args[1].startswith(("http://", "https://", "$scheme"))


def exact_uri(at: Directive) -> str | None:
    """What ``$uri`` holds at ``at`` when that is one constant: inside ``location = /x``, which
    nginx selects only when the (decoded, normalised) URI is exactly /x, with no ``rewrite`` in
    it to change the URI after the match (an internal redirect into it arrives with /x too)."""
    location = at if at.name == "location" else at.enclosing("location")
    match = location_match(location) if location is not None else None
    if match is None or match.modifier != "=" or any(d.name == "rewrite" for d in location.walk()):
        return None
    return match.path
# Directives whose block defines its output variable from a table.
_TABLES = ("map", "geo", "split_clients")
# Directives whose first argument is a variable code computes.
_CODE_SETTERS = ("perl_set", "js_set", "set_by_lua", "set_by_lua_block", "set_by_lua_file")
_MAP_PARAMETERS = {"default", "hostnames", "volatile", "include"}
# What the model indexes: definitions, and the directives that write regexes.
_INDEXED = frozenset({"set", "location", "if", "rewrite", "server_name", *_TABLES, *_CODE_SETTERS})
# Expansion limits: beyond them the value is summarised, never enumerated.
MAX_ALTERNATIVES = 64
MAX_DEPTH = 12


# ---------------------------------------------------------------------------------------------
# References in a string


class Reference(NamedTuple):
    name: str          # "arg_next", "uri", or "1" for a numbered capture
    start: int         # offset in the text
    end: int

    @property
    def is_capture(self) -> bool:
        return self.name.isdigit()


def references(text: str) -> list[Reference]:
    """The variables ``text`` interpolates, in order (names lower-cased, as nginx reads them)."""
    return [Reference((m.group(1) or m.group(2) or m.group(3)).lower(), m.start(), m.end())
            for m in VARIABLE_RE.finditer(text)]


# ---------------------------------------------------------------------------------------------
# Regexes


_PCRE_NAMED = re.compile(r"\(\?(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')")


def _python_pattern(pattern: str) -> str:
    """PCRE's ``(?<n>..)`` and ``(?'n'..)`` spelled as Python's ``(?P<n>..)``."""
    return _PCRE_NAMED.sub(lambda m: f"(?P<{m.group(1) or m.group(2)}>", pattern)


@lru_cache(maxsize=4096)
def parse_regex(pattern: str):
    """Python's parse tree of a PCRE pattern, or None when Python cannot read it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sre_parse.parse(_python_pattern(pattern))
    except (re.error, RecursionError, OverflowError, ValueError):
        return None


@lru_cache(maxsize=4096)
def compile_regex(pattern: str, case_insensitive: bool = False):
    """The pattern compiled by Python (PCRE's named-group spellings rewritten), or None."""
    if parse_regex(pattern) is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(_python_pattern(pattern), re.IGNORECASE if case_insensitive else 0)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None


class NginxRegex(NamedTuple):
    """One regex written in a config: where, the pattern, and what it is matched against."""

    directive: Directive
    pattern: str
    case_insensitive: bool
    subject: str           # the text matched: "$uri", "$host", "$http_origin", a map's source

    @property
    def tree(self):
        return parse_regex(self.pattern)

    @property
    def groups(self) -> int | None:
        """How many numbered captures nginx gives ($1...): PCRE numbers named groups too."""
        tree = self.tree
        return None if tree is None else tree.state.groups - 1

    @property
    def named_groups(self) -> dict[str, int]:
        """Named group -> its number."""
        tree = self.tree
        return {} if tree is None else dict(tree.state.groupdict)

    @property
    def subject_name(self) -> str:
        """The subject as one variable name ("uri", "http_origin"), or "" when it is a mix."""
        refs = references(self.subject)
        return refs[0].name if len(refs) == 1 and refs[0].start == 0 and refs[0].end == len(self.subject) else ""


def regexes_of(directive: Directive) -> list[NginxRegex]:
    """The regexes ``directive`` itself writes: a regex location, an ``if`` match, a rewrite, regex
    ``server_name`` entries, a ``map`` entry."""
    args, name = directive.args, directive.name
    if name == "location":
        match = location_match(directive)
        return [NginxRegex(directive, match.path, match.modifier == "~*", "$uri")] \
            if match is not None and match.modifier in ("~", "~*") else []
    if name == "if" and len(args) >= 3 and args[1] in ("~", "~*", "!~", "!~*"):
        return [NginxRegex(directive, args[2], "*" in args[1], args[0])]
    if name == "rewrite" and args:
        return [NginxRegex(directive, args[0], False, "$uri")]
    if name == "server_name":
        return [NginxRegex(directive, a[1:], True, "$host") for a in args if a.startswith("~") and len(a) > 1]
    parent = directive.parent
    if parent is not None and parent.name == "map" and name.startswith("~") and len(parent.args) >= 2:
        insensitive = name.startswith("~*")
        return [NginxRegex(directive, name[2:] if insensitive else name[1:], insensitive, parent.args[0])]
    return []


def is_negative_match(regex: NginxRegex) -> bool:
    """``if ($x !~ ...)``: the block runs when the regex does *not* match."""
    return regex.directive.name == "if" and regex.directive.args[1].startswith("!")


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
    """Whether any single-character position of the (sub)pattern accepts ``char``. PCRE's ``.``
    (as nginx compiles it) takes every character but LF: CR included."""
    for op, av in tree:
        if op is sre_constants.LITERAL and av == ord(char):
            return True
        if op is sre_constants.NOT_LITERAL and av != ord(char):
            return True
        if op is sre_constants.ANY and (char != "\n" or dotall):
            return True
        if op is sre_constants.IN and _in_matches(av, char):
            return True
        for child in subpatterns(op, av):
            if can_match_char(child, char, dotall=dotall):
                return True
    return False


def subpatterns(op, av) -> list:
    """The parsed bodies nested in one item of a pattern (lookarounds left out)."""
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
            for child in subpatterns(op, av):
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


def has_end_anchor(tree) -> bool:
    """Whether a ``$`` appears anywhere in the pattern (``\\.(php|phtml)$``, ``(\\.php$|/x$)``)."""
    for op, av in tree:
        if op is sre_constants.AT and av in (sre_constants.AT_END, sre_constants.AT_END_STRING):
            return True
        if any(has_end_anchor(child) for child in subpatterns(op, av)):
            return True
    return False


def _open_ended(tree) -> bool:
    """Whether the pattern repeats a letter without bound (``[a-z0-9-]+`` spells ``localhost``
    or ``redis``; ``(eu|us)`` only two fixed words)."""
    for op, av in tree:
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and av[1] == sre_constants.MAXREPEAT \
                and any(can_match_char(av[2], letter) for letter in "aelost"):
            return True
        if any(_open_ended(child) for child in subpatterns(op, av)):
            return True
    return False


def _starts_with_slash(tree) -> bool:
    items = list(tree)
    while items and items[0][0] is sre_constants.SUBPATTERN:
        items = list(items[0][1][-1])
    return bool(items) and items[0][0] is sre_constants.LITERAL and items[0][1] == ord("/")


def _ends_with_scheme_separator(tree) -> bool:
    """Whether what the pattern matches always ends with "://" (``https?://``)."""
    items = list(tree)[-3:]
    return len(items) == 3 and all(op is sre_constants.LITERAL and value == ord(char)
                                   for (op, value), char in zip(items, "://"))


_AT_START = (sre_constants.AT_BEGINNING, sre_constants.AT_BEGINNING_STRING)
_AT_END = (sre_constants.AT_END, sre_constants.AT_END_STRING)


def _captures_from_the_start(tree, number: int) -> bool:
    """Whether group ``number`` always holds a non-empty start of the subject: the group opens
    the pattern (after ``^``, or as a leading ``.*`` / ``.+`` that the leftmost match starts at
    0) and cannot be empty (``.+``, or ``.*`` that runs to the end: ``^(.*)$``)."""
    items = list(tree)
    anchored = bool(items) and items[0][0] is sre_constants.AT and items[0][1] in _AT_START
    if anchored:
        items = items[1:]
    if not items or items[0][0] is not sre_constants.SUBPATTERN or items[0][1][0] != number:
        return False
    body = items[0][1][-1]
    first = list(body)[:1]
    leading_any = bool(first) and first[0][0] in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) \
        and [op for op, _ in first[0][1][2]] == [sre_constants.ANY]
    if not (anchored or leading_any):
        return False
    if body.getwidth()[0] >= 1:
        return True
    rest = items[1:]
    greedy = len(body) == 1 and first[0][0] is sre_constants.MAX_REPEAT
    return greedy and all(op is sre_constants.AT and av in _AT_END for op, av in rest)


# ---------------------------------------------------------------------------------------------
# Values


class Source(NamedTuple):
    """One leaf of a value: a part nginx fills in at run time."""

    kind: str             # "request" | "capture" | "nginx" (its own variables) | "code" | "unknown"
    name: str             # "$arg_next", "$1", "$proxy" (a named capture)
    controlled: bool      # the client chooses (part of) its content
    line_breaks: bool     # it can hold CR or LF
    any_host: bool        # it can spell host names freely (".", ":" or letters without bound)
    leading_slash: bool   # it always starts with "/"
    origin: str = ""      # where it comes from: "$uri", "the regex '^/p/(.*)$' at f:3"
    directive: Directive | None = None   # the regex or definition behind it
    # It can hold LF, the line end every HTTP/1 parser honours; a bare CR ends no line for a
    # server reading nginx's upstream request (RFC 9112 section 2.2: a bare CR is invalid, to be
    # rejected or read as a space), so only this counts in the request nginx sends upstream.
    line_feed: bool = False
    # It always ends with "://": the scheme of a URL (`(https?://)` captured from the URI).
    scheme_prefix: bool = False

    def describe(self) -> str:
        return f"{self.name} ({self.origin})" if self.origin else self.name


Segment = Union[str, Source]
Alternative = tuple[Segment, ...]


def leaves(alternatives: Iterable[Alternative]) -> list[Source]:
    """Every source of a value, each once, in order."""
    seen: dict[Source, None] = {}
    for alternative in alternatives:
        for segment in alternative:
            if isinstance(segment, Source):
                seen.setdefault(segment)
    return list(seen)


def host_segments(alternative: Alternative) -> Alternative:
    """The part of one alternative of a URL (or an ``address[:port]``) that names the server:
    after ``scheme://`` up to the first ``/`` or ``?``, or a source that always starts with ``/``
    (``http://backend$request_uri``: the host is ``backend``). Without ``://`` the value starts
    with the host (``$target`` may hold a whole URL)."""
    segments = list(alternative)
    start_index, start_offset = 0, 0
    for index, segment in enumerate(segments):
        if isinstance(segment, str) and "://" in segment:
            start_index, start_offset = index, segment.index("://") + 3
            break
    host: list[Segment] = []
    for index in range(start_index, len(segments)):
        segment = segments[index]
        if not host and start_offset == 0 and isinstance(segment, Source) and segment.scheme_prefix:
            continue    # `$1$2$3` with $1 from `(https?://)`: the host starts after it
        if isinstance(segment, str):
            text = segment[start_offset:] if index == start_index else segment
            cut = min((i for i in (text.find("/"), text.find("?")) if i >= 0), default=-1)
            if cut >= 0:
                if text[:cut]:
                    host.append(text[:cut])
                break
            if text:
                host.append(text)
        else:
            if segment.leading_slash:
                break
            host.append(segment)
    return tuple(host)


def literal_text(alternative: Alternative) -> str | None:
    """The alternative's text when it has no sources, else None."""
    if any(isinstance(s, Source) for s in alternative):
        return None
    return "".join(alternative)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The model


class Variables:
    """Where the variables of one config come from. Every answer is kept, so asking about the
    same definition from many places costs one computation."""

    def __init__(self, config: NginxConfig):
        self.config = config
        self._sets: dict[str, list[Directive]] = {}
        self._tables: dict[str, list[Directive]] = {}
        self._code: dict[str, Directive] = {}
        self._named: dict[str, list[NginxRegex]] = {}
        self._regex_of: dict[int, list[NginxRegex]] = {}
        self._regexes: list[NginxRegex] = []
        # (variable, id of the block whose rewrite phase runs the set) -> the sets
        self._sets_by_holder: dict[tuple[str, int], list[Directive]] = {}
        self._positions: dict[int, dict[int, int]] = {}
        stack = list(reversed(config.root.block or ()))
        while stack:
            directive = stack.pop()
            name = directive.name
            if directive.block and name not in _TABLES:    # a table's entries are read with it
                stack.extend(reversed(directive.block))
            if name not in _INDEXED:
                continue    # most directives
            if name == "set" and directive.args:
                variable = _variable_name(directive.args[0])
                self._sets.setdefault(variable, []).append(directive)
                holder = directive.parent
                if holder is not None and holder.name == "if":
                    holder = holder.parent
                if holder is not None:
                    self._sets_by_holder.setdefault((variable, id(holder)), []).append(directive)
            elif name in _TABLES and directive.args:
                self._tables.setdefault(_variable_name(directive.args[-1]), []).append(directive)
                if name == "map":
                    for entry in directive.block or ():
                        if entry.name.startswith("~"):
                            self._index_regexes(entry)
            elif name in _CODE_SETTERS and directive.args:
                self._code.setdefault(_variable_name(directive.args[0]), directive)
            else:
                self._index_regexes(directive)
        self._definition_memo: dict[tuple[str, int], list[Alternative]] = {}
        self._scope_memo: dict[int, NginxRegex | None] = {}
        self._subject_memo: dict[int, list[Source]] = {}
        self._expansion_memo: dict[tuple[str, int], list[Alternative]] = {}
        self._texts: dict[str, tuple[list[Reference], bool]] = {}
        self._in_progress: set[tuple[str, int]] = set()

    def _index_regexes(self, directive: Directive) -> None:
        found = regexes_of(directive)
        if found:
            self._regex_of[id(directive)] = found
            self._regexes.extend(found)
            for regex in found:
                for name in regex.named_groups:
                    self._named.setdefault(name.lower(), []).append(regex)

    # -- regexes -------------------------------------------------------------------------------

    @property
    def regexes(self) -> list[NginxRegex]:
        """Every regex of the config, in document order."""
        return self._regexes

    def regexes_at(self, directive: Directive) -> list[NginxRegex]:
        return self._regex_of.get(id(directive), [])

    def tables(self, name: str) -> list[Directive]:
        """The ``map``/``geo``/``split_clients`` blocks whose output is ``$name``."""
        return self._tables.get(name.lower(), [])

    def regex_in_scope(self, directive: Directive) -> NginxRegex | None:
        """The regex whose numbered captures ``$1``... mean inside ``directive``: its own (a
        rewrite, a map entry), the enclosing ``if``, a rewrite of the same block that runs before
        it, the enclosing regex location, else a regex ``server_name``. None when none is."""
        key = id(directive)
        if key in self._scope_memo:
            return self._scope_memo[key]
        found = self._regex_in_scope(directive)
        self._scope_memo[key] = found
        return found

    def _regex_in_scope(self, directive: Directive) -> NginxRegex | None:
        own = self.regexes_at(directive)
        if own and (directive.name == "rewrite" or (directive.parent is not None and directive.parent.name == "map")):
            return own[0]
        level, child = directive.parent, directive
        while level is not None:
            for rewrite in reversed(self._rewrites_before(level, child, directive)):
                if self.regexes_at(rewrite):
                    return self.regexes_at(rewrite)[0]
            if level.name in ("if", "location") and self.regexes_at(level):
                return self.regexes_at(level)[0]
            if level.name == "server":
                names = [r for d in level.find("server_name") for r in self.regexes_at(d)]
                return names[0] if names else None
            child, level = level, level.parent
        return None

    def _named_in_scope(self, name: str, directive: Directive) -> list[NginxRegex]:
        """The regexes in scope at ``directive`` that define the named capture ``name``: named
        captures keep their value after later matches, so every enclosing regex counts."""
        candidates = self._named.get(name)
        if not candidates:
            return []
        ids = {id(r.directive) for r in candidates}
        found = []
        if id(directive) in ids:
            found.extend(r for r in candidates if r.directive is directive)
        level, child = directive.parent, directive
        while level is not None:
            for rewrite in self._rewrites_before(level, child, directive):
                if id(rewrite) in ids:
                    found.extend(r for r in candidates if r.directive is rewrite)
            if id(level) in ids:
                found.extend(r for r in candidates if r.directive is level)
            if level.name == "server":
                for server_name in level.find("server_name"):
                    if id(server_name) in ids:
                        found.extend(r for r in candidates if r.directive is server_name)
            child, level = level, level.parent
        return found

    def _rewrites_before(self, level: Directive, child: Directive, directive: Directive) -> list[Directive]:
        """The ``rewrite`` directives of ``level`` that have run when ``directive`` (inside
        ``child``) runs: the rewrite module runs in order, so only the earlier ones; content
        handlers run after every rewrite of the block."""
        rewrites = level.find("rewrite")
        if directive.name not in _REWRITE_MODULE or not rewrites:
            return rewrites
        # Positions are kept only for blocks with rewrites that someone asked about.
        positions = self._positions.get(id(level))
        if positions is None:
            positions = {id(d): i for i, d in enumerate(level.block or ())}
            self._positions[id(level)] = positions
        limit = positions.get(id(child), len(positions))
        return [r for r in rewrites if positions.get(id(r), 0) < limit]

    def sets_in_scope(self, name: str, at: Directive) -> list[Directive]:
        """The ``set $name`` directives that run for a request reaching ``at`` (in document
        order within each block, innermost block first)."""
        return list(self._sets_in_scope(name.lower(), at))

    def _sets_in_scope(self, name: str, at: Directive) -> list[Directive]:
        """The ``set $name`` directives that run for a request reaching ``at``: written in a block
        that encloses ``at``, or in an ``if`` directly inside one."""
        found: list[Directive] = []
        level: Directive | None = at if at.is_block else at.parent
        while level is not None:
            found.extend(self._sets_by_holder.get((name, id(level)), ()))
            level = level.parent
        return found

    # -- values --------------------------------------------------------------------------------

    def expand(self, text: str, at: Directive) -> list[Alternative]:
        """The alternatives ``text``, written in directive ``at``, can be at run time."""
        return self._expand(text, at, 0)

    def sources(self, text: str, at: Directive) -> list[Source]:
        """Every source ``text`` written in ``at`` takes part of its value from."""
        return leaves(self.expand(text, at))

    def host_alternatives(self, text: str, at: Directive) -> list[Alternative]:
        """For each alternative of a URL or address, the segments that name the server."""
        return list(dict.fromkeys(host_segments(alternative) for alternative in self.expand(text, at)))

    def _expand(self, text: str, at: Directive, depth: int) -> list[Alternative]:
        if "$" not in text:
            return [(text,)] if text else [()]
        parsed = self._texts.get(text)
        if parsed is None:
            refs = references(text)
            # A value made only of variables the config never defines means the same everywhere.
            parsed = self._texts[text] = (refs, all(self._undefined(r.name) and r.name not in _URI_VARIABLES
                                                    for r in refs))
        refs, everywhere_the_same = parsed
        key = (text, 0 if everywhere_the_same else id(at))
        cached = self._expansion_memo.get(key)
        if cached is not None:
            return cached
        result: list[Alternative] = [()]
        position = 0
        for ref in refs:
            literal = text[position:ref.start]
            position = ref.end
            if literal:
                result = [_join(alternative, (literal,)) for alternative in result]
            result = _product(result, self._reference(ref.name, at, depth))
        if text[position:]:
            result = [_join(alternative, (text[position:],)) for alternative in result]
        self._expansion_memo[key] = result
        return result

    def _reference(self, name: str, at: Directive, depth: int) -> list[Alternative]:
        if name.isdigit():
            regex = self.regex_in_scope(at)
            if regex is None:
                return [()]      # nginx substitutes "" for a capture no regex made
            return [(self._capture(regex, int(name), f"${name}"),)]
        return self._variable(name, at, depth)

    def _undefined(self, name: str) -> bool:
        """Whether nothing in the config defines ``$name`` (nginx's own, or request data)."""
        return not (name.isdigit() or name in self._sets or name in self._tables or name in self._code
                    or name in self._named)

    def _variable(self, name: str, at: Directive, depth: int) -> list[Alternative]:
        if self._undefined(name):
            if name in _URI_VARIABLES:
                exact = exact_uri(at)
                if exact is not None:
                    return [(exact,)]
                rebuilt = raw_uri_rewrite(at)
                if rebuilt is not None:
                    return [(Source("request", f"${name}", True, False, True, True,
                                    f"the raw request URI, set by the rewrite at {rebuilt.file}:{rebuilt.line}",
                                    rebuilt),)]
            return [(builtin(name),)]
        key = (name, id(at))
        cached = self._definition_memo.get(key)
        if cached is not None:
            return cached
        if key in self._in_progress or depth > MAX_DEPTH:
            return [(Source("unknown", f"${name}", False, False, False, False, "defined in terms of itself"),)]
        self._in_progress.add(key)
        try:
            result = self._resolve(name, at, depth + 1)
        finally:
            self._in_progress.discard(key)
        self._definition_memo[key] = result
        return result

    def _resolve(self, name: str, at: Directive, depth: int) -> list[Alternative]:
        sets_in_scope = self._sets_in_scope(name, at)
        named_in_scope = self._named_in_scope(name, at)
        alternatives: list[Alternative] = []
        if sets_in_scope or named_in_scope:
            for directive in sets_in_scope:
                alternatives.extend(self._expand(directive.args[1] if len(directive.args) > 1 else "", directive, depth))
            for regex in named_in_scope:
                alternatives.append((self._capture(regex, regex.named_groups.get(name) or
                                                   _named_number(regex, name), f"${name}"),))
            return _cap(alternatives)
        if name in self._code:
            directive = self._code[name]
            return [(Source("code", f"${name}", False, False, False, False,
                            f"computed by {directive.name} at {directive.file}:{directive.line}", directive),)]
        for table in self._tables.get(name, ()):
            alternatives.extend(self._table(table, depth))
        # A set or named capture elsewhere (another location, reached by an internal redirect).
        for directive in self._sets.get(name, ()):
            alternatives.extend(self._expand(directive.args[1] if len(directive.args) > 1 else "", directive, depth))
        for regex in self._named.get(name, ()):
            alternatives.append((self._capture(regex, _named_number(regex, name), f"${name}"),))
        if alternatives:
            return _cap(alternatives)
        return [(builtin(name),)]

    def _table(self, block: Directive, depth: int) -> list[Alternative]:
        """The alternatives of a map / geo / split_clients output: each entry's value (a map
        entry's value may use its regex's captures and other variables)."""
        alternatives: list[Alternative] = []
        has_default = False
        for entry in block.block or ():
            if entry.name in _MAP_PARAMETERS - {"default"} or entry.name == "ranges":
                continue
            has_default = has_default or entry.name == "default"
            if block.name == "map":
                value = entry.args[0] if entry.args else ""
                alternatives.extend(self._expand(value, entry, depth))
            else:
                value = entry.args[-1] if entry.args else entry.name
                alternatives.append((value,))
        if not has_default:
            alternatives.append(())   # an unmatched value becomes ""
        return alternatives

    def subject_sources(self, regex: NginxRegex) -> list[Source]:
        """What a regex is matched against, as sources."""
        key = id(regex.directive)
        cached = self._subject_memo.get(key)
        if cached is None:
            at = regex.directive.parent if regex.directive.parent is not None else regex.directive
            if regex.directive.name == "if":
                at = regex.directive
            cached = self.sources(regex.subject, at)
            self._subject_memo[key] = cached
        return cached

    def _capture(self, regex: NginxRegex, number: int | None, shown: str) -> Source:
        where = f"{regex.directive.file}:{regex.directive.line}"
        origin = f"captured by {regex.pattern!r} from {regex.subject} at {where}"
        tree = regex.tree
        group = capture_groups(tree).get(number) if (tree is not None and number is not None) else None
        if group is None:
            return Source("capture", shown, False, False, False, False, origin, regex.directive)
        subject = self.subject_sources(regex)
        controlled = any(s.controlled for s in subject)
        line_feed = any(s.line_feed for s in subject) and can_match_char(group, "\n")
        line_breaks = line_feed or any(s.line_breaks for s in subject) and can_match_char(group, "\r")
        any_host = controlled and (can_match_char(group, ".") or can_match_char(group, ":") or _open_ended(group))
        # A capture that starts where the subject does starts with its "/" ($1 of `^(.*)$` on $uri).
        leading_slash = _starts_with_slash(group) or (
            regex.subject_name in _SLASHED_SUBJECTS and _captures_from_the_start(tree, number))
        return Source("capture", shown, controlled, line_breaks, any_host, leading_slash, origin,
                      regex.directive, line_feed, _ends_with_scheme_separator(group))


@lru_cache(maxsize=1024)
def builtin(name: str) -> Source:
    """A variable the config does not define: request data, or one of nginx's own."""
    if name in REQUEST_VARIABLES:
        line_breaks, slash = REQUEST_VARIABLES[name]
        return Source("request", f"${name}", True, line_breaks, True, slash, "request data", line_feed=line_breaks)
    if name.startswith(REQUEST_PREFIXES):
        return Source("request", f"${name}", True, False, True, False, "request data")
    return Source("nginx", f"${name}", False, False, False, False)


def variables_of(config: NginxConfig) -> Variables:
    """The model of ``config``'s variables, built once per config."""
    model = getattr(config, "_variables", None)
    if model is None or model.config is not config:
        model = Variables(config)
        config._variables = model   # type: ignore[attr-defined]
    return model


def _variable_name(text: str) -> str:
    return text.lstrip("$").strip("{}").lower()


def _named_number(regex: NginxRegex, name: str) -> int | None:
    for group, number in regex.named_groups.items():
        if group.lower() == name:
            return number
    return None


_REWRITE_MODULE = {"rewrite", "set", "if", "return", "break"}


def _join(left: Alternative, right: Alternative) -> Alternative:
    if left and right and isinstance(left[-1], str) and isinstance(right[0], str):
        return left[:-1] + (left[-1] + right[0],) + right[1:]
    return left + right


def _product(left: list[Alternative], right: list[Alternative]) -> list[Alternative]:
    return _cap([_join(a, b) for a in left for b in right])


def _cap(alternatives: list[Alternative]) -> list[Alternative]:
    """Distinct alternatives, at most MAX_ALTERNATIVES: beyond that, the sources of the rest are
    kept as one more alternative so no source is lost."""
    unique = list(dict.fromkeys(alternatives))
    if len(unique) <= MAX_ALTERNATIVES:
        return unique
    kept = unique[:MAX_ALTERNATIVES - 1]
    return kept + [tuple(leaves(unique[MAX_ALTERNATIVES - 1:]))]
