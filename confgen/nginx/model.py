"""The nginx model: a tree of directives with file and line, nginx's inheritance, and nginx's
defaults for the target version. Rules ask this module, never crossplane, what is in force."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

Version = tuple[int, int, int]

# nginx's defaults: directive -> [(since version, args)], oldest first; the last entry not newer
# than the target version applies. Unversioned entries are from the module docs on nginx.org
# ("Default:" lines). Version switches, from nginx's CHANGES:
#   1.15.3  upstream keepalive_timeout (60s) and keepalive_requests (100) added.
#   1.19.10 "the default value of the keepalive_requests directive was changed to 1000";
#           "the keepalive_time directive" (1h), for clients and, in upstream blocks, for upstreams.
#   1.23.4  "now TLSv1.3 protocol is enabled by default" (ssl_protocols).
#   1.25.1  the "http2" directive (off); "listen ... http2" deprecated.
#   1.27.3  SSLv3, TLSv1 and TLSv1.1 no longer enabled by default.
#   1.29.7  upstream blocks keep 32 idle connections per worker ("keepalive 32 local"),
#           proxy_http_version defaults to 1.1, and "Connection: close" is no longer sent
#           (CHANGES-1.30: "keepalive enabled by default in upstream definitions, and
#           proxy_http_version now defaults to 1.1").
# Every unversioned entry was checked against the "Default:" line of its module's page on nginx.org
# (ngx_http_core_module, ngx_http_proxy_module, ngx_http_gzip_module - nginx.org/r/gzip -,
# ngx_http_upstream_module, ngx_core_module, ngx_http_ssl_module, ngx_http_v2_module); the
# 1.29.7 switch against nginx.org/en/CHANGES-1.30, the 1.19.10 one against CHANGES-1.19.
# Sizes of "one memory page" (proxy_buffer_size, proxy_buffers) and "two pages"
# (client_body_buffer_size, proxy_busy_buffers_size) are given for x86-64 Linux (4k pages);
# nginx on other 64-bit platforms doubles them.
ALWAYS: Version = (0, 0, 0)
# Directives whose values nginx adds up when one block writes them twice (a bitmask: the second
# line does not replace the first). Each checked with nginx 1.22.1: written twice with the same
# value, `nginx -t` warns 'duplicate value'; `ssl_protocols TLSv1.3; ssl_protocols TLSv1.2;`
# accepts both. `off` / `none` are bits too: nginx then ignores the rest for most of them.
BITMASK_DIRECTIVES = frozenset({
    "ssl_protocols", "gzip_proxied", "keepalive_disable", "dav_methods",
    *(f"{module}_{what}" for module in ("proxy", "uwsgi", "fastcgi", "scgi")
      for what in ("next_upstream", "ignore_headers", "cache_use_stale", "cache_methods")),
    "grpc_next_upstream", "memcached_next_upstream",
    "proxy_ssl_protocols", "uwsgi_ssl_protocols", "grpc_ssl_protocols",
})
INHERIT_CONTROL_SINCE: Version = (1, 29, 3)  # add_header_inherit, add_trailer_inherit
DEFAULTS: dict[str, list[tuple[Version, list[str]]]] = {
    "proxy_http_version": [(ALWAYS, ["1.0"]), ((1, 29, 7), ["1.1"])],
    "proxy_read_timeout": [(ALWAYS, ["60s"])],
    "proxy_send_timeout": [(ALWAYS, ["60s"])],
    "proxy_connect_timeout": [(ALWAYS, ["60s"])],
    "proxy_next_upstream": [(ALWAYS, ["error", "timeout"])],
    "proxy_buffering": [(ALWAYS, ["on"])],
    "proxy_request_buffering": [(ALWAYS, ["on"])],
    "proxy_buffer_size": [(ALWAYS, ["4k"])],
    "proxy_buffers": [(ALWAYS, ["8", "4k"])],
    "proxy_busy_buffers_size": [(ALWAYS, ["8k"])],
    "proxy_max_temp_file_size": [(ALWAYS, ["1024m"])],
    "proxy_ignore_client_abort": [(ALWAYS, ["off"])],
    "keepalive_timeout": [(ALWAYS, ["75s"])],
    "keepalive_requests": [(ALWAYS, ["100"]), ((1, 19, 10), ["1000"])],
    "keepalive_time": [((1, 19, 10), ["1h"])],
    "keepalive_disable": [(ALWAYS, ["msie6"])],
    "send_timeout": [(ALWAYS, ["60s"])],
    "client_header_timeout": [(ALWAYS, ["60s"])],
    "client_body_timeout": [(ALWAYS, ["60s"])],
    "lingering_timeout": [(ALWAYS, ["5s"])],
    "reset_timedout_connection": [(ALWAYS, ["off"])],
    "worker_connections": [(ALWAYS, ["512"])],
    "worker_processes": [(ALWAYS, ["1"])],
    "multi_accept": [(ALWAYS, ["off"])],
    "server_tokens": [(ALWAYS, ["on"])],
    "large_client_header_buffers": [(ALWAYS, ["4", "8k"])],
    "client_header_buffer_size": [(ALWAYS, ["1k"])],
    "client_max_body_size": [(ALWAYS, ["1m"])],
    "client_body_buffer_size": [(ALWAYS, ["8k"])],
    "sendfile": [(ALWAYS, ["off"])],
    "tcp_nopush": [(ALWAYS, ["off"])],
    "tcp_nodelay": [(ALWAYS, ["on"])],
    "gzip": [(ALWAYS, ["off"])],
    "gzip_comp_level": [(ALWAYS, ["1"])],
    "gzip_min_length": [(ALWAYS, ["20"])],
    "gzip_proxied": [(ALWAYS, ["off"])],
    "gzip_types": [(ALWAYS, ["text/html"])],
    "ssl_protocols": [(ALWAYS, ["TLSv1", "TLSv1.1", "TLSv1.2"]),
                      ((1, 23, 4), ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
                      ((1, 27, 3), ["TLSv1.2", "TLSv1.3"])],
    "http2": [((1, 25, 1), ["off"])],
    "add_header_inherit": [(INHERIT_CONTROL_SINCE, ["on"])],
    "add_trailer_inherit": [(INHERIT_CONTROL_SINCE, ["on"])],
    "autoindex": [(ALWAYS, ["off"])],
}

# Defaults of the directives of an `upstream` block. keepalive_timeout, keepalive_requests and
# keepalive_time there are the upstream module's own, unrelated to the client-side directives
# of the same name, and never inherited from http.
UPSTREAM_DEFAULTS: dict[str, list[tuple[Version, list[str]]]] = {
    "keepalive": [((1, 29, 7), ["32", "local"])],
    "keepalive_timeout": [((1, 15, 3), ["60s"])],
    "keepalive_requests": [((1, 15, 3), ["100"]), ((1, 19, 10), ["1000"])],
    "keepalive_time": [((1, 19, 10), ["1h"])],
}

# Headers nginx sends to a proxied server unless proxy_set_header says otherwise: Host always,
# "Connection: close" until 1.29.7.
DEFAULT_PROXY_HEADERS: dict[str, str] = {"host": "$proxy_host", "connection": "close"}
CONNECTION_CLOSE_UNTIL: Version = (1, 29, 7)

# Directives whose inheritance ``<name>_inherit on|off|merge`` redefines, from nginx 1.29.3
# (nginx.org/en/docs/http/ngx_http_headers_module.html#add_header_inherit): "merge" appends the
# outer level's values to this level's, "off" inherits none even when this level has none, "on"
# (the default) is the usual rule. The *_inherit directive itself inherits the usual way.
INHERIT_CONTROLLED = frozenset({"add_header", "add_trailer"})

# inside_any() keeps its answer on one block in this many along a chain of nested blocks.
_MEMO_EVERY = 16


def versioned(table: dict[str, list[tuple[Version, list[str]]]], name: str, version: Version) -> list[str] | None:
    """The args ``table`` gives ``name`` at ``version``, or None when it has no default there."""
    value = None
    for since, args in table.get(name, ()):
        if version >= since:
            value = args
    return list(value) if value is not None else None


class Block(list):
    """A block's children. It also keeps what rules look up in it, once the tree is complete:
    children by name (effective() asks an http block with thousands of servers for one name per
    location; a scan each time would make linting quadratic) and facts about its enclosing
    blocks (see ``Directive.inside_any``). Kept here rather than on every Directive, so that a
    leaf directive, most of a config, carries no slots for them."""

    __slots__ = ("by_name", "facts")
    # Below this many children a scan is as fast as an index, and costs no memory.
    INDEX_FROM = 16


@dataclass(eq=False, slots=True)
class Directive:
    name: str
    args: list[str]
    file: str
    line: int
    parent: "Directive | None" = None
    block: "Block | None" = None
    # Where the statement starts on its line (1-based column of its name), as the lexer found
    # it; 0 for blocks confgen adds around a snippet. With ``line`` it is the statement's offset
    # in its file; the rest of its span (arguments, ";", braces) is read from there by
    # confgen.nginx.positions when a fix needs it.
    column: int = 0

    @property
    def is_block(self) -> bool:
        return self.block is not None

    @property
    def context(self) -> str:
        """The name of the enclosing block ("main" at the top)."""
        return self.parent.name if self.parent is not None else "main"

    def ancestors(self) -> Iterator["Directive"]:
        """Enclosing blocks, innermost first, ending with the root."""
        level = self.parent
        while level is not None:
            yield level
            level = level.parent

    def enclosing(self, *names: str) -> "Directive | None":
        """The innermost enclosing block with one of ``names`` (e.g. the server of a location)."""
        return next((level for level in self.ancestors() if level.name in names), None)

    def inside_any(self, names: frozenset[str]) -> bool:
        """Whether some enclosing block is named one of ``names``. The answer is memoised on
        every 16th block of the chain walked, so asking it of every directive of a 100 000-deep
        config stays linear while a config of ordinary depth stores nothing."""
        chain = []
        level = self.parent
        answer = False
        while level is not None:
            facts = getattr(level.block, "facts", None)
            if facts is not None and names in facts:
                answer = facts[names]
                break
            chain.append(level)
            level = level.parent
        for depth, level in enumerate(reversed(chain)):
            answer = answer or level.name in names
            if depth % _MEMO_EVERY == _MEMO_EVERY - 1:
                block = level.own_block()
                if getattr(block, "facts", None) is None:
                    block.facts = {}
                block.facts[names] = answer
        return answer

    def find(self, name: str) -> list["Directive"]:
        """Direct children named ``name``."""
        children = self.block
        if not children:
            return []
        if len(children) < Block.INDEX_FROM:
            return [child for child in children if child.name == name]
        children = self.own_block()
        index = getattr(children, "by_name", None)
        if index is None:
            index = {}
            for child in children:
                index.setdefault(child.name, []).append(child)
            children.by_name = index
        return list(index.get(name, ()))

    def find_any(self, *names: str) -> list["Directive"]:
        """Direct children named any of ``names``, in document order (kept, for a big block,
        in the same index as find(), under the tuple of names)."""
        children = self.block
        if not children:
            return []
        if len(children) < Block.INDEX_FROM:
            return [child for child in children if child.name in names]
        children = self.own_block()
        if not any(self.find(name) for name in names):
            return []
        if names not in children.by_name:
            children.by_name[names] = [child for child in children if child.name in names]
        return list(children.by_name[names])

    def own_block(self) -> Block:
        """This block's children as a ``Block`` (one that can keep lookups)."""
        if not isinstance(self.block, Block):
            self.block = Block(self.block or ())
        return self.block

    def walk(self) -> Iterator["Directive"]:
        """This directive and every descendant, in document order."""
        stack = [self]
        while stack:
            directive = stack.pop()
            yield directive
            if directive.block:
                stack.extend(reversed(directive.block))

    def __repr__(self) -> str:
        return f"<{self.name} {' '.join(self.args)} @ {self.file}:{self.line}>"


