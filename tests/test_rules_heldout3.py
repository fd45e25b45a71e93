"""Rules for what held-out set 3 (issue 25) found no rule reporting: a directive name nginx cannot
know (server_names_hash_bucket_size: 128;), a prefix location that can never match
(location ^/psf/conduct/?$) and a rewrite without its regex, each checked on the real nginx."""

from __future__ import annotations

import pytest

import confgen
from confgen.lint.fixes import apply
from lint_helpers import full, line_of, lint_config, only
from test_rules_edges_engine import fetch, nginx_serving, place

MALFORMED = "directive-name-malformed"
NEVER = "location-never-matches"


def test_a_colon_after_a_directive_name_stops_nginx_and_the_fix_starts_it(tmp_path, nginx_check):
    config = full("server_names_hash_bucket_size: 128;\nserver { listen 80; location / { return 200; } }\n")
    ok, output = nginx_check(config)
    assert not ok and 'unknown directive "server_names_hash_bucket_size:"' in output
    [finding] = only(lint_config(tmp_path, config), MALFORMED)
    assert (finding.line, finding.col, finding.severity) == (*place(config, "server_names_hash_bucket_size:"), "error")
    assert finding.message == ('"server_names_hash_bucket_size:" is not a directive name (names are letters, digits '
                               'and _): nginx refuses to start (unknown directive "server_names_hash_bucket_size:"); '
                               'write server_names_hash_bucket_size without the colon')
    assert finding.fix is not None and finding.fix.safe
    apply.write(confgen.fix([str(tmp_path / "nginx.conf")], nginx_version="1.22.1"))
    fixed = (tmp_path / "nginx.conf").read_text()
    assert fixed == config.replace("server_names_hash_bucket_size:", "server_names_hash_bucket_size")
    assert nginx_check(fixed)[0]
    assert only(lint_config(tmp_path, fixed), MALFORMED) == []


@pytest.mark.parametrize("config", [
    'map $uri $x { default 0; "~^/a:b" 1; /c=d 2; }',          # a map's keys are data
    "types { text/html html; application/x-foo foo:bar; }",
    'geo $g { default 0; 10.0.0.0/8 1; }',
    "server { listen 80; more_set_headers 'X: y'; brotli on; }",  # unknown to this nginx, but well formed
])
def test_data_and_well_formed_names_are_not_reported(tmp_path, config):
    assert only(lint_config(tmp_path, full(config)), MALFORMED) == []


def test_an_equals_sign_is_reported_without_a_fix(tmp_path, nginx_check):
    config = full("server { listen 80; client_max_body_size=10m; }")
    assert not nginx_check(config)[0]
    [finding] = only(lint_config(tmp_path, config), MALFORMED)
    assert finding.line == line_of(tmp_path / "nginx.conf", "client_max_body_size=10m") and finding.fix is None


def test_a_prefix_location_not_starting_with_a_slash_never_matches_on_real_nginx(tmp_path):
    body = ("server {\n    listen 127.0.0.1:{port};\n"
            "    location ^/psf/conduct/?$ { return 301 https://example.org/conduct/; }\n"
            "    location *.php { return 403; }\n"
            "    location =/exact { return 200 exact; }\n"
            "    location / { return 200 root; }\n}\n")
    with nginx_serving(tmp_path / "as-written", body) as (port, _, conf):
        assert fetch(port, "/psf/conduct/")[2] == b"root"     # the location meant for it is never chosen
        assert fetch(port, "/x.php")[2] == b"root"
        assert fetch(port, "/exact")[2] == b"exact"           # `=/exact`: nginx reads the glued modifier
        text = conf.read_text()
    found = only(confgen.lint_project([str(conf)], select=["ALL"], nginx_version="1.22.1"), NEVER)
    assert [(f.line, f.col) for f in found] == [place(text, "location ^/psf"), place(text, "location *.php")]
    assert found[0].message.endswith("for a regex write `location ~ ^/psf/conduct/?$`")
    assert found[0].fix is not None and not found[0].fix.safe and found[1].fix is None
    # The unsafe fix makes it the regex location it reads as: real nginx then answers it.
    apply.write(confgen.fix([str(conf)], nginx_version="1.22.1", unsafe=True, select=[NEVER]))
    fixed = conf.read_text()
    assert "location ~ ^/psf/conduct/?$ {" in fixed and "location *.php {" in fixed
    body_fixed = body.replace("location ^/psf", "location ~ ^/psf")
    with nginx_serving(tmp_path / "fixed", body_fixed) as (port, _, _):
        assert fetch(port, "/psf/conduct/")[0] == 301


def test_a_rewrite_without_its_regex_never_redirects_on_real_nginx(tmp_path):
    body = ("server {\n    listen 127.0.0.1:{port};\n"
            "    location / { rewrite https://example.org permanent; return 200 through; }\n"
            "    location /fixed { rewrite ^ https://example.org permanent; return 200 through; }\n}\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        assert fetch(port, "/x")[0] == 200 and fetch(port, "/fixed")[0] == 301
        text = conf.read_text()
    [finding] = only(confgen.lint_project([str(conf)], select=["ALL"], nginx_version="1.22.1"), "rewrite-missing-regex")
    assert (finding.line, finding.col) == place(text, "rewrite https")
    assert finding.message.endswith("write `rewrite ^ https://example.org permanent;`")
    assert finding.fix is not None and not finding.fix.safe
    apply.write(confgen.fix([str(conf)], nginx_version="1.22.1", unsafe=True, select=["rewrite-missing-regex"]))
    assert "rewrite ^ https://example.org permanent; return 200 through; }\n    location /fixed" in conf.read_text()
