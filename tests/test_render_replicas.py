"""A load beyond one machine: render sizes one replica and says how many are needed and why
(QPS x latency over one replica's capacity, plus one for a replica down), instead of refusing;
a profile may fix the count and gets the per-replica sizing."""

from __future__ import annotations

import math
import pytest

from confgen.errors import ConfgenError
from confgen.profile import sizing
from confgen.profile.loading import load_profile
from confgen.render.checked import render_with_check
from confgen.render.rendering import explain_table
from conftest import MINIMAL_PROFILE, PROFILES

WSGI = {**MINIMAL_PROFILE, "cpus": 4, "expected_qps": 3000, "clients": 6000,
        "app": {"module": "shop.wsgi:application", "kind": "wsgi", "latency_ms": 80}}


def _profile(**changes):
    return load_profile({**WSGI, **changes})


def test_gthread_capacity_sets_the_replica_count():
    # 3000 QPS x 80 ms = 240 in flight, x 1.5 = 360 slots; a 4-CPU replica has 9 workers x 32 threads = 288.
    p = _profile()
    limits = sizing.machine_limits(p)
    gthread = next(limit for limit in limits if not limit.hard)
    assert gthread.machines == math.ceil(360 / 288) == 2
    assert all(limit.machines == 1 for limit in limits if limit.hard)
    count = sizing.replicas(p)
    assert count.value == 3
    assert "3,000 QPS x 80 ms = 240 requests in flight x 1.5 headroom over 288 per replica" in count.reason
    assert "+ 1 so the load still fits with one down" in count.reason


def test_one_machine_needs_no_replica_count():
    assert sizing.replicas(_profile(expected_qps=100)) is None
    assert sizing.plan(_profile(expected_qps=100)).replicas is None


def test_each_replica_is_sized_for_its_share_and_the_serving_ones_carry_the_load():
    p = _profile()
    the_plan = sizing.plan(p)
    serving = sizing.serving_replicas(the_plan.replicas.value)
    share = the_plan.profile
    assert share.clients == math.ceil(p.clients / serving) and share.expected_qps == pytest.approx(p.expected_qps / serving)
    g = the_plan.gunicorn
    # With one replica down, the others still hold the whole load with its headroom.
    assert serving * g["workers"].value * g["threads"].value >= sizing.requests_in_flight(p) * 1.5
    assert "short of" not in g["workers"].reason


def test_a_load_beyond_one_machines_open_files_renders_with_a_replica_count(tmp_path):
    """What render refused before ("more than 1 workers can hold under the open-file ceiling")."""
    profile = {**MINIMAL_PROFILE, "cpus": 1, "clients": 1_000_000}
    files, check = render_with_check(profile)
    assert check.passed, check.lines()
    # 1 000 000 clients + as many upstream connections, x 1.5, over 524 288 per worker: 6 machines, + 1 down.
    assert "# One of 7 replicas, sized for its share of the load: nginx: clients=1,000,000 need 2,000,000 " \
           "connections" in files["nginx.conf"]
    assert "one replica's share" in check.ran[0]
    # 166 667 clients x 2 x 1.5 / 1 worker, rounded up to 1024: under the ceiling, not capped.
    assert "worker_connections 500736;" in files["nginx.conf"] and "capped" not in files["nginx.conf"]
    table = explain_table(profile)
    first = table.splitlines()[2]
    assert first.startswith("replicas") and " 7 " in first


def test_a_fixed_count_gets_the_per_replica_sizing():
    fixed = sizing.plan(_profile(replicas=5))
    assert fixed.replicas.value == 5 and fixed.replicas.reason.startswith("replicas=5 (profile): each is sized for "
                                                                          "the load over 4 (one down)")
    assert fixed.profile.clients == 1500 and fixed.profile.expected_qps == 750
    one = sizing.plan(_profile(replicas=1))
    assert one.profile.clients == 6000 and "the whole load" in one.replicas.reason
    assert "short: " in one.replicas.reason  # 288 slots for 360: rendered short, and said


def test_a_fixed_count_too_small_for_open_files_is_refused_with_the_count_needed():
    with pytest.raises(ConfgenError) as caught:
        sizing.plan(load_profile({**MINIMAL_PROFILE, "cpus": 1, "clients": 1_000_000, "replicas": 3}))
    line, = caught.value.lines
    assert "replicas: 3 replicas (2 serving with one down) cannot carry the load" in line
    assert "it needs 7 replicas (6 + 1 down)" in line


def test_routes_share_the_replicas():
    site = {k: v for k, v in WSGI.items() if k not in ("app", "expected_qps")}
    p = load_profile({**site, "routes": [
        {"name": "api", "path": "/api/", "expected_qps": 3000, "app": {"module": "a:b", "kind": "wsgi", "latency_ms": 80}},
        {"name": "web", "path": "/", "expected_qps": 30, "app": {"module": "w:b", "kind": "wsgi", "latency_ms": 50}}]})
    the_plan = sizing.plan(p)
    assert the_plan.replicas.value == 3 and the_plan.replicas.reason.startswith("api: 3,000 QPS")
    api, web = the_plan.routes
    assert api.route.expected_qps == 1500 and web.route.expected_qps == 15


def test_the_bundled_replicated_profile_renders_lint_clean():
    path = next(p for p in PROFILES if p.name == "django-behind-alb-replicas.yaml")
    files, check = render_with_check(str(path))
    assert check.passed, check.lines()
    assert "# One of 3 replicas" in files["nginx.conf"] and "keepalive_timeout 135s;" in files["nginx.conf"]
