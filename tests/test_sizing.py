"""The sizing model on ordinary and extreme profiles: invariants, and reasons that name inputs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confgen.errors import ConfgenError
from confgen.profile import sizing
from confgen.profile.loading import load_profile
from confgen.gunicorn.worker_timeouts import timeout_model
from conftest import MINIMAL_PROFILE


TLS = {"certificate": "/etc/ssl/c.pem", "certificate_key": "/etc/ssl/k.pem"}


def _plan(**changes):
    app = {**MINIMAL_PROFILE["app"], **changes.pop("app", {})}
    return sizing.plan(load_profile({**MINIMAL_PROFILE, **changes, "app": app}))


def _check_invariants(plan):
    n, g = plan.nginx, plan.gunicorn
    p = plan.profile
    assert n["worker_processes"].value == p.cpus
    assert n["worker_rlimit_nofile"].value >= 2 * n["worker_connections"].value or \
        n["worker_rlimit_nofile"].value == sizing.NOFILE_CEILING
    assert n["worker_rlimit_nofile"].value <= sizing.NOFILE_CEILING
    assert n["worker_connections"].value >= 1024
    assert g["keepalive"].value > n["upstream keepalive_timeout"].value
    if timeout_model(g["worker_class"].value).kills_slow_requests:
        assert g["timeout"].value < n["proxy_read_timeout"].value
    else:  # gunicorn's timeout is a heartbeat: nginx's is the request limit, app.timeout_s
        assert n["proxy_read_timeout"].value == p.app.timeout_s == g["timeout"].value
        assert "heartbeat" in g["timeout"].reason and "504" in n["proxy_read_timeout"].reason
    assert n["proxy_connect_timeout"].value <= 75
    assert 1 <= g["workers"].value <= 2 * p.cpus + 1
    assert g["worker_class"].value != "sync"
    pool = n["upstream keepalive"].value
    assert pool >= 8
    # The pool never drops below the concurrency one worker may see, when the app can take it.
    concurrent = min(sizing.upstream_concurrency(p), sizing.app_concurrency_per_host(p) * sizing.app_hosts(p))
    assert pool >= min(concurrent, concurrent / p.cpus)
    assert n["client_max_body_size"].value >= 1
    count, size = n["proxy_buffers"].value
    assert count >= 4 and size % 4096 == 0
    if p.app.kind == "wsgi":
        assert g["worker_class"].value == "gthread" and g["threads"].value >= 2
    for value in list(n.values()) + list(g.values()):
        assert value.reason and "\n" not in value.reason


@pytest.mark.parametrize(
    "changes",
    [
        {"cpus": 1},
        {"cpus": 64},
        {"clients": 1, "expected_qps": 20},  # 1 request in flight: one per client
        {"clients": 100000},
        {"max_body_size": 0},
        {"max_body_size": "1g"},
        {"expected_qps": 0.1},
        {"expected_qps": 1_000_000, "clients": 500_000, "app": {"kind": "wsgi", "latency_ms": 500}},
        {"cpus": 256, "clients": 1_000_000},
        {"cpus": 4, "clients": 1_000_000},
    ],
    ids=repr,
)
def test_edge_profiles_keep_invariants(changes):
    _check_invariants(_plan(**changes))


def test_worker_connections_cover_two_fds_per_client():
    plan = _plan(cpus=4, clients=10000)
    assert plan.nginx["worker_connections"].value * 4 >= 10000 * 2
    assert "clients=10000" in plan.nginx["worker_connections"].reason


def test_worker_connections_capped_by_open_file_ceiling():
    """One machine fixed by the profile: capped (it can open the connections, not the headroom),
    and the replica count says how many would carry it."""
    plan = _plan(cpus=4, clients=1_000_000, replicas=1)
    assert plan.nginx["worker_rlimit_nofile"].value == sizing.NOFILE_CEILING
    assert "ceiling" in plan.nginx["worker_connections"].reason
    assert "needs 3 replicas (2 + 1 down)" in plan.replicas.reason
    assert _plan(cpus=4, clients=1_000_000).replicas.value == 3


def test_loads_beyond_one_machines_file_ceiling_are_refused_with_one_replica_fixed():
    with pytest.raises(ConfgenError, match=r"replicas: 1 replica \(1 serving\) cannot carry the load: nginx: .* "
                                           r"open-file ceiling; it needs 7 replicas \(6 \+ 1 down\)"):
        _plan(cpus=1, clients=1_000_000, replicas=1)
    with pytest.raises(ConfgenError, match=r"requests in flight x 1.5 headroom over 1048576 per replica"):
        _plan(cpus=64, clients=1_000_000, expected_qps=1e6, app={"latency_ms": 1000}, replicas=1)


def test_multiplexed_requests_beyond_clients_size_the_pool_and_the_app():
    """HTTP/2 clients carry many requests each: Little's law, not the client count, bounds the
    upstream requests at once, and each gthread worker must accept its share."""
    plan = _plan(cpus=1, clients=1, expected_qps=161, tls=TLS)  # 8.05 requests in flight over 1 client
    assert plan.nginx["upstream keepalive"].value >= 9
    busy = _plan(cpus=2, clients=100, expected_qps=50_000, app={"latency_ms": 100, "kind": "wsgi"}, tls=TLS, replicas=1)
    # 5000 in flight: each gthread worker accepts its share (beyond it, it stops accepting)
    assert busy.gunicorn["worker_connections"].value * busy.gunicorn["workers"].value >= 5000 * 1.5
    assert "stops accepting" in busy.gunicorn["worker_connections"].reason
    assert busy.nginx["upstream keepalive"].value * 2 >= 5000


def test_routes_are_sized_from_their_own_load():
    site = {k: v for k, v in MINIMAL_PROFILE.items() if k not in ("app", "expected_qps")}
    plan = sizing.plan(load_profile({**site, "cpus": 4, "routes": [
        {"name": "api", "path": "/api/", "expected_qps": 2000, "app": {"module": "a:b", "kind": "wsgi", "latency_ms": 50}},
        {"name": "web", "path": "/", "expected_qps": 10, "app": {"module": "w:b", "kind": "wsgi", "latency_ms": 50}}]}))
    api, web = plan.routes
    assert api.gunicorn["threads"].value * api.gunicorn["workers"].value >= 150
    assert web.gunicorn["workers"].value * web.gunicorn["threads"].value < 20
    assert "qps=2000" in api.gunicorn["threads"].reason and "qps=10" in web.gunicorn["threads"].reason
    rows = [row[0] for row in plan.rows()]
    assert "api /api/: gunicorn workers" in rows and "web /: nginx upstream keepalive" in rows


def test_zero_byte_bodies_are_not_unlimited():
    plan = _plan(max_body_size=0)
    assert plan.nginx["client_max_body_size"].value == 1  # nginx reads 0 as "no limit"


def test_littles_law_sizes_gthread_threads():
    # 200 qps x 100 ms = 20 in flight, x 1.5 = 30 slots; 2 CPUs allow 5 workers.
    plan = _plan(cpus=2, expected_qps=200, app={"kind": "wsgi", "latency_ms": 100})
    g = plan.gunicorn
    assert g["worker_class"].value == "gthread"
    assert g["workers"].value * g["threads"].value >= 30
    assert g["workers"].value <= 5
    assert "qps=200" in g["threads"].reason and "latency=100ms" in g["threads"].reason


def test_saturated_app_says_so():
    """With the replica count fixed, a gthread app short of threads renders short and says so."""
    plan = _plan(cpus=1, clients=2000, expected_qps=10000, app={"kind": "wsgi", "latency_ms": 200}, replicas=1)
    assert "short of" in plan.gunicorn["workers"].reason
    assert "short: " in plan.replicas.reason and "needs 33 replicas (32 + 1 down)" in plan.replicas.reason


def test_asgi_workers_and_no_threads():
    plan = _plan(cpus=4)
    assert plan.gunicorn["worker_class"].value == "uvicorn_worker.UvicornWorker"
    assert plan.gunicorn["workers"].value == 4
    assert "threads" not in plan.gunicorn


def test_native_asgi_worker():
    plan = _plan(gunicorn_version="24.1", app={"asgi_worker": "gunicorn"})
    assert plan.gunicorn["worker_class"].value == "asgi"


def test_forwarded_headers_edge_vs_trusted_proxy():
    edge = _plan()
    assert edge.nginx["X-Forwarded-Proto"].value == "$scheme"
    behind = _plan(trusted_proxies=["10.0.0.0/8"])
    assert behind.nginx["X-Forwarded-Proto"].value == "$forwarded_proto"
    assert behind.nginx["keepalive_timeout"].value > 60


def test_forwarded_allow_ips_for_unix_socket_and_tcp():
    assert _plan().gunicorn["forwarded_allow_ips"].value == "*"
    tcp = _plan(app={"bind": "127.0.0.1:8000"})
    assert tcp.gunicorn["forwarded_allow_ips"].value == "127.0.0.1,::1"


@pytest.mark.parametrize("bind, server", [("unix:/run/a.sock", "unix:/run/a.sock"), ("127.0.0.1:8000", "127.0.0.1:8000"),
                                          ("0.0.0.0:8001", "127.0.0.1:8001"), ("[::]:8002", "[::1]:8002")])
def test_local_app_is_reached_where_it_binds(bind, server):
    assert _plan(app={"bind": bind}).nginx["upstream servers"].value == [f"{server} fail_timeout=0"]


def test_upstream_pool_spans_app_hosts():
    plan = _plan(cpus=8, clients=20000, upstreams=["10.0.0.2:8000", "10.0.0.3:8000"],
                 app={"forwarded_allow_ips": ["10.0.0.1"]})
    assert plan.nginx["upstream balancing"].value == "least_conn"
    assert len(plan.nginx["upstream servers"].value) == 2
    assert plan.gunicorn["bind"].value == ["0.0.0.0:8000"]


def test_a_request_is_passed_to_the_next_app_host_only_within_the_read_timeout():
    """tests/test_render_replicas_real_stack.py shows both on nginx and three gunicorns."""
    several = _plan(upstreams=["10.0.0.2:8000", "10.0.0.3:8000"], app={"forwarded_allow_ips": ["10.0.0.1"],
                                                                         "timeout_s": 20})
    limit = several.nginx["proxy_next_upstream_timeout"]
    assert limit.value == several.nginx["proxy_read_timeout"].value == 20 and str(limit) == "20s"
    assert "not run again on another host" in limit.reason and "each of the 2 hosts in turn" in limit.reason
    assert "each nginx worker counts its own failures" in several.nginx["upstream servers"].reason
    # One app server: nothing to pass a request on to (its one try, fail_timeout=0).
    assert "proxy_next_upstream_timeout" not in _plan().nginx
    assert "proxy_next_upstream_timeout" not in _plan(upstreams=["10.0.0.2:8000"], app={
        "forwarded_allow_ips": ["10.0.0.1"]}).nginx


profiles = st.fixed_dictionaries(
    {
        "cpus": st.integers(1, 256),
        "expected_qps": st.floats(0.1, 1e6, allow_nan=False),
        "clients": st.integers(1, 1_000_000),
        "max_body_size": st.integers(0, 10 * 1024**3),
        "avg_response_size": st.integers(0, 100 * 1024**2),
        "app": st.fixed_dictionaries(
            {"module": st.just("a.b:app"), "kind": st.sampled_from(["asgi", "wsgi"]),
             "latency_ms": st.floats(0.01, 60000), "timeout_s": st.integers(1, 86400)}
        ),
    }
)


def _clients_for_the_load(data: dict) -> dict:
    """At least one client per request in flight (over HTTP/1.1 no fewer can carry the load;
    the contradiction is refused, see test_requests_in_flight_beyond_clients_are_refused)."""
    in_flight = data["expected_qps"] * data["app"]["latency_ms"] / 1000
    return {**data, "clients": max(data["clients"], min(100_000_000, math.ceil(in_flight)))}


@settings(max_examples=300, deadline=None)
@given(profiles.map(_clients_for_the_load))
def test_invariants_hold_for_any_valid_profile(data):
    try:
        the_plan = sizing.plan(load_profile(data))
    except ConfgenError as error:  # a load beyond one machine's open files: refused, one line each
        assert all("open-file ceiling" in line or "one machine can open" in line for line in error.lines), error.lines
        return
    _check_invariants(the_plan)


def test_requests_in_flight_beyond_clients_are_refused():
    """Over HTTP/1.1 a client connection carries one request at a time: 100 clients cannot have
    500 000 requests in flight (rendered anyway, nginx got worker_connections 375808)."""
    with pytest.raises(ConfgenError) as raised:
        _plan(clients=100, expected_qps=10_000_000)
    (line,) = raised.value.lines
    assert line.startswith("<profile>: expected_qps x app.latency_ms vs clients: ")
    assert "10,000,000 QPS x 50 ms is 500,000 requests in flight, 5,000 x the 100 clients" in line
    # Exactly one request per client is possible; one more is not.
    assert _plan(clients=100, expected_qps=2000).nginx["upstream keepalive"].value >= 8
    with pytest.raises(ConfgenError, match="100.02 requests in flight"):
        _plan(clients=100, expected_qps=2000.4)


def test_requests_in_flight_beyond_clients_are_multiplexed_over_http2():
    plan = _plan(clients=100, expected_qps=100_000, tls=TLS)  # 5000 in flight over HTTP/2
    assert "requests in flight, multiplexed" in plan.nginx["worker_connections"].reason


def test_contradicting_routes_name_the_route_keys():
    site = {k: v for k, v in MINIMAL_PROFILE.items() if k not in ("app", "expected_qps")}
    with pytest.raises(ConfgenError) as raised:
        sizing.plan(load_profile({**site, "clients": 10, "routes": [
            {"name": "api", "path": "/api/", "expected_qps": 400, "app": {"module": "a:b", "kind": "asgi", "latency_ms": 20}},
            {"name": "web", "path": "/", "expected_qps": 30, "app": {"module": "w:b", "kind": "wsgi", "latency_ms": 150}}]}))
    (line,) = raised.value.lines
    assert "routes.*.expected_qps x routes.*.app.latency_ms vs clients: 400 x 20 ms + 30 x 150 ms is 12.5 requests" in line


def test_worker_connections_only_for_the_class_that_reads_it():
    """gunicorn reads worker_connections in gthread (and gevent); uvicorn's worker and
    gunicorn's asgi worker do not, so it is not written for them."""
    assert "worker_connections" in _plan(app={"kind": "wsgi"}).gunicorn
    assert "worker_connections" not in _plan(app={"kind": "asgi"}).gunicorn
    assert "worker_connections" not in _plan(app={"kind": "asgi", "asgi_worker": "gunicorn"}).gunicorn


