"""Security rules about TLS (CG70x), DNS (CG65x) and hygiene, including known CVEs (CG80x)."""

from __future__ import annotations

import pytest

from confgen.lint.rules.security_hygiene import KNOWN_CVES
from lint_helpers import full, lint_config, only

# Every finding of every lint these tests run is also compared with its snapshot.
pytestmark = pytest.mark.usefixtures("diagnostics_snapshot")

TLS = "listen 443 ssl; ssl_certificate /c.pem; ssl_certificate_key /c.key;"
HSTS = 'add_header Strict-Transport-Security "max-age=31536000" always;'


def findings(tmp_path, nginx, rule, **options):
    return only(lint_config(tmp_path, nginx, **options), rule)


# ---------------------------------------------------------------------------------------------
# TLS


@pytest.mark.parametrize("version, reported", [("1.22.1", True), ("1.27.2", True), ("1.27.3", False)])
def test_weak_protocols_by_nginx_default_are_anchored_on_the_server(tmp_path, version, reported):
    found = findings(tmp_path, f"server {{\n    {TLS}\n}}\n", "ssl-weak-protocols", nginx_version=version)
    assert bool(found) is reported
    if reported:
        assert found[0].line == 1 and "default" in found[0].message


def test_weak_protocols_written_point_at_the_directive(tmp_path):
    nginx = f"http {{\n    ssl_protocols TLSv1 TLSv1.2;\n    server {{ {TLS} }}\n    server {{ {TLS} }}\n}}\n"
    [finding] = findings(tmp_path, nginx, "ssl-weak-protocols", nginx_version="1.27.3")
    assert finding.line == 2 and "TLSv1" in finding.message


def test_tls_catch_all_with_ssl_reject_handshake_is_not_a_tls_site(tmp_path):
    # gixy false positive: a catch-all that refuses every handshake needs no protocols or HSTS.
    nginx = full("server {\n    listen 443 ssl default_server;\n    ssl_reject_handshake on;\n    return 444;\n}\n"
                 f"server {{ {TLS} ssl_protocols TLSv1.2 TLSv1.3; {HSTS} server_name a.example; }}\n"
                 "server_tokens off;\nserver { listen 80 default_server; return 444; }\n")
    result = lint_config(tmp_path, nginx)
    # ssl-protocols-not-default-server does apply: the catch-all's (default) protocols are the
    # ones nginx negotiates on :443 (tests/test_rules_semantics.py).
    assert [f for f in result.findings if f.code.startswith(("CG6", "CG7", "CG8")) and f.code != "CG707"] == []


@pytest.mark.parametrize("ciphers, reported", [
    ("HIGH:!aNULL:!MD5", False), ("ECDHE-RSA-AES128-GCM-SHA256:!RC4:-3DES", False),
    ("RC4-SHA:HIGH", True), ("DES-CBC3-SHA", True), ("ALL:aNULL", True), ("EXP-RC4-MD5", True),
])
def test_weak_ciphers(tmp_path, ciphers, reported):
    assert bool(findings(tmp_path, f"server {{ ssl_ciphers {ciphers}; }}\n", "ssl-weak-ciphers")) is reported


def test_hsts_in_every_location_or_inherited_counts(tmp_path):
    inherited = f"http {{ {HSTS} server {{ {TLS} location / {{ }} }} }}\n"
    assert findings(tmp_path, inherited, "hsts-missing") == []
    missing = f"server {{ {TLS} location / {{ add_header X-A b; }} }}\n"
    assert findings(tmp_path, missing, "hsts-missing")[0].line == 1


def test_stapling(tmp_path):
    le = "server { listen 443 ssl; ssl_certificate /etc/letsencrypt/live/a/fullchain.pem; ssl_stapling on; }\n"
    assert findings(tmp_path, le, "ssl-stapling-letsencrypt")[0].severity == "info"
    # The advice is to turn stapling off there, never to add a resolver for it (issue 13).
    assert findings(tmp_path, le, "ssl-stapling-no-resolver") == []
    own = "server { listen 443 ssl; ssl_certificate /etc/ssl/a.pem; ssl_stapling on; }\n"
    assert findings(tmp_path, own, "ssl-stapling-no-resolver")
    other = "http { resolver 127.0.0.53; server { listen 443 ssl; ssl_certificate /etc/ssl/a.pem; ssl_stapling on; } }\n"
    assert findings(tmp_path, other, "ssl-stapling-letsencrypt") == findings(tmp_path, other, "ssl-stapling-no-resolver") == []


