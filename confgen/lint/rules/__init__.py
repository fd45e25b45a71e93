"""The rule catalog: importing this package registers every rule family with the engine.

Codes are stable (tools and suppressions depend on them): CG0xx inputs (parse, suppressions),
CG1xx keep-alive and upstreams, CG2xx the app side (nginx <-> gunicorn pairing; CG209+ the chain of hops, any app server), CG3xx workers and capacity,
CG4xx headers and hygiene (CG41x directives nginx reads otherwise than written), CG5xx deprecated and version-dependent. CG6xx and up are reserved for
the security pack.
"""

from confgen.lint.rules import (  # noqa: F401  (imported for their @rule registrations)
    arguments,
    chain,
    deprecated,
    directives,
    gunicorn_pairing,
    gzip,
    headers,
    keepalive,
    kubernetes,
    security_access,
    security_dns,
    security_headers,
    security_hygiene,
    security_injection,
    security_paths,
    security_regex,
    security_tls,
    syntax,
    timeouts,
    uvicorn_pairing,
    uwsgi_pairing,
    websocket_pairing,
    workers,
)
