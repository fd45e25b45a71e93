"""Property tests of the whole render pipeline over the space the schema accepts.

Any accepted profile renders configs that crossplane parses, that keep the sizing invariants when
read back from the text, that confgen's own linter passes with zero findings at warning or above
(the self-check `confgen render` runs), and (for a sample) that the real `nginx -t` accepts. Any
rejected profile gives exit 2 and one line per problem, never a traceback.
"""

from __future__ import annotations

import ast
import math

import crossplane
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confgen.render.checked import render_with_check
from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.render.rendering import render_profile
from confgen.gunicorn.worker_timeouts import timeout_model
from confgen.units import parse_size, parse_time
from conftest import local_paths

sizes = st.one_of(
    st.integers(0, 10 * 1024**3),
    st.builds(lambda n, u: f"{n}{u}", st.integers(0, 4096), st.sampled_from(["", "k", "m", "g", "K", "M"])),
)
hostnames = st.from_regex(r"\A[a-z]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z][a-z0-9]{0,8}){1,2}\Z")
cidrs = st.builds(lambda a, b, m: f"10.{a}.{b}.0/{m}", st.integers(0, 255), st.integers(0, 255), st.integers(8, 32))
host_ports = st.builds(lambda a, p: f"10.0.0.{a}:{p}", st.integers(1, 254), st.integers(1024, 65535))

apps = st.fixed_dictionaries(
    {"module": st.from_regex(r"\A[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,8}){0,2}:[a-z_][a-z0-9_]{0,8}\Z"),
     "kind": st.sampled_from(["asgi", "wsgi"])},
    optional={
        "latency_ms": st.floats(0.01, 600000, allow_nan=False),
        "timeout_s": st.integers(1, 86400),
        "websockets": st.booleans(),
        "asgi_worker": st.sampled_from(["uvicorn", "gunicorn"]),
        "bind": st.sampled_from(["unix:/run/app/app.sock", "/run/app/gunicorn.sock", "127.0.0.1:8000"]),
    },
)
static_prefixes = st.fixed_dictionaries(
    {"url": st.sampled_from(["/static/", "/assets/media/", "/media/"]),
     "root": st.sampled_from(["/srv/static", "/var/www/x"])},
    optional={"expires_days": st.integers(0, 3650)},
)
tls_settings = st.fixed_dictionaries(
    {"certificate": st.just("/etc/ssl/c.pem"), "certificate_key": st.just("/etc/ssl/k.pem")},
    optional={"hsts_max_age": st.integers(0, 63072000),
              "acme_webroot": st.sampled_from([False, "/var/www/letsencrypt", "/srv/acme"])},
)

def _balancer(name, idle, request):
    """``behind`` as a profile may spell it: a name, or what its platform lets one configure."""
    if name in ("gclb", "heroku", "none"):  # fixed timers (none: nginx is the edge)
        return name
    if name == "haproxy" and idle is None:
        idle = 3  # HAProxy has no default: the profile must give one
    spelled = {"balancer": name}
    if idle is not None:
        spelled["idle_timeout_s"] = idle
    if request is not None and name in ("ingress-nginx", "haproxy"):
        spelled["request_timeout_s"] = request
    return spelled if len(spelled) > 1 else name


behinds = st.builds(_balancer, st.sampled_from(["aws-alb", "aws-elb", "gclb", "heroku", "ingress-nginx", "haproxy", "none"]),
                    st.one_of(st.none(), st.integers(1, 4000)), st.one_of(st.none(), st.integers(1, 86400)))