@pytest.mark.parametrize("curves, reported", [("X25519MLKEM768:X25519", True), ("?X25519MLKEM768:X25519", False),
                                              ("auto", False), ("X25519Kyber768Draft00", True)])
def test_post_quantum_curves(tmp_path, curves, reported):
    assert bool(findings(tmp_path, f"server {{ ssl_ecdh_curve {curves}; }}\n", "ssl-ecdh-curve-pq")) is reported


# ---------------------------------------------------------------------------------------------
# DNS


@pytest.mark.parametrize("resolver, reported", [
    ("8.8.8.8", True), ("[2001:4860:4860::8888]:53", True), ("1.1.1.1:53 valid=30s", True),
    ("127.0.0.53", False), ("10.0.0.2 ipv6=off", False), ("kube-dns.kube-system.svc.cluster.local", False),
])
def test_resolver_external(tmp_path, resolver, reported):
    assert bool(findings(tmp_path, f"server {{ resolver {resolver}; location / {{ proxy_pass http://$host; }} }}\n",
                         "resolver-external")) is reported


@pytest.mark.parametrize("config, reported", [
    ("server { location / { proxy_pass http://$host; } }", True),
    ("server { resolver 127.0.0.53; location / { proxy_pass http://$host; } }", False),
    ("upstream a { server 10.0.0.1; } upstream b { server 10.0.0.2; }\n"
     "map $cookie_v $pool { default a; beta b; }\nserver { location / { proxy_pass http://$pool; } }", False),
    ("map $cookie_v $pool { default a.internal; }\nserver { location / { proxy_pass http://$pool; } }", True),
    ("server { location / { set $t 10.0.0.5; proxy_pass http://$t:8000; } }", False),
    ("server { location / { proxy_pass http://backend$request_uri; } }", True),
    ("upstream backend { server 10.0.0.1; }\nserver { location / { proxy_pass http://backend$request_uri; } }", False),
    ("upstream a { zone a 64k; server app.internal:8000 resolve; }", True),
    ("resolver 127.0.0.53;\nupstream a { zone a 64k; server app.internal:8000 resolve; }", False),
])
def test_missing_resolver(tmp_path, config, reported):
    assert bool(findings(tmp_path, config + "\n", "missing-resolver")) is reported


# ---------------------------------------------------------------------------------------------
# Hygiene


def test_version_disclosure_needs_a_whole_config(tmp_path):
    assert findings(tmp_path, "server { listen 80; }\n", "version-disclosure") == []
    [finding] = findings(tmp_path, full("server { listen 80; }"), "version-disclosure")
    assert finding.line == 3    # the http block: nothing is written to point at


def test_version_disclosure_explicit_and_off(tmp_path):
    nginx = full("server_tokens off;\nserver { listen 80; server_tokens build; }\nserver { listen 81; }")
    [finding] = findings(tmp_path, nginx, "version-disclosure")
    assert "server_tokens build" in finding.message


def test_error_log_off(tmp_path):
    assert findings(tmp_path, "error_log off;\nevents {}\n", "error-log-off")
    assert findings(tmp_path, "error_log /dev/null crit;\nevents {}\n", "error-log-off") == []


@pytest.mark.parametrize("servers, reported", [
    ("server { listen 80; } server { listen 80; }", True),
    ("server { listen 80; } server { listen 0.0.0.0:80; }", True),
    ("server { } server { listen 80; }", True),
    ("server { listen 80; } server { listen 81; }", False),
    ("server { listen 80; } server { listen [::]:80; }", False),
    ("server { listen 80 default_server; } server { listen 80; }", False),
    ("server { listen 443 ssl default_server; listen 80; } server { listen 80; listen 443 ssl; }", True),
])
def test_default_server(tmp_path, servers, reported):
    assert bool(findings(tmp_path, full(servers), "default-server-missing")) is reported


def test_low_keepalive_requests_ignores_upstreams(tmp_path):
    nginx = "upstream a { server 10.0.0.1; keepalive_requests 100; }\nserver { keepalive_requests 500; }\n"
    [finding] = findings(tmp_path, nginx, "low-keepalive-requests")
    assert finding.line == 2 and finding.severity == "info"


# ---------------------------------------------------------------------------------------------
# known-cve-pattern: only below the fixed release, the CVE named in the message