class ParseProblem(NamedTuple):
    # "syntax-error" | "include-not-found" | "include-cycle" | "include-unreadable" (a directory,
    # FIFO, device, unreadable or oversized file) | "too-large" (file or directive caps reached)
    kind: str
    file: str
    line: int | None
    message: str


class Listen(NamedTuple):
    """One ``listen`` directive, read: where a server accepts connections and how."""

    directive: Directive
    address: str | None      # "127.0.0.1", "[::]", "unix:/run/x.sock"; None for every address
    port: int | None         # None for a unix socket
    ssl: bool
    http2: bool              # the pre-1.25.1 "listen ... http2" form
    quic: bool
    default_server: bool
    proxy_protocol: bool
    parameters: tuple[str, ...]  # every argument after the address

    @property
    def is_unix(self) -> bool:
        return bool(self.address and self.address.startswith("unix:"))


def parse_listen(directive: Directive) -> Listen:
    """nginx's reading of ``listen``: ``80``, ``*:80``, ``127.0.0.1``, ``[::]:443``,
    ``unix:/path``, ``localhost:8080``; a bare address listens on port 80."""
    spec = directive.args[0] if directive.args else "80"
    params = tuple(directive.args[1:])
    address: str | None
    port: int | None
    if spec.startswith("unix:"):
        address, port = spec, None
    elif spec.startswith("["):
        host, _, rest = spec.partition("]")
        address = host + "]"
        port = _port(rest[1:]) if rest.startswith(":") else 80
    elif spec.isdigit():
        address, port = None, int(spec)
    elif ":" in spec:
        host, _, text = spec.rpartition(":")
        address, port = (None if host == "*" else host), _port(text)
    else:
        address, port = (None if spec == "*" else spec), 80
    return Listen(directive, address, port, "ssl" in params, "http2" in params, "quic" in params,
                  "default_server" in params or "default" in params, "proxy_protocol" in params, params)