profiles = st.fixed_dictionaries(
    {
        "cpus": st.integers(1, 256),
        "expected_qps": st.floats(0.1, 1e6, allow_nan=False),
        "clients": st.integers(1, 1_000_000),
        "max_body_size": sizes,
        "avg_response_size": sizes,
        "app": apps,
    },
    optional={
        "name": st.from_regex(r"\A[a-z][a-z0-9_-]{0,12}\Z"),
        "server_names": st.lists(hostnames, max_size=3, unique=True),
        "trusted_proxies": st.lists(cidrs, max_size=3, unique=True),
        "static": st.one_of(static_prefixes, st.lists(static_prefixes, min_size=1, max_size=3, unique_by=lambda s: s["url"])),
        "nginx_version": st.sampled_from(["1.18", "1.22", "1.24", "1.25.1", "1.26", "1.29.7"]),
        "avg_request_body_size": sizes,
        "tls": tls_settings,
        "nginx": st.fixed_dictionaries({}, optional={"ipv6": st.booleans(), "http_port": st.integers(1024, 65535),
                                                     "https_port": st.integers(1024, 65535)}),
        "security_headers": st.fixed_dictionaries({}, optional={
            "frame_options": st.sampled_from(["DENY", "SAMEORIGIN", "off"]),
            "referrer_policy": st.sampled_from(["no-referrer", "strict-origin-when-cross-origin", "same-origin"])}),
        "canonical_host": st.sampled_from(["apex", "www"]),
        "behind": behinds,
        "replicas": st.integers(1, 10000),
        "systemd": st.fixed_dictionaries({"user": st.sampled_from(["app", "www-data"]),
                                          "working_directory": st.just("/srv/app")},
                                         optional={"gunicorn": st.just("/srv/app/venv/bin/gunicorn")}),
    },
)


def _with_upstreams(draw_profile, hosts):
    if hosts:
        draw_profile = {**draw_profile, "upstreams": hosts,
                        "app": {**draw_profile["app"], "forwarded_allow_ips": ["10.0.0.1"]}}
    return _consistent(draw_profile)


def _consistent(profile):
    """Drop the keys the profile's other keys rule out (tested on their own in test_profile), so
    the examples spend their time on profiles render accepts."""
    profile = dict(profile)
    apps_ = [profile["app"]] if "app" in profile else [r["app"] for r in profile["routes"]]
    remote = profile.get("upstreams") or any(r.get("upstreams") for r in profile.get("routes", []))
    if remote or any(":" in a.get("bind", "").removeprefix("unix:") for a in apps_):
        profile.pop("systemd", None)
    if profile.get("upstreams"):  # the app binds the upstreams' port (the default); a loopback bind is refused
        profile["app"] = {k: v for k, v in profile["app"].items() if k != "bind"}
    if not profile.get("server_names"):
        profile.pop("canonical_host", None)
    if profile.get("behind", "none") != "none" and not profile.get("trusted_proxies"):
        profile["trusted_proxies"] = ["10.0.0.0/8"]  # a balancer in front is trusted by its addresses
    if "tls" not in profile:  # over HTTP/1.1, at least one client per request in flight
        loads = [(profile["expected_qps"], profile["app"])] if "app" in profile else \
            [(r["expected_qps"], r["app"]) for r in profile["routes"]]
        in_flight = sum(qps * app.get("latency_ms", 50) for qps, app in loads) / 1000
        profile["clients"] = max(profile["clients"], min(100_000_000, math.ceil(in_flight)))
    return profile


# Refusals beyond the schema, each tested in test_profile.py.
# A load beyond one machine gets replicas, not a refusal; what the generators' 100 000 000-client
# cap leaves above Little's law is the in-flight-beyond-clients contradiction (test_sizing.py).
SEMANTIC_REFUSALS = ("gunicorn >= 24", "is used by an earlier route", "already routed", "another route's app server",
                     "open-file ceiling", "one machine can open", "each client connection carries one request",
                     "gives up after",  # a balancer's wait under app.timeout_s (test_render_behind.py)
                     "cannot carry the load")  # a fixed replica count too small (test_render_replicas.py)


full_profiles = st.builds(_with_upstreams, profiles, st.lists(host_ports, max_size=3, unique=True))


def _route(index, path, qps, app, hosts):
    route = {"name": f"r{index}", "path": path, "expected_qps": qps,
             "app": {**app, "bind": f"/run/r{index}/gunicorn.sock"} if app.get("bind", "").startswith(("/", "unix:")) else app}
    if hosts:
        route["upstreams"] = hosts
        route["app"] = {**{k: v for k, v in route["app"].items() if k != "bind"}, "forwarded_allow_ips": ["10.0.0.1"]}
    return route


