"""Access logs generated from known distributions, with the truth they were drawn from: for the
accuracy tests, the speed benchmark and the bundled sample log.

Requests arrive as a Poisson process of a known rate; the app's latency is log-normal; response
sizes and request bodies come from known weighted sets; each client connection carries a
geometric number of requests. The exact truth that depends on the draw (per-second counts, open
connections) is computed from the generated requests themselves.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

RESPONSE_SIZES = ((512, 5), (2048, 3), (16384, 1), (131072, 1))   # (bytes, weight)
BODY_SIZES = ((300, 6), (4096, 3), (900_000, 1))                   # POST bodies
POST_SHARE = 0.1
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "curl/8.5.0", "python-httpx/0.27.0")
PATHS = ("/", "/api/items", "/api/items/42", "/api/search?q=nginx", "/static/app.css")
ROUTES = {"/": "/", "/api/items": "/api/items", "/api/items/42": "/api/items/{id}", "/api/search?q=nginx": "/api/search",
          "/static/app.css": "/static/app.css"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class Truth:
    """What the log was drawn from, and exact facts of the draw."""

    rate: float
    latency_mu: float
    latency_sigma: float
    keepalive_s: int
    requests: int = 0
    per_second: Counter = field(default_factory=Counter)
    latency_ms_sum: int = 0
    upstream_requests: int = 0
    response_bytes_sum: int = 0
    body_bytes_sum: int = 0
    bodies: int = 0
    max_body: int = 0
    connection_spans: list = field(default_factory=list)
    long_lived: int = 0                                  # upgrades (101) and long-polls drawn
    intervals: list = field(default_factory=list)        # (start ms, end ms) of each timed request, if recorded
    routes: Counter = field(default_factory=Counter)     # "GET /api/items/{id}" -> requests

    @property
    def mean_latency_ms(self) -> float:
        """The distribution's mean: exp(mu + sigma^2 / 2) seconds."""
        return 1000 * math.exp(self.latency_mu + self.latency_sigma ** 2 / 2)

    @property
    def mean_response_size(self) -> float:
        return sum(s * w for s, w in RESPONSE_SIZES) / sum(w for _, w in RESPONSE_SIZES)

    @property
    def mean_body_size(self) -> float:
        return sum(s * w for s, w in BODY_SIZES) / sum(w for _, w in BODY_SIZES)

    def poisson_quantile(self, q: float) -> int:
        """The q-quantile of a Poisson(rate) count: the per-second counts' true p99."""
        term = total = math.exp(-self.rate) if self.rate < 700 else 0.0
        if total == 0.0:  # normal approximation for large rates
            return round(self.rate + 2.326 * math.sqrt(self.rate))
        k = 0
        while total < q:
            k += 1
            term *= self.rate / k
            total += term
        return k

    def peak_open_connections(self) -> int:
        """Connections open in a second (first request to last + keepalive), at the busiest second."""
        delta: Counter = Counter()
        for start, end in self.connection_spans:
            delta[start] += 1
            delta[end + self.keepalive_s + 1] -= 1
        running = peak = 0
        for second in sorted(delta):
            running += delta[second]
            peak = max(peak, running)
        return peak


def _weighted(choices, rng: random.Random):
    values = [v for v, _ in choices]
    weights = [w for _, w in choices]
    return lambda: rng.choices(values, weights)[0]


