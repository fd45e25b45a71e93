"""Routes: a request's method and path with the parts that name one object collapsed, so that
``GET /api/items/42`` and ``GET /api/items/43`` are one endpoint, ``GET /api/items/{id}``.

A path segment is an id when it is a number, a UUID, a long hex string (hashes, object ids), or
a long mix of letters and digits (tokens, slugs with a key). What is not a request line
(scanners' binary bytes, which nginx writes as ``\\x16\\x03...``) is one route,
:data:`NOT_HTTP`. The number of routes kept is bounded (:data:`MAX_ROUTES`); requests of routes
beyond it are counted under :data:`OTHER_ROUTES`.
"""

from __future__ import annotations

import re

MAX_ROUTES = 500
NOT_HTTP = "(not an HTTP request line)"
OTHER_ROUTES = "(other routes)"
ID = "{id}"

_METHOD = re.compile(r"[A-Z]{3,10}")
_ID_SEGMENT = re.compile(
    r"\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{12,}|(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{20,}")


def route_of(head: bytes) -> str:
    """``b"GET /api/items/42"`` (the method and path the log format captured, or a whole request
    line) -> its route."""
    text = head.decode("utf-8", "replace")
    method, space, path = text.partition(" ")
    if not space or not _METHOD.fullmatch(method):
        return NOT_HTTP
    path = path.split(" ", 1)[0].split("?", 1)[0]  # a whole request line (JSON logs) ends in its protocol
    if "://" in path:  # an absolute URI (a proxy request): its path
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    if not path.startswith("/"):
        return NOT_HTTP
    segments = [ID if _ID_SEGMENT.fullmatch(segment) else segment for segment in path.split("/")]
    return f"{method} {'/'.join(segments)}"