def _in_directory(path: str, directory: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), directory]) == directory
    except ValueError:       # another drive, or a relative and an absolute path
        return False


def _port(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@dataclass(eq=False)
class NginxConfig:
    root: Directive
    main_file: str
    nginx_version: Version
    files: list[str] = field(default_factory=list)
    context: str = "main"
    problems: list[ParseProblem] = field(default_factory=list)
    comments: dict[str, dict[int, str]] = field(default_factory=dict)
    # With --root: the files the user asked about; findings elsewhere are not reported.
    focus_files: list[str] | None = None
    # Things the user should know that are not problems in the config (e.g. a --root that does
    # not include the snippet).
    notes: list[str] = field(default_factory=list)
    # The text of each file not read from this disk (the parts of an `nginx -T` dump), by name.
    texts: dict[str, str] = field(default_factory=dict)
    # Whether the version linted for was assumed (the installed nginx's, the default, or the oldest
    # the config's syntax needs: version_from_syntax) rather than named by the user.
    version_assumed: bool = False
    # With version_assumed: (the oldest version the config's syntax needs, the directive needing it).
    version_from_syntax: tuple | None = None
    # The CPUs the container running this nginx may use (a Kubernetes ``limits.cpu``), and where
    # that is written ("file:line"); None when not known from the input.
    cpu_limit: tuple[float, str] | None = None
    # Includes of files the deployment provides (outside the linted tree, not on this machine):
    # the include Directives, not in the tree, each with .parent = the block it stood in.
    unresolved_includes: list[Directive] = field(default_factory=list)
    # Includes of nginx's stock tables (``include uwsgi_params``) that neither the tree nor this
    # machine has: not read, but their contents are nginx's own. Each with .parent like the above.
    stock_includes: list[Directive] = field(default_factory=list)
    # Each include that was read, not in the tree either: (id of the block it stood in, the
    # file it read) -> the include Directive (see written_in_tree).
    include_sites: dict[tuple[int, str], Directive] = field(default_factory=dict)
    # Files that hold a template's markup (Jinja, Go templates, ERB) outside comments, not nginx
    # until rendered: path -> (line, the marker). Neither a syntax error nor linted.
    unrendered: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def is_full(self) -> bool:
        """A whole nginx.conf (not a snippet): only then is an absent directive really absent."""
        return self.context == "main" and any(d.name in ("http", "events") for d in self.root.block or ())

    def written_in_tree(self, directive: Directive) -> Directive:
        """Where the user wrote ``directive``: itself when its file is in the linted tree (the
        main file's directory and below), else the include in the tree that brought it in (an
        ``include proxy_params;`` read from /etc/nginx on this machine), followed through
        includes of includes; itself when no such include is known."""
        tree = os.path.dirname(os.path.abspath(self.main_file))
        found = directive
        for _ in range(64):                 # deeper include chains than this are not followed
            if _in_directory(found.file, tree):
                return found
            site = self.include_sites.get((id(found.parent), found.file))
            if site is None:
                return directive
            found = site
        return directive

    def walk(self) -> Iterator[Directive]:
        """Every directive (not the synthetic root), in document order."""
        for child in self.root.block or ():
            yield from child.walk()

    def find_all(self, name: str) -> list[Directive]:
        return [d for d in self.walk() if d.name == name]

    def pass_targets(self) -> list[str]:
        """Where nginx sends requests, as written: each upstream ``server`` address and each
        ``*_pass`` URL's ``host[:port]`` (or ``unix:path``); a target built from variables stays
        as written."""
        found = []
        for directive in self.walk():
            if not directive.args:
                continue
            if directive.name == "server" and directive.parent is not None and directive.parent.name == "upstream":
                found.append(directive.args[0])
            elif directive.name in PASS_DIRECTIVES:
                found.append(split_proxy_url(directive.args[0]).address)
        return found

    def upstreams(self) -> dict[str, Directive]:
        """Upstream name -> its block (http upstreams only: a stream upstream is another world)."""
        return {d.args[0]: d for d in self.walk()
                if d.name == "upstream" and d.is_block and d.args and not _inside(d, "stream")}

    def effective(self, name: str, at: Directive) -> list[Directive]:
        """The directives named ``name`` in force inside block ``at``.

        nginx's rule for every directive, arrays such as proxy_set_header and add_header
        included: the innermost level (``at``, then its ancestors) that has at least one wins
        whole, and a level with any of them inherits none from outside. Walking the real
        ancestors of a location is exactly nginx's chain (http > server > location > nested
        location > ``if`` / ``limit_except``): ``upstream``, ``map``, ``types`` and ``events``
        blocks are ancestors of no location, so their contents never leak into it. The reverse
        holds too: an ``upstream`` block inherits nothing (its keepalive_timeout is the upstream
        module's own directive, not http's), so for one only its own children count.
        From nginx 1.29.3, ``add_header_inherit`` / ``add_trailer_inherit`` can make a level
        merge the outer add_header / add_trailer values, or inherit none of them.
        """
        if at.name == "upstream":
            return at.find(name)
        if name in INHERIT_CONTROLLED and self.nginx_version >= INHERIT_CONTROL_SINCE:
            return self._effective_under_inherit_control(name, at)
        level: Directive | None = at
        while level is not None:
            found = level.find(name)
            if found:
                return found
            level = level.parent
        return []

    def _effective_under_inherit_control(self, name: str, at: Directive) -> list[Directive]:
        """effective() for add_header / add_trailer where ``<name>_inherit`` may change the rule:
        the levels are merged outermost first, as nginx merges them."""
        control = name + "_inherit"
        in_force: list[Directive] = []
        for level in reversed([at, *at.ancestors()]):
            own = level.find(name)
            mode = self.effective(control, level)
            mode_arg = mode[-1].args[0].lower() if mode and mode[-1].args else "on"
            if mode_arg == "off":
                in_force = own
            elif mode_arg == "merge":
                in_force = own + in_force
            else:
                in_force = own or in_force
        return in_force

    def access_rules(self, at: Directive) -> list[Directive]:
        """The ``allow``/``deny`` list in force inside block ``at``: nginx's access module keeps
        them as one array, so the innermost level with either wins whole, in written order."""
        level: Directive | None = at
        while level is not None:
            found = level.find_any("allow", "deny")
            if found:
                return found
            level = level.parent
        return []

    def effective_args(self, name: str, at: Directive) -> list[str] | None:
        """Args of the last effective ``name`` at ``at`` (of all of them, for a directive whose values
        add up), else nginx's default for the target version (the upstream module's defaults
        inside an ``upstream`` block), else None."""
        found = self.effective(name, at)
        if found and name in BITMASK_DIRECTIVES:
            return list(dict.fromkeys(arg for directive in found for arg in directive.args))
        if found:
            return list(found[-1].args)
        if at.name == "upstream":
            return self.upstream_default(name)
        return self.default(name)

    def default(self, name: str) -> list[str] | None:
        return versioned(DEFAULTS, name, self.nginx_version)

    def upstream_default(self, name: str) -> list[str] | None:
        return versioned(UPSTREAM_DEFAULTS, name, self.nginx_version)

    def upstream_keepalive(self, upstream: Directive) -> int | None:
        """Idle connections the upstream block keeps per worker: its ``keepalive N``, else 32
        from nginx 1.29.7; None when it keeps none (before 1.29.7 without the directive, or
        ``keepalive 0``) or the value is not a number."""
        args = self.effective_args("keepalive", upstream) if upstream.name == "upstream" else None
        if not args:
            return None
        try:
            size = int(args[0])
        except ValueError:
            return None
        return size if size > 0 else None

    def proxy_headers(self, at: Directive) -> dict[str, tuple[str, Directive | None]]:
        """Lower-cased header -> (value, the directive setting it, or None for nginx's default).
        A value of "" means nginx does not send the header. The defaults (Host, and Connection
        before 1.29.7) are there unless proxy_set_header overrides them. nginx sends every entry
        of a name whose value is not empty, so an empty one after a set one unsets nothing
        (``Connection $connection_upgrade`` then ``Connection ""`` sends the first): the last
        non-empty entry is the value, checked against the installed nginx."""
        headers: dict[str, tuple[str, Directive | None]] = {
            name: (value, None) for name, value in DEFAULT_PROXY_HEADERS.items()
            if name != "connection" or self.nginx_version < CONNECTION_CLOSE_UNTIL}
        written: set[str] = set()
        for directive in self.effective("proxy_set_header", at):
            if directive.args:
                name, value = directive.args[0].lower(), directive.args[1] if len(directive.args) > 1 else ""
                if value == "" and name in written and headers[name][0] != "":
                    continue
                headers[name] = (value, directive)
                written.add(name)
        return headers

    def proxied_locations(self) -> list[tuple[Directive, Directive, Directive | None]]:
        """(block, proxy_pass, upstream block or None) for every http ``proxy_pass``, in document
        order. The block is the location, ``if`` or ``limit_except`` the proxy_pass is written
        in (where effective() answers for it). The upstream is the ``upstream`` block named by
        the URL's host, matched as nginx does (case-insensitively, by name); None for a literal
        address, a unix socket or a URL computed from variables at run time."""
        upstreams = {name.lower(): block for name, block in self.upstreams().items()}
        found = []
        for directive in self.find_all("proxy_pass"):
            if directive.parent is None or _inside(directive, "stream"):
                continue
            host = proxy_pass_host(directive)
            upstream = upstreams.get(host.lower()) if host and "$" not in host else None
            found.append((directive.parent, directive, upstream))
        return found

    def listens(self, server: Directive) -> list[Listen]:
        """The server's listen directives, read; nginx listens on *:80 when there are none."""
        return [parse_listen(d) for d in server.find("listen")]


# A scheme, written or a variable (`proxy_pass $scheme://backend;` names the upstream backend).
_SCHEME_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*|\$[a-z_][a-z0-9_]*|\$\{[a-z_][a-z0-9_]*\})://", re.IGNORECASE)
# The directives that send a request to an upstream server.
PASS_DIRECTIVES = frozenset({"proxy_pass", "uwsgi_pass", "fastcgi_pass", "grpc_pass", "scgi_pass"})


