"""`behind:` in the profile: the balancer in front decides nginx's client-side timers, each with a
reason naming the balancer, its number and the source; render's self-check lints with that
balancer as the chain's first hop; what a platform does not allow is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.hops import PLATFORMS, balancer_hop
from confgen.lint import engine
from confgen.nginx.parse import load_nginx
from confgen.profile import sizing
from confgen.profile.loading import load_profile
from confgen.render.checked import render_with_check
from confgen.units import parse_time
from conftest import MINIMAL_PROFILE

TRUSTED = ["10.0.0.0/24"]
BEHIND = {**MINIMAL_PROFILE, "trusted_proxies": TRUSTED,
          "app": {**MINIMAL_PROFILE["app"], "timeout_s": 20}}  # below every balancer's wait
# Each balancer as a profile spells it, and the idle timeout nginx must outlast.
CASES = {
    "aws-alb": ("aws-alb", 60),
    "aws-elb": ("aws-elb", 60),
    "gclb": ("gclb", 600),
    "heroku": ("heroku", 90),
    "ingress-nginx": ("ingress-nginx", 60),
    "aws-alb configured": ({"balancer": "aws-alb", "idle_timeout_s": 350}, 350),
    "ingress-nginx configured": ({"balancer": "ingress-nginx", "idle_timeout_s": 120, "request_timeout_s": 90}, 120),
    "haproxy": ({"balancer": "haproxy", "idle_timeout_s": 30}, 30),
    # An Envoy-based gateway's upstream keep-alive, 1 h unless configured.
    "gateway-api": ({"balancer": "gateway-api", "idle_timeout_s": 3600}, 3600),
}


def _http_directives(text: str, tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """http-level directive -> (args, the comment on its line)."""
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    config = load_nginx(str(path))
    assert not config.problems, config.problems
    http = config.root.find("http")[0]
    lines = text.splitlines()
    return {d.name: (d.args, lines[d.line - 1].partition("#")[2]) for d in http.block}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_nginx_outlasts_the_balancers_idle_timeout_and_says_why(case, tmp_path):
    behind, idle = CASES[case]
    files, check = render_with_check({**BEHIND, "behind": behind})
    assert check.passed and check.blocking == [], check.lines()
    name = behind if isinstance(behind, str) else behind["balancer"]
    platform = PLATFORMS[name]
    assert f"behind {platform.label}" in check.ran[0]
    http = _http_directives(files["nginx.conf"], tmp_path)
    keepalive = parse_time(http["keepalive_timeout"][0][0])
    assert keepalive == idle + sizing.BALANCER_KEEPALIVE_MARGIN_S
    # A connection the balancer opened waits for its first request under client_header_timeout.
    assert parse_time(http["client_header_timeout"][0][0]) == keepalive
    assert parse_time(http["client_body_timeout"][0][0]) == keepalive
    reason = http["keepalive_timeout"][1]
    assert platform.label in reason and f"for {idle}s" in reason
    if isinstance(behind, dict) and "idle_timeout_s" in behind:
        assert "profile behind.idle_timeout_s" in reason
    else:
        assert platform.source.rsplit(" ", 1)[-1] in reason  # the documentation's address
    assert "ngx_http_request.c" in http["client_header_timeout"][1]


def test_the_trusted_hop_is_named_where_forwarded_headers_are_believed():
    text = render_with_check({**BEHIND, "behind": "gclb"})[0]["nginx.conf"]
    assert "as Google Cloud external Application Load Balancer (behind: gclb) at trusted_proxies 10.0.0.0/24 " \
           "sends them, believed from those addresses only" in text
    assert "set_real_ip_from 10.0.0.0/24;" in text
    forwarded = next(line for line in text.splitlines() if "X-Forwarded-For" in line and "proxy_set_header" in line)
    assert "Google Cloud external Application Load Balancer" in forwarded


def test_the_self_checks_linter_would_catch_nginx_closing_before_the_balancer(tmp_path):
    """The self-check passes because the values are right, not because the rule is silent:
    the same lint, with nginx's keepalive_timeout lowered under the balancer's, objects."""
    files, _ = render_with_check({**BEHIND, "behind": {"balancer": "aws-alb", "idle_timeout_s": 120}})
    lowered = files["nginx.conf"].replace("keepalive_timeout 135s;", "keepalive_timeout 100s;")
    assert lowered != files["nginx.conf"]
    for name, text in {"nginx.conf": lowered, "gunicorn.conf.py": files["gunicorn.conf.py"]}.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "mime.types").write_text("types { text/html html; }\n")
    profile = load_profile({**BEHIND, "behind": {"balancer": "aws-alb", "idle_timeout_s": 120}})
    result = engine.lint([str(tmp_path / "nginx.conf")], gunicorn=str(tmp_path / "gunicorn.conf.py"), profile=profile,
                         behind=balancer_hop("aws-alb", idle_timeout=120))
    rules = {f.rule for f in result.findings}
    assert "keepalive-timeout-order" in rules, [f.message for f in result.findings]


def test_without_a_balancer_nothing_changes():
    files, _ = render_with_check(MINIMAL_PROFILE)
    assert "client_header_timeout" not in files["nginx.conf"]
    assert "keepalive_timeout 65s;" in files["nginx.conf"]
    none = render_with_check({**MINIMAL_PROFILE, "behind": "none"})[0]
    assert none == files
    assert "keepalive_timeout 75s;" in render_with_check({**BEHIND})[0]["nginx.conf"]


@pytest.mark.parametrize("behind, changes, expected", [
    ({"balancer": "gclb", "idle_timeout_s": 700}, {}, "behind.idle_timeout_s: Google Cloud external Application Load "
                                                      "Balancer's idle timeout is fixed at 600s"),
    ({"balancer": "heroku", "idle_timeout_s": 120}, {}, "Heroku router (Router 2.0)'s idle timeout is fixed at 90s"),
    ("haproxy", {}, "behind: HAProxy has no default idle timeout"),
    ("gateway-api", {}, "behind: Gateway API gateway has no default idle timeout"),
    ({"balancer": "aws-alb", "request_timeout_s": 30}, {}, "behind.request_timeout_s: AWS Application Load Balancer's "
                                                           "wait for a response is its idle timeout"),
    ("aws-alb", {"trusted_proxies": []}, "behind: AWS Application Load Balancer in front needs trusted_proxies"),
    ("heroku", {"app": {**MINIMAL_PROFILE["app"], "timeout_s": 30}},
     "nginx waits 30s for the app (proxy_read_timeout, from app.timeout_s=30) but Heroku router (Router 2.0) "
     "gives up after 30s"),
    ({"balancer": "haproxy", "idle_timeout_s": 10, "request_timeout_s": 15}, {},
     "HAProxy gives up after request timeout 15s (profile behind.request_timeout_s)"),
])
def test_what_the_balancer_does_not_allow_is_refused_in_one_line(behind, changes, expected):
    with pytest.raises(ConfgenError) as caught:
        render_with_check({**BEHIND, "behind": behind, **changes})
    assert len(caught.value.lines) == 1 and expected in caught.value.lines[0], caught.value.lines


def test_a_bad_behind_in_a_file_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump({**BEHIND, "behind": "f5"}))
    result = CliRunner().invoke(main, ["render", str(path), "--explain"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    line, = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith(f"{path}:") and "behind" in line
    # The request timeout the balancer allows stays above nginx's, and the app's limit is under it.
    files, check = render_with_check({**BEHIND, "behind": {"balancer": "haproxy", "idle_timeout_s": 10,
                                                         "request_timeout_s": 25}})
    assert check.passed and "proxy_read_timeout 20s;" in files["nginx.conf"]