def _with_routes(profile, routes):
    site = {k: v for k, v in profile.items() if k not in ("app", "expected_qps", "upstreams")}
    return _consistent({**site, "routes": [_route(i, *r) for i, r in enumerate(routes)]})


# Several apps by path prefix, each with its own load and hosts (the `routes` key).
routed_profiles = st.builds(_with_routes, profiles, st.lists(
    st.tuples(st.sampled_from(["/", "/api/", "/admin/", "/v2/api/"]), st.floats(0.1, 1e5, allow_nan=False), apps,
              st.lists(host_ports, max_size=2, unique=True)),
    min_size=1, max_size=3, unique_by=lambda r: r[0]))
any_profiles = st.one_of(full_profiles, routed_profiles)


def _parse(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("p") / "nginx.conf"
    path.write_text(text)
    payload = crossplane.parse(str(path), single=True, check_ctx=False, check_args=False)
    assert payload["status"] == "ok", payload["errors"]
    return payload["config"][0]["parsed"]


def _flatten(block, depth=0):
    for directive in block:
        yield directive, depth
        yield from _flatten(directive.get("block", []), depth + 1)


def _profile_ok(profile) -> bool:
    try:
        render_profile(profile)
        return True
    except ConfgenError:
        return False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(full_profiles)
def test_accepted_profiles_render_parseable_consistent_configs(tmp_path_factory, profile):
    try:
        files = render_profile(profile)
    except ConfgenError as error:
        assert any(refusal in str(error) for refusal in SEMANTIC_REFUSALS), str(error)
        return
    directives = list(_flatten(_parse(files["nginx.conf"], tmp_path_factory)))
    values = {}
    for directive, _ in directives:
        values.setdefault(directive["directive"], directive["args"])
    assert int(values["worker_rlimit_nofile"][0]) >= 2 * int(values["worker_connections"][0]) or \
        int(values["worker_rlimit_nofile"][0]) == 1_048_576
    gunicorn = {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(files["gunicorn.conf.py"]).body
                if isinstance(n, ast.Assign)}
    upstream = next(d for d, _ in directives if d["directive"] == "upstream")
    upstream_values = {d["directive"]: d["args"] for d in upstream["block"]}
    assert gunicorn["keepalive"] > parse_time(upstream_values["keepalive_timeout"][0])
    if timeout_model(gunicorn["worker_class"]).kills_slow_requests:
        assert gunicorn["timeout"] < parse_time(values["proxy_read_timeout"][0])
    else:
        assert gunicorn["timeout"] == parse_time(values["proxy_read_timeout"][0])
    assert values["proxy_http_version"] == ["1.1"]
    max_body = parse_size(values["client_max_body_size"][0])
    declared = parse_size(profile["max_body_size"])
    assert max_body == max(declared, 1)
    assert gunicorn["worker_class"] in ("gthread", "uvicorn_worker.UvicornWorker", "asgi")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(any_profiles)
def test_every_accepted_profile_renders_lint_clean_output(profile):
    """Zero findings at warning or above from confgen's own linter, with the profile's load:
    what `confgen render` checks before it writes anything."""
    try:
        files, check = render_with_check(profile)
    except ConfgenError as error:
        assert any(refusal in str(error) for refusal in SEMANTIC_REFUSALS), str(error)
        return
    assert check.blocking == [], "\n".join(check.lines())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(any_profiles)
def test_sampled_profiles_pass_nginx_t(nginx_check, shared_cert, tmp_path_factory, profile):
    if not _profile_ok(profile):
        return
    runnable = local_paths(profile, tmp_path_factory.mktemp("logs"))
    if "tls" in runnable:
        runnable["tls"] = {**runnable["tls"], "certificate": shared_cert[0], "certificate_key": shared_cert[1]}
    ok, output = nginx_check(render_profile(runnable)["nginx.conf"])
    # The installed nginx parses what it knows: a newer target's syntax (http2 on) is not for it.
    if not ok and "unknown directive \"http2\"" in output:
        return
    assert ok, output


mutations = st.sampled_from([
    ("cpus", 0), ("cpus", "two"), ("clients", -1), ("expected_qps", 0), ("max_body_size", "10x"),
    ("avg_response_size", -5), ("app", "module:app"), ("nginx_version", "2.0"), ("server_names", "example.com"),
    ("upstreams", ["no-port"]), ("tls", {"certificate": "relative.pem", "certificate_key": "/k"}),
    ("unknown_key", 1), ("static", {"url": "static", "root": "/srv"}), ("trusted_proxies", ["any"]),
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(profiles, st.lists(mutations, min_size=1, max_size=4, unique_by=lambda m: m[0]))
def test_rejected_profiles_exit_2_one_line_each(tmp_path_factory, profile, changes):
    bad = dict(profile)
    for key, value in changes:
        bad[key] = value
    path = tmp_path_factory.mktemp("bad") / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = CliRunner().invoke(main, ["render", str(path), "--stdout"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert 1 <= len(lines) <= len(changes) + 2
    assert all(line.startswith(f"{path}:") for line in lines), lines


HOSTILE = st.one_of(
    st.sampled_from([";", "{", "}", "\n", "'", '"', "$x", "#", "\x00", "é", "x" * 10000, "a; include /etc/passwd",
                     "a\r\nb", "\\", "`", "${x}"]),
    st.text(min_size=1, max_size=40),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(full_profiles, HOSTILE, st.sampled_from(["name", "app.module", "app.bind", "server_names", "static.url",
                                                 "static.root", "tls.certificate", "tls.acme_webroot", "nginx.user", "nginx.error_log",
                                                 "nginx.access_log", "nginx.mime_types", "trusted_proxies", "upstreams"]))
def test_hostile_strings_never_change_the_directive_set(tmp_path_factory, profile, hostile, field):
    if not _profile_ok(profile):
        return
    if field.startswith("tls."):
        profile = {**profile, "tls": {"certificate": "/etc/c.pem", "certificate_key": "/etc/k.pem"}}
    if field.startswith("static."):
        profile = {**profile, "static": {"url": "/static/", "root": "/srv/static"}}
    baseline = sorted((d["directive"], depth) for d, depth in _flatten(_parse(render_profile(profile)["nginx.conf"], tmp_path_factory)))
    data = yaml.safe_load(yaml.safe_dump(profile))
    target, *rest = field.split(".")
    if rest:
        data.setdefault(target, {})[rest[0]] = hostile
    elif isinstance(data.get(target), list) or target in ("server_names", "trusted_proxies", "upstreams"):
        data[target] = [hostile]
    else:
        data[target] = hostile
    try:
        files = render_profile(data)
    except ConfgenError:
        return
    shape = sorted((d["directive"], depth) for d, depth in _flatten(_parse(files["nginx.conf"], tmp_path_factory)))
    # A benign value may add directives legitimately (a server name adds the catch-all server);
    # compare against the same profile with a benign value in that field instead.
    benign = yaml.safe_load(yaml.safe_dump(data))
    if target in ("server_names",):
        benign[target] = ["benign.example.com"]
    elif target in ("trusted_proxies",):
        benign[target] = ["10.9.9.0/24"]
    elif target == "upstreams":
        benign[target] = ["10.9.9.9:8000"]
    else:
        return _assert_same_shape(shape, baseline, field, hostile)
    benign_shape = sorted((d["directive"], depth) for d, depth in _flatten(_parse(render_profile(benign)["nginx.conf"], tmp_path_factory)))
    _assert_same_shape(shape, benign_shape, field, hostile)
    ast.parse(files["gunicorn.conf.py"])


def _assert_same_shape(shape, expected, field, hostile):
    assert shape == expected, f"{field}={hostile!r} changed the directive set"