class LocationMatch(NamedTuple):
    """How a ``location`` matches, as nginx reads its arguments: ``modifier`` is "" (prefix),
    "^~", "=", "~", "~*" or "@" (named), and ``path`` the prefix, exact URI, regex or name."""

    modifier: str
    path: str


def location_match(location: Directive) -> LocationMatch | None:
    """nginx's reading of ``location [modifier] path``, including a modifier written against its
    path (``location ~^/a(.*)``, ``location =/x``, ``location ^~/static/``): nginx accepts those
    and reads them as if separated (ngx_http_core_location). None for a malformed location."""
    args = location.args
    if len(args) == 2:
        return LocationMatch(args[0], args[1]) if args[0] in ("=", "^~", "~", "~*") else None
    if len(args) != 1 or not args[0]:
        return None
    name = args[0]
    if name.startswith("="):
        return LocationMatch("=", name[1:])
    if name.startswith("^~"):
        return LocationMatch("^~", name[2:])
    if name.startswith("~*"):
        return LocationMatch("~*", name[2:])
    if name.startswith("~"):
        return LocationMatch("~", name[1:])
    if name.startswith("@"):
        return LocationMatch("@", name[1:])
    return LocationMatch("", name)


class ProxyUrl(NamedTuple):
    """A ``proxy_pass`` URL as nginx splits it: the scheme, the address (``host[:port]`` or
    ``unix:/path``) and the URI part (None when there is none: then nginx passes the request
    URI as the client sent it)."""

    scheme: str
    address: str
    uri: str | None


