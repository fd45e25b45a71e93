"""The sizing model on ordinary and extreme profiles: invariants, and reasons that name inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confgen.errors import ConfgenError
from confgen.render import sizing
from confgen.render.profile import load_profile
from conftest import MINIMAL_PROFILE


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
    assert g["timeout"].value < n["proxy_read_timeout"].value
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
        {"clients": 1},
        {"clients": 100000},
        {"max_body_size": 0},
        {"max_body_size": "1g"},
        {"expected_qps": 0.1},
        {"expected_qps": 1_000_000, "app": {"kind": "wsgi", "latency_ms": 500}},
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
    plan = _plan(cpus=4, clients=1_000_000)
    assert plan.nginx["worker_rlimit_nofile"].value == sizing.NOFILE_CEILING
    assert "ceiling" in plan.nginx["worker_connections"].reason


def test_loads_beyond_one_machines_file_ceiling_are_refused():
    with pytest.raises(ConfgenError, match="more than 1 workers can hold"):
        _plan(cpus=1, clients=1_000_000)
    with pytest.raises(ConfgenError, match="add app hosts"):
        _plan(cpus=64, clients=1000, expected_qps=1e6, app={"latency_ms": 1000})


def test_multiplexed_requests_beyond_clients_size_the_pool_and_the_app():
    """HTTP/2 clients carry many requests each: Little's law, not the client count, bounds the
    upstream requests at once, and each async worker must accept its share (else 503)."""
    plan = _plan(cpus=1, clients=1, expected_qps=161)  # 8.05 requests in flight over 1 client
    assert plan.nginx["upstream keepalive"].value >= 9
    busy = _plan(cpus=2, clients=100, expected_qps=50_000, app={"latency_ms": 100})  # 5000 in flight
    assert busy.gunicorn["worker_connections"].value * busy.gunicorn["workers"].value >= 5000 * 1.5
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
    plan = _plan(cpus=1, expected_qps=10000, app={"kind": "wsgi", "latency_ms": 200})
    assert "short of" in plan.gunicorn["workers"].reason


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


@settings(max_examples=300, deadline=None)
@given(profiles)
def test_invariants_hold_for_any_valid_profile(data):
    try:
        the_plan = sizing.plan(load_profile(data))
    except ConfgenError as error:  # a load beyond one machine's open files: refused, one line each
        assert all("open-file ceiling" in line or "one machine can open" in line for line in error.lines), error.lines
        return
    _check_invariants(the_plan)