RIFT = "server { location / { rewrite ^/a/(.*)$ /b?x=1; set $v $1; } }\n"
POOLSLIP = "server { location / { rewrite ^/((.*))$ https://example.com/$1$2 redirect; } }\n"


@pytest.mark.parametrize("version, reported", [("1.22.1", True), ("1.29.8", True), ("1.30.0", True),
                                              ("1.30.1", False), ("1.31.0", False), ("0.6.26", False)])
def test_rewrite_rift_by_version(tmp_path, version, reported):
    found = findings(tmp_path, RIFT, "known-cve-pattern", nginx_version=version)
    assert bool([f for f in found if "CVE-2026-42945" in f.message]) is reported


@pytest.mark.parametrize("config", [
    "server { location / { rewrite ^/a/(.*)$ /b?x=1 last; set $v $1; } }",      # terminating flag
    "server { location / { rewrite ^/a/(.*)$ /b?; set $v $1; } }",              # a sole trailing ?
    "server { location / { rewrite ^/a/(?<p>.*)$ /b?x=1; set $v $p; } }",       # named captures
    "server { location / { set $v $1; rewrite ^/a/(.*)$ /b?x=1; } }",           # set runs first
])
def test_rewrite_rift_needs_its_exact_shape(tmp_path, config):
    assert findings(tmp_path, config + "\n", "known-cve-pattern", nginx_version="1.30.0") == []


@pytest.mark.parametrize("version, reported", [("1.31.0", True), ("1.30.1", True), ("1.30.2", False), ("1.31.1", False)])
def test_overlapping_captures_by_version(tmp_path, version, reported):
    found = findings(tmp_path, POOLSLIP, "known-cve-pattern", nginx_version=version)
    assert bool([f for f in found if "CVE-2026-9256" in f.message]) is reported


def test_resolver_cve_and_fixed_stable_branch(tmp_path):
    config = "server { resolver 10.0.0.2; }\n"
    assert "CVE-2021-23017" in findings(tmp_path, config, "known-cve-pattern", nginx_version="1.20.0")[0].message
    assert findings(tmp_path, config, "known-cve-pattern", nginx_version="1.20.1") == []
    assert findings(tmp_path, config, "known-cve-pattern", nginx_version="1.21.0") == []


def test_sni_session_reuse_with_client_certificates(tmp_path):
    nginx = f"server {{ {TLS} server_name a; }}\nserver {{ {TLS} server_name b; ssl_verify_client on; }}\n"
    found = findings(tmp_path, nginx, "known-cve-pattern", nginx_version="1.26.2")
    assert ["CVE-2025-23419" in f.message for f in found] == [True] and found[0].line == 2
    assert findings(tmp_path, nginx, "known-cve-pattern", nginx_version="1.26.3") == []


def test_advisory_version_reading():
    by_id = {c.cve: c for c in KNOWN_CVES}
    rift = by_id["CVE-2026-42945"]
    assert [rift.affects(v) for v in [(1, 30, 0), (1, 30, 1), (1, 31, 0), (1, 29, 9), (0, 6, 26)]] == \
        [True, False, False, True, False]
    assert by_id["CVE-2024-24989"].affects((1, 25, 3)) and not by_id["CVE-2024-24989"].affects((1, 24, 0))


def test_version_disclosure_not_reported_when_every_server_turns_it_off(tmp_path):
    nginx = full("server { listen 80 default_server; server_tokens off; location / { } }")
    assert findings(tmp_path, nginx, "version-disclosure") == []


QUIC = ("server { listen 443 ssl; listen 443 quic reuseport; ssl_certificate /etc/ssl/c.pem;"
        " ssl_certificate_key /etc/ssl/k.pem; location / { proxy_pass http://127.0.0.1:3000; } }\n")


@pytest.mark.parametrize("config, named", [(QUIC, None), (QUIC, "1.25.0"), (RIFT, None), (RIFT, "1.22.1")])
def test_a_cve_is_reported_only_for_a_version_the_user_names(tmp_path, config, named):
    """lsio-babybuddy: `listen ... quic` needs nginx 1.25.0 or newer, which is not the version its
    image runs (later releases fixed the HTTP/3 CVEs): with no version named, a note."""
    result = lint_config(tmp_path, config, nginx_version=named)
    found = [f for f in result.findings if f.rule == "known-cve-pattern"]
    assert bool(found) is (named is not None)
    assert any("CVE-" in note and "no version is named" in note for note in result.notes) is (named is None)