# Variables that always start with "/": written right after the host (`http://app:8000$request_uri`)
# they begin the URI part.
_URI_VARIABLE_RE = re.compile(r"\$(?:\{(?:request_uri|uri|document_uri)\}|(?:request_uri|uri|document_uri)(?![A-Za-z0-9_]))")


def split_proxy_url(url: str) -> ProxyUrl:
    """nginx's reading of a proxy_pass URL. A unix socket's path ends at an optional ``:``:
    ``http://unix:/run/app.sock`` has no URI part, ``http://unix:/run/app.sock:/api/`` has
    ``/api/``."""
    match = _SCHEME_RE.match(url)
    scheme = match.group(0)[:-3].lower() if match else ""
    rest = url[match.end():] if match else url
    if rest.lower().startswith("unix:"):
        path, colon, uri = rest[5:].partition(":")
        return ProxyUrl(scheme, "unix:" + path, uri if colon else None)
    uri_variable = _URI_VARIABLE_RE.search(rest)
    cut = min((i for i in (rest.find("/"), rest.find("?"), uri_variable.start() if uri_variable else -1) if i >= 0),
              default=len(rest))
    return ProxyUrl(scheme, rest[:cut], rest[cut:] if cut < len(rest) else None)


def proxy_pass_host(directive: Directive) -> str | None:
    """The host part of a proxy_pass URL (the upstream name, if one is meant): ``backend`` for
    ``http://backend/api``; ``unix:/run/app.sock`` for a socket; None without arguments."""
    if not directive.args:
        return None
    authority = split_proxy_url(directive.args[0]).address
    if authority.lower().startswith("unix:"):
        return authority
    if authority.startswith("["):
        return authority.split("]", 1)[0] + "]"
    return authority.rsplit(":", 1)[0] if ":" in authority else authority


def _inside(directive: Directive, block_name: str) -> bool:
    return any(level.name == block_name for level in directive.ancestors())


# Directives that make a location's content handler (each sets the location's one handler slot,
# so the last one read wins; none checks for another module's). Checked on nginx 1.22.1:
# `nginx -t` accepts proxy_pass and uwsgi_pass in one location, and requests then go to the one
# written last.
CONTENT_HANDLERS = frozenset({"proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass",
                              "memcached_pass", "stub_status", "empty_gif", "js_content", "perl",
                              "content_by_lua", "content_by_lua_block", "content_by_lua_file"})


def overriding_handler(directive: Directive) -> Directive | None:
    """The content handler of another module written after ``directive`` in its block, which
    nginx hands every request to instead (``uwsgi_pass`` then ``proxy_pass``); None when
    ``directive`` is the handler that runs."""
    siblings = list(directive.parent.block or ()) if directive.parent is not None else []
    after = siblings[next((i for i, d in enumerate(siblings) if d is directive), len(siblings)) + 1:]
    return next((d for d in after if d.name in CONTENT_HANDLERS and d.name != directive.name), None)
