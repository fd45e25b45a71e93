"""What production sites need, each from the profile, each read back from the rendered text and
each passed through the real `nginx -t`: IPv6, ACME, security headers that survive add_header
inheritance, www/apex canonicalisation, several apps by path, several static prefixes, systemd
units that agree with nginx.conf, the access-log format measure reads. And render's self-check."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import confgen
from confgen.render.checked import render_with_check
from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.nginx.parse import load_nginx
from confgen.profile.log_format import LOG_FORMAT, LOG_FORMAT_NAME
from confgen.render.rendering import render_profile
from conftest import MINIMAL_PROFILE, find_binary, local_paths, require_binary

SITE = {k: v for k, v in MINIMAL_PROFILE.items() if k not in ("app", "expected_qps")}
ROUTES = [
    {"name": "api", "path": "/api/", "expected_qps": 400, "app": {"module": "api.main:app", "kind": "asgi", "latency_ms": 20}},
    {"name": "web", "path": "/", "expected_qps": 30, "app": {"module": "web.wsgi:application", "kind": "wsgi", "latency_ms": 150}},
]


def _tree(text: str, tmp_path: Path):
    path = tmp_path / "read-back.conf"
    path.write_text(text)
    config = load_nginx(str(path))
    assert not config.problems, config.problems
    return config


def _servers(config):
    return [d for d in config.find_all("server") if d.parent is not None and d.parent.name == "http"]


def _args(block, name):
    return [d.args for d in block.block or () if d.name == name]


def _with_cert(profile: dict, cert) -> dict:
    return {**profile, "tls": {**profile.get("tls", {}), "certificate": cert[0], "certificate_key": cert[1]}}


def _nginx_t(profile: dict, tmp_path: Path, nginx_check) -> str:
    text = render_profile(local_paths(profile, tmp_path))["nginx.conf"]
    ok, output = nginx_check(text)
    assert ok, output
    return text


# ---------------------------------------------------------------------------------------------
# IPv6


@pytest.mark.parametrize("ipv6", [True, False])
def test_ipv6_listens_beside_ipv4_unless_turned_off(tmp_path, nginx_check, self_signed_cert, ipv6):
    profile = _with_cert({**MINIMAL_PROFILE, "server_names": ["a.example"], "nginx": {"ipv6": ipv6}}, self_signed_cert)
    config = _tree(_nginx_t(profile, tmp_path, nginx_check), tmp_path)
    for server in _servers(config):
        listens = [args[0] for args in _args(server, "listen")]
        v4 = [a for a in listens if not a.startswith("[::]")]
        v6 = [a.removeprefix("[::]:") for a in listens if a.startswith("[::]")]
        assert v6 == (v4 if ipv6 else []), listens


# ---------------------------------------------------------------------------------------------
# ACME on port 80, before the redirect


def test_acme_location_comes_before_the_https_redirect(tmp_path, nginx_check, self_signed_cert):
    profile = _with_cert({**MINIMAL_PROFILE, "server_names": ["a.example"], "tls": {"acme_webroot": "/srv/acme"}},
                         self_signed_cert)
    config = _tree(_nginx_t(profile, tmp_path, nginx_check), tmp_path)
    plain = next(s for s in _servers(config) if ["a.example"] in _args(s, "server_name"))
    # The redirect is a location, not a server-level `return`: that would run before any location.
    assert _args(plain, "return") == []
    locations = {tuple(d.args): d for d in plain.block if d.name == "location"}
    challenge = locations[("^~", "/.well-known/acme-challenge/")]
    assert _args(challenge, "root") == [["/srv/acme"]]
    assert _args(locations[("/",)], "return") == [["308", "https://$host$request_uri"]]


def test_acme_location_can_be_turned_off(tmp_path):
    text = render_profile({**MINIMAL_PROFILE, "tls": {"certificate": "/c", "certificate_key": "/k", "acme_webroot": False}})
    assert "acme-challenge" not in text["nginx.conf"] and "return 308 https://" in text["nginx.conf"]


# ---------------------------------------------------------------------------------------------
# Security headers at every level that adds headers


@pytest.mark.parametrize("frame_options", ["DENY", "SAMEORIGIN", "off"])
def test_security_headers_survive_inheritance(tmp_path, nginx_check, self_signed_cert, frame_options):
    profile = _with_cert({**MINIMAL_PROFILE, "server_names": ["a.example", "www.a.example"], "canonical_host": "apex",
                          "static": [{"url": "/static/", "root": "/srv/s"}, {"url": "/media/", "root": "/srv/m"}],
                          "security_headers": {"frame_options": frame_options, "referrer_policy": "no-referrer"}},
                         self_signed_cert)
    config = _tree(_nginx_t(profile, tmp_path, nginx_check), tmp_path)
    expected = {"strict-transport-security", "x-content-type-options", "referrer-policy"}
    if frame_options != "off":
        expected.add("x-frame-options")
    answering = [d for d in config.walk() if d.name in ("location", "server") and d.find("return") is None
                 or d.name == "server" and d.find("add_header") is not None]
    assert answering
    for block in answering:
        # What nginx applies at this level: the innermost level with any add_header, whole.
        headers = {d.args[0].lower(): d.args for d in config.effective("add_header", block)}
        if block.name == "server" and not block.find("add_header"):
            continue  # the port-80 redirect and the catch-all answer nothing worth protecting
        assert expected <= set(headers), (block.name, block.args, headers)
        assert all(args[-1] == "always" for args in headers.values())
        if frame_options != "off":
            assert headers["x-frame-options"][1] == frame_options
        assert headers["referrer-policy"][1] == "no-referrer"


# ---------------------------------------------------------------------------------------------
# www <-> apex


@pytest.mark.parametrize("canonical, served, redirected", [("apex", "a.example", "www.a.example"),
                                                           ("www", "www.a.example", "a.example")])
def test_canonical_host_redirects_the_other_spelling_with_308(tmp_path, nginx_check, self_signed_cert,
                                                             canonical, served, redirected):
    profile = _with_cert({**MINIMAL_PROFILE, "server_names": ["a.example", "*.cdn.example"], "canonical_host": canonical},
                         self_signed_cert)
    config = _tree(_nginx_t(profile, tmp_path, nginx_check), tmp_path)
    by_name = {tuple(_args(s, "server_name")[0]): s for s in _servers(config)}
    assert _args(by_name[(redirected,)], "return") == [["308", f"$scheme://{served}$request_uri"]]
    main_server = by_name[(served, "*.cdn.example")]
    assert any(d.name == "location" for d in main_server.block)
    plain = next(s for n, s in by_name.items() if redirected in n and served in n)  # port 80: both, to https
    assert ["80"] in _args(plain, "listen")


# ---------------------------------------------------------------------------------------------
# Several apps by path prefix


def test_routes_get_their_own_upstream_location_and_gunicorn(tmp_path, nginx_check):
    files = render_profile(local_paths({**SITE, "routes": ROUTES}, tmp_path))
    assert sorted(files) == ["gunicorn-api.conf.py", "gunicorn-web.conf.py", "nginx.conf"]
    ok, output = nginx_check(files["nginx.conf"])
    assert ok, output
    config = _tree(files["nginx.conf"], tmp_path)
    upstreams = config.upstreams()
    assert set(upstreams) == {"api", "web"}
    assert _args(upstreams["api"], "server") == [["unix:/run/api/gunicorn.sock", "fail_timeout=0"]]
    locations = {tuple(d.args): d for d in config.find_all("location")}
    assert _args(locations[("/api/",)], "proxy_pass") == [["http://api"]]
    assert _args(locations[("/",)], "proxy_pass") == [["http://web"]]
    assert "bind = ['unix:/run/api/gunicorn.sock']" in files["gunicorn-api.conf.py"]
    assert "worker_class = 'gthread'" in files["gunicorn-web.conf.py"]
    # Each pair lints clean with its own load (the self-check): api's pool is sized for 400 QPS.
    _, check = render_with_check({**SITE, "routes": ROUTES})
    assert check.passed, check.lines()


def test_single_app_profiles_keep_their_file_names():
    assert sorted(render_profile(MINIMAL_PROFILE)) == ["gunicorn.conf.py", "nginx.conf"]


# ---------------------------------------------------------------------------------------------
# systemd units


def test_systemd_units_agree_with_nginx_and_gunicorn_by_construction(tmp_path):
    profile = {**MINIMAL_PROFILE, "nginx": {"user": "nginxuser"},
               "app": {**MINIMAL_PROFILE["app"], "bind": "unix:/run/shop/app.sock"},
               "systemd": {"user": "shop", "working_directory": "/srv/shop", "gunicorn": "/srv/shop/venv/bin/gunicorn"}}
    files = render_profile(profile)
    socket = configparser.ConfigParser(interpolation=None)
    socket.read_string(files["gunicorn.socket"])
    service = configparser.ConfigParser(interpolation=None)
    service.read_string(files["gunicorn.service"])
    config = _tree(files["nginx.conf"], tmp_path)
    upstream_server = _args(config.upstreams()["app"], "server")[0][0]
    assert upstream_server == "unix:" + socket["Socket"]["ListenStream"] == "unix:/run/shop/app.sock"
    assert "bind = ['unix:/run/shop/app.sock']" in files["gunicorn.conf.py"]
    assert socket["Socket"]["SocketUser"] == "nginxuser"  # only nginx's workers can connect
    assert service["Service"]["User"] == "shop" and service["Service"]["RuntimeDirectory"] == "shop"
    assert service["Service"]["ExecStart"] == "/srv/shop/venv/bin/gunicorn -c /srv/shop/gunicorn.conf.py"
    assert service["Unit"]["Requires"] == "gunicorn.socket"
    graceful = int(files["gunicorn.conf.py"].split("graceful_timeout = ")[1].split()[0])
    assert int(service["Service"]["TimeoutStopSec"]) > graceful


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze = find_binary("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    profile = {**MINIMAL_PROFILE, "systemd": {"user": "root", "working_directory": str(tmp_path),
                                              "gunicorn": os.path.realpath(gunicorn)}}
    for name, text in render_profile(profile).items():
        (tmp_path / name).write_text(text)
    result = subprocess.run([analyze, "verify", "./gunicorn.socket", "./gunicorn.service"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "gunicorn." not in result.stderr, result.stderr


def test_systemd_units_per_route(tmp_path):
    files = render_profile({**SITE, "routes": ROUTES, "systemd": {"user": "app", "working_directory": "/srv/app"}})
    assert {"gunicorn-api.socket", "gunicorn-api.service", "gunicorn-web.socket", "gunicorn-web.service"} <= set(files)
    assert "ListenStream=/run/web/gunicorn.sock" in files["gunicorn-web.socket"]
    assert "-c /srv/app/gunicorn-web.conf.py" in files["gunicorn-web.service"]


# ---------------------------------------------------------------------------------------------
# The access-log format measure reads


def test_access_log_uses_the_format_measure_reads(tmp_path):
    config = _tree(render_profile(MINIMAL_PROFILE)["nginx.conf"], tmp_path)
    (log_format,) = config.find_all("log_format")
    assert log_format.args == [LOG_FORMAT_NAME, LOG_FORMAT]
    (access_log,) = config.find_all("access_log")
    assert access_log.args == ["/var/log/nginx/access.log", LOG_FORMAT_NAME]
    off = render_profile({**MINIMAL_PROFILE, "nginx": {"access_log": "off"}})["nginx.conf"]
    assert "access_log off;" in off


# ---------------------------------------------------------------------------------------------
# Render checks what it renders


def test_one_cpu_output_is_lint_clean_even_without_the_profile(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["render", _profile_file(tmp_path, {**MINIMAL_PROFILE, "cpus": 1}), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "worker_processes 1;" in (out / "nginx.conf").read_text()
    lint = CliRunner().invoke(main, ["lint", str(out / "nginx.conf")])
    assert lint.exit_code == 0, lint.output


def _profile_file(tmp_path: Path, profile: dict) -> str:
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    return str(path)


@pytest.fixture
def template_with_a_lint_error(monkeypatch):
    """The renderer made to emit what the linter rejects (a keep-alive pool that never reuses)."""
    from confgen.render import rendering

    real = rendering.render_plan

    def broken(the_plan):
        files = real(the_plan)
        files["nginx.conf"] = files["nginx.conf"].replace("proxy_http_version 1.1;", "proxy_http_version 1.0;")
        return files

    monkeypatch.setattr("confgen.render.checked.render_plan", broken)


def test_self_check_refuses_to_write_what_lint_rejects(tmp_path, template_with_a_lint_error):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["render", _profile_file(tmp_path, MINIMAL_PROFILE), "-o", str(out)])
    assert result.exit_code == 1
    assert "keepalive-needs-http11" in result.output and "nothing written" in result.output
    assert not out.exists()
    with pytest.raises(ConfgenError) as raised:
        confgen.render_profile(MINIMAL_PROFILE)
    assert raised.value.exit_code == 1 and any("keepalive-needs-http11" in line for line in raised.value.lines)


def test_explain_shows_the_self_check(tmp_path):
    result = CliRunner().invoke(main, ["render", _profile_file(tmp_path, MINIMAL_PROFILE), "--explain"])
    assert result.exit_code == 0
    assert "self-check: parsed back and linted nginx.conf" in result.output and "self-check passed" in result.output


def test_explain_shows_a_failing_self_check(tmp_path, template_with_a_lint_error):
    result = CliRunner().invoke(main, ["render", _profile_file(tmp_path, MINIMAL_PROFILE), "--explain"])
    assert result.exit_code == 1 and "keepalive-needs-http11" in result.output and "FAILED" in result.output


def test_verify_runs_the_real_tools_and_says_which(tmp_path, monkeypatch):
    require_binary("nginx")
    # An importable app in the current directory, as gunicorn --check-config loads it.
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "__init__.py").write_text("")
    (tmp_path / "api" / "main.py").write_text("async def app(scope, receive, send):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    profile = {**MINIMAL_PROFILE, "app": {"module": "api.main:app", "kind": "asgi"}, "server_names": ["a.example"],
               "tls": {"certificate": "/nonexistent/c.pem", "certificate_key": "/nonexistent/k.pem"}}
    result = CliRunner().invoke(main, ["render", _profile_file(tmp_path, profile), "--verify", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "nginx -t" in result.output and "ok (with a throwaway certificate" in result.output
    assert "gunicorn --check-config gunicorn.conf.py: ok" in result.output
    assert (tmp_path / "out" / "nginx.conf").exists()


def test_verify_refuses_when_the_app_cannot_be_loaded_and_says_only_that(tmp_path, monkeypatch):
    require_binary("nginx")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["render", _profile_file(tmp_path, {**MINIMAL_PROFILE, "app": {
        "module": "missing_module:app", "kind": "asgi"}}), "--verify", "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    lines = result.output.splitlines()
    assert lines[0].startswith("confgen render --verify: the app (missing_module:app) does not load from ")
    # nginx is verified anyway, and gunicorn's settings are checked without the app.
    assert any(line.startswith("self-check: nginx -t") and line.endswith("ok") for line in lines), result.output
    (gunicorn_line,) = [line for line in lines if line.startswith("gunicorn --check-config")]
    assert "only the app failed" in gunicorn_line and "No module named 'missing_module'" in gunicorn_line
    assert "the settings pass gunicorn's own validation" in gunicorn_line


@pytest.mark.parametrize("importable", [True, False])
def test_verify_refuses_a_gunicorn_setting_gunicorn_rejects(tmp_path, monkeypatch, importable):
    """A bad setting is a failure of the config, whether or not the app imports here."""
    from confgen.render import rendering

    require_binary("nginx")
    real = rendering.render_plan

    def bad_workers(the_plan):
        files = real(the_plan)
        files["gunicorn.conf.py"] = files["gunicorn.conf.py"].replace("\nworkers = ", "\nworkers = 'many'  # ", 1)
        return files

    monkeypatch.setattr("confgen.render.checked.render_plan", bad_workers)
    monkeypatch.chdir(tmp_path)
    if importable:
        (tmp_path / "api_ok.py").write_text("async def app(scope, receive, send):\n    pass\n")
    module = "api_ok:app" if importable else "missing_module:app"
    _, check = render_with_check({**MINIMAL_PROFILE, "app": {"module": module, "kind": "asgi"}}, verify=True)
    (failure,) = [line for line in check.failures if line.startswith("gunicorn --check-config")]
    assert "many" in failure and "only the app failed" not in failure, failure
    assert not check.passed and check.unimportable == []


# ---------------------------------------------------------------------------------------------
# confgen init


def test_init_writes_a_schema_line_that_works_on_another_machine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init", "--cpus", "2", "--kind", "asgi", "--module", "api.main:app"])
    assert result.exit_code == 0, result.output
    first = (tmp_path / "profile.yaml").read_text().splitlines()[0]
    location = first.split("$schema=", 1)[1]
    assert location.startswith("https://"), first
    assert "site-packages" not in first and not location.startswith("/")
