"""What the security rule families share on the rule side: the variable model of the config
being linted, header and block names, which blocks deny, and the http servers. Where a value
comes from and what it can hold is the nginx package's variable model
(:mod:`confgen.nginx.variables`), never decided here.
"""

from __future__ import annotations

from confgen.nginx.variables import NginxRegex, Variables, variables_of

# Response headers that protect browsers; losing one silently is the security-relevant case.
SECURITY_HEADERS = {"strict-transport-security", "content-security-policy", "content-security-policy-report-only",
                    "x-frame-options", "x-content-type-options", "referrer-policy", "permissions-policy",
                    "cross-origin-opener-policy", "cross-origin-embedder-policy", "cross-origin-resource-policy",
                    "x-xss-protection"}
UPSTREAM_PASS = ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass")
# Directives whose block is a map-like table, not nginx's location chain.
TABLE_BLOCKS = {"map", "geo", "split_clients", "types", "upstream", "charset_map", "match"}


def variable_model(ctx) -> Variables:
    """The variable model of the config being linted (built once, shared by every rule)."""
    return ctx.cached("variables", lambda: variables_of(ctx.nginx))


def regexes(ctx) -> list[NginxRegex]:
    """Every regex in the config, in document order."""
    return variable_model(ctx).regexes


_HEADER_OPTIONS = {"-s", "-t"}


def header_values(directive) -> list[str]:
    """The header specifications of ``more_set_headers`` / ``more_clear_headers``
    (``'Name: value'``), without the options and their arguments (``-s 404``, ``-t 'text/html
    text/plain'``)."""
    values, skip = [], False
    for arg in directive.args:
        if skip:
            skip = False
        elif arg in _HEADER_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            values.append(arg)
    return values


# Status codes that refuse a request (444 closes the connection without a response).
_REFUSALS = frozenset({"400", "401", "403", "404", "405", "406", "410", "418", "429", "444", "451"})


def is_refusal(directive) -> bool:
    """``return 403`` (a 4xx refusal, or 444) or ``deny all``."""
    if directive.name == "return" and directive.args:
        return directive.args[0] in _REFUSALS
    return directive.name == "deny" and directive.args[:1] == ["all"]


def refuses(block) -> bool:
    """Whether a block refuses the requests it gets (a ``return 4xx`` / ``deny all`` in it)."""
    return any(is_refusal(d) for d in block.block or ())


REDIRECT_CODES = frozenset({"301", "302", "303", "307", "308"})
# rewrite regexes that match every URI
_CATCH_ALL = frozenset({"^", "^/", "^(.*)$", "^/(.*)$", "^(.*)", "^/(.*)", ".*", "(.*)", "^.*$"})


def is_redirect(directive) -> bool:
    """``return 301 URL`` (any 3xx redirect), ``return https://...`` (302), or ``rewrite ...
    permanent|redirect``, or a rewrite whose replacement is an absolute URL (a redirect too)."""
    if directive.name == "return" and directive.args:
        return directive.args[0] in REDIRECT_CODES or directive.args[0].startswith(("http://", "https://", "$scheme"))
    if directive.name == "rewrite" and len(directive.args) >= 2:
        return directive.args[-1] in ("permanent", "redirect") or \
            directive.args[1].startswith(("http://", "https://", "$scheme"))
    return False


def only_redirects(server) -> bool:
    """Whether a server answers every request (but an ACME challenge) with a redirect: a ``return``
    or catch-all ``rewrite`` redirect at server level runs before any location is chosen, or its
    ``location /`` redirects."""
    for directive in server.block or ():
        if directive.name == "return" and is_redirect(directive):
            return True
        if directive.name == "rewrite" and is_redirect(directive) and directive.args[0] in _CATCH_ALL:
            return True
    root = next((l for l in server.find("location") if l.args == ["/"]), None)
    return root is not None and any(is_redirect(d) and (d.name == "return" or d.args[0] in _CATCH_ALL)
                                    for d in root.block or ())


# ---------------------------------------------------------------------------------------------
# Blocks


def http_servers(ctx) -> list:
    """``server`` blocks of the http module (stream and mail servers are other worlds)."""
    return ctx.cached("security:http_servers", lambda: [s for s in ctx.all("server")
                                                          if s.is_block and not _under(s, ("stream", "mail", "upstream"))])


_NOT_HTTP = frozenset(("stream", "mail", *TABLE_BLOCKS))


def in_http(directive) -> bool:
    """Whether a directive belongs to the http module: not inside stream, mail or a table block."""
    # Innermost first, so the walk ends at the http block (a few levels up for nearly every
    # directive) or at a table block inside it; only an unusually deep chain is left to
    # inside_any(), whose memo keeps a deeply nested config linear.
    level = directive.parent
    for _ in range(_SHORT_CHAIN):
        if level is None or level.name == "http":
            return True
        if level.name in _NOT_HTTP:
            return False
        level = level.parent
    return not _under(directive, _NOT_HTTP)


_SHORT_CHAIN = 32


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


def listen_socket(listen) -> tuple:
    """(address, port) a ``listen`` binds, with the wildcard spellings made one."""
    address = (listen.address or "*").lower()
    if address in ("0.0.0.0", "*"):
        address = "*"
    if address in ("[::]", "[::0]"):
        address = "[::]"
    return address, listen.port


