"""nginx in front of uvicorn run on its own (not as a gunicorn worker): what uvicorn does with
the headers nginx sets. (The gunicorn worker's case is uvicorn-unix-forwarded, CG205.)"""

from __future__ import annotations

import ipaddress
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.fixes.appserver import set_server_option
from confgen.lint.fixes.base import Fix
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import app_routes, is_loopback, more_locations, parse_address

FORWARDED_HEADERS = ("x-forwarded-proto", "x-forwarded-for")
ALLOW_FLAGS = ("--forwarded-allow-ips",)
_OFF = {"false", "0", "no", "off"}


@rule(code="CG214", name="uvicorn-forwarded-untrusted", severity="warning", needs=("chain",))
def uvicorn_forwarded_untrusted(ctx: LintContext) -> Iterator[Finding]:
    """uvicorn ignores the X-Forwarded-* headers nginx sets, because nginx's address is not trusted.

    uvicorn rewrites the client address and scheme from ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` (``--proxy-headers``, on by default) only for a peer whose address is
    in ``--forwarded-allow-ips`` (``FORWARDED_ALLOW_IPS``; ``127.0.0.1,::1`` by default). A peer
    on a unix socket has no address, so only ``*`` trusts it; nginx reaching uvicorn at another
    host (a compose service name, a pod or host IP) connects from its own non-loopback address.
    Either way the headers are dropped: the app sees every request as ``http`` (redirects and
    absolute URLs go to http://, secure cookies misbehave) and every client as nginx. Reported
    where nginx sets the header, when the allowed list holds only loopback addresses or the app
    listens on a socket. A list naming other addresses is taken as written for nginx.

    App command:
        uvicorn main:app --uds /run/app.sock

    Bad:
        server {
            location / {
                proxy_pass http://unix:/run/app.sock;
                proxy_set_header X-Forwarded-Proto $scheme;
            }
        }

    Good:
        server {
            location / {
                proxy_pass http://unix:/run/app.sock;
                proxy_set_header X-Forwarded-Proto $scheme;
            }
        }

    Good app command:
        uvicorn main:app --uds /run/app.sock --forwarded-allow-ips '*'

    Fix safety: Safe for a unix socket: ``--forwarded-allow-ips '*'`` added to (or replacing the
    value in) the uvicorn command where it is written; only processes on the machine can reach
    the socket, and every request is served as before, with the client's address and scheme as
    nginx saw them. Not offered over TCP, where nginx's address is not in the config.

    References:
        https://www.uvicorn.org/settings/#http
        https://www.uvicorn.org/deployment/#proxies-and-forwarded-headers
        https://github.com/encode/uvicorn/blob/master/uvicorn/middleware/proxy_headers.py
        https://github.com/encode/uvicorn/blob/master/uvicorn/config.py
    """
    server = ctx.app_server
    if ctx.app_only or server is None or server.server != "uvicorn":
        return
    from confgen.appserver.uvicorn import DEFAULT_FORWARDED_ALLOW_IPS, FORWARDED_SOURCE  # loaded: it read the app
    proxy_headers = server.settings.get("proxy_headers")
    if proxy_headers is not None and str(proxy_headers.value).strip().lower() in _OFF:
        return  # the app reads the headers itself, if at all
    allowed = server.settings.get("forwarded_allow_ips")
    if allowed is not None and allowed.value is None:
        return  # set where its value is not known here (a Secret, a computed variable)
    written = str(allowed.value) if allowed is not None else DEFAULT_FORWARDED_ALLOW_IPS
    entries = [entry.strip() for entry in written.split(",") if entry.strip()]
    if "*" in entries or "$" in written:
        return
    networks = _networks(entries)
    if networks is None:
        return  # host names or forms uvicorn matches literally: taken as written
    described = f"--forwarded-allow-ips {written}" + (f" ({allowed.source})" if allowed else f" ({FORWARDED_SOURCE})")
    # One uvicorn setting is one cause: the locations that send the headers the same way are one
    # finding, at the first, naming how many more there are.
    causes: dict[tuple[str, str], list] = {}
    for route in app_routes(ctx):
        headers = ctx.nginx.proxy_headers(route.block)
        directive = next((headers[h][1] for h in FORWARDED_HEADERS if h in headers and headers[h][1] is not None), None)
        if directive is None:
            continue
        for address in route.servers:
            kind, host, _ = parse_address(address)
            if kind == "unix":
                causes.setdefault(("unix", address), []).append(directive)
                break
            if not is_loopback(host) and all(net.network_address.is_loopback for net in networks):
                causes.setdefault(("remote", address), []).append(directive)
                break
    for (kind, address), directives in causes.items():
        places = list(dict.fromkeys(directives))
        more = more_locations(places)
        if kind == "unix":
            yield ctx.finding(places[0], f"uvicorn ({server.label}) trusts X-Forwarded-* only from {described}, "
                                         f"but nginx reaches it on {address}, a peer with no address: the headers "
                                         f"set here{more} are ignored (every request looks http, every client local); "
                                         f"add --forwarded-allow-ips '*' (only local processes reach the socket)",
                              fix=Fix(lambda fx: set_server_option(fx, ALLOW_FLAGS, "*")))
        else:
            yield ctx.finding(places[0], f"uvicorn ({server.label}) trusts X-Forwarded-* only from {described}, "
                                         f"but nginx connects to {address} from its own, non-loopback address: "
                                         f"the headers set here{more} are ignored (every request looks http, every "
                                         f"client is nginx); add nginx's address or network to "
                                         f"--forwarded-allow-ips")


def _networks(entries: list[str]) -> list | None:
    try:
        return [ipaddress.ip_network(entry, strict=False) for entry in entries]
    except ValueError:
        return None