@pytest.mark.parametrize("app, worker_class, heartbeat", [
    ({"kind": "wsgi"}, "gthread", "the main thread beats"),
    ({"kind": "asgi"}, "uvicorn_worker.UvicornWorker", "the event loop beats"),
    ({"kind": "asgi", "asgi_worker": "gunicorn"}, "asgi", "the event loop beats"),
])
def test_timeout_reasons_follow_the_worker_class(app, worker_class, heartbeat):
    """gunicorn's timeout is a heartbeat for these classes: nginx's proxy_read_timeout is the
    request limit, and the reason says what bounds the work in the app
    (tests/test_render_real_stack.py shows it on the real stack)."""
    plan = _plan(app={**app, "timeout_s": 40})
    timeout, read = plan.gunicorn["timeout"], plan.nginx["proxy_read_timeout"]
    assert plan.gunicorn["worker_class"].value == worker_class
    assert timeout.value == read.value == 40
    assert "a heartbeat, not a request limit" in timeout.reason and heartbeat in timeout.reason
    assert "504 from nginx" in read.reason and "database statement timeouts" in read.reason
    from confgen.render.rendering import explain_table

    table = explain_table({**MINIMAL_PROFILE, "app": {**MINIMAL_PROFILE["app"], **app, "timeout_s": 40}})
    assert read.reason in table and timeout.reason in table


def test_timeout_models_of_gunicorns_worker_classes():
    assert timeout_model("sync").kills_slow_requests
    assert timeout_model("some.custom.Worker").kills_slow_requests  # unknown: the one that cuts requests
    for name in ("gthread", "gevent", "eventlet", "asgi", "uvicorn_worker.UvicornWorker", "uvicorn.workers.UvicornWorker"):
        assert not timeout_model(name).kills_slow_requests, name