def time_local(second: int) -> str:
    import time

    t = time.gmtime(second)
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def generate(write, *, rate: float, seconds: float, start: float = 1_795_600_000.0, fmt: str = "confgen",
             seed: int = 1, latency_mu: float = math.log(0.040), latency_sigma: float = 0.5,
             requests_per_connection: float = 8.0, keepalive_s: int = 75, retries: float = 0.01,
             no_upstream: float = 0.02, host: int = 0, long_lived: float = 0.0,
             record_intervals: bool = False) -> Truth:
    """Write a log (``write(text)`` is called with blocks of lines) of ``rate`` requests/s for
    ``seconds`` in format ``confgen``, ``main`` or ``combined``; returns the truth. A share
    ``long_lived`` of the requests are WebSocket upgrades (101, held 1-10 min) and long-polls
    (held 61-120 s); ``record_intervals`` keeps each timed request's interval in the truth."""
    rng = random.Random(seed)
    truth = Truth(rate, latency_mu, latency_sigma, keepalive_s)
    response_size = _weighted(RESPONSE_SIZES, rng)
    body_size = _weighted(BODY_SIZES, rng)
    end = start + seconds
    now = start
    connection_id = host * 10_000_000
    open_connections: list[list] = []  # [id, requests left, first second, last second, served]
    lines: list[str] = []
    local_cache: dict[int, str] = {}
    p_new = 1.0 / requests_per_connection
    while True:
        now += rng.expovariate(rate)
        if now >= end:
            break
        stamp_ms = round(now * 1000)  # what $msec writes; its whole seconds are the truth's
        second = stamp_ms // 1000
        if not open_connections or rng.random() < p_new:
            connection_id += 1
            open_connections.append([connection_id, max(1, round(rng.expovariate(p_new))), second, second, 0])
            if len(open_connections) > 64:
                _close(open_connections.pop(0), truth)
        connection = open_connections[rng.randrange(len(open_connections))]
        connection[3] = second
        connection[4] += 1
        latency_ms = max(1, round(rng.lognormvariate(latency_mu, latency_sigma) * 1000))
        post = rng.random() < POST_SHARE
        body = body_size() if post else 0
        size = response_size()
        status = 201 if post else 200
        draw = rng.random()
        held = long_lived and rng.random() < long_lived
        if held:
            upgrade = rng.random() < 0.5
            status, size, post, body = (101 if upgrade else 200), 0, False, 0
            latency_ms = rng.randint(60_001, 600_000) if upgrade else rng.randint(61_000, 120_000)
            upstream = f"{latency_ms / 1000:.3f}"
            truth.long_lived += 1
        elif draw < no_upstream:
            upstream = "-"
            status = 304
            size = 0
            latency_ms = 0
        elif draw < no_upstream + retries:
            first_try = min(latency_ms - 1, 5) if latency_ms > 1 else 0
            upstream = f"{first_try / 1000:.3f}, {(latency_ms - first_try) / 1000:.3f}"
        else:
            upstream = f"{latency_ms / 1000:.3f}"
        request_ms = latency_ms + 1
        truth.requests += 1
        truth.per_second[second] += 1
        if upstream != "-" and not held:
            truth.latency_ms_sum += latency_ms
            truth.upstream_requests += 1
            if record_intervals:
                truth.intervals.append((stamp_ms - latency_ms, stamp_ms))
        truth.response_bytes_sum += size
        if body:
            truth.body_bytes_sum += body
            truth.bodies += 1
            truth.max_body = max(truth.max_body, body)
        local = local_cache.get(second)
        if local is None:
            local_cache.clear()
            local = local_cache[second] = time_local(second)
        method = "POST" if post else "GET"
        path = PATHS[connection[0] % len(PATHS)]
        truth.routes[f"{method} {ROUTES[path]}"] += 1
        address = f"10.{host}.{connection[0] // 250 % 250}.{connection[0] % 250}"
        agent = AGENTS[connection[0] % len(AGENTS)]
        head = (f'{address} - - [{local}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"')
        if fmt == "combined":
            lines.append(head + "\n")
        elif fmt == "main":
            lines.append(f'{head} "-"\n')
        else:
            length = 180 + body
            content_length = str(body) if post else "-"
            lines.append(f'{head} {second}.{stamp_ms % 1000:03d} {request_ms / 1000:.3f} "{upstream}" {length} "{content_length}" '
                         f'{connection[0]} {connection[4]}\n')
        if connection[4] >= connection[1]:
            open_connections.remove(connection)
            _close(connection, truth)
        if len(lines) >= 20000:
            write("".join(lines))
            lines.clear()
    for connection in open_connections:
        _close(connection, truth)
    write("".join(lines))
    return truth


def _close(connection: list, truth: Truth) -> None:
    truth.connection_spans.append((connection[2], connection[3]))
