"""Profile loading: bundled profiles load; every kind of bad input is one clear line, exit 2."""

from __future__ import annotations

import os
import sys

import pytest
import yaml
from click.testing import CliRunner

from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.profile.loading import load_profile, profile_schema
from conftest import MINIMAL_PROFILE, PROFILES, REPO


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_bundled_profiles_load(path):
    profile = load_profile(path)
    assert profile.cpus >= 1 and profile.app.kind in ("asgi", "wsgi")


def test_defaults_come_from_the_schema():
    profile = load_profile(MINIMAL_PROFILE)
    app_schema = profile_schema()["$defs"]["app"]["properties"]
    assert profile.app.latency_ms == app_schema["latency_ms"]["default"] == 50
    assert profile.app.timeout_s == app_schema["timeout_s"]["default"] == 30
    assert profile.app.bind == "/run/app/gunicorn.sock"
    assert profile.nginx_version == (1, 22, 0)
    assert profile.max_body_size == 1024 * 1024
    assert profile.nginx.ipv6 is True and profile.static == () and profile.systemd is None
    assert profile.security_headers.frame_options == "DENY"
    assert [(r.name, r.path) for r in profile.routes] == [("app", "/")]


@pytest.mark.parametrize("bind", ["unix:/run/app.sock", "/run/app.sock"])
def test_bind_takes_gunicorns_unix_spelling(bind):
    profile = load_profile({**MINIMAL_PROFILE, "app": {**MINIMAL_PROFILE["app"], "bind": bind}})
    assert profile.app.bind == "/run/app.sock" and profile.app.binds_unix_socket


def test_tls_defaults_acme_webroot_and_false_turns_it_off():
    tls = {"certificate": "/c.pem", "certificate_key": "/k.pem"}
    assert load_profile({**MINIMAL_PROFILE, "tls": tls}).tls.acme_webroot == "/var/www/letsencrypt"
    assert load_profile({**MINIMAL_PROFILE, "tls": {**tls, "acme_webroot": False}}).tls.acme_webroot is None


def test_static_takes_one_prefix_or_several():
    one = load_profile({**MINIMAL_PROFILE, "static": {"url": "/static/", "root": "/srv/s"}})
    several = load_profile({**MINIMAL_PROFILE, "static": [{"url": "/static/", "root": "/srv/s"},
                                                          {"url": "/media/", "root": "/srv/m", "expires_days": 0}]})
    assert [(s.url, s.expires_days) for s in one.static] == [("/static/", 7)]
    assert [(s.url, s.expires_days) for s in several.static] == [("/static/", 7), ("/media/", 0)]


ROUTES = [{"name": "api", "path": "/api/", "expected_qps": 300, "app": {"module": "api.main:app", "kind": "asgi"}},
          {"name": "web", "path": "/", "expected_qps": 50, "app": {"module": "web.wsgi:application", "kind": "wsgi"}}]
SITE = {k: v for k, v in MINIMAL_PROFILE.items() if k not in ("app", "expected_qps")}


def test_routes_each_get_their_own_app_and_socket():
    profile = load_profile({**SITE, "routes": ROUTES})
    assert [(r.name, r.path, r.expected_qps, r.app.bind) for r in profile.routes] == [
        ("api", "/api/", 300.0, "/run/api/gunicorn.sock"), ("web", "/", 50.0, "/run/web/gunicorn.sock")]
    assert profile.expected_qps == 350.0


@pytest.mark.parametrize("routes, expected", [
    ([ROUTES[0], {**ROUTES[1], "name": "api"}], "routes.1.name: 'api' is used by an earlier route"),
    ([ROUTES[0], {**ROUTES[1], "path": "/api/"}], "routes.1.path: '/api/' is used by an earlier route"),
    ([ROUTES[0], {**ROUTES[1], "app": {**ROUTES[1]["app"], "bind": "/run/api/gunicorn.sock"}}], "another route's app server"),
    ([{**ROUTES[0], "upstreams": ["10.0.0.2:8000"], "app": {**ROUTES[0]["app"], "forwarded_allow_ips": ["10.0.0.1"]}},
      {**ROUTES[1], "upstreams": ["10.0.0.2:8000"], "app": {**ROUTES[1]["app"], "forwarded_allow_ips": ["10.0.0.1"]}}],
     "routes.1.upstreams: 10.0.0.2:8000 is another route's app server"),
    ([{**ROUTES[0], "upstreams": ["10.0.0.2:8000"]}], "routes.0.app.forwarded_allow_ips: missing, and required"),
])
def test_route_conflicts_are_one_line_each(tmp_path, routes, expected):
    code, output = _render_errors(tmp_path, yaml.safe_dump({**SITE, "routes": routes}))
    assert code == 2 and expected in output, output


def test_app_beside_routes_is_refused(tmp_path):
    code, output = _render_errors(tmp_path, yaml.safe_dump({**MINIMAL_PROFILE, "routes": ROUTES}))
    assert code == 2 and "app: Not with routes" in output and "expected_qps: Not with routes" in output


def test_app_on_other_hosts_must_bind_where_nginx_connects(tmp_path):
    code, output = _render_errors(tmp_path, _profile_text(
        upstreams=["10.0.0.5:9000"], app={**MINIMAL_PROFILE["app"], "bind": "127.0.0.1:9000", "forwarded_allow_ips": ["10.0.0.1"]}))
    assert code == 2 and "app.bind: 127.0.0.1:9000 cannot be reached by nginx at 10.0.0.5:9000: bind 0.0.0.0:9000" in output


