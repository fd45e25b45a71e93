"""The sizing model: plain functions from a validated profile to values, each with its reason.

Every function takes the Profile and returns a ``Value``; functions call each other where one
setting depends on another, so each rule of thumb is written once. ``plan()`` gathers them for the
templates and for ``confgen render --explain``. Reasons name their inputs, so a reader of the
rendered config can check the arithmetic.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from confgen.errors import ConfgenError
from confgen.gunicorn.worker_timeouts import APP_BOUNDS_ITS_WORK, timeout_model
from confgen.units import format_seconds, format_size

if TYPE_CHECKING:  # the lint rules share constants with this module without loading profiles
    from confgen.profile.loading import Profile, Route

from confgen.profile.constants import (  # noqa: E402,F401  (the sizing model's constants, shared with lint)
    ACCEPT_IMBALANCE,
    APP_CONNECTIONS_PER_WORKER,
    APP_KEEPALIVE_MARGIN_S,
    FDS_PER_PROXIED_CLIENT,
    GTHREAD_MAX_THREADS,
    NOFILE_CEILING,
    PAGE,
    UPSTREAM_KEEPALIVE_TIMEOUT_S,
)


@dataclass(frozen=True)
class Value:
    """A derived setting: its value, why, and the unit used to spell it ("bytes", "seconds")."""

    value: Any
    reason: str
    unit: str | None = None

    def __str__(self) -> str:
        if self.unit == "bytes":
            return format_size(self.value)
        if self.unit == "seconds":
            return format_seconds(self.value)
        if isinstance(self.value, list):
            return ", ".join(map(str, self.value))
        if self.unit == "buffers":
            count, size = self.value
            return f"{count} {format_size(size)}"
        return str(self.value)


# ---------------------------------------------------------------------------------------------
# Load: Little's law


def requests_in_flight(p: Profile) -> float:
    """Concurrent requests at the expected load: QPS x latency (Little's law), over all routes."""
    return sum(route.expected_qps * route.app.latency_ms for route in p.routes) / 1000.0


def route_profile(p: Profile, route: Route) -> Profile:
    """The profile as one route's app sees it: that route's load, app and hosts, the site's
    clients and machine. Every per-app sizing function below takes such a view."""
    return dataclasses.replace(p, name=route.name, expected_qps=route.expected_qps, app=route.app,
                               upstreams=route.upstreams, routes=(route,))


def app_hosts(p: Profile) -> int:
    return max(1, len(p.upstreams))


def app_slots_needed(p: Profile) -> int:
    """Requests one app host must serve at once, with 50 % headroom for bursts."""
    return max(1, math.ceil(requests_in_flight(p) * 1.5 / app_hosts(p)))


# ---------------------------------------------------------------------------------------------
# nginx workers and file descriptors


def nginx_worker_processes(p: Profile) -> Value:
    return Value(p.cpus, f"one worker per CPU (cpus={p.cpus})")


def upstream_concurrency(p: Profile) -> int:
    """Upstream requests at once: one per client connection, or more when clients multiplex
    requests (HTTP/2) and Little's law says more are in flight."""
    return max(p.clients, math.ceil(requests_in_flight(p)))


def nginx_worker_connections(p: Profile) -> Value:
    workers = nginx_worker_processes(p).value
    upstream = upstream_concurrency(p)
    needed = p.clients + upstream
    per_worker = math.ceil(needed * 1.5 / workers)
    rounded = max(1024, math.ceil(per_worker / 1024) * 1024)
    ceiling = NOFILE_CEILING // 2
    if rounded > ceiling:
        return Value(ceiling, f"clients={p.clients} x 2 fds over {workers} workers exceeds the "
                              f"{NOFILE_CEILING} open-file ceiling: capped; add CPUs or nginx hosts")
    if upstream > p.clients:
        return Value(rounded, f"clients={p.clients} + {upstream} upstream connections (requests in flight, "
                              f"multiplexed) x 1.5 headroom / {workers} workers, rounded up to 1024")
    return Value(rounded, f"clients={p.clients} x 2 (client + upstream) x 1.5 headroom / "
                          f"{workers} workers, rounded up to 1024")


def nginx_worker_rlimit_nofile(p: Profile) -> Value:
    connections = nginx_worker_connections(p).value
    return Value(min(NOFILE_CEILING, 2 * connections),
                 f"2 x worker_connections ({connections}): sockets plus files and temp files")


# ---------------------------------------------------------------------------------------------
# gunicorn workers


def gunicorn_worker_class(p: Profile) -> Value:
    front = "nginx's upstream" if p.nginx_in_front else "the balancer's"
    if p.app.kind == "wsgi":
        return Value("gthread", f"wsgi app: threads keep {front} connections alive "
                                f"(the sync worker closes every connection)")
    if p.app.asgi_worker == "gunicorn":
        return Value("asgi", f"asgi app on gunicorn's native asgi worker (gunicorn >= 24): "
                             f"keeps {front} connections alive")
    return Value("uvicorn_worker.UvicornWorker",
                 f"asgi app: uvicorn's worker keeps {front} connections alive "
                 f"(package uvicorn-worker)")


def gunicorn_max_workers(p: Profile) -> int:
    return 2 * p.cpus + 1


def gunicorn_threads(p: Profile) -> Value | None:
    """Threads per gthread worker; None for async workers, whose event loop holds the requests."""
    if gunicorn_worker_class(p).value != "gthread":
        return None
    needed = app_slots_needed(p)
    threads = min(GTHREAD_MAX_THREADS, max(2, math.ceil(needed / gunicorn_max_workers(p))))
    reason = (f"{needed} slots needed per host (qps={p.expected_qps:g} x latency="
              f"{p.app.latency_ms:g}ms x 1.5 / {app_hosts(p)} hosts) over at most "
              f"{gunicorn_max_workers(p)} workers")
    return Value(threads, reason)


def gunicorn_workers(p: Profile) -> Value:
    cap = gunicorn_max_workers(p)
    threads = gunicorn_threads(p)
    if threads is None:
        workers = min(cap, max(2, p.cpus))
        return Value(workers, f"one event loop per CPU (cpus={p.cpus}), at least 2 so one can "
                              f"restart while the other serves")
    needed = app_slots_needed(p)
    workers = min(cap, max(2, math.ceil(needed / threads.value)))
    reason = f"{needed} slots / {threads.value} threads, between 2 and 2 x cpus + 1 = {cap}"
    if workers * threads.value < needed:
        reason += f"; short of {needed - workers * threads.value} slots: add CPUs or app hosts"
    return Value(workers, reason)


def app_concurrency_per_host(p: Profile) -> int:
    """Connections one app host serves at once, as the sizing counts them."""
    return gunicorn_workers(p).value * app_connections_per_worker(p)


def app_connections_per_worker(p: Profile) -> int:
    """gunicorn's default 1000, or each worker's share of the requests in flight when more."""
    return max(APP_CONNECTIONS_PER_WORKER, math.ceil(app_slots_needed(p) / gunicorn_workers(p).value))


def gunicorn_worker_connections(p: Profile) -> Value | None:
    """gthread only: gunicorn reads ``worker_connections`` in its gthread and gevent workers
    (https://docs.gunicorn.org/en/stable/settings.html#worker-connections). uvicorn's worker
    passes no limit to uvicorn (uvicorn_worker ``UvicornWorker.__init__``: no
    ``limit_concurrency``) and gunicorn's asgi worker only counts connections, so for them the
    setting would do nothing and is not written."""
    if gunicorn_worker_class(p).value != "gthread":
        return None
    value = app_connections_per_worker(p)
    limit = ("beyond this many connections (busy or idle) a worker stops accepting and new ones wait in the "
             "listen backlog")
    if value > APP_CONNECTIONS_PER_WORKER:
        return Value(value, f"{app_slots_needed(p)} requests in flight per host (with 50 % headroom) / "
                            f"{gunicorn_workers(p).value} workers: {limit}")
    pools = "nginx pools" if p.nginx_in_front else "the balancer keeps open"
    return Value(value, f"per worker (gunicorn's default): {limit}; above the idle connections {pools} to "
                        f"each worker")


# ---------------------------------------------------------------------------------------------
# Upstream keep-alive


def upstream_keepalive(p: Profile) -> Value:
    """Idle connections each nginx worker caches: below the concurrent upstream requests, the
    surplus is closed after every request and reuse collapses."""
    upstream = upstream_concurrency(p)
    concurrent = min(upstream, app_concurrency_per_host(p) * app_hosts(p))
    workers = nginx_worker_processes(p).value
    per_worker = max(8, min(concurrent, math.ceil(concurrent * ACCEPT_IMBALANCE / workers)))
    demand = f"clients={p.clients}" if upstream == p.clients else f"{upstream} requests in flight"
    return Value(per_worker, f"min({demand}, app connections={app_concurrency_per_host(p) * app_hosts(p)}) "
                             f"x {ACCEPT_IMBALANCE} / {workers} workers (accepts are uneven), at least 8")


def upstream_keepalive_timeout(p: Profile) -> Value:
    default = "" if p.nginx.upstream_keepalive_timeout == UPSTREAM_KEEPALIVE_TIMEOUT_S else \
        "nginx.upstream_keepalive_timeout: "
    return Value(p.nginx.upstream_keepalive_timeout, f"{default}idle pooled connections close after this; "
                 "the app keeps them longer (gunicorn keepalive)", "seconds")


def upstream_keepalive_requests(p: Profile) -> Value:
    return Value(1000, "nginx itself retires a connection after this many requests (no race)")


def gunicorn_keepalive(p: Profile) -> Value:
    if not p.nginx_in_front:
        idle, said = balancer_idle(p)
        return Value(math.ceil(idle) + APP_KEEPALIVE_MARGIN_S,
                     f"{said}: gunicorn keeps them {APP_KEEPALIVE_MARGIN_S}s longer, so the balancer closes first "
                     f"and never sends a request on a connection gunicorn is closing (502)")
    nginx_idle = upstream_keepalive_timeout(p).value
    return Value(nginx_idle + APP_KEEPALIVE_MARGIN_S,
                 f"above nginx's upstream keepalive_timeout ({nginx_idle}s) so nginx closes idle "
                 f"connections first; else a reused connection can be closed under it (502)")


# ---------------------------------------------------------------------------------------------
# Timeouts


def gunicorn_timeout(p: Profile) -> Value:
    worker_class = gunicorn_worker_class(p).value
    model = timeout_model(worker_class)
    if model.kills_slow_requests:
        return Value(p.app.timeout_s, f"app.timeout_s={p.app.timeout_s}: the request limit: the {worker_class} "
                                      f"worker runs the request in the thread that beats, so a request running this "
                                      f"long gets its worker aborted (gunicorn answers 500)")
    return Value(p.app.timeout_s, f"app.timeout_s={p.app.timeout_s}: a heartbeat, not a request limit "
                                  f"({worker_class}: {model.heartbeat}); kills a worker only for "
                                  f"{model.blocked_by}")


def proxy_read_timeout(p: Profile) -> Value:
    """The request limit: gunicorn's timeout behind the sync worker (nginx waits a little
    longer), else nginx's own (confgen/gunicorn/worker_timeouts.py)."""
    worker_class = gunicorn_worker_class(p).value
    app = p.app.timeout_s
    if timeout_model(worker_class).kills_slow_requests:
        margin = max(5, math.ceil(app * 0.1))
        return Value(app + margin, f"{worker_class} worker's timeout ({app}s) + {margin}s: gunicorn aborts a worker "
                                   f"busy {app}s (answering 500) before nginx would answer 504 for a request "
                                   f"still running", "seconds")
    return Value(app, f"app.timeout_s={app}: the request limit ({worker_class}'s gunicorn timeout is a heartbeat): "
                      f"a response not begun, or stalled, this long gets 504 from nginx; {APP_BOUNDS_ITS_WORK}",
                 "seconds")


def proxy_next_upstream_timeout(p: Profile) -> Value | None:
    """Several hosts: nginx passes a GET that failed on one host to the next (proxy_next_upstream's
    default "error timeout"), a response that timed out included. Limited to proxy_read_timeout
    from the request's start, a refused or reset connection is still passed on at once, and a
    too-slow request is not run again on every host while its client waits proxy_read_timeout
    for each."""
    if len(p.upstreams) < 2:
        return None
    read = proxy_read_timeout(p).value
    return Value(read, f"as proxy_read_timeout ({read}s): a request a host refused or reset goes to the next one; "
                       f"one whose response timed out gets 504 and is not run again on another host (with no limit, "
                       f"nginx's default, a slow GET runs on each of the {len(p.upstreams)} hosts in turn, its "
                       f"client waiting proxy_read_timeout for each)", "seconds")


def proxy_connect_timeout(p: Profile) -> Value:
    if p.upstreams:
        return Value(5, "app hosts on the network: fail over to the next server quickly", "seconds")
    return Value(2, "a local socket connects at once or not at all", "seconds")


def gunicorn_graceful_timeout(p: Profile) -> Value:
    return Value(p.app.timeout_s, f"app.timeout_s={p.app.timeout_s}: let running requests finish on reload")


# nginx must outlast the balancer's idle timeout by a margin that covers clock skew between the
# two and a request already on the wire when the balancer's timer fires.
BALANCER_KEEPALIVE_MARGIN_S = 15
CLIENT_HEADER_TIMEOUT_SOURCE = ("nginx arms client_header_timeout (60s by default) on every accepted connection "
                                "until its first request arrives: ngx_http_init_connection, "
                                "https://github.com/nginx/nginx/blob/master/src/http/ngx_http_request.c")


def balancer(p: Profile):
    """The balancer in front as a hop of the chain (confgen.hops), or None when none is declared."""
    return p.behind.hop() if p.behind is not None else None


def balancer_idle(p: Profile) -> tuple[float, str] | None:
    """(seconds, "AWS Application Load Balancer keeps idle connections to nginx 60s (source)")."""
    hop = balancer(p)
    if hop is None or hop.idle_to_next is None:
        return None
    idle = hop.idle_to_next
    behind = "nginx" if p.nginx_in_front else "gunicorn"
    return idle.seconds, f"{hop.label} keeps idle connections to {behind} for {idle.seconds:g}s ({idle.source})"


def client_keepalive_timeout(p: Profile) -> Value:
    known = balancer_idle(p)
    if known is not None:
        idle, said = known
        return Value(math.ceil(idle) + BALANCER_KEEPALIVE_MARGIN_S,
                     f"{said}: nginx keeps them {BALANCER_KEEPALIVE_MARGIN_S}s longer, so the balancer closes "
                     f"first and never sends a request on a connection nginx is closing (502)", "seconds")
    if p.trusted_proxies:
        return Value(75, "above the usual load balancer idle timeout (60s), so the balancer, "
                         "not nginx, closes idle connections", "seconds")
    return Value(65, "idle browser connections are cheap in nginx; reuse saves TLS handshakes", "seconds")


def client_header_timeout(p: Profile) -> Value | None:
    """Behind a balancer only: a connection it opened waits for its first request under this
    timer, not keepalive_timeout, so it must outlast the balancer's idle timeout as well."""
    if balancer_idle(p) is None:
        return None
    keepalive = client_keepalive_timeout(p).value
    return Value(keepalive, f"as keepalive_timeout ({keepalive}s): a connection {balancer(p).label} opened and has "
                            f"not used yet is closed after this ({CLIENT_HEADER_TIMEOUT_SOURCE}), so it too must "
                            f"outlast the balancer's idle timeout", "seconds")


def client_body_timeout(p: Profile) -> Value | None:
    """Behind a balancer only: the balancer passes on a slow client's body as it comes and bounds
    the client's silences itself; nginx must not cut first (408 for a client the balancer allows)."""
    if balancer_idle(p) is None:
        return None
    keepalive = client_keepalive_timeout(p).value
    return Value(keepalive, f"as keepalive_timeout ({keepalive}s): {balancer(p).label} bounds a silent client "
                            f"itself; a shorter wait here would answer 408 to a body the balancer is still "
                            f"passing on", "seconds")


def client_keepalive_requests(p: Profile) -> Value:
    return Value(1000, "nginx's default since 1.19.10; lower values close busy client connections")


# ---------------------------------------------------------------------------------------------
# Buffers


def client_max_body_size(p: Profile) -> Value:
    if p.max_body_size == 0:
        return Value(1, "max_body_size=0: nginx reads 0 as unlimited, so 1 byte is the "
                        "tightest limit it can express", "bytes")
    return Value(p.max_body_size, f"max_body_size={format_size(p.max_body_size)}", "bytes")


def client_body_buffer_size(p: Profile) -> Value:
    typical = _round_up(max(p.avg_request_body_size, 1), PAGE)
    size = max(16 * 1024, min(typical, 1024 * 1024, _round_up(max(p.max_body_size, 1), PAGE)))
    return Value(size, f"avg_request_body_size={format_size(p.avg_request_body_size)} "
                       f"stays in memory (16k..1m); larger bodies spool to disk", "bytes")


def proxy_buffer_size(p: Profile) -> Value:
    return Value(8 * 1024, "the response header, cookies included, fits one buffer", "bytes")


def proxy_buffers(p: Profile) -> Value:
    """(count, size) so a typical response is held in memory while it is sent to the client."""
    size = 8 * 1024
    while size < 1024 * 1024 and p.avg_response_size > size * 32:
        size *= 2
    count = min(64, max(8, math.ceil(p.avg_response_size / size) + 1))
    return Value((count, size), f"avg_response_size={format_size(p.avg_response_size)} "
                                f"fits {count} x {format_size(size)}", "buffers")


def gzip_min_length(p: Profile) -> Value:
    threshold = 1024 if p.avg_response_size >= 1024 else 256
    return Value(threshold, f"avg_response_size={format_size(p.avg_response_size)}: smaller "
                            f"bodies gain too little to pay for compression")


def gzip_comp_level(p: Profile) -> Value:
    return Value(5, "above 5 costs CPU for about 1 % smaller output")


def large_client_header_buffers(p: Profile) -> Value:
    return Value((4, 8 * 1024), "request lines up to 8k; gunicorn's limit_request_line matches", "buffers")


def gunicorn_limit_request_line(p: Profile) -> Value | None:
    if not p.nginx_in_front:
        return None  # no nginx limit to match: gunicorn's own (4094)
    count, size = large_client_header_buffers(p).value
    return Value(size - 2, f"what nginx passes (large_client_header_buffers {count} "
                           f"{format_size(size)}, less CRLF) so long URLs are not 400 at the app")


def gunicorn_bind(p: Profile) -> Value:
    if not p.nginx_in_front:
        return Value([p.app.bind], f"app.bind: {balancer(p).label} reaches gunicorn over the network")
    if p.app.binds_unix_socket:
        return Value([f"unix:{p.app.bind}"], "app.bind: nginx on this machine reaches it by socket")
    return Value([p.app.bind], "app.bind: nginx reaches this host over the network")


def gunicorn_forwarded_allow_ips(p: Profile) -> Value:
    if p.app.forwarded_allow_ips:
        return Value(",".join(p.app.forwarded_allow_ips), "app.forwarded_allow_ips: nginx's addresses")
    if not p.nginx_in_front:
        return Value(",".join(p.trusted_proxies), f"trusted_proxies: {balancer(p).label}'s addresses; X-Forwarded-For "
                                                  f"and -Proto are believed from them only")
    if p.app.binds_unix_socket:
        if p.app.kind == "asgi":
            return Value("*", "unix socket: only nginx can connect, and uvicorn ignores "
                              "X-Forwarded-* from a socket peer unless this is *")
        return Value("*", "unix socket: only nginx can connect (socket peers have no address "
                          "to check)")
    return Value("127.0.0.1,::1", "nginx on this machine connects from loopback")


# ---------------------------------------------------------------------------------------------
# Where requests go and what the app is told about them


def upstream_servers(p: Profile) -> Value:
    """Several hosts: nginx keeps no shared state without a ``zone``, so each worker counts a
    host's failures for itself; after fail_timeout the next request tries the host again, and
    one more failure rests it again (ngx_http_upstream_round_robin.c)."""
    if p.upstreams:
        return Value([f"{host} max_fails=3 fail_timeout=10s" for host in p.upstreams],
                     f"{len(p.upstreams)} app hosts: a host failing 3 times in 10s rests 10s, then one request "
                     f"tries it again (each nginx worker counts its own failures)")
    if p.app.binds_unix_socket:
        address = f"unix:{p.app.bind}"
    else:  # gunicorn on a local TCP port; a wildcard bind is reached on loopback
        host, _, port = p.app.bind.rpartition(":")
        address = f"{ {'0.0.0.0': '127.0.0.1', '[::]': '[::1]'}.get(host, host) }:{port}"
    return Value([f"{address} fail_timeout=0"], "the only app server: never mark it down, always retry it")


def upstream_balancing(p: Profile) -> Value | None:
    if len(p.upstreams) < 2:
        return None
    return Value("least_conn", "handler times vary: send each request to the least busy host")


def trusted_hop(p: Profile) -> str:
    """Who nginx believes forwarded headers from, for the comments that say so."""
    hop = balancer(p)
    named = f"{hop.label} (behind: {p.behind.balancer})" if hop is not None else "the balancer"
    return f"{named} at trusted_proxies {', '.join(p.trusted_proxies)}"


def forwarded_proto(p: Profile) -> Value:
    if p.trusted_proxies:
        return Value("$forwarded_proto", f"X-Forwarded-Proto as sent by {trusted_hop(p)}, only when the peer is "
                                         f"one of them; otherwise $scheme")
    return Value("$scheme", "nginx is the edge: a client's own X-Forwarded-Proto is not trusted")


def forwarded_for(p: Profile) -> Value:
    if p.trusted_proxies:
        return Value("$proxy_add_x_forwarded_for", f"append to the chain {trusted_hop(p)} sent")
    return Value("$remote_addr", "nginx is the edge: drop any client-sent X-Forwarded-For")



# ---------------------------------------------------------------------------------------------


def _readable_number(x: float) -> str:
    """10,000,000 and 500,000 rather than 1e+07; 8.05 and 100.02 as they are."""
    return f"{x:,.0f}" if x >= 100_000 else f"{x:,.6g}"


def _round_up(value: int, step: int) -> int:
    return math.ceil(value / step) * step


# Settings of the whole site (one nginx, one set of clients).
NGINX_VALUES: dict[str, Callable[[Profile], Value | None]] = {
    "worker_processes": nginx_worker_processes,
    "worker_connections": nginx_worker_connections,
    "worker_rlimit_nofile": nginx_worker_rlimit_nofile,
    "keepalive_timeout": client_keepalive_timeout,
    "keepalive_requests": client_keepalive_requests,
    "client_header_timeout": client_header_timeout,
    "client_body_timeout": client_body_timeout,
    "client_max_body_size": client_max_body_size,
    "client_body_buffer_size": client_body_buffer_size,
    "large_client_header_buffers": large_client_header_buffers,
    "proxy_buffer_size": proxy_buffer_size,
    "proxy_buffers": proxy_buffers,
    "gzip_min_length": gzip_min_length,
    "gzip_comp_level": gzip_comp_level,
    "X-Forwarded-Proto": forwarded_proto,
    "X-Forwarded-For": forwarded_for,
}

# Settings of one route's app (its upstream block and location), from its own load.
ROUTE_NGINX_VALUES: dict[str, Callable[[Profile], Value | None]] = {
    "upstream keepalive": upstream_keepalive,
    "upstream keepalive_timeout": upstream_keepalive_timeout,
    "upstream keepalive_requests": upstream_keepalive_requests,
    "upstream servers": upstream_servers,
    "upstream balancing": upstream_balancing,
    "proxy_read_timeout": proxy_read_timeout,
    "proxy_connect_timeout": proxy_connect_timeout,
    "proxy_next_upstream_timeout": proxy_next_upstream_timeout,
}

GUNICORN_VALUES: dict[str, Callable[[Profile], Value | None]] = {
    "bind": gunicorn_bind,
    "worker_class": gunicorn_worker_class,
    "workers": gunicorn_workers,
    "threads": gunicorn_threads,
    "worker_connections": gunicorn_worker_connections,
    "keepalive": gunicorn_keepalive,
    "timeout": gunicorn_timeout,
    "graceful_timeout": gunicorn_graceful_timeout,
    "limit_request_line": gunicorn_limit_request_line,
    "forwarded_allow_ips": gunicorn_forwarded_allow_ips,
}


@dataclass(frozen=True)
class RoutePlan:
    """One route's app: its view of the profile, its upstream/location values and its gunicorn."""

    route: Route
    profile: Profile
    nginx: dict[str, Value]
    gunicorn: dict[str, Value]


@dataclass(frozen=True)
class Plan:
    profile: Profile                 # with replicas, one replica's share of the load
    site: dict[str, Value]
    routes: list[RoutePlan]
    replicas: Value | None = None    # None: one machine, and the profile names no count

    @property
    def nginx(self) -> dict[str, Value]:
        """The site's nginx values and the first route's (the only one for a single-app profile)."""
        return {**self.site, **self.routes[0].nginx}

    @property
    def gunicorn(self) -> dict[str, Value]:
        return self.routes[0].gunicorn

    def rows(self) -> list[tuple[str, str, str]]:
        """(setting, value, reason) for ``--explain``; per-route rows carry the route's name
        when there are several."""
        rows = [("replicas", str(self.replicas), self.replicas.reason)] if self.replicas is not None else []
        rows += [(f"nginx {name}", str(v), v.reason) for name, v in self.site.items()]
        for route_plan in self.routes:
            prefix = f"{route_plan.route.name} {route_plan.route.path}: " if len(self.routes) > 1 else ""
            rows += [(f"{prefix}nginx {name}", str(v), v.reason) for name, v in route_plan.nginx.items()]
            rows += [(f"{prefix}gunicorn {name}", str(v), v.reason) for name, v in route_plan.gunicorn.items()]
        return rows


def _values(table: dict[str, Callable[[Profile], Value | None]], p: Profile) -> dict[str, Value]:
    return {name: value for name, fn in table.items() if (value := fn(p)) is not None}


def infeasible(p: Profile) -> list[str]:
    """Profiles no config can serve: numbers that contradict each other, a balancer that gives up
    before the app's request limit, and a fixed replica count whose machines cannot open the
    connections their share of the load needs (rendered anyway, the configs would be capped below
    the load and confgen's own linter would reject them)."""
    problems = []
    contradiction = in_flight_beyond_clients(p)
    if contradiction:
        problems.append(contradiction)
    problems += balancer_gives_up_first(p)
    if p.replicas is not None:
        serving = serving_replicas(p.replicas)
        for limit in machine_limits(p):
            if limit.hard and limit.at_least > serving:
                down = " with one down" if p.replicas > 1 else ""
                problems.append(f"{p.source}: replicas: {p.replicas} replica{'s' if p.replicas > 1 else ''} "
                                f"({serving} serving{down}) cannot carry the load: {limit.reason}; it needs "
                                f"{_replica_count(limit.machines)} (leave replicas out to size it)")
    return problems


def balancer_gives_up_first(p: Profile) -> list[str]:
    """The balancer stops waiting for a response before nginx does: the client gets the
    balancer's 504 while nginx and the app still work on the request, and nginx's own answer
    (and the app's timeout handling) never reaches it."""
    hop = balancer(p)
    if hop is None or hop.waits_for_next is None:
        return []
    waits = hop.waits_for_next
    problems = []
    if not p.nginx_in_front:
        if p.app.timeout_s >= waits.seconds:
            problems.append(f"{p.source}: app.timeout_s: the app's request limit ({p.app.timeout_s}s) is not below "
                            f"{hop.label}'s wait ({waits.describe()}): the balancer's 504 would come first while the "
                            f"app still works; lower app.timeout_s below {waits.seconds:g}s")
        return problems
    for route in p.routes:
        nginx_waits = proxy_read_timeout(route_profile(p, route)).value
        if nginx_waits >= waits.seconds:
            at = f"{route.name}: " if len(p.routes) > 1 else ""
            problems.append(f"{p.source}: app.timeout_s: {at}nginx waits {nginx_waits}s for the app "
                            f"(proxy_read_timeout, from app.timeout_s={route.app.timeout_s}) but {hop.label} gives up "
                            f"after {waits.describe()}: its 504 would come first while the app still works; lower "
                            f"app.timeout_s below {waits.seconds:g}s or raise the balancer's request timeout")
    return problems


# ---------------------------------------------------------------------------------------------
# Replicas: copies of this machine (nginx and its app) behind the balancer


@dataclass(frozen=True)
class MachineLimit:
    """How many machines one of the load's demands needs, and why. A hard limit (open files) no
    config can pass on one machine; a soft one (gthread slots) renders short of the load."""

    machines: int                # with the headroom the sizing gives every machine
    reason: str
    hard: bool
    fewest: int = 0              # hard limits: below this many, no config can open the connections

    @property
    def at_least(self) -> int:
        return self.fewest or self.machines


def machine_limits(p: Profile) -> list[MachineLimit]:
    """Each demand of the whole load over what one machine, sized by this model, carries."""
    number = _readable_number
    limits = []
    workers = nginx_worker_processes(p).value
    nginx_needs = p.clients + upstream_concurrency(p)
    nginx_holds = workers * (NOFILE_CEILING // 2)
    # worker_connections gives every worker 1.5 x its share: the count leaves room for that.
    limits.append(MachineLimit(
        math.ceil(nginx_needs * 1.5 / nginx_holds),
        f"nginx: clients={number(p.clients)} need {number(nginx_needs)} connections (client + upstream) x 1.5 "
        f"headroom, {workers} workers hold {number(nginx_holds)} under the {NOFILE_CEILING} open-file ceiling", True,
        fewest=math.ceil(nginx_needs / nginx_holds)))
    for route in p.routes:
        view = route_profile(p, route)
        slots = requests_in_flight(view) * 1.5
        hosts = app_hosts(view)
        at = f"{route.name}: " if len(p.routes) > 1 else ""
        load = (f"{at}{number(route.expected_qps)} QPS x {number(route.app.latency_ms)} ms = "
                f"{number(requests_in_flight(view))} requests in flight x 1.5 headroom")
        on = f" x {hosts} app hosts" if hosts > 1 else ""
        limits.append(MachineLimit(
            math.ceil(slots / (NOFILE_CEILING * hosts)),
            f"{load} over {NOFILE_CEILING}{on} per replica (the open files one machine can open)", True))
        if gunicorn_worker_class(view).value == "gthread":
            per_host = gunicorn_max_workers(view) * GTHREAD_MAX_THREADS
            limits.append(MachineLimit(
                math.ceil(slots / (per_host * hosts)),
                f"{load} over {per_host}{on} per replica ({gunicorn_max_workers(view)} gthread workers "
                f"x {GTHREAD_MAX_THREADS} threads)", False))
    return limits


def serving_replicas(count: int) -> int:
    """Replicas that carry the load while one is down (a deploy, a failed machine)."""
    return max(1, count - 1)


def _replica_count(machines: int) -> str:
    return f"{machines + 1} replicas ({machines} + 1 down)" if machines > 1 else "1 replica"


def replicas(p: Profile) -> Value | None:
    """How many machines: the profile's ``replicas``, else what the load needs plus one so it
    still fits with one down; None when one machine carries it and the profile names no count."""
    limits = machine_limits(p)
    binding = max(limits, key=lambda limit: limit.machines)
    if p.replicas is not None:
        serving = serving_replicas(p.replicas)
        share = f"the load over {serving} (one down)" if p.replicas > 1 else "the whole load"
        reason = f"replicas={p.replicas} (profile): each is sized for {share}"
        short = [limit for limit in limits if limit.machines > serving]
        if short:
            reason += f"; short: {short[0].reason} needs {_replica_count(short[0].machines)}"
        return Value(p.replicas, reason)
    if binding.machines <= 1:
        return None
    return Value(binding.machines + 1, f"{binding.reason}: {binding.machines} replicas, + 1 so the load still fits "
                                       f"with one down; each is sized for 1/{binding.machines} of the load")


# ---------------------------------------------------------------------------------------------
# Pods (render --target kubernetes): how a replica stops, and how many the autoscaler keeps

# Endpoint removal reaches kube-proxy, ingress controllers and cloud balancers seconds after a pod
# starts terminating (AWS: the ALB keeps sending for a few seconds after deregistration starts,
# and its guide asks for a preStop sleep); until then new requests still arrive.
PRESTOP_SLEEP_S = 10
PRESTOP_SOURCE = ("https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/3270 (the EKS best "
                  "practices guide on deregistration)")
# SIGTERM to SIGKILL margin beyond the drain: nginx's graceful stop and gunicorn's worker exit.
STOP_MARGIN_S = 5
# The sizing's 1.5 x headroom: scale out once a replica uses 2/3 of its CPUs.
HPA_CPU_UTILIZATION = 66


def prestop_sleep(p: Profile) -> Value:
    return Value(PRESTOP_SLEEP_S, f"new requests keep arriving for a few seconds after a pod starts terminating, "
                                  f"until every balancer and proxy has dropped it ({PRESTOP_SOURCE}): both "
                                  f"containers keep serving that long before they stop", "seconds")


def termination_grace_period(p: Profile) -> Value:
    drain = prestop_sleep(p).value
    running = max(route.app.timeout_s for route in p.routes)
    return Value(drain + running + STOP_MARGIN_S,
                 f"preStop {drain}s + the slowest request (app.timeout_s={running}s, gunicorn's graceful_timeout) "
                 f"+ {STOP_MARGIN_S}s to exit: running requests finish before the kubelet kills the pod")


def autoscaler_range(p: Profile, count: Value | None) -> tuple[Value, Value]:
    """(minReplicas, maxReplicas): the replicas the load needs (at least 2, so one can be down
    under the disruption budget), and the profile's ceiling or twice that."""
    floor = max(2, count.value if count is not None else 1)
    why = count.reason if count is not None else "one machine carries the load"
    low = Value(floor, f"{why}; at least 2 so one can be down (PodDisruptionBudget maxUnavailable 1)")
    ceiling = p.kubernetes.max_replicas if p.kubernetes is not None and p.kubernetes.max_replicas else 2 * floor
    high = Value(max(floor, ceiling), "kubernetes.max_replicas" if p.kubernetes is not None and p.kubernetes.max_replicas
                 else f"twice the floor: room for load beyond the profile's expected_qps")
    return low, high


# ---------------------------------------------------------------------------------------------
# The edge in front of the pods (render --target kubernetes): the Ingress or HTTPRoute that routes
# outside traffic to the Service, its values from the chain model above. The balancer is the hop
# in front of nginx; its idle timeout is what nginx's keepalive_timeout outlasts (above), its wait
# for a response is what app.timeout_s must end under (balancer_gives_up_first).

# The balancers whose edge object --target kubernetes renders: ingress-nginx an Ingress, a
# Gateway API gateway an HTTPRoute.
RENDERED_EDGES = ("ingress-nginx", "gateway-api")
INGRESS_NGINX_ANNOTATIONS_DOC = ("https://github.com/kubernetes/ingress-nginx/blob/main/docs/user-guide/"
                                 "nginx-configuration/annotations.md")
INGRESS_NGINX_CONFIGMAP_DOC = ("https://github.com/kubernetes/ingress-nginx/blob/main/docs/user-guide/"
                               "nginx-configuration/configmap.md")
HTTPROUTE_TIMEOUTS_DOC = "https://gateway-api.sigs.k8s.io/api-types/httproute/#timeouts-optional"


def renders_edge(p: Profile) -> bool:
    return p.behind is not None and p.behind.balancer in RENDERED_EDGES


def pod_nginx_waits(p: Profile) -> Value:
    """How long nginx in the pod waits for the app: the slowest route's proxy_read_timeout."""
    waits = [(proxy_read_timeout(route_profile(p, route)).value, route) for route in p.routes]
    seconds, route = max(waits, key=lambda pair: pair[0])
    at = f"route {route.name}'s " if len(p.routes) > 1 else ""
    return Value(seconds, f"{at}proxy_read_timeout {seconds}s (app.timeout_s={route.app.timeout_s})", "seconds")


def edge_request_timeout(p: Profile) -> Value:
    """How long the edge in front of the pods waits for a response: the profile's
    behind.request_timeout_s, else longer than nginx in the pod waits for the app, by 10 % and at
    least 5 s, so nginx in the pod gives up first and its answer is the one the client gets. The
    edge starts its timer before nginx starts its own (it sends the request first), so equal
    timers would let the edge fire first."""
    nginx = pod_nginx_waits(p)
    label = balancer(p).label
    if p.behind.request_timeout_s is not None:
        return Value(p.behind.request_timeout_s, f"behind.request_timeout_s={p.behind.request_timeout_s} (profile): "
                                                 f"above nginx's {nginx.reason} in the pod", "seconds")
    margin = max(5, math.ceil(nginx.value * 0.1))
    if p.behind.balancer == "ingress-nginx":
        after = (f"a 504 it receives is passed on, while its own timeout would be retried on another pod for an "
                 f"idempotent request (proxy-next-upstream, default \"error timeout\", {INGRESS_NGINX_CONFIGMAP_DOC})")
    else:
        after = "its own timeout error would answer the client while the app still works"
    return Value(nginx.value + margin,
                 f"nginx in the pod waits for the app: {nginx.reason}; {label} waits {margin}s longer (10 %, at "
                 f"least 5 s) so nginx answers first (504, or the app's own answer) and the client gets it: "
                 f"{after}", "seconds")


def ingress_nginx_annotations(p: Profile) -> dict[str, Value]:
    """The ingress-nginx annotations of the Ingress in front of the pods, each set from the value
    nginx in the pod has for the same thing (names, value formats and defaults: annotations.md
    and configmap.md of kubernetes/ingress-nginx). Annotation values are strings; timeouts are
    unitless seconds, sizes nginx sizes. ingress-nginx's keep-alive to the pods
    (upstream-keepalive-timeout) is a setting of the controller's ConfigMap, not of an Ingress:
    nginx's keepalive_timeout outlasts it (client_keepalive_timeout)."""
    prefix = "nginx.ingress.kubernetes.io/"
    read = edge_request_timeout(p)
    body = client_max_body_size(p)
    header = proxy_buffer_size(p)
    buffered = client_body_buffer_size(p)
    if p.max_body_size == 0:
        body_reason = ("max_body_size=0: 1 byte, as client_max_body_size in the pod (0 would be unlimited to "
                       "nginx)")
    else:
        body_reason = (f"max_body_size={format_size(p.max_body_size)}, as client_max_body_size in the pod: under "
                       f"ingress-nginx's default 1m (proxy-body-size) a larger body gets 413 from the ingress "
                       f"and never reaches the app")
    return {
        prefix + "proxy-read-timeout": Value(str(read.value), read.reason),
        prefix + "proxy-send-timeout": Value(str(read.value), (
            f"as proxy-read-timeout, the pairing nginx in the pod has (proxy_send_timeout = proxy_read_timeout): "
            f"it bounds a stall while the ingress writes the request to the pod (ingress-nginx's default 60)")),
        prefix + "proxy-body-size": Value(format_size(body.value), body_reason),
        prefix + "proxy-buffer-size": Value(format_size(header.value), (
            f"as proxy_buffer_size in the pod ({header.reason}): under ingress-nginx's default 4k a response "
            f"header nginx in the pod passed on would fail at the ingress (\"upstream sent too big header\", "
            f"502)")),
        prefix + "client-body-buffer-size": Value(format_size(buffered.value), (
            f"as client_body_buffer_size in the pod ({buffered.reason}): ingress-nginx reads the whole body "
            f"before passing it on (proxy-request-buffering on) and keeps up to this in memory, not a temp file "
            f"(its default 8k)")),
    }


def httproute_request_timeout(p: Profile) -> Value:
    """The HTTPRoute rule's timeouts.request: the edge's wait (edge_request_timeout), spelled as a
    Gateway API duration. It bounds the whole exchange at the gateway, not a silence: an
    implementation may start it as the client begins sending and stops it when the response has
    been received, so a slow upload or download counts too."""
    wait = edge_request_timeout(p)
    return Value(wait.value, f"{wait.reason}; timeouts.request bounds the whole exchange at the gateway (it may "
                             f"start as the client begins sending), not a silence as proxy_read_timeout does: "
                             f"raise behind.request_timeout_s for slow uploads or downloads ({HTTPROUTE_TIMEOUTS_DOC})",
                 "seconds")


def with_rendered_edge(p: Profile) -> Profile:
    """The profile as the chain model must see it once the edge object is rendered: the
    balancer waits what the Ingress or HTTPRoute says (edge_request_timeout), so the feasibility
    check (balancer_gives_up_first) compares nginx with the rendered value, not with the
    balancer's default."""
    if not renders_edge(p) or p.behind.request_timeout_s is not None:
        return p
    return dataclasses.replace(p, behind=dataclasses.replace(p.behind,
                                                             request_timeout_s=edge_request_timeout(p).value))


def replica_profile(p: Profile, serving: int) -> Profile:
    """One replica's share of the load: clients and every route's QPS over the serving replicas."""
    if serving <= 1:
        return p
    routes = tuple(dataclasses.replace(route, expected_qps=route.expected_qps / serving) for route in p.routes)
    return dataclasses.replace(p, clients=math.ceil(p.clients / serving), expected_qps=p.expected_qps / serving,
                               routes=routes)


def multiplexed(p: Profile) -> bool:
    """Clients can carry several requests at once on one connection: HTTP/2, which the
    rendered nginx.conf offers with tls only."""
    return p.tls is not None


def in_flight_beyond_clients(p: Profile) -> str | None:
    """A profile that contradicts itself: over HTTP/1.1 a client connection carries one request
    at a time, so no more than ``clients`` requests can be in flight; a Little's law figure
    above that means one of the numbers is wrong, and sizing from it would over-provision
    (worker_connections, keep-alive pools) by the same factor."""
    in_flight = requests_in_flight(p)
    if multiplexed(p) or in_flight <= p.clients:
        return None
    number = _readable_number
    if len(p.routes) > 1:
        load = "routes.*.expected_qps x routes.*.app.latency_ms"
        figures = " + ".join(f"{number(r.expected_qps)} x {number(r.app.latency_ms)} ms" for r in p.routes)
    else:
        load = "expected_qps x app.latency_ms"
        figures = f"{number(p.expected_qps)} QPS x {number(p.app.latency_ms)} ms"
    return (f"{p.source}: {load} vs clients: {figures} is {number(in_flight)} requests in flight, "
            f"{number(in_flight / p.clients)} x the {number(p.clients)} clients, but without HTTP/2 (no tls) each client "
            f"connection carries one request at a time: raise clients, lower expected_qps or app.latency_ms, "
            f"or serve HTTPS (HTTP/2)")


def plan(p: Profile) -> Plan:
    """The values of one machine: the whole load's, or one replica's share of it."""
    problems = infeasible(p)
    if problems:
        raise ConfgenError(*problems)
    count = replicas(p)
    p = replica_profile(p, serving_replicas(count.value) if count is not None else 1)
    route_plans = []
    for route in p.routes:
        view = route_profile(p, route)
        nginx = _values(ROUTE_NGINX_VALUES, view) if p.nginx_in_front else {}
        route_plans.append(RoutePlan(route=route, profile=view, nginx=nginx, gunicorn=_values(GUNICORN_VALUES, view)))
    return Plan(profile=p, site=_values(NGINX_VALUES, p) if p.nginx_in_front else {}, routes=route_plans,
                replicas=count)
