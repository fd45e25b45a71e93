"""The nginx model: a tree of directives with file and line, nginx's inheritance, and nginx's
defaults for the target version. Rules ask this module, never crossplane, what is in force."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

Version = tuple[int, int, int]

# nginx's defaults, as (since version, value) pairs, newest last. Sources: the module docs on
# nginx.org and nginx's CHANGES: 1.19.10 raised keepalive_requests to 1000 and added
# keepalive_time; 1.27.3 dropped TLSv1/TLSv1.1 from ssl_protocols; 1.29.7 made upstream blocks
# keep 32 idle connections ("keepalive 32 local"), proxy_http_version default to 1.1 and stopped
# sending "Connection: close".
DEFAULTS: dict[str, list[tuple[Version, list[str]]]] = {
    "proxy_http_version": [((0, 0, 0), ["1.0"]), ((1, 29, 7), ["1.1"])],
    "proxy_read_timeout": [((0, 0, 0), ["60s"])],
    "proxy_send_timeout": [((0, 0, 0), ["60s"])],
    "proxy_connect_timeout": [((0, 0, 0), ["60s"])],
    "keepalive_timeout": [((0, 0, 0), ["75s"])],
    "keepalive_requests": [((0, 0, 0), ["100"]), ((1, 19, 10), ["1000"])],
    "keepalive_time": [((1, 19, 10), ["1h"])],
    "worker_connections": [((0, 0, 0), ["512"])],
    "worker_processes": [((0, 0, 0), ["1"])],
    "server_tokens": [((0, 0, 0), ["on"])],
    "large_client_header_buffers": [((0, 0, 0), ["4", "8k"])],
    "client_header_buffer_size": [((0, 0, 0), ["1k"])],
    "client_max_body_size": [((0, 0, 0), ["1m"])],
    "client_body_buffer_size": [((0, 0, 0), ["16k"])],
    "proxy_buffering": [((0, 0, 0), ["on"])],
    "proxy_request_buffering": [((0, 0, 0), ["on"])],
    "proxy_buffer_size": [((0, 0, 0), ["8k"])],
    "proxy_buffers": [((0, 0, 0), ["8", "8k"])],
    "gzip": [((0, 0, 0), ["off"])],
    "gzip_comp_level": [((0, 0, 0), ["1"])],
    "gzip_min_length": [((0, 0, 0), ["20"])],
    "gzip_proxied": [((0, 0, 0), ["off"])],
    "ssl_protocols": [((0, 0, 0), ["TLSv1", "TLSv1.1", "TLSv1.2"]), ((1, 23, 4), ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
                      ((1, 27, 3), ["TLSv1.2", "TLSv1.3"])],
    "http2": [((1, 25, 1), ["off"])],
    "autoindex": [((0, 0, 0), ["off"])],
}

# Defaults of directives inside an `upstream` block, which is not in a location's inheritance chain.
UPSTREAM_DEFAULTS: dict[str, list[tuple[Version, list[str]]]] = {
    "keepalive": [((1, 29, 7), ["32", "local"])],
    "keepalive_timeout": [((1, 15, 3), ["60s"])],
    "keepalive_requests": [((1, 15, 3), ["100"]), ((1, 19, 10), ["1000"])],
    "keepalive_time": [((1, 19, 10), ["1h"])],
}

# Headers nginx sends to a proxied server unless proxy_set_header says otherwise.
CONNECTION_CLOSE_UNTIL: Version = (1, 29, 7)


def versioned(table: dict[str, list[tuple[Version, list[str]]]], name: str, version: Version) -> list[str] | None:
    value = None
    for since, args in table.get(name, ()):
        if version >= since:
            value = args
    return list(value) if value is not None else None


@dataclass(eq=False)
class Directive:
    name: str
    args: list[str]
    file: str
    line: int
    parent: "Directive | None" = None
    block: "list[Directive] | None" = None

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

    def find(self, name: str) -> list["Directive"]:
        """Direct children named ``name``."""
        return [child for child in self.block or () if child.name == name]

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


@dataclass(frozen=True)
class ParseProblem:
    kind: str  # "syntax-error" | "include-not-found" | "include-cycle"
    file: str
    line: int | None
    message: str


@dataclass(eq=False)
class NginxConfig:
    root: Directive
    main_file: str
    nginx_version: Version
    files: list[str] = field(default_factory=list)
    context: str = "main"
    problems: list[ParseProblem] = field(default_factory=list)
    comments: dict[str, dict[int, str]] = field(default_factory=dict)
    focus_files: list[str] | None = None

    @property
    def is_full(self) -> bool:
        """A whole nginx.conf (not a snippet): only then is an absent directive really absent."""
        return self.context == "main" and any(d.name in ("http", "events") for d in self.root.block or ())

    def walk(self) -> Iterator[Directive]:
        """Every directive (not the synthetic root), in document order."""
        for child in self.root.block or ():
            yield from child.walk()

    def find_all(self, name: str) -> list[Directive]:
        return [d for d in self.walk() if d.name == name]

    def upstreams(self) -> dict[str, Directive]:
        """Upstream name -> its block (http upstreams only: a stream upstream is another world)."""
        return {d.args[0]: d for d in self.walk()
                if d.name == "upstream" and d.is_block and d.args and not _inside(d, "stream")}

    def effective(self, name: str, at: Directive) -> list[Directive]:
        """The directives named ``name`` in force inside block ``at``.

        nginx's rule for every directive, arrays such as proxy_set_header and add_header
        included: the innermost level (``at``, then its ancestors) that has at least one wins
        whole, and a level with any of them inherits none from outside. ``upstream``, ``map``
        and ``types`` blocks are ancestors of nothing a location inherits, so walking the real
        ancestors of a location is exactly nginx's chain (http > server > location > if).
        """
        level: Directive | None = at
        while level is not None:
            found = level.find(name)
            if found:
                return found
            level = level.parent
        return []

    def effective_args(self, name: str, at: Directive) -> list[str] | None:
        found = self.effective(name, at)
        if found:
            return list(found[-1].args)
        return self.default(name)

    def default(self, name: str) -> list[str] | None:
        return versioned(DEFAULTS, name, self.nginx_version)

    def upstream_default(self, name: str) -> list[str] | None:
        return versioned(UPSTREAM_DEFAULTS, name, self.nginx_version)

    def upstream_keepalive(self, upstream: Directive) -> int | None:
        """Idle connections the upstream block keeps per worker (None: it keeps none)."""
        explicit = upstream.find("keepalive")
        args = explicit[-1].args if explicit else self.upstream_default("keepalive")
        if not args:
            return None
        try:
            size = int(args[0])
        except ValueError:
            return None
        return size or None

    def proxy_headers(self, at: Directive) -> dict[str, tuple[str, Directive | None]]:
        """Lower-cased header -> (value, the directive setting it, or None for nginx's default).
        A value of "" means nginx does not send the header."""
        headers: dict[str, tuple[str, Directive | None]] = {"host": ("$proxy_host", None)}
        if self.nginx_version < CONNECTION_CLOSE_UNTIL:
            headers["connection"] = ("close", None)
        for directive in self.effective("proxy_set_header", at):
            if directive.args:
                headers[directive.args[0].lower()] = (directive.args[1] if len(directive.args) > 1 else "", directive)
        return headers


def _inside(directive: Directive, block_name: str) -> bool:
    return any(level.name == block_name for level in directive.ancestors())
