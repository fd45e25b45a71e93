"""``nginx: false``: gunicorn straight behind the balancer. Only gunicorn.conf.py is rendered,
its keep-alive above the balancer's idle timeout, its forwarded_allow_ips the balancer's
addresses, its bind the host:port the balancer reaches; what needs nginx is refused in one line
each. On the real stack, HAProxy (its ``timeout http-keep-alive`` the profile's idle timeout) in
front of the rendered gunicorn: gunicorn closes none of HAProxy's idle connections first; with
gunicorn's default 2 s keep-alive below HAProxy's 3 s, it does (the race render avoids)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from confgen.errors import ConfgenError
from confgen.lint.engine import lint
from confgen.render.checked import render_checked
from conftest import MINIMAL_PROFILE, free_port, owns_listener, require_binary

NO_NGINX = {**MINIMAL_PROFILE, "name": "shop", "nginx": False,
            "app": {**MINIMAL_PROFILE["app"], "bind": "0.0.0.0:8000", "timeout_s": 20},
            "behind": {"balancer": "aws-alb", "idle_timeout_s": 120}, "trusted_proxies": ["10.0.0.0/16"]}


def settings(text: str) -> dict[str, str]:
    return dict(re.findall(r"(?m)^(\w+) = (.+?)  #", text))


@pytest.mark.parametrize("behind, keepalive", [({"balancer": "aws-alb", "idle_timeout_s": 120}, "125"),
                                               ("gclb", "605"), ("heroku", "95")])
def test_only_gunicorn_is_rendered_with_its_keepalive_above_the_balancers(behind, keepalive):
    files, check = render_checked({**NO_NGINX, "behind": behind})
    assert set(files) == {"gunicorn.conf.py"} and check.passed
    values = settings(files["gunicorn.conf.py"])
    assert values["keepalive"] == keepalive
    assert values["bind"] == "['0.0.0.0:8000']" and values["forwarded_allow_ips"] == "'10.0.0.0/16'"
    assert "limit_request_line" not in values  # no nginx limit to match: gunicorn's own
    assert "to gunicorn for" in files["gunicorn.conf.py"] and "nginx" not in files["gunicorn.conf.py"].split("\n", 4)[4]
    assert any("behind" in line and "no nginx" in line for line in check.ran)


def test_the_rendered_config_lints_clean_behind_the_balancer_and_a_short_keepalive_does_not(tmp_path):
    files, _ = render_checked(NO_NGINX)
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(files["gunicorn.conf.py"])
    from confgen.hops import balancer_hop

    alb = balancer_hop("aws-alb", idle_timeout=120, origin="test")
    assert [f for f in lint([str(path)], behind=alb).findings if f.severity != "info"] == []
    path.write_text(re.sub(r"(?m)^keepalive = \d+", "keepalive = 2", files["gunicorn.conf.py"]))
    assert "chain-keepalive-race" in {f.rule for f in lint([str(path)], behind=alb).findings}


@pytest.mark.parametrize("changes, message", [
    ({"behind": None}, "nginx: false needs behind"),
    ({"tls": {"certificate": "/c.pem", "certificate_key": "/k.pem"}}, "tls: not with nginx: false"),
    ({"static": {"url": "/static/", "root": "/srv/static"}}, "static: not with nginx: false"),
    ({"app": {**MINIMAL_PROFILE["app"]}}, "app.bind: with nginx: false the balancer reaches gunicorn over the network"),
    ({"app": {**MINIMAL_PROFILE["app"], "bind": "/run/shop/gunicorn.sock"}}, "give host:port"),
    ({"gunicorn_version": "23.0"}, "gunicorn 23.0 trusts single addresses only"),
    ({"behind": "heroku", "app": {**NO_NGINX["app"], "timeout_s": 30}}, "app.timeout_s: the app's request limit (30s)"),
    ({"nginx": True}, "nginx: true is not a setting"),
])
def test_what_needs_nginx_is_refused_in_one_line(changes, message):
    profile = {key: value for key, value in {**NO_NGINX, **changes}.items() if value is not None}
    with pytest.raises(ConfgenError) as refused:
        render_checked(profile)
    assert any(message in line for line in refused.value.lines), refused.value.lines


# ---------------------------------------------------------------------------------------------
# The real stack: HAProxy -> gunicorn

HAPROXY_IDLE_S = 3
WSGI_APP = '''def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
'''


def _run(tmp_path, *, keepalive_override: int | None) -> tuple[str, dict[str, int], dict[str, int]]:
    from test_render_behind_haproxy import CLIENTS, _sweep  # noqa: F401  (CLIENTS: the clients per sweep)
    from test_render_behind_haproxy import _start_haproxy, _stop
    from test_render_real_stack import closed_first_by

    require_binary("haproxy")
    pytest.importorskip("gunicorn")
    app_port = free_port()
    profile = {**NO_NGINX, "app": {**NO_NGINX["app"], "module": "app:application", "kind": "wsgi", "timeout_s": 20,
                                   "bind": f"127.0.0.1:{app_port}"},
               "behind": {"balancer": "haproxy", "idle_timeout_s": HAPROXY_IDLE_S, "request_timeout_s": 25},
               "trusted_proxies": ["127.0.0.1"]}
    files, _ = render_checked(profile)
    (tmp_path / "gunicorn.conf.py").write_text(files["gunicorn.conf.py"])
    (tmp_path / "app.py").write_text(WSGI_APP)
    extra = ["--keep-alive", str(keepalive_override)] if keepalive_override is not None else []
    with open(tmp_path / "gunicorn.log", "wb") as log:
        app = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *extra], cwd=tmp_path,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, "PYTHONPATH": str(tmp_path)})
    haproxy = None
    try:
        assert owns_listener(app, app_port, time.monotonic() + 20), (tmp_path / "gunicorn.log").read_text()
        haproxy, port = _start_haproxy(tmp_path, app_port)
        before = closed_first_by(app_port)
        # Gaps up to just under HAProxy's idle timeout: gunicorn's keep-alive timer (checked about
        # once a second) closes a 2 s connection somewhere between 2 and 3 s.
        counts = _sweep(port, [HAPROXY_IDLE_S - 1.5, HAPROXY_IDLE_S - 1, HAPROXY_IDLE_S - 0.6, HAPROXY_IDLE_S - 0.25])
        after = closed_first_by(app_port)
    finally:
        if haproxy is not None:
            _stop(haproxy)
        os.killpg(app.pid, signal.SIGTERM)
        app.wait(timeout=30)
    return files["gunicorn.conf.py"], counts, {side: len(after[side] - before[side]) for side in after}


def test_behind_real_haproxy_the_rendered_gunicorn_never_closes_first(tmp_path):
    text, counts, closed = _run(tmp_path, keepalive_override=None)
    assert settings(text)["keepalive"] == str(HAPROXY_IDLE_S + 5)
    assert set(counts) == {"200"}, counts
    assert closed["server"] == 0, closed  # gunicorn held no TIME-WAIT: HAProxy closed every idle connection


def test_behind_real_haproxy_gunicorns_default_keepalive_closes_first(tmp_path):
    """The control: gunicorn's default keepalive (2 s) below HAProxy's 3 s closes connections
    HAProxy still holds for reuse."""
    _, counts, closed = _run(tmp_path, keepalive_override=2)
    # gunicorn's close shows as its TIME-WAIT, or, where HAProxy answers the FIN with a reset,
    # as requests HAProxy lost on the closing connection.
    failed = sum(count for status, count in counts.items() if status != "200")
    assert closed["server"] + failed >= 1, (closed, counts)
    print(f"control: statuses {counts}, TIME-WAIT by side {closed}")