def test_systemd_needs_a_local_unix_socket(tmp_path):
    code, output = _render_errors(tmp_path, _profile_text(
        app={**MINIMAL_PROFILE["app"], "bind": "127.0.0.1:8000"},
        systemd={"user": "app", "working_directory": "/srv/app"}))
    assert code == 2 and "systemd: needs the app on this machine behind a unix socket" in output


def test_canonical_host_needs_server_names(tmp_path):
    code, output = _render_errors(tmp_path, _profile_text(canonical_host="apex"))
    assert code == 2 and "server_names" in output


def test_upstreams_bind_tcp_port():
    profile = load_profile({**MINIMAL_PROFILE, "upstreams": ["10.0.0.5:9000"],
                            "app": {**MINIMAL_PROFILE["app"], "forwarded_allow_ips": ["10.0.0.1"]}})
    assert profile.app.bind == "0.0.0.0:9000"


def test_every_schema_key_is_documented():
    def walk(schema, path):
        for key, sub in schema.get("properties", {}).items():
            assert sub.get("description") or "$ref" in sub, f"{path}{key} has no description"
            walk(sub, f"{path}{key}.")
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{path}[].")

    walk(profile_schema(), "")
    for name, definition in profile_schema()["$defs"].items():
        assert definition.get("description"), f"$defs.{name} has no description"
        walk(definition, f"$defs.{name}.")


def _render_errors(tmp_path, text: str, name="bad.yaml") -> tuple[int, str]:
    path = tmp_path / name
    path.write_text(text)
    result = CliRunner().invoke(main, ["render", str(path), "-o", str(tmp_path)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def _profile_text(**changes) -> str:
    data = {**MINIMAL_PROFILE, **changes}
    return yaml.safe_dump(data, sort_keys=False)


def test_negative_clients_names_file_line_and_path(tmp_path):
    text = "# a comment first\n" + _profile_text(clients=-5)
    code, output = _render_errors(tmp_path, text)
    assert code == 2
    line_number = text.splitlines().index("clients: -5") + 1
    assert output.strip().endswith(f"bad.yaml:{line_number}: clients: -5 is less than the minimum of 1")


def test_unknown_key_is_a_typo_with_its_line(tmp_path):
    text = _profile_text() + "expected_qsp: 10\n"
    code, output = _render_errors(tmp_path, text)
    assert code == 2
    assert "expected_qsp: unknown key; did you mean 'expected_qps'?" in output
    assert f"bad.yaml:{text.count(chr(10))}:" in output


def test_nested_error_has_a_yaml_path(tmp_path):
    code, output = _render_errors(tmp_path, _profile_text(app={"module": "x:y", "kind": "rsgi"}))
    assert code == 2 and "app.kind" in output and "bad.yaml:" in output


def test_missing_required_key_names_it(tmp_path):
    data = dict(MINIMAL_PROFILE)
    del data["cpus"]
    code, output = _render_errors(tmp_path, yaml.safe_dump(data))
    # Not only "is a required property": which value to put there, and what it decides.
    assert code == 2 and "cpus: missing, and required: CPU cores on each machine" in output


def test_several_problems_one_line_each(tmp_path):
    code, output = _render_errors(tmp_path, _profile_text(cpus=0, clients="many", max_body_size="20q"))
    assert code == 2
    problems = [l for l in output.splitlines() if "bad.yaml:" in l]
    assert len(problems) == 3, output


@pytest.mark.parametrize(
    "text, expected",
    [
        ("cpus: [1, 2\n", "invalid YAML"),
        ("cpus: 1\ncpus: 2\n", "duplicate key 'cpus'"),
        ("!!python/object/apply:os.system ['echo hacked']\n", "invalid YAML"),
        ("- 1\n- 2\n", "expected object"),
        ("", "empty profile"),
        ("a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
         "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
         "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", "alias bomb"),
        ("cpus: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("cpus: 1" + "0" * 400 + "\n", "cpus"),
    ],
    ids=["syntax", "duplicate", "python-tag", "not-a-mapping", "empty", "alias-bomb", "deep", "huge-number"],
)
def test_hostile_yaml_is_one_line_exit_2(tmp_path, text, expected):
    code, output = _render_errors(tmp_path, text)
    assert code == 2
    assert expected in output, output
    assert len(output.strip().splitlines()) <= 8


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfgenError, match="not UTF-8"):
        load_profile(path)


def test_missing_file_and_directory(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["render", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    directory = runner.invoke(main, ["render", str(tmp_path)])
    assert directory.exit_code == 2 and "is a directory" in directory.output


def test_unreadable_file(tmp_path):
    from lint_helpers import run_without_read_override

    path = tmp_path / "secret.yaml"
    path.write_text(_profile_text())
    path.chmod(0)
    result = run_without_read_override([sys.executable, "-m", "confgen", "render", str(path), "--stdout"],
                                       cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2 and "cannot read" in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_upstreams_require_forwarded_allow_ips(tmp_path):
    code, output = _render_errors(tmp_path, _profile_text(upstreams=["10.0.0.2:8000"]))
    assert code == 2 and "app.forwarded_allow_ips: missing, and required" in output
    assert "nginx's own address" in output and "wrong redirects" in output  # what to put, what breaks


def test_native_asgi_worker_needs_gunicorn_24(tmp_path):
    code, output = _render_errors(tmp_path, _profile_text(
        gunicorn_version="23.0", app={"module": "a:b", "kind": "asgi", "asgi_worker": "gunicorn"}))
    assert code == 2 and "gunicorn >= 24" in output