def servers_by_socket(ctx, *, tls_only: bool = False) -> dict[tuple, tuple[object, list]]:
    """(address, port) -> (its default server, every http server listening there in document
    order). The default is the one marked ``default_server``, else the first read; a server
    without ``listen`` listens on *:80."""
    def compute():
        groups: dict[tuple, list] = {}
        marked: dict[tuple, object] = {}
        for server in http_servers(ctx):
            listens = ctx.nginx.listens(server)
            sockets = [(listen_socket(l), l.default_server) for l in listens if l.ssl or not tls_only]
            if not listens and not tls_only:
                sockets = [(("*", 80), False)]
            for socket, default in sockets:
                servers = groups.setdefault(socket, [])
                if server not in servers:
                    servers.append(server)
                if default:
                    marked.setdefault(socket, server)
        return {socket: (marked.get(socket, servers[0]), servers) for socket, servers in groups.items()}
    return ctx.cached(f"security:servers_by_socket:{tls_only}", compute)


def defaults_of(ctx, server, *, tls_only: bool = False) -> list:
    """The default server of each socket ``server`` listens on (itself where it is the default),
    from servers_by_socket, looked up by server (a scan per server would be quadratic)."""
    def compute():
        found: dict[int, list] = {}
        for default, servers in servers_by_socket(ctx, tls_only=tls_only).values():
            for member in servers:
                found.setdefault(id(member), []).append(default)
        return found
    return ctx.cached(f"security:defaults_of:{tls_only}", compute).get(id(server), [])


def answers_unknown_hosts(ctx, server) -> bool:
    """Whether ``server`` is the default server of every socket it listens on: a request whose
    Host matches no ``server_name`` reaches it, so there ``$host`` is the client's own value."""
    defaults = defaults_of(ctx, server)
    return bool(defaults) and all(default is server for default in defaults)


def internal_only(directive) -> bool:
    """Whether ``directive`` is in an ``internal`` location (reached only through the app's
    X-Accel-Redirect or an internal redirect, never by a client's URI)."""
    return directive.parent is not None and internal_block(directive.parent)


def served_path(ctx, location, prefix: str | None, uri: str) -> str | None:
    """The file nginx opens for ``uri`` in ``location``: its alias with the location's ``prefix``
    replaced, else the root in force followed by the URI (``html/...``, relative to nginx's prefix,
    when no root is set). None when it cannot be told here: a variable, an alias of a regex
    location (``prefix`` None), or a file the deployment provides where it may set the root."""
    alias = next((d for d in location.block or () if d.name == "alias" and d.args), None)
    if alias is not None:
        return None if prefix is None or "$" in alias.args[0] else alias.args[0] + uri[len(prefix):]
    level = location
    while level is not None:
        roots = [d for d in level.block or () if d.name == "root" and d.args]
        if roots:
            return None if "$" in roots[-1].args[0] else roots[-1].args[0].rstrip("/") + uri
        if ctx.unresolved_include(level, inherited=False) is not None:
            return None
        level = level.parent
    return "html" + uri


def internal_block(block) -> bool:
    """Whether requests reach ``block`` only from inside nginx: it or a location around it is
    ``internal``."""
    return any(level.find("internal") for level in [block, *block.ancestors()] if level.name == "location")


def describe(directive) -> str:
    return f"{directive.file}:{directive.line}"


def drops_request_body(location) -> bool:
    """``proxy_pass_request_body off``: the location asks the app a question about a request (the
    auth_request idiom) rather than passing it a tree of URLs."""
    return any(d.args[:1] == ["off"] for d in location.find("proxy_pass_request_body"))


def subrequest_targets(ctx) -> set[str]:
    """The URIs nginx itself requests: auth_request's, mirror's and error_page's."""
    def collect() -> set[str]:
        targets = {d.args[0] for name in ("auth_request", "mirror") for d in ctx.all(name) if d.args}
        return targets | {d.args[-1] for d in ctx.all("error_page") if d.args}
    return ctx.cached("subrequest targets", collect)


def is_auth_endpoint(ctx, location) -> bool:
    """A location that answers nginx's auth_request subrequests: one named by ``auth_request``
    (``location = /auth``), or one that passes no request body to the app."""
    if location is None or location.name != "location" or not location.args:
        return False
    if drops_request_body(location):
        return True
    auth = ctx.cached("auth_request targets",
                      lambda: {d.args[0] for d in ctx.all("auth_request") if d.args and d.args[0] != "off"})
    return location.args[-1] in auth


def forward_proxy(ctx, directive) -> bool:
    """Whether a proxy_pass takes the scheme with the host from the request (``proxy_pass $target``
    with a whole URL captured, ``$1$2$3`` with ``$1`` from ``(https?://)``): a forward proxy."""
    if directive.name != "proxy_pass" or not directive.args or "://" in directive.args[0] \
            or "$" not in directive.args[0]:
        return False
    alternatives = variable_model(ctx).expand(directive.args[0], directive)
    return bool(alternatives) and all(alternative and not isinstance(alternative[0], str) and alternative[0].controlled
                                      for alternative in alternatives)
